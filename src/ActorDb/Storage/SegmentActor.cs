using Akka.Actor;
using Akka.Event;
using ActorDb.Core;
using ActorDb.Core.Pages;
using ActorDb.Core.Recovery;
using ActorDb.Core.Redo;
using ActorDb.Core.Storage;
using static ActorDb.Storage.SegmentProtocol;

namespace ActorDb.Storage;

/// <summary>
/// One storage segment: a replica of one protection group, hosted as a Cluster.Sharding entity <c>pg-{pg}-{replica}</c>.
/// Appends redo to its segment log, fsyncs with group commit (one fdatasync covers every batch that arrived while the
/// previous one ran, done off the actor thread), acknowledges its SCL only after the fsync, refuses older epochs, and
/// materializes pages from redo up to the writer's VDL to serve page reads (design.md, "Storage segment on disk").
/// </summary>
public sealed class SegmentActor : ReceiveActor
{
    private sealed record Synced(long CumulativeRecords, long Micros);
    private sealed record SyncFailed(Exception Error);

    private readonly int _pg;
    private readonly int _replica;
    private readonly string _dir;
    private readonly ActorDbSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    /// <summary>After each group commit at most this many pending records are materialized, so page materialization
    /// runs in the background in small steps and never holds up acknowledgements; page reads materialize what they need.</summary>
    private const int MaterializeStep = 512;

    private readonly List<RedoRecord> _pending = new();   // records not yet materialized, in LSN order from _applied on
    private int _applied;                                 // _pending[.._applied] are materialized, awaiting compaction
    private readonly Dictionary<long, byte[]> _pages = new();
    private readonly LinkedList<RedoRecord> _cpls = new();   // commit records (payload decoded only for reports)
    private SegmentLog _segmentLog = null!;
    private SegmentMetadata _meta = null!;
    private SclTracker _scl = null!;
    private Lsn _durableScl;
    private Lsn _knownVdl;
    private SegmentSyncThread _syncThread = null!;
    private long _appended;                                                   // records appended since open
    private readonly Queue<(long Appended, Lsn Scl)> _unsynced = new();      // SCL reached after each append run
    private IActorRef _writer = ActorRefs.Nobody;
    private string? _failure;
    private bool _stopping;
    private long _syncMicros;
    private long _syncs;

    /// <summary>Props for the segment with sharding entity id <paramref name="entityId"/> (<c>pg-N-R</c>).</summary>
    public static Props Props(string entityId, ActorDbSettings settings)
    {
        var (pg, replica) = ParseEntityId(entityId);
        return Akka.Actor.Props.Create(() => new SegmentActor(pg, replica, settings));
    }

    /// <summary>The directory of a segment under a data directory: <c>{dataDir}/{az}/pg-{pg}-{replica}</c>.</summary>
    public static string DirectoryOf(string dataDir, int pg, int replica) =>
        Path.Combine(dataDir, VolumeGeometry.AzOf(replica), EntityId(pg, replica));

    /// <summary>Creates segment <paramref name="replica"/> (0..5) of PG <paramref name="pg"/>; use <see cref="Props"/>.</summary>
    public SegmentActor(int pg, int replica, ActorDbSettings settings)
    {
        _pg = pg;
        _replica = replica;
        _settings = settings;
        _dir = DirectoryOf(settings.DataDir, pg, replica);

        Receive<RedoBatch>(OnBatch);
        Receive<Synced>(OnSynced);
        Receive<SyncFailed>(OnSyncFailed);
        Receive<OpenEpoch>(OnOpenEpoch);
        Receive<GetSegmentState>(_ => Sender.Tell(new SegmentState(Report())));
        Receive<ReadPage>(OnReadPage);
        Receive<GetSegmentStatus>(_ => Sender.Tell(Status()));
        Receive<Stop>(_ => StopGracefully());
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        var started = DateTime.UtcNow;
        _meta = SegmentMetadata.Load(_dir);
        _segmentLog = SegmentLog.Open(_dir, new SegmentLogOptions { Fsync = _settings.Segment.Fsync, MaxFileBytes = _settings.Segment.MaxFileBytes, PreallocateBytes = _settings.Segment.PreallocateBytes });
        _syncThread = new SegmentSyncThread($"actordb-sync-{EntityId(_pg, _replica)}", _segmentLog, Self,
            (records, micros) => new Synced(records, micros), e => new SyncFailed(e));
        var report = _segmentLog.Recovery;
        if (report.TailBytesCut > 0)
            _log.Warning("Segment {Segment} (PG {Pg}): cut {Bytes} bytes after the last whole record of {File} (a torn write and/or unused preallocated zeros; nothing acknowledged is in them)",
                EntityId(_pg, _replica), _pg, report.TailBytesCut, report.TailFile);
        foreach (var hole in report.CorruptRanges)
            _log.Error("Segment {Segment} (PG {Pg}): corrupt record in {Hole}: counted as a hole, SCL stops before it", EntityId(_pg, _replica), _pg, hole);

        _scl = NewTracker(Lsn.Zero);
        var records = 0;
        foreach (var record in _segmentLog.ReadAll())
        {
            if (!_scl.Add(record.Lsn, record.PrevLsn)) continue;
            AddPending(record);
            records++;
        }
        _durableScl = _scl.Scl;
        _knownVdl = _meta.Vdl;
        Materialize(Lsn.Min(_durableScl, _knownVdl));
        _log.Info("Segment {Segment} (PG {Pg}) opened in {Ms} ms: epoch {Epoch}, SCL {Scl}, {Records} records, {Pages} pages materialized",
            new object[] { EntityId(_pg, _replica), _pg, (int)(DateTime.UtcNow - started).TotalMilliseconds, _meta.Epoch, _durableScl, records, _pages.Count });
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        try
        {
            _syncThread?.Dispose();   // makes everything appended durable first
        }
        catch (Exception e)
        {
            _log.Error(e, "Segment {Segment} (PG {Pg}): final sync failed", EntityId(_pg, _replica), _pg);
        }
        _segmentLog?.Dispose();
    }

