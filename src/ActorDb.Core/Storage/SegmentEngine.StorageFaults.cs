using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Core.Storage;

/// <summary>
/// Storage faults heal in place (issue 12). A write, preallocation, sync or checkpoint that fails with a storage error makes
/// the segment stop acknowledging: it answers redo with <see cref="RedoRejected"/> carrying <see cref="SegmentFault.DiskFull"/>
/// or <see cref="SegmentFault.IoError"/> and reports it in <see cref="SegmentStatus"/>. Nothing past the last successful sync
/// is trusted: the log's <see cref="SegmentLog.FailedAt"/> is recorded in <c>segment.meta</c> (<see cref="SegmentMetadata.Distrusted"/>)
/// before anything else, or, where that write fails too (a full disk), cut from the file at once; every later open cuts the
/// log there, so those bytes are never read again, and the records come back from the writer's resends or from peers
/// (catch-up). Both kinds then retry in place after a back-off (<c>actordb.segment.storage-retry-initial</c>, doubling up to
/// <c>storage-retry-max</c>): the log, page store and metadata are closed and opened again, as at start; a retry that fails,
/// or a write after it that fails again, waits longer. An I/O error is retried like a full disk: a device that answers again
/// heals without a restart, and the bytes it failed on stay cut. Logged when it starts, as a summary every
/// <see cref="FaultSummaryEvery"/> while it lasts, and when a sync succeeds again.
/// </summary>
public sealed partial class SegmentEngine
{
    /// <summary>Counts the logs opened: a sync completion of a log closed since (an older generation) is dropped.</summary>
    private int _storageGeneration;

    /// <summary>A storage fault still lasting is summarised this often.</summary>
    private static readonly TimeSpan FaultSummaryEvery = TimeSpan.FromSeconds(10);

    private SegmentFault _healingFrom;           // the last storage fault until a sync succeeds again (None: healthy)
    private DateTime _faultSince;
    private DateTime _faultSummaryAt;
    private long _faultsSinceSummary;            // failures of writes or retries since the last line
    private long _faultsTotal;
    private string? _faultWhat;
    private RetryBackoff? _retry;

    /// <summary>Why the segment cannot take records now (a failure, or a log faulted whose failure is still on its way
    /// to the engine as <see cref="SyncFailed"/>), or null.</summary>
    private string? Unwritable() =>
        _state.Failure ?? (_segmentLog?.Fault is { } f ? $"segment {_id.EntityId}: log write failed: {f.Message}" : null);

    /// <summary>The storage fault to report: the one the segment is stopped by, or that of a log just faulted, or (reopened,
    /// no sync proven yet) the one it is healing from, so the report does not flap while a retry waits for its first write.</summary>
    private SegmentFault CurrentFault() =>
        _state is SegmentLifecycle.Faulted faulted ? ToSegmentFault(faulted.Kind)
        : _segmentLog?.Fault is { } f ? ToSegmentFault(StorageErrors.Classify(f))
        : _healingFrom;

    private static SegmentFault ToSegmentFault(StorageFailureKind kind) => kind switch
    {
        StorageFailureKind.DiskFull => SegmentFault.DiskFull,
        StorageFailureKind.IoError => SegmentFault.IoError,
        _ => SegmentFault.None,
    };

