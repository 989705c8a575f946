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
    private sealed record Synced(Lsn Scl, long Bytes);
    private sealed record SyncFailed(Exception Error);

    private readonly int _pg;
    private readonly int _replica;
    private readonly string _dir;
    private readonly ActorDbSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly SortedDictionary<long, RedoRecord> _pending = new();   // records above the materialized point
    private readonly Dictionary<long, byte[]> _pages = new();
    private readonly LinkedList<CplInfo> _cpls = new();
    private SegmentLog _segmentLog = null!;
    private SegmentMetadata _meta = null!;
    private SclTracker _scl = null!;
    private Lsn _durableScl;
    private Lsn _materialized;
    private Lsn _knownVdl;
    private Task? _syncInFlight;
    private bool _appendedSinceSync;
    private IActorRef _writer = ActorRefs.Nobody;
    private string? _failure;
    private bool _stopping;

    /// <summary>Props for the segment with sharding entity id <paramref name="entityId"/> (<c>pg-N-R</c>).</summary>
    public static Props Props(string entityId, ActorDbSettings settings)
    {
        var (pg, replica) = ParseEntityId(entityId);
        return Akka.Actor.Props.Create(() => new SegmentActor(pg, replica, settings));
    }

    /// <summary>The directory of a segment under a data directory: <c>{dataDir}/{az}/pg-{pg}-{replica}</c>.</summary>
    public static string DirectoryOf(string dataDir, int pg, int replica) =>
        Path.Combine(dataDir, VolumeGeometry.AzOf(replica), EntityId(pg, replica));

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
        _segmentLog = SegmentLog.Open(_dir, new SegmentLogOptions { Fsync = _settings.Segment.Fsync, MaxFileBytes = _settings.Segment.MaxFileBytes });
        var report = _segmentLog.Recovery;
        if (report.TailBytesCut > 0)
            _log.Warning("Segment {Segment} (PG {Pg}): cut a torn tail of {Bytes} bytes from {File}", EntityId(_pg, _replica), _pg, report.TailBytesCut, report.TailFile);
        foreach (var hole in report.CorruptRanges)
            _log.Error("Segment {Segment} (PG {Pg}): corrupt record in {Hole}: counted as a hole, SCL stops before it", EntityId(_pg, _replica), _pg, hole);

        _scl = NewTracker(Lsn.Zero);
        var records = 0;
        foreach (var record in _segmentLog.ReadAll())
        {
            if (!_scl.Add(record.Lsn, record.PrevLsn)) continue;
            _pending[record.Lsn.Value] = record;
            records++;
        }
        _durableScl = _scl.Scl;
        _knownVdl = _meta.Vdl;
        RememberCpls(_pending.Values);
        Materialize(Lsn.Min(_durableScl, _knownVdl));
        _log.Info("Segment {Segment} (PG {Pg}) opened in {Ms} ms: epoch {Epoch}, SCL {Scl}, {Records} records, {Pages} pages materialized",
            new object[] { EntityId(_pg, _replica), _pg, (int)(DateTime.UtcNow - started).TotalMilliseconds, _meta.Epoch, _durableScl, records, _pages.Count });
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        try
        {
            _syncInFlight?.Wait(TimeSpan.FromSeconds(30));
            if (_appendedSinceSync && _failure is null) _segmentLog.Sync();
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
        foreach (var record in batch.Records)
        {
            if (!_scl.Add(record.Lsn, record.PrevLsn)) continue;   // duplicate (a resend) or annulled
            _segmentLog.Append(record);
            _pending[record.Lsn.Value] = record;
            _appendedSinceSync = true;
            if (record.Kind == RedoKind.Commit) RememberCpls([record]);
        }
        if (batch.WriterVdl > _knownVdl) _knownVdl = batch.WriterVdl;
        if (_appendedSinceSync) { if (_syncInFlight is null) StartSync(); }
        else Sender.Tell(new RedoAck(_pg, _replica, _meta.Epoch, _durableScl));   // nothing new: re-ack
    }

    private void StartSync()
    {
        var scl = _scl.Scl;
        var batch = _segmentLog.TakeBatch();
        _appendedSinceSync = false;
        var log = _segmentLog;
        _syncInFlight = Task.Run(() => log.WriteAndSync(batch)).PipeTo(Self,
            success: r => new Synced(scl, r.BytesWritten),
            failure: e => new SyncFailed(e));
    }

    private void OnSynced(Synced synced)
    {
        _syncInFlight = null;
        if (synced.Scl > _durableScl) _durableScl = synced.Scl;
        _writer.Tell(new RedoAck(_pg, _replica, _meta.Epoch, _durableScl));
        if (_appendedSinceSync) StartSync();
        Materialize(Lsn.Min(_durableScl, _knownVdl));
        if (_stopping && _syncInFlight is null) Context.Stop(Self);
    }

    private void OnSyncFailed(SyncFailed failed)
    {
        _syncInFlight = null;
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
            _syncInFlight?.Wait();   // records of the old epoch in flight must not be acknowledged under the new one
            _syncInFlight = null;
            _meta = _meta.WithEpoch(open.Epoch, open.Vdl);
            if (open.TruncateTo > open.Vdl) _meta = _meta.WithAnnulled(new AnnulledRange(open.Vdl, open.TruncateTo, open.Epoch));
            _meta.Save(_dir, _settings.Segment.Fsync);
            if (open.TruncateTo > open.Vdl)
            {
                foreach (var lsn in _pending.Keys.Where(l => l > open.Vdl.Value && l <= open.TruncateTo.Value).ToList()) _pending.Remove(lsn);
                for (var n = _cpls.First; n != null;) { var next = n.Next; if (n.Value.Lsn > open.Vdl) _cpls.Remove(n); n = next; }
                if (_scl.Scl >= open.PgTail)
                {
                    _scl = NewTracker(open.PgTail);
                    foreach (var r in _pending.Values.Where(r => r.Lsn > open.PgTail)) _scl.Add(r.Lsn, r.PrevLsn);
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

    /// <summary>Applies pending records up to <paramref name="target"/> to the page images, in LSN order.</summary>
    private void Materialize(Lsn target)
    {
        while (_pending.Count > 0)
        {
            var first = _pending.First();
            if (first.Key > target.Value) break;
            _pending.Remove(first.Key);
            var r = first.Value;
            if (r.Kind == RedoKind.PageDelta)
            {
                if (!_pages.TryGetValue(r.PageNo, out var image))
                    _pages[r.PageNo] = image = new byte[_settings.Geometry.PageSize];
                PageDelta.Apply(image, r.Payload.Span);
                BitConverter.TryWriteBytes(image.AsSpan(0, 8), r.Lsn.Value);
            }
            _materialized = r.Lsn;
        }
    }

    private void RememberCpls(IEnumerable<RedoRecord> records)
    {
        foreach (var r in records)
        {
            if (r.Kind != RedoKind.Commit) continue;
            var payload = CommitPayload.Decode(r.Payload.Span);
            _cpls.AddLast(new CplInfo(r.Lsn, payload.PgHighWater));
            if (_cpls.Count > _settings.Segment.RememberedCpls) _cpls.RemoveFirst();
        }
    }

    private SegmentReport Report() => new(_pg, _replica, _meta.Epoch, _durableScl, _scl.MaxLsn,
        _cpls.Where(c => c.Lsn <= _durableScl).ToArray());

    private SegmentStatus Status() => new(_pg, _replica, _meta.Epoch, _durableScl, _scl.MaxLsn,
        _segmentLog.FsyncCount, _segmentLog.BytesWritten, _segmentLog.DiskBytes, _pages.Count, _failure);

    private void StopGracefully()
    {
        _stopping = true;
        if (_syncInFlight is null && _appendedSinceSync && _failure is null) StartSync();
        if (_syncInFlight is null) Context.Stop(Self);
    }
}