    private SclTracker NewTracker(Lsn start) => new(start, _meta.Annulled.Where(r => r.ToInclusive > start));

    private void OnBatch(RedoBatch batch)
    {
        if (batch.Epoch < _meta.Epoch)
        {
            Sender.Tell(new RedoRejected(_pg, _replica, _meta.Epoch, $"stale epoch {batch.Epoch}: segment {EntityId(_pg, _replica)} is in epoch {_meta.Epoch}", StaleEpoch: true));
            return;
        }
        if (batch.Epoch > _meta.Epoch)
        {
            Sender.Tell(new RedoRejected(_pg, _replica, _meta.Epoch, $"segment {EntityId(_pg, _replica)} has not installed epoch {batch.Epoch}", StaleEpoch: false));
            return;
        }
        if (_failure is not null || _stopping)
        {
            Sender.Tell(new RedoRejected(_pg, _replica, _meta.Epoch, _failure ?? "segment is stopping", StaleEpoch: false));
            return;
        }
        _writer = Sender;
        var appended = 0;
        foreach (var record in batch.Records)
        {
            if (!_scl.Add(record.Lsn, record.PrevLsn)) continue;   // duplicate (a resend) or annulled
            _segmentLog.Append(record);
            AddPending(record);
            appended++;
        }
        if (batch.WriterVdl > _knownVdl) _knownVdl = batch.WriterVdl;
        if (appended > 0)
        {
            _appended += appended;
            _unsynced.Enqueue((_appended, _scl.Scl));
            _syncThread.Signal();
        }
        else Sender.Tell(new RedoAck(_pg, _replica, _meta.Epoch, _durableScl));   // nothing new: re-ack
    }

    private void OnSynced(Synced synced)
    {
        _syncMicros += synced.Micros;
        _syncs++;
        var reached = Lsn.Zero;
        while (_unsynced.Count > 0 && _unsynced.Peek().Appended <= synced.CumulativeRecords) reached = _unsynced.Dequeue().Scl;
        // A sync started before an epoch change may finish after truncation reset the chain: never count past it.
        var completed = Lsn.Min(reached, _scl.Scl);
        if (completed > _durableScl) _durableScl = completed;
        _writer.Tell(new RedoAck(_pg, _replica, _meta.Epoch, _durableScl));
        if (_pending.Count - _applied >= MaterializeStep) Materialize(Lsn.Min(_durableScl, _knownVdl), MaterializeStep);
        if (_stopping && _unsynced.Count == 0) Context.Stop(Self);
    }

    private void OnSyncFailed(SyncFailed failed)
    {
        _unsynced.Clear();
        var error = failed.Error is AggregateException a ? a.InnerException ?? a : failed.Error;
        _failure = $"segment {EntityId(_pg, _replica)} failed to write its log: {error.Message}";
        _log.Error(error, "Segment {Segment} (PG {Pg}): log write failed; it acknowledges nothing more until restarted", EntityId(_pg, _replica), _pg);
        if (_stopping) Context.Stop(Self);
    }