    /// <summary>Opens the segment's durable state, as at start and at each retry after a storage fault: <c>segment.meta</c>,
    /// the page store, the log (cut at a distrusted position first; the record of it is then cleared), and a new <see cref="SegmentOutput.StartSync"/> generation for it.
    /// Returns the records read above the checkpoint.</summary>
    private int OpenStorage()
    {
        var storage = _storage;
        _meta = SegmentMetadata.Load(_dir, storage);
        var geometry = _settings.Geometry;
        _store = PageStore.Open(_dir, geometry.PageSize, geometry.FirstPageOf(_pg), geometry.PagesPerPg, _settings.Fsync, storage);
        _materialized = _meta.Materialized;
        // The SCL chain starts at the checkpoint: every record at or below it is in the page store.
        _scl = NewTracker(_meta.Materialized);
        var records = 0;
        _segmentLog = SegmentLog.Open(_dir, new SegmentLogOptions { Fsync = _settings.Fsync, MaxFileBytes = _settings.MaxFileBytes, PreallocateBytes = _settings.PreallocateBytes, DirectIo = _settings.DirectIo, Storage = storage },
            record =>
            {
                if (!_scl.Add(record.Lsn, record.PrevLsn)) return;   // at or below the checkpoint, annulled, or a duplicate
                _held.Add(record);
                records++;
            }, _meta.Distrusted);
        if (_meta.Distrusted is { } cut)
        {
            Warning("Segment {Segment} (PG {Pg}): cut the log at {Position} ({Bytes} bytes): a write or fsync failed there, so those bytes are never trusted; the records come from peers and the writer",
                _id.EntityId, _pg, cut, _segmentLog.DistrustedBytesCut);
            // The cut is durable: forget it before anything is written after it (else a later open would cut new records).
            var cleared = _meta.WithDistrusted(null);
            cleared.Save(_dir, _settings.Fsync, storage);
            _meta = cleared;
        }
        // Log files are kept one checkpoint longer than the pages need them, so a peer that lags a little behind this
        // segment's checkpoint can still catch up from its records; they go at the next checkpoint.
        _gcFloor = _meta.Materialized;
        _startSync = new SegmentOutput.StartSync(++_storageGeneration, _segmentLog);
        return records;
    }

    /// <summary>A write, sync or checkpoint failed with a storage error: distrust what followed the last sync (durably),
    /// stop acknowledging, and retry after a back-off.</summary>
    private void OnStorageFault(StorageFailureKind kind, Exception error, string what)
    {
        var fault = ToSegmentFault(kind);
        var segment = _id.EntityId;
        string distrust = "";
        if (_segmentLog?.FailedAt is { } at && _meta.Distrusted != at)
        {
            try
            {
                var meta = _meta.WithDistrusted(at);
                meta.Save(_dir, _settings.Fsync, _storage);
                _meta = meta;
                distrust = $"; the log from {at} is distrusted (recorded in {SegmentMetadata.FileName}: every open cuts it)";
            }
            catch (Exception e) when (e is SegmentLogException or IOException)
            {
                distrust = _segmentLog.TryCutFailed()
                    ? $"; the log was cut at {at} at once ({SegmentMetadata.FileName} could not record it: {e.Message})"
                    : $"; the log from {at} could neither be recorded as distrusted nor cut ({e.Message}): it is cut at the reopen";
            }
        }
        var stopping = _state is SegmentLifecycle.Stopping;
        var started = _state is not SegmentLifecycle.Faulted && _retry is null;
        _state = _state.Transition(new SegmentLifecycle.Faulted(kind, $"segment {segment}: {(fault == SegmentFault.DiskFull ? "disk full" : "I/O error")}: {what} failed: {error.Message}"));
        _faultsTotal++;
        var now = _now;
        if (started)
        {
            _faultSince = _faultSummaryAt = now;
            _faultsSinceSummary = 0;
            _faultWhat = what;
            Error("Segment {Segment} (PG {Pg}): {Fault}: {What} failed: {Error}{Distrust}. It acknowledges nothing and retries in place, waiting {Initial} ms doubling up to {Max} ms (repeats are summarised every {Summary} s)",
                new object[] { segment, _pg, fault == SegmentFault.DiskFull ? "disk full" : "I/O error", what, error.Message, distrust,
                    (int)_settings.StorageRetryInitial.TotalMilliseconds, (int)_settings.StorageRetryMax.TotalMilliseconds, (int)FaultSummaryEvery.TotalSeconds });
        }
        else _faultsSinceSummary++;
        _healingFrom = fault;
        _retry ??= new RetryBackoff(_settings.StorageRetryInitial, _settings.StorageRetryMax < _settings.StorageRetryInitial ? _settings.StorageRetryInitial : _settings.StorageRetryMax, HealthSummaryEvery);
        Schedule(SegmentTimer.Heal, _retry.Failed(_now, out _).Delay);
        if (stopping) StopNow();
    }

    /// <summary>The back-off passed: close everything and open it again (cutting the distrusted bytes). On success the
    /// segment takes records again; the fault ends with the first sync that succeeds.</summary>
    private void OnHealTick()
    {
        if (_state is not SegmentLifecycle.Faulted faulted) return;
        if (_checkpoint is not null && !_checkpointFailed)
        {
            // Its pages are being written from memory the reopen would drop: reopen once it completed.
            Schedule(SegmentTimer.Heal, PageHealthInterval);
            return;
        }
        LogFaultSummary();
        var storage = _storage;
        if (faulted.Kind == StorageFailureKind.DiskFull && storage.AvailableFreeSpace(_dir) is { } free && free < MinFreeToRetry)
        {
            _faultsSinceSummary++;
            Schedule(SegmentTimer.Heal, _retry!.Failed(_now, out _).Delay);
            return;
        }
        try
        {
            CloseStorage();
            _held.Clear();
            _dirty = new();
            _unsynced.Reset();
            _materializedCpl = null;
            _logBytesAtCheckpoint = 0;
            if (_copy is not null) AbortCopy("the storage is reopened after a fault");
            OpenStorage();
        }
        catch (Exception e) when (StorageErrors.Classify(e) != StorageFailureKind.Other || e is InvalidDataException)
        {
            _faultsSinceSummary++;
            _state = _state.Transition(faulted with { Reason = $"segment {_id.EntityId}: {(faulted.Kind == StorageFailureKind.DiskFull ? "disk full" : "I/O error")}: reopening after {_faultWhat} failed: {e.Message}" });
            Schedule(SegmentTimer.Heal, _retry!.Failed(_now, out _).Delay);
            return;
        }
        _durableScl = _scl.Scl;
        _state = _state.Transition(SegmentLifecycle.Serving.Instance);   // takes records again; _retry stays until a sync succeeds (HealedIfFaulted)
        Materialize(Lsn.Min(_durableScl, _knownVdl));
        Info("Segment {Segment} (PG {Pg}): storage reopened after {Ms} ms ({Retries} retries): SCL {Scl}; it takes records again",
            _id.EntityId, _pg, (long)(_now - _faultSince).TotalMilliseconds, _retry!.Failures, _durableScl);
        // What it lost above its SCL comes back from peers (catch-up) and from the writer's resends.
        _fetchSentAt = DateTime.MinValue;
        _peersTried = 0;
        if (_scl.Scl < CatchUpTarget) FetchFrom(NextPeer());
    }

    /// <summary>Bytes that must be free before a full-disk segment reopens (a smaller gap would only fail again).</summary>
    private const long MinFreeToRetry = 64 * 1024;

    /// <summary>Closes the group-commit runner (the shell's, through <c>closingLog</c>), log and page store; never while a
    /// checkpoint is in flight (<see cref="OnHealTick"/> waits for it).</summary>
    private void CloseStorage()
    {
        _closingLog?.Invoke();
        _startSync = null;
        _checkpoint = null;   // none in flight: OnHealTick waits for it (a failed one is dropped with what it held)
        _checkpointFailed = false;
        _flushing = null;
        _segmentLog?.Dispose();
        _store?.Dispose();
    }

    /// <summary>A sync succeeded: a storage fault being healed has ended.</summary>
    private void HealedIfFaulted()
    {
        if (_retry is null || _state is SegmentLifecycle.Faulted) return;
        Info("Segment {Segment} (PG {Pg}): storage fault ended ({What}): writes and syncs succeed again after {Ms} ms, {Retries} retries, {Failures} failures in all",
            new object[] { _id.EntityId, _pg, _faultWhat ?? "write", (long)(_now - _faultSince).TotalMilliseconds, _retry.Failures, _faultsTotal });
        _retry = null;
        _healingFrom = SegmentFault.None;
        _faultsTotal = 0;
        _faultWhat = null;
    }

    private void LogFaultSummary()
    {
        var now = _now;
        if (now - _faultSummaryAt < FaultSummaryEvery) return;
        Warning("Segment {Segment} (PG {Pg}): still {Fault} for {Seconds} s: {Count} more failed writes or retries since the last line; {Failure}",
            new object[] { _id.EntityId, _pg, _state is SegmentLifecycle.Faulted { Kind: StorageFailureKind.DiskFull } ? "disk full" : "failing with I/O errors", (long)(now - _faultSince).TotalSeconds, _faultsSinceSummary, _state.Failure ?? "" });
        _faultSummaryAt = now;
        _faultsSinceSummary = 0;
    }
}