    private void OnOpenEpoch(OpenEpoch open)
    {
        if (open.Epoch < _meta.Epoch)
        {
            Sender.Tell(new RedoRejected(_pg, _replica, _meta.Epoch, $"stale epoch {open.Epoch}: segment {EntityId(_pg, _replica)} is in epoch {_meta.Epoch}", StaleEpoch: true));
            return;
        }
        if (open.Epoch > _meta.Epoch)
        {
            // Acks of records of the old epoch still being synced go out under the old epoch; the writer of the new
            // epoch ignores them (RedoAck carries the epoch).
            _meta = _meta.WithEpoch(open.Epoch, open.Vdl);
            if (open.TruncateTo > open.Vdl) _meta = _meta.WithAnnulled(new AnnulledRange(open.Vdl, open.TruncateTo, open.Epoch));
            _meta.Save(_dir, _settings.Segment.Fsync);
            if (open.TruncateTo > open.Vdl)
            {
                Compact();
                _pending.RemoveAll(r => r.Lsn > open.Vdl && r.Lsn <= open.TruncateTo);
                for (var n = _cpls.First; n != null;) { var next = n.Next; if (n.Value.Lsn > open.Vdl) _cpls.Remove(n); n = next; }
                if (_scl.Scl >= open.PgTail)
                {
                    _scl = NewTracker(open.PgTail);
                    foreach (var r in _pending.Where(r => r.Lsn > open.PgTail)) _scl.Add(r.Lsn, r.PrevLsn);
                }
                else _scl.Annul(open.Vdl, open.TruncateTo, open.Epoch);
                _durableScl = Lsn.Min(_durableScl, _scl.Scl);
                if (_scl.Scl > _durableScl) _durableScl = _scl.Scl;
            }
            _log.Info("Segment {Segment} (PG {Pg}) installed epoch {Epoch}: VDL {Vdl}, annulled up to {TruncateTo}, SCL {Scl}",
                new object[] { EntityId(_pg, _replica), _pg, open.Epoch, open.Vdl, open.TruncateTo, _durableScl });
        }
        if (open.Vdl > _knownVdl) _knownVdl = open.Vdl;
        Materialize(Lsn.Min(_durableScl, _knownVdl));
        Sender.Tell(new EpochOpened(_pg, _replica, _meta.Epoch, _durableScl));
    }

    private void OnReadPage(ReadPage read)
    {
        if (_durableScl < read.RequiredScl)
        {
            Sender.Tell(new PageUnavailable(_pg, _replica, read.PageNo, _durableScl));
            return;
        }
        if (read.ReadPoint > _knownVdl) _knownVdl = read.ReadPoint;
        Materialize(Lsn.Min(_durableScl, _knownVdl));
        _pages.TryGetValue(read.PageNo, out var image);
        Sender.Tell(new PageImage(_pg, _replica, read.PageNo, image?.ToArray(), image is null ? Lsn.Zero : PageLsnOf(image)));
    }

    private static Lsn PageLsnOf(byte[] image) => new(BitConverter.ToInt64(image, 0));

    private void AddPending(RedoRecord record)
    {
        if (_pending.Count == _applied || _pending[^1].Lsn < record.Lsn) _pending.Add(record);
        else
        {
            // A resend filling a hole: insert in LSN order among the records not yet materialized.
            var lo = _applied;
            var hi = _pending.Count;
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                if (_pending[mid].Lsn < record.Lsn) lo = mid + 1; else hi = mid;
            }
            _pending.Insert(lo, record);
        }
        if (record.Kind == RedoKind.Commit)
        {
            _cpls.AddLast(record);
            if (_cpls.Count > _settings.Segment.RememberedCpls) _cpls.RemoveFirst();
        }
    }

    /// <summary>Applies pending records up to <paramref name="target"/> to the page images, in LSN order.</summary>
    private void Materialize(Lsn target, int maxRecords = int.MaxValue)
    {
        var pageSize = _settings.Geometry.PageSize;
        var limit = maxRecords == int.MaxValue ? int.MaxValue : _applied + maxRecords;
        while (_applied < _pending.Count && _applied < limit)
        {
            var r = _pending[_applied];
            if (r.Lsn > target) break;
            if (r.Kind == RedoKind.PageDelta)
            {
                if (!_pages.TryGetValue(r.PageNo, out var image))
                    _pages[r.PageNo] = image = new byte[pageSize];
                PageDelta.Apply(image, r.Payload.Span);
                BitConverter.TryWriteBytes(image.AsSpan(0, 8), r.Lsn.Value);
            }
            _applied++;
        }
        if (_applied > 1024 && _applied * 2 > _pending.Count) Compact();
    }

    private void Compact()
    {
        _pending.RemoveRange(0, _applied);
        _applied = 0;
    }

    private SegmentReport Report() => new(_pg, _replica, _meta.Epoch, _durableScl, _scl.MaxLsn,
        _cpls.Where(c => c.Lsn <= _durableScl).Select(c => new CplInfo(c.Lsn, CommitPayload.Decode(c.Payload.Span).PgHighWater)).ToArray());

    private SegmentStatus Status() => new(_pg, _replica, _meta.Epoch, _durableScl, _scl.MaxLsn,
        _segmentLog.FsyncCount, _syncs, _syncMicros, _segmentLog.BytesWritten, _segmentLog.DiskBytes, _pages.Count, _failure);

    private void StopGracefully()
    {
        _stopping = true;
        if (_unsynced.Count == 0 || _failure is not null) Context.Stop(Self);   // otherwise stop once the last sync is acked
    }
}
