using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using ActorDb.Core;
using ActorDb.Core.Pages;
using ActorDb.Core.Recovery;
using ActorDb.Core.Redo;
using ActorDb.Core.Storage;
using ActorDb.Metrics;
using ActorDb.Recovery;
using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Storage;

/// <summary>
/// One storage segment: a replica of one protection group, hosted as a Cluster.Sharding entity <c>pg-{pg}-{replica}</c>.
/// Appends redo to its segment log, fsyncs with group commit (one fdatasync covers every batch that arrived while the
/// previous one ran, done off the actor thread), acknowledges its SCL only after the fsync, refuses older epochs, and
/// materializes pages from redo up to the writer's VDL to serve page reads (design.md, "Storage segment on disk").
/// <para>Materialized pages are checkpointed to the segment's <see cref="PageStore"/> in the background every
/// <c>actordb.segment.checkpoint-bytes</c> of log; the log files below the checkpoint are then deleted. Opening reads the
/// checkpoint from <see cref="SegmentMetadata"/> and only the log above it, so its time does not grow with the redo
/// written before (Aurora SIGMOD 2017 §3.3, §4.3: no redo replay at compute, bounded work at storage).</para>
/// <para>Metrics: each group commit's duration (<see cref="SegmentMetrics.FsyncDuration"/>) and bytes, and the page-store
/// bytes of each checkpoint (<see cref="RedoMetrics.Bytes"/>); each acknowledgement carries its sync's duration, so the
/// writer knows the fsync behind a commit's 4th acknowledgement.</para>
/// <para>Trust: a fence, an <see cref="OpenEpoch"/> (and its truncation) and redo are taken only as
/// <see cref="SegmentAuthority"/> allows: epochs in 1..<see cref="Epochs.Max"/>, from a <c>writer</c> node, an
/// <see cref="OpenEpoch"/> only from the node that fenced the segment at its epoch, redo only from the node that opened it.
/// Everything else gets a <see cref="RedoRejected"/> with <c>Refused</c> set, naming sender, PG, replica and epoch, and
/// changes nothing; each kind of refusal from one node is logged when it starts, every
/// <see cref="RepeatedConditions.DefaultInterval"/> with its count, and when it ends.</para>
/// <para>Records: every batch (from the writer, or from a peer) is checked whole by <see cref="RedoValidation"/> before
/// any of it is stored: LSN above 0, the PG's pages, a delta that applies, LSNs under the LSN ceiling (known VDL or
/// truncation point + <c>actordb.writer.lal</c>), one content per LSN held. A bad writer batch gets a
/// <see cref="RedoRejected"/> naming PG, replica, epoch and the first bad LSN; a bad peer answer is dropped; both are
/// logged as a refusal condition and change nothing.</para>
/// </summary>
public sealed partial class SegmentActor : ReceiveActor, IWithTimers
{
    private sealed record CatchUpTick { public static readonly CatchUpTick Instance = new(); }
    /// <summary>How often a segment checks whether it misses records its PG's peers hold.</summary>
    private static readonly TimeSpan CatchUpInterval = TimeSpan.FromSeconds(1);
    /// <summary>Most record bytes a peer sends in one <see cref="PeerRedo"/>: across processes a message must fit the
    /// transport's frame (4 MiB in hocon/cluster-node.conf) after the default serializer's base64.</summary>
    private const int MaxPeerRedoBytes = 1 << 20;

    private sealed record Synced(long CumulativeRecords, long Micros, int Bytes);
    private sealed record SyncFailed(Exception Error);
    private sealed record CheckpointWritten(Lsn Materialized, RedoRecord? Cpl, int Pages, long Micros);
    private sealed record CheckpointFailed(Exception Error);
    /// <summary>A page copy from <paramref name="Peer"/> in progress: the next chunk starts at <paramref name="NextPageNo"/>;
    /// <paramref name="Checkpoint"/> (zero until the first chunk) is the peer checkpoint the copy is taken at.</summary>
    private sealed record CopyState(int Peer, long Session, long NextPageNo, Lsn Checkpoint, CplInfo? Cpl, AnnulledRange[] Annulled,
        DateTime StartedUtc, DateTime LastProgressUtc, long Pages, long Bytes);
    /// <summary>A page copy whose peer has not answered for this long is abandoned (the next catch-up round starts over).</summary>
    private static readonly TimeSpan CopyStallTimeout = TimeSpan.FromSeconds(10);

    private readonly int _pg;
    private readonly int _replica;
    private readonly string _dir;
    private readonly ActorDbSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    /// <summary>After each group commit at least this many (and a quarter of the backlog) pending records are materialized,
    /// so page materialization runs in small steps that keep up without holding up acknowledgements; page reads
    /// materialize what they need.</summary>
    private const int MaterializeStep = 512;

    /// <summary>A checkpoint also starts once this many pages are dirty, whatever the log bytes: bounds the memory of
    /// workloads that scatter small changes over many pages.</summary>
    private const int MaxDirtyPages = 2048;

    private readonly HeldRecords _held;                         // records held in memory: not yet materialized, or awaiting compaction
    private PageStore _store = null!;
    private Dictionary<long, byte[]> _dirty = new();           // materialized since the last checkpoint began
    private Dictionary<long, byte[]>? _flushing;                // being written by the checkpoint in flight (read-only)
    private Task<object>? _checkpoint;                          // yields CheckpointWritten or CheckpointFailed
    private long _logBytesAtCheckpoint;
    private Lsn _materialized;                                  // LSN of the last record applied to the pages
    private RedoRecord? _materializedCpl;                       // the last commit record applied
    private SegmentLog _segmentLog = null!;
    private SegmentMetadata _meta = null!;
    private SclTracker _scl = null!;
    private Lsn _durableScl;
    private Lsn _knownVdl;
    private SegmentSyncThread _syncThread = null!;
    private readonly SyncRuns _unsynced = new();                              // append runs awaiting their group commit
    private IActorRef _writer = ActorRefs.Nobody;
    private long _writerEpoch;                                                // the epoch of the batches it sent
    private SegmentLifecycle _state = new SegmentLifecycle.Opening(null);
    private long _syncMicros;
    private long _syncs;
    private IActorRef? _peers;                 // the segment region (or a test's router), found in the ActorRegistry
    private Lsn _sclAtLastTick = Lsn.Zero;
    private Lsn _gcFloor;                       // the previous checkpoint: log files at or below it may go
    private Lsn _peerScl = Lsn.Zero;            // the highest SCL a peer reported: the PG holds at least that much
    private int _nextPeer;
    private int _peersTried;                    // peers asked in a row without getting a record
    private DateTime _fetchSentAt = DateTime.MinValue;
    private CopyState? _copy;                   // a page copy in progress (catch-up below every peer's log start)
    private long _copySessions;
    private CatchUpProgress? _catchUp;          // a catch-up in progress, for pg show and the start/finish log lines
    private Lsn _joinHint;                      // the PG's state as the writer's batches show it before the first open
    private readonly string _selfNode;          // this node's address (a local sender's node)
    private string? _epochOwner;                // the node that fenced (and opens, and writes) _meta.Epoch; null after a restart
    private Lsn? _holesRepairedAt;               // the log's holes found at open are repaired once the durable SCL reaches this
    private readonly RepeatedConditions _refusals = new();   // refusals, invalid input, unreadable pages: logged per condition

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;
    private readonly SegmentMetrics _metrics;
    private readonly RedoMetrics _redoMetrics;
    private readonly KeyValuePair<string, object?> _pgTag, _segmentTag;
    private long _pageStoreBytesCounted;

    /// <summary>Props for the segment with sharding entity id <paramref name="entityId"/> (<c>pg-N-R</c>).</summary>
    public static Props Props(string entityId, ActorDbSettings settings)
    {
        var (pg, replica) = ParseEntityId(entityId);
        return Akka.Actor.Props.Create(() => new SegmentActor(pg, replica, settings));
    }

    /// <summary>Props for a segment started by Cluster.Sharding: the entity's actor name is its id <c>pg-N-R</c>.</summary>
    public static Props ShardedProps(ActorDbSettings settings) => Akka.Actor.Props.Create(() => new SegmentActor(settings));

    /// <summary>Creates the segment named by this actor's name, its sharding entity id (<c>pg-N-R</c>); use <see cref="ShardedProps"/>.</summary>
    /// <exception cref="FormatException">the actor's name is not a segment id.</exception>
    public SegmentActor(ActorDbSettings settings) : this(ParseEntityId(Context.Self.Path.Name), settings) { }

    private SegmentActor((int Pg, int Replica) id, ActorDbSettings settings) : this(id.Pg, id.Replica, settings) { }

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
        _held = new HeldRecords(settings.Segment.RememberedCpls);
        _selfNode = ClusterMembershipSnapshot.SelfAddress(Context.System);
        var metrics = ActorDbMetrics.For(Context.System);
        _metrics = metrics.Segment;
        _redoMetrics = metrics.Redo;
        (_pgTag, _segmentTag) = SegmentMetrics.Tags(pg, replica);

        Receive<RedoBatch>(OnBatch);
        Receive<Synced>(OnSynced);
        Receive<SyncFailed>(OnSyncFailed);
        Receive<HealTick>(_ => OnHealTick());
        Receive<FromSyncThread>(OnFromSyncThread);
        Receive<CheckpointWritten>(OnCheckpointWritten);
        Receive<CheckpointFailed>(f => Fail(f.Error, "page-store checkpoint"));
        Receive<OpenEpoch>(OnOpenEpoch);
        Receive<GetSegmentState>(OnGetState);
        Receive<ReadPage>(OnReadPage);
        Receive<GetSegmentStatus>(_ => Sender.Tell(Status()));
        Receive<Stop>(_ => StopGracefully());
        Receive<CatchUpTick>(_ => OnCatchUpTick());
        Receive<FetchRedo>(OnFetchRedo);
        Receive<PeerRedo>(OnPeerRedo);
        Receive<FetchPages>(OnFetchPages);
        Receive<PeerPages>(OnPeerPages);
        Receive<FetchPage>(OnFetchPage);
        Receive<PeerPage>(OnPeerPage);
        Receive<PageHealthTick>(_ => OnPageHealthTick());
    }

    /// <summary>Opens the segment's files and reads its log above the checkpoint (<see cref="PreStart"/> retries it with
    /// back-off when it throws, after releasing what it took).</summary>
    private void Open()
    {
        var started = DateTime.UtcNow;
        if (_settings.Segment.Storage is FaultyStorage)
            _log.Warning("Segment {Segment} (PG {Pg}): TEST FAULTS: its storage is a fault-injecting FaultyStorage (actordb.segment.test-faults or a test); never in production",
                EntityId(_pg, _replica), _pg);
        var records = OpenStorage();
        var report = _segmentLog.Recovery;
        if (report.TailBytesCut > 0)
            _log.Warning("Segment {Segment} (PG {Pg}): {Tail}; nothing acknowledged is in them", EntityId(_pg, _replica), _pg, report.DescribeTail());
        var newHoles = NewHoles(report.CorruptRanges);
        foreach (var hole in newHoles)
            _log.Error("Segment {Segment} (PG {Pg}): corrupt record in {Hole}: counted as a hole, SCL stops before it; its records are fetched from peers", EntityId(_pg, _replica), _pg, hole);
        if (report.CorruptRanges.Count > newHoles.Count)
            _log.Debug("Segment {Segment} (PG {Pg}): {Holes} hole(s) in the log were repaired before ({File})", EntityId(_pg, _replica), _pg, report.CorruptRanges.Count - newHoles.Count, RepairedHoles.FileName);
        // Every record the log held (and the PG's VDL) is below the chain once the SCL reaches this: the holes' records are back.
        if (newHoles.Count > 0) _holesRepairedAt = Lsn.Max(_scl.MaxLsn, _meta.Vdl);
        if (_store.RestoredFromDoubleWrite > 0)
            _log.Warning("Segment {Segment} (PG {Pg}): a checkpoint was cut short; {Pages} page(s) restored from the doublewrite buffer", EntityId(_pg, _replica), _pg, _store.RestoredFromDoubleWrite);

        _durableScl = _scl.Scl;
        MaybeRecordHolesRepaired();   // holes below the checkpoint: their records are in the pages already
        _knownVdl = Lsn.Max(_meta.Vdl, _meta.Materialized);
        Timers.StartPeriodicTimer("catch-up", CatchUpTick.Instance, CatchUpInterval);
        Materialize(Lsn.Min(_durableScl, _knownVdl));
        _log.Info("Segment {Segment} (PG {Pg}) opened in {Ms} ms: epoch {Epoch}, checkpoint {Materialized}, SCL {Scl}, {Records} records read above the checkpoint; log writes {LogWrites}",
            new object[] { EntityId(_pg, _replica), _pg, (int)(DateTime.UtcNow - started).TotalMilliseconds, _meta.Epoch, _meta.Materialized, _durableScl, records,
                _segmentLog.DirectIo ? "O_DIRECT | O_DSYNC" : _settings.Segment.Fsync ? "write + fdatasync" : "write, NO fsync (not durable)" });
        if (_segmentLog.Options.WantsDirectIo && !_segmentLog.DirectIo && OperatingSystem.IsLinux())
            _log.Warning("Segment {Segment} (PG {Pg}): the file system of {Dir} refuses O_DIRECT; the log is written with write + fdatasync (as durable, more CPU)",
                EntityId(_pg, _replica), _pg, _dir);
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
        try
        {
            // A last checkpoint makes the next open read (almost) no log. One still in flight is finished first: its
            // pages must be durable before a later checkpoint point is recorded.
            var inFlight = _checkpoint?.Result;
            if (inFlight is CheckpointWritten written) OnCheckpointWritten(written);
            if (!_state.HasFailed && inFlight is not CheckpointFailed && _segmentLog is not null && _store is not null)
            {
                Materialize(Lsn.Min(_durableScl, _knownVdl));
                if (_dirty.Count > 0)
                {
                    _flushing = _dirty;
                    _dirty = new();
                    var done = WriteCheckpoint(_flushing, _materialized, _materializedCpl);
                    OnCheckpointWritten(done);
                }
            }
        }
        catch (Exception e)
        {
            _log.Error(e, "Segment {Segment} (PG {Pg}): final checkpoint failed (the next open reads more log; nothing is lost)", EntityId(_pg, _replica), _pg);
        }
        _segmentLog?.Dispose();
        _store?.Dispose();
    }

    private SclTracker NewTracker(Lsn start) => new(start, _meta.Annulled.Where(r => r.ToInclusive > start));

    private void OnBatch(RedoBatch batch)
    {
        var senderNode = SenderNode();
        var decision = SegmentAuthority.Redo(batch.Epoch, _meta.Epoch, _meta.OpenedEpoch, _epochOwner, senderNode, () => NodeRefusal(senderNode));
        if (decision.Verdict == SegmentVerdict.Refuse)
        {
            Refuse("a redo batch", batch.Epoch, senderNode, decision);
            return;
        }
        if (decision.Verdict == SegmentVerdict.Stale)
        {
            Sender.Tell(new RedoRejected(_pg, _replica, _meta.Epoch, $"stale epoch {batch.Epoch}: segment {EntityId(_pg, _replica)} is in epoch {_meta.Epoch}", StaleEpoch: true));
            return;
        }
        if (decision.Verdict == SegmentVerdict.NotOpened)
        {
            // Not opened in this epoch yet (down during the recovery, or fenced but not yet truncated): the writer answers
            // with OpenEpoch, whose truncation must come before any record of the epoch.
            if (batch.WriterVdl > _knownVdl) _knownVdl = batch.WriterVdl;   // what the PG holds: a catch-up target
            // Each record's backlink is a record the PG held when the writer shipped it: at or above anything this
            // segment could have acknowledged before it lost its data, if it did.
            _joinHint = SegmentJoin.Hint(_joinHint, batch.Records);
            Sender.Tell(new RedoRejected(_pg, _replica, _meta.OpenedEpoch, $"segment {EntityId(_pg, _replica)} has not installed epoch {batch.Epoch}", StaleEpoch: false));
            return;
        }
        if ((Unwritable() ?? (_state is SegmentLifecycle.Stopping ? "segment is stopping" : null)) is { } unwritable)
        {
            Sender.Tell(new RedoRejected(_pg, _replica, _meta.Epoch, unwritable, StaleEpoch: false, Fault: CurrentFault()));
            return;
        }
        // Validated as a whole before anything is stored: a bad batch is refused, never cut, and changes no state.
        var ceiling = RedoValidation.LsnCeiling(Lsn.Max(_knownVdl, batch.WriterVdl), _meta.Annulled, _settings.Writer.Lal);
        if (RedoValidation.CheckBatch(batch.Records, _pg, _settings.Geometry, ceiling, HeldRecord) is { } problem)
        {
            var reason = RefuseInvalid("a redo batch", batch.Records?.Length ?? 0, senderNode, problem);
            Sender.Tell(new RedoRejected(_pg, _replica, _meta.Epoch, reason, StaleEpoch: false));
            return;
        }
        _epochOwner ??= senderNode;   // restarted since the open: the first writer node that sends redo of it
        _writer = Sender;
        _writerEpoch = batch.Epoch;
        var appended = 0;
        foreach (var record in batch.Records)
        {
            if (!_scl.Add(record.Lsn, record.PrevLsn)) continue;   // duplicate (a resend) or annulled
            _segmentLog.Append(record);
            _held.Add(record);
            appended++;
        }
        if (batch.WriterVdl > _knownVdl) _knownVdl = batch.WriterVdl;
        MaybeRecordHolesRepaired();
        if (appended > 0)
        {
            _unsynced.Add(appended, _scl.Scl, fromWriter: true);
            _syncThread.Signal();
        }
        else Sender.Tell(new RedoAck(_pg, _replica, _meta.Epoch, _durableScl));   // nothing new: re-ack
    }

    private void OnSynced(Synced synced)
    {
        HealedIfFaulted();
        _syncMicros += synced.Micros;
        _syncs++;
        _metrics.FsyncDuration.Record(synced.Micros / 1_000_000.0, _pgTag, _segmentTag);
        _redoMetrics.Bytes.Add(synced.Bytes, RedoMetrics.SegmentLogTag);
        // A sync started before an epoch change may finish after truncation reset the chain: never count past it.
        (_durableScl, var advanced, var fromWriter) = _unsynced.Synced(synced.CumulativeRecords, _scl.Scl, _durableScl);
        if (advanced) MaybeRecordHolesRepaired();   // the sync that takes SCL past every record the log held repairs its holes
        switch (SyncRuns.Answer(fromWriter, advanced, _writerEpoch, _meta.Epoch, !_writer.IsNobody()))
        {
            case SyncAnswer.StaleEpoch:
                _writer.Tell(new RedoRejected(_pg, _replica, _meta.Epoch, $"stale epoch {_writerEpoch}: segment {EntityId(_pg, _replica)} is in epoch {_meta.Epoch}", StaleEpoch: true));
                break;
            case SyncAnswer.Ack:
                _writer.Tell(new RedoAck(_pg, _replica, _meta.Epoch, _durableScl, synced.Micros));
                break;
        }
        var backlog = _held.Backlog;
        if (backlog >= MaterializeStep) Materialize(Lsn.Min(_durableScl, _knownVdl), Math.Max(MaterializeStep, backlog / 4));
        CheckCatchUpDone();
        MaybeJoined();
        MaybeCheckpoint();
        if (_state is SegmentLifecycle.Stopping && _unsynced.Waiting == 0) Context.Stop(Self);
    }

    /// <summary>
    /// Catch-up from peers (design.md: segments gossip with PG peers to fill holes). When the chain stops below what the
    /// segment knows exists (the writer's VDL, or records held above a hole) and has not moved for a whole interval, it
    /// asks the next peer of its PG for the missing records. Records written before the current writer started are in no
    /// writer outbox, so without this a segment that was down across a restart would never count again.
    /// </summary>
    private void OnCatchUpTick()
    {
        LogRefusalSummaries();
        if (_copy is { } copy && DateTime.UtcNow - copy.LastProgressUtc > CopyStallTimeout)
            AbortCopy($"peer pg-{_pg}-{copy.Peer} did not answer for {CopyStallTimeout.TotalSeconds:0} s");
        var stuck = _scl.Scl < CatchUpTarget && _scl.Scl == _sclAtLastTick;
        _sclAtLastTick = _scl.Scl;
        if (stuck && DateTime.UtcNow - _fetchSentAt >= 3 * CatchUpInterval)   // one request at a time (or a lost one)
        {
            _peersTried = 0;
            FetchFrom(NextPeer());
        }
    }

    /// <summary>What the segment knows its PG holds: the writer's VDL, records held above a hole, a peer's SCL.</summary>
    private Lsn CatchUpTarget => Lsn.Max(Lsn.Max(_knownVdl, _scl.MaxLsn), _peerScl);

    /// <summary>The next replica of this PG to ask, round robin over the five others.</summary>
    private int NextPeer() => (_replica + 1 + _nextPeer++ % (VolumeGeometry.SegmentsPerPg - 1)) % VolumeGeometry.SegmentsPerPg;

    private void FetchFrom(int peer)
    {
        if (_state is not SegmentLifecycle.Serving || _copy is not null || _meta.Epoch == 0 || _meta.OpenedEpoch != _meta.Epoch) return;
        if (_peers is null && !ActorRegistry.For(Context.System).TryGet<Hosting.SegmentRegionKey>(out _peers)) return;
        _fetchSentAt = DateTime.UtcNow;
        if (_catchUp is null && _scl.Scl < CatchUpTarget)
        {
            _catchUp = new CatchUpProgress(_meta.Epoch, peer, DateTime.UtcNow, _durableScl, CatchUpTarget, Lsn.Zero, 0, 0, 0, 0);
            _log.Info("Segment {Segment} (PG {Pg}) catch-up started in epoch {Epoch}: SCL {Scl}, target {Target} (the PG's state now); it counts in no quorum above its SCL",
                new object[] { EntityId(_pg, _replica), _pg, _meta.Epoch, _durableScl, _catchUp.Target });
        }
        else if (_catchUp is not null) _catchUp = _catchUp with { Peer = peer };
        _peers!.Tell(new FetchRedo(_pg, peer, _meta.Epoch, _scl.Scl, new Lsn(long.MaxValue), _replica));   // the peer caps at its SCL
    }

    private void OnFetchRedo(FetchRedo f)
    {
        string? unavailable =
            _meta.OpenedEpoch != f.Epoch ? $"pg-{_pg}-{_replica} is opened in epoch {_meta.OpenedEpoch}, not {f.Epoch}"
            : _durableScl <= f.FromExclusive ? $"pg-{_pg}-{_replica} holds nothing above {f.FromExclusive} (SCL {_durableScl})"
            : null;
        if (unavailable is not null)
        {
            Sender.Tell(new PeerRedo(_pg, _replica, [], unavailable, _durableScl));
            return;
        }
        var upTo = Lsn.Min(f.ToInclusive, _durableScl);
        var records = new SortedDictionary<long, RedoRecord>();
        foreach (var r in _segmentLog.ReadAll())
            if (r.Lsn > f.FromExclusive && r.Lsn <= upTo && !_scl.IsAnnulled(r.Lsn)) records.TryAdd(r.Lsn.Value, r);
        var first = records.Count == 0 ? ((Lsn, Lsn)?)null : (records.First().Value.Lsn, records.First().Value.PrevLsn);
        var action = PageCopy.Decide(f.FromExclusive, _durableScl, first, _meta.Materialized);
        if (action != CatchUpAction.FetchRecords)
        {
            // The next record of the asker's chain is gone from this log (garbage-collected below the checkpoint): it is
            // in the pages only, so the asker must copy them first; records that would not connect are of no use to it.
            Sender.Tell(action == CatchUpAction.CopyPages
                ? new PeerRedo(_pg, _replica, [], $"pg-{_pg}-{_replica} has no record connecting to {f.FromExclusive} in its log (checkpoint {_meta.Materialized}): a page copy is needed", _durableScl, _meta.Materialized.Value)
                : new PeerRedo(_pg, _replica, [], $"pg-{_pg}-{_replica} has no record above {f.FromExclusive} in its log (checkpoint {_meta.Materialized})", _durableScl));
            return;
        }
        // Bounded: the lowest LSNs first, so the requester's chain grows; it asks again for the rest.
        var batch = new List<RedoRecord>();
        var sent = 0;
        foreach (var r in records.Values)
        {
            if (sent > MaxPeerRedoBytes) break;
            batch.Add(r);
            sent += r.Payload.Length + RedoCodec.BodyFixedSize;
        }
        Sender.Tell(new PeerRedo(_pg, _replica, batch.ToArray(), null, _durableScl));
    }

    private void OnPeerRedo(PeerRedo p)
    {
        if (!FromStorageNode("peer records")) return;
        MaybeRecordHolesRepaired();   // the records synced since the last answer may have filled the log's holes
        _fetchSentAt = DateTime.MinValue;
        if (p.Unavailable is null)
        {
            // Validated whole before anything else is taken from it. A peer sends only records at or below its durable
            // SCL (OnFetchRedo), under the same LSN ceiling as the writer's.
            var ceiling = Lsn.Min(p.PeerScl, RedoValidation.LsnCeiling(_knownVdl, _meta.Annulled, _settings.Writer.Lal));
            if (RedoValidation.CheckBatch(p.Records, _pg, _settings.Geometry, ceiling, HeldRecord) is { } problem)
            {
                // Dropped whole (an answer: nothing is sent back); the other peers are asked instead.
                RefuseInvalid($"peer records (peer SCL {p.PeerScl})", p.Records?.Length ?? 0, SenderNode(), problem);
                if (++_peersTried < VolumeGeometry.SegmentsPerPg - 1 && _scl.Scl < CatchUpTarget) FetchFrom(NextPeer());
                return;
            }
        }
        if (p.CopyPagesAt > 0 && new Lsn(p.CopyPagesAt) > _scl.Scl)
        {
            _log.Info("Segment {Segment} (PG {Pg}): {Reason}", EntityId(_pg, _replica), _pg, p.Unavailable);
            StartCopy(p.FromReplica);
            return;
        }
        if (p.Unavailable is null && p.PeerScl > _peerScl) _peerScl = p.PeerScl;
        if (p.Unavailable is not null || p.Records.Length == 0)
        {
            // Try the other peers at once (one round), rather than a stuck interval per peer.
            if (++_peersTried < VolumeGeometry.SegmentsPerPg - 1 && _scl.Scl < CatchUpTarget)
                FetchFrom(NextPeer());
        }
        if (p.Unavailable is not null)
        {
            _log.Debug("Segment {Segment} (PG {Pg}): peer pg-{Pg}-{Peer} cannot help: {Reason}", EntityId(_pg, _replica), _pg, _pg, p.FromReplica, p.Unavailable);
            return;
        }
        if (Unwritable() is not null || _state is SegmentLifecycle.Stopping) return;
        var appended = 0;
        foreach (var record in p.Records)
        {
            if (!_scl.Add(record.Lsn, record.PrevLsn)) continue;
            _segmentLog.Append(record);
            _held.Add(record);
            appended++;
        }
        if (appended == 0) return;
        _peersTried = 0;
        if (_catchUp is not null)
            _catchUp = _catchUp with { RecordsFetched = _catchUp.RecordsFetched + appended, RecordBytes = _catchUp.RecordBytes + p.Records.Sum(r => (long)r.Payload.Length + RedoCodec.BodyFixedSize) };
        _unsynced.Add(appended, _scl.Scl, fromWriter: false);
        _syncThread.Signal();
        _metrics.GossipRepairs.Add(appended, _pgTag, _segmentTag);
        _log.Info("Segment {Segment} (PG {Pg}): {Records} record(s) from peer pg-{Pg}-{Peer}; SCL now {Scl}",
            new object[] { EntityId(_pg, _replica), _pg, appended, _pg, p.FromReplica, _scl.Scl });
        if (_scl.Scl < _peerScl) FetchFrom(p.FromReplica);   // more where these came from
    }

    /// <summary>Starts a page copy from <paramref name="peer"/>: the records this segment needs next are below every log
    /// the peer keeps. Not while a checkpoint of its own is in flight (the next catch-up round retries).</summary>
    private void StartCopy(int peer)
    {
        if (_copy is not null || _state is not SegmentLifecycle.Serving || _checkpoint is not null) return;
        if (_meta.Epoch == 0 || _meta.OpenedEpoch != _meta.Epoch) return;
        if (_peers is null && !ActorRegistry.For(Context.System).TryGet<Hosting.SegmentRegionKey>(out _peers)) return;
        _catchUp ??= new CatchUpProgress(_meta.Epoch, peer, DateTime.UtcNow, _durableScl, Lsn.Max(CatchUpTarget, _durableScl), Lsn.Zero, 0, 0, 0, 0);
        _catchUp = _catchUp with { Peer = peer };
        var now = DateTime.UtcNow;
        _copy = new CopyState(peer, ++_copySessions, _settings.Geometry.FirstPageOf(_pg), Lsn.Zero, null, [], now, now, 0, 0);
        _log.Info("Segment {Segment} (PG {Pg}) page copy from pg-{Pg}-{Peer} started in epoch {Epoch}: SCL {Scl}, target {Target}, chunks of {ChunkBytes} bytes",
            new object[] { EntityId(_pg, _replica), _pg, _pg, peer, _meta.Epoch, _durableScl, _catchUp.Target, _settings.Segment.PageCopyChunkBytes });
        SendFetchPages(_copy);
    }

    private void SendFetchPages(CopyState copy) =>
        _peers!.Tell(new FetchPages(_pg, copy.Peer, _meta.Epoch, _replica, copy.Session, copy.NextPageNo, _settings.Segment.PageCopyChunkBytes));

    /// <summary>Serves one chunk of a page copy: the current image of each page (in memory if materialized since the last
    /// checkpoint, else from the page store), all at or above the durable checkpoint it reports.</summary>
    private void OnFetchPages(FetchPages f)
    {
        var pageSize = _settings.Geometry.PageSize;
        string? unavailable =
            _state.Failure is { } failure ? failure
            : _meta.OpenedEpoch != f.Epoch ? $"pg-{_pg}-{_replica} is opened in epoch {_meta.OpenedEpoch}, not {f.Epoch}"
            : _meta.Materialized == Lsn.Zero ? $"pg-{_pg}-{_replica} has no page-store checkpoint"
            : null;
        long[] pages = [];
        byte[] images = [];
        var next = -1L;
        if (unavailable is null)
        {
            try
            {
                var maxPages = PageCopy.PagesPerChunk(pageSize, Math.Clamp(f.MaxBytes, pageSize, 64 << 20));
                var memory = _flushing is null ? _dirty.Keys : _dirty.Keys.Concat(_flushing.Keys);
                (pages, next) = PageCopy.PlanChunk(Math.Max(f.FromPageNo, _store.FirstPageNo), maxPages, _store.NextWrittenPage, memory);
                images = new byte[pages.Length * pageSize];
                for (var i = 0; i < pages.Length; i++)
                {
                    var image = _dirty.TryGetValue(pages[i], out var d) ? d
                        : _flushing is not null && _flushing.TryGetValue(pages[i], out var fl) ? fl
                        : _store.Read(pages[i]);
                    image?.CopyTo(images, (long)i * pageSize);
                }
            }
            catch (DamagedPageException e)
            {
                PageDamaged(e.PageNo, $"a page copy to pg-{_pg}-{f.RequesterReplica}");
                unavailable = $"pg-{_pg}-{_replica}: {e.Message}";
            }
            catch (Exception e) when (e is InvalidDataException or SegmentLogException)
            {
                if (_refusals.Occurred($"failing page copies to pg-{_pg}-{f.RequesterReplica} (page store)", DateTime.UtcNow))
                    _log.Error(e, "Segment {Segment} (PG {Pg}): page copy to pg-{Pg}-{Peer} failed reading the page store (repeats are summarised every {Seconds} s)",
                        new object[] { EntityId(_pg, _replica), _pg, _pg, f.RequesterReplica, (int)_refusals.SummaryEvery.TotalSeconds });
                unavailable = $"pg-{_pg}-{_replica}: page store read failed: {e.Message}";
            }
        }
        var (cpl, tails) = PageCopy.Flatten(_meta.CheckpointCpl);
        Sender.Tell(unavailable is not null
            ? new PeerPages(_pg, _replica, f.Session, f.FromPageNo, [], [], -1, 0, 0, [], [], _durableScl, unavailable)
            : new PeerPages(_pg, _replica, f.Session, f.FromPageNo, pages, images, next, _meta.Materialized.Value, cpl, tails,
                PageCopy.Flatten(_meta.Annulled), _durableScl, null));
    }

    /// <summary>One chunk of this segment's page copy arrived: make it durable in the page store, then ask for the next, or
    /// install the copy after the last.</summary>
    private void OnPeerPages(PeerPages p)
    {
        if (!FromStorageNode("peer pages")) return;
        if (_copy is not { } copy || p.Session != copy.Session || p.FromReplica != copy.Peer || p.FromPageNo != copy.NextPageNo) return;   // an abandoned copy's answer
        if (p.Unavailable is not null)
        {
            AbortCopy(p.Unavailable);
            return;
        }
        if (_state is not SegmentLifecycle.Serving)
        {
            AbortCopy(_state.Failure ?? "segment is stopping");
            return;
        }
        if (copy.Checkpoint == Lsn.Zero)
        {
            // The first chunk fixes the point the copy is taken at; later chunks only hold images at or above it.
            if (new Lsn(p.Checkpoint) <= _scl.Scl)
            {
                AbortCopy($"the peer's checkpoint {p.Checkpoint} is not above this segment's SCL {_scl.Scl}");
                return;
            }
            copy = copy with { Checkpoint = new Lsn(p.Checkpoint), Cpl = PageCopy.Unflatten(p.CheckpointCpl, p.CheckpointCplTails), Annulled = PageCopy.Unflatten(p.Annulled) };
        }
        var pageSize = _settings.Geometry.PageSize;
        if (p.Images.Length != (long)p.PageNos.Length * pageSize)
        {
            AbortCopy($"a chunk of {p.PageNos.Length} pages carries {p.Images.Length} bytes, not {p.PageNos.Length} x {pageSize}");
            return;
        }
        var pages = new List<KeyValuePair<long, byte[]>>(p.PageNos.Length);
        for (var i = 0; i < p.PageNos.Length; i++)
            pages.Add(new(p.PageNos[i], p.Images.AsSpan(i * pageSize, pageSize).ToArray()));
        try
        {
            _store.Write(pages);   // durable (doublewrite, fsync) before the next chunk is asked for
        }
        catch (Exception e)
        {
            _copy = null;
            Fail(e, "page copy write");
            return;
        }
        var now = DateTime.UtcNow;
        copy = copy with { NextPageNo = p.NextPageNo, LastProgressUtc = now, Pages = copy.Pages + pages.Count, Bytes = copy.Bytes + p.Images.Length };
        _catchUp = _catchUp! with { CopyPoint = copy.Checkpoint, PagesCopied = _catchUp.PagesCopied + pages.Count, PageBytes = _catchUp.PageBytes + p.Images.Length };
        _copy = copy;
        if (p.NextPageNo >= 0) SendFetchPages(copy);
        else InstallCopy(copy);
    }

    /// <summary>Every chunk is durable: the peer's checkpoint becomes this segment's (segment.meta), the SCL chain restarts
    /// there, and the records above it are fetched with <see cref="FetchRedo"/>.</summary>
    private void InstallCopy(CopyState copy)
    {
        var point = copy.Checkpoint;
        if (_scl.Scl >= point)
        {
            AbortCopy($"the SCL reached {_scl.Scl} by records meanwhile, at or above the copy point {point}");
            return;
        }
        // What the copy supersedes: records at or below the point, and pages materialized below it (the SCL is below
        // the point, and so is everything materialized; every page they touched is in the copy, at or above the point).
        _meta = _meta.WithPageCopy(point, copy.Cpl, copy.Annulled);
        try
        {
            _meta.Save(_dir, _settings.Segment.Fsync, _settings.Segment.Storage);
        }
        catch (Exception e)
        {
            _copy = null;
            Fail(e, "page copy: segment.meta write");
            return;
        }
        _held.DropUpTo(point);
        _dirty = new();
        _repair.Clear();   // every page the copy holds is whole again
        _blockedOnPage = -1;
        _materialized = point;
        _materializedCpl = null;
        _scl = NewTracker(point);
        foreach (var r in _held.All) _scl.Add(r.Lsn, r.PrevLsn);
        // Records above the point held in the log count once a sync covers them (OnSynced); the point itself is durable.
        _durableScl = Lsn.Max(_durableScl, point);
        _gcFloor = point;
        _logBytesAtCheckpoint = _segmentLog.BytesWritten;
        if (point > _knownVdl) _knownVdl = point;
        _copy = null;
        var elapsed = DateTime.UtcNow - copy.StartedUtc;
        _log.Info("Segment {Segment} (PG {Pg}) page copy from pg-{Pg}-{Peer} finished in epoch {Epoch}: checkpoint {Checkpoint}, {Pages} pages, {Bytes} bytes in {Ms} ms ({MBps:0.0} MB/s); SCL now {Scl}, fetching the records above it",
            new object[] { EntityId(_pg, _replica), _pg, _pg, copy.Peer, _meta.Epoch, point, copy.Pages, copy.Bytes, (long)elapsed.TotalMilliseconds, PageCopy.MegabytesPerSecond(copy.Bytes, elapsed), _durableScl });
        CheckCatchUpDone();
        MaybeJoined();
        _peersTried = 0;
        FetchFrom(copy.Peer);
    }

    /// <summary>A joining segment whose durable SCL reached its join target counts in quorums again (durably).</summary>
    private void MaybeJoined()
    {
        if (_meta.JoinTarget == Lsn.Zero || _durableScl < _meta.JoinTarget || _state.HasFailed) return;
        var target = _meta.JoinTarget;
        var meta = _meta.WithJoinTarget(Lsn.Zero);
        try
        {
            meta.Save(_dir, _settings.Segment.Fsync, _settings.Segment.Storage);
        }
        catch (Exception e)
        {
            Fail(e, "segment.meta write (joined)");
            return;
        }
        _meta = meta;
        _log.Info("Segment {Segment} (PG {Pg}) joined its PG in epoch {Epoch}: SCL {Scl} reached {Target}; it counts in quorums again",
            new object[] { EntityId(_pg, _replica), _pg, _meta.Epoch, _durableScl, target });
    }

    private void AbortCopy(string reason)
    {
        if (_copy is not { } copy) return;
        _copy = null;
        _fetchSentAt = DateTime.MinValue;   // the next catch-up tick starts over
        _log.Warning("Segment {Segment} (PG {Pg}) page copy from pg-{Pg}-{Peer} abandoned after {Pages} pages: {Reason}",
            new object[] { EntityId(_pg, _replica), _pg, _pg, copy.Peer, copy.Pages, reason });
    }

    /// <summary>Ends the catch-up once the durable SCL reached its target, with one log line of what it took.</summary>
    private void CheckCatchUpDone()
    {
        if (_catchUp is not { } c || _copy is not null || !c.IsDone(_durableScl)) return;
        _catchUp = null;
        var now = DateTime.UtcNow;
        _log.Info("Segment {Segment} (PG {Pg}) caught up in epoch {Epoch}: SCL {StartScl} -> {Scl} (target {Target}) in {Ms} ms from pg-{Pg}-{Peer}; page copy at {CopyPoint}: {Pages} pages {PageBytes} bytes; {Records} records {RecordBytes} bytes; {MBps:0.0} MB/s",
            new object[] { EntityId(_pg, _replica), _pg, c.Epoch, c.StartScl, _durableScl, c.Target, (long)(now - c.StartedUtc).TotalMilliseconds, _pg, c.Peer,
                c.CopyPoint, c.PagesCopied, c.PageBytes, c.RecordsFetched, c.RecordBytes, c.MegabytesPerSecond(now) });
    }

    private void OnSyncFailed(SyncFailed failed)
    {
        _unsynced.Forget();
        Fail(failed.Error, "log write");
    }

    private void Fail(Exception failure, string what)
    {
        var error = failure is AggregateException a ? a.InnerException ?? a : failure;
        if (StorageErrors.Classify(error) is not StorageFailureKind.Other and var kind)
        {
            OnStorageFault(kind, error, what);
            return;
        }
        var stopping = _state is SegmentLifecycle.Stopping;
        if (!_state.HasFailed) _state = _state.Transition(new SegmentLifecycle.Failed($"segment {EntityId(_pg, _replica)}: {what} failed: {error.Message}"));
        _log.Error(error, "Segment {Segment} (PG {Pg}): {What} failed; it acknowledges nothing more until restarted", EntityId(_pg, _replica), _pg, what);
        if (stopping) Context.Stop(Self);
    }

    /// <summary>Starts a background checkpoint of the pages materialized since the last one, once enough log arrived.</summary>
    /// <param name="now">Start one whatever the log bytes (pages repaired from peers must become durable).</param>
    private void MaybeCheckpoint(bool now = false)
    {
        if (_checkpoint is not null || _state.HasFailed || _copy is not null || _dirty.Count == 0) return;
        if (!now && _segmentLog.BytesWritten - _logBytesAtCheckpoint < _settings.Segment.CheckpointBytes && _dirty.Count < MaxDirtyPages) return;
        _logBytesAtCheckpoint = _segmentLog.BytesWritten;
        _flushing = _dirty;
        _dirty = new();
        var (pages, materialized, cpl) = (_flushing, _materialized, _materializedCpl);
        var self = Self;
        _checkpoint = Task.Run(() =>
        {
            object outcome;
            try { outcome = WriteCheckpoint(pages, materialized, cpl); }
            catch (Exception e) { outcome = new CheckpointFailed(e); }
            self.Tell(outcome);
            return outcome;
        });
    }

    private CheckpointWritten WriteCheckpoint(Dictionary<long, byte[]> pages, Lsn materialized, RedoRecord? cpl)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        _store.Write(pages.ToList());
        return new CheckpointWritten(materialized, cpl, pages.Count, (long)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMicroseconds);
    }

    private void OnCheckpointWritten(CheckpointWritten done)
    {
        if (_flushing is null) return;   // already handled (the final checkpoint at stop)
        _flushing = null;
        _checkpoint = null;
        var cpl = done.Cpl is null ? null : new CplInfo(done.Cpl.Lsn, CommitPayload.Decode(done.Cpl.Payload.Span).PgHighWater);
        _meta = _meta.WithCheckpoint(done.Materialized, cpl);
        _meta.Save(_dir, _settings.Segment.Fsync, _settings.Segment.Storage);
        var (files, bytes) = _segmentLog.CollectGarbage(_gcFloor);
        _gcFloor = done.Materialized;
        var pageStoreBytes = _store.BytesWritten;
        _redoMetrics.Bytes.Add(pageStoreBytes - _pageStoreBytesCounted, RedoMetrics.PageStoreTag);
        _pageStoreBytesCounted = pageStoreBytes;
        _log.Debug("Segment {Segment} (PG {Pg}): checkpoint at {Materialized}: {Pages} pages in {Ms} ms; {Files} log file(s) ({Bytes} bytes) deleted",
            new object[] { EntityId(_pg, _replica), _pg, done.Materialized, done.Pages, done.Micros / 1000, files, bytes });
    }

    private void OnGetState(GetSegmentState get)
    {
        if (get.FenceEpoch != 0)
        {
            var senderNode = SenderNode();
            var decision = SegmentAuthority.Fence(get.FenceEpoch, _meta.Epoch, _epochOwner, senderNode, () => NodeRefusal(senderNode));
            if (decision.Verdict == SegmentVerdict.Refuse)
            {
                Refuse("a fence", get.FenceEpoch, senderNode, decision);
                return;
            }
            if (decision.Verdict == SegmentVerdict.Accept && get.FenceEpoch > _meta.Epoch)
            {
                var fenced = _meta.WithFence(get.FenceEpoch);
                fenced.Save(_dir, _settings.Segment.Fsync, _settings.Segment.Storage);
                _meta = fenced;
                _epochOwner = senderNode;
                _log.Info("Segment {Segment} (PG {Pg}) fenced at epoch {Epoch} by node {Node}: SCL {Scl}; older epochs are refused",
                    new object[] { EntityId(_pg, _replica), _pg, get.FenceEpoch, senderNode, _durableScl });
            }
            else if (decision.Verdict == SegmentVerdict.Accept && _epochOwner is null)
            {
                _epochOwner = senderNode;
                _log.Info("Segment {Segment} (PG {Pg}) fenced again at its epoch {Epoch} by node {Node} (the owner of the epoch was not known since a restart)",
                    EntityId(_pg, _replica), _pg, get.FenceEpoch, senderNode);
            }
        }
        Sender.Tell(new SegmentState(Report()));
    }

    /// <summary>The node the current message's sender is on (this node for a local actor).</summary>
    private string SenderNode() => ClusterMembershipSnapshot.NodeOf(Sender, _selfNode);

    /// <summary>Why <paramref name="senderNode"/> may not act as a writer now (cluster membership and roles), or null.</summary>
    private string? NodeRefusal(string senderNode) => SegmentAuthority.NodeRefusal(senderNode, ClusterMembershipSnapshot.Of(Context.System));

    /// <summary>Answers a refused request (<paramref name="what"/> of <paramref name="epoch"/>) and logs the condition once
    /// when it starts; <see cref="LogRefusalSummaries"/> summarises and ends it.</summary>
    private void Refuse(string what, long epoch, string senderNode, SegmentDecision decision)
    {
        var reason = SegmentAuthority.Refusal(_pg, _replica, what, epoch, Sender.Path.ToString(), decision.Refusal!);
        if (_refusals.Occurred($"refusing {decision.Kind} from node {senderNode}", DateTime.UtcNow))
            _log.Warning("{Reason}; nothing was changed (repeats are summarised every {Seconds} s)", reason, (int)_refusals.SummaryEvery.TotalSeconds);
        Sender.Tell(new RedoRejected(_pg, _replica, _meta.Epoch, reason, StaleEpoch: false, Refused: true));
    }

    /// <summary>Records and pages from peers are taken only from <c>storage</c> nodes (a peer is a segment); others are
    /// dropped (they are answers: nothing is sent back) and logged once per condition.</summary>
    private bool FromStorageNode(string what)
    {
        var senderNode = SenderNode();
        if (SegmentAuthority.NodeRefusal(senderNode, ClusterMembershipSnapshot.Of(Context.System), SegmentAuthority.StorageRole) is not { } why) return true;
        if (_refusals.Occurred($"dropping {what} from node {senderNode}", DateTime.UtcNow))
            _log.Warning("{Reason}; dropped (repeats are summarised every {Seconds} s)",
                SegmentAuthority.Refusal(_pg, _replica, what, _meta.Epoch, Sender.Path.ToString(), why), (int)_refusals.SummaryEvery.TotalSeconds);
        return false;
    }

    private void LogRefusalSummaries()
    {
        if (_refusals.Count == 0) return;
        foreach (var line in _refusals.Due(DateTime.UtcNow))
        {
            if (line.Ended)
                _log.Info("Segment {Segment} (PG {Pg}): {Condition} ended: {Count} in all", EntityId(_pg, _replica), _pg, line.Key, line.Total);
            else
                _log.Warning("Segment {Segment} (PG {Pg}): still {Condition}: {Count} more since the last line", EntityId(_pg, _replica), _pg, line.Key, line.Count);
        }
    }

    private void OnOpenEpoch(OpenEpoch open)
    {
        var senderNode = SenderNode();
        var decision = SegmentAuthority.Open(open.Epoch, _meta.Epoch, _epochOwner, senderNode, () => NodeRefusal(senderNode));
        if (decision.Verdict == SegmentVerdict.Refuse)
        {
            Refuse("an OpenEpoch", open.Epoch, senderNode, decision);
            return;
        }
        if (decision.Verdict == SegmentVerdict.Stale)
        {
            Sender.Tell(new RedoRejected(_pg, _replica, _meta.Epoch, $"stale epoch {open.Epoch}: segment {EntityId(_pg, _replica)} is in epoch {_meta.Epoch}", StaleEpoch: true));
            return;
        }
        if (open.Epoch > _meta.OpenedEpoch)
        {
            // Acks of records of the old epoch still being synced go out under the new epoch, which the old writer
            // ignores; the new writer never counts them past the truncation (OnSynced caps at the chain).
            if (_copy is not null) AbortCopy($"epoch {open.Epoch} installed");
            // Never opened and holding nothing, in a PG that holds records: it joins empty (new node, lost disk, moved
            // shard) and counts in no quorum until its SCL reaches the PG's state now (design.md). Durable with the epoch.
            var (joining, joinTarget) = SegmentJoin.AtInstall(_meta.OpenedEpoch, _scl.Scl, _scl.MaxLsn, _meta.Materialized, _meta.JoinTarget,
                open.PgTail, _joinHint, open.Vdl, open.TruncateTo);
            _meta = _meta.WithEpoch(open.Epoch, open.Vdl);
            if (open.TruncateTo > open.Vdl) _meta = _meta.WithAnnulled(new AnnulledRange(open.Vdl, open.TruncateTo, open.Epoch));
            if (joinTarget != _meta.JoinTarget) _meta = _meta.WithJoinTarget(joinTarget);
            if (joining && joinTarget > Lsn.Zero)
                _log.Info("Segment {Segment} (PG {Pg}) joins its PG empty in epoch {Epoch}: it counts in no quorum until its SCL reaches {Target}",
                    EntityId(_pg, _replica), _pg, open.Epoch, joinTarget);
            _meta.Save(_dir, _settings.Segment.Fsync, _settings.Segment.Storage);
            if (open.TruncateTo > open.Vdl)
            {
                _held.Annul(open.Vdl, open.TruncateTo);
                if (_scl.Scl >= open.PgTail)
                {
                    _scl = NewTracker(open.PgTail);
                    foreach (var r in _held.All.Where(r => r.Lsn > open.PgTail)) _scl.Add(r.Lsn, r.PrevLsn);
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
        // Below the PG's recovered tail: its peers hold what it lacks; ask at once rather than after a stuck interval,
        // since the PG may need this segment for its next write quorum.
        if (_scl.Scl < open.PgTail && open.Epoch == _meta.OpenedEpoch && DateTime.UtcNow - _fetchSentAt >= 3 * CatchUpInterval)
        {
            _peersTried = 0;
            FetchFrom(NextPeer());
        }
    }

    private void OnReadPage(ReadPage read)
    {
        var senderNode = SenderNode();
        var decision = SegmentAuthority.Read(_epochOwner, senderNode, () => NodeRefusal(senderNode));
        if (decision.Verdict == SegmentVerdict.Refuse)
        {
            Refuse($"a read of page {read.PageNo}", _meta.Epoch, senderNode, decision);
            return;
        }
        if (_durableScl < read.RequiredScl || _copy is not null)   // mid-copy the page store mixes two points in time
        {
            Sender.Tell(new PageUnavailable(_pg, _replica, read.PageNo, _durableScl));
            return;
        }
        if (read.ReadPoint > _knownVdl) _knownVdl = read.ReadPoint;
        Materialize(Lsn.Min(_durableScl, _knownVdl));
        if (_blockedOnPage >= 0 || _repair.Contains(read.PageNo))
        {
            // Materialization waits for a damaged page's repair (every page may lack records), or this page is damaged:
            // another replica serves the read meanwhile.
            Sender.Tell(new PageUnavailable(_pg, _replica, read.PageNo, _durableScl, Damaged: _repair.Contains(read.PageNo)));
            return;
        }
        byte[]? image;
        try
        {
            image = _dirty.TryGetValue(read.PageNo, out var d) ? d.ToArray()
                : _flushing is not null && _flushing.TryGetValue(read.PageNo, out var f) ? f.ToArray()
                : _store.Read(read.PageNo);
        }
        catch (DamagedPageException)
        {
            PageDamaged(read.PageNo, "a read");   // logged when the repair starts and when it ends, never per read
            Sender.Tell(new PageUnavailable(_pg, _replica, read.PageNo, _durableScl, Damaged: true));
            return;
        }
        catch (SegmentLogException e)
        {
            if (_refusals.Occurred($"page store read error: {e.Message}", DateTime.UtcNow))
                _log.Error(e, "Segment {Segment} (PG {Pg}): page {PageNo} cannot be read from the page store (repeats are summarised every {Seconds} s)",
                    EntityId(_pg, _replica), _pg, read.PageNo, (int)_refusals.SummaryEvery.TotalSeconds);
            Sender.Tell(new PageUnavailable(_pg, _replica, read.PageNo, _durableScl));
            return;
        }
        Sender.Tell(new PageImage(_pg, _replica, read.PageNo, image, image is null ? Lsn.Zero : PageLsnOf(image)));
    }

    /// <summary>The image of <paramref name="pageNo"/> to apply redo to: dirty already, or copied from the checkpoint in
    /// flight (which must not change under its write), or read from the page store, or a new zero page; null when its
    /// slot is damaged (its repair from a peer is started, and materialization waits for it).</summary>
    private byte[]? PageForUpdate(long pageNo)
    {
        if (_dirty.TryGetValue(pageNo, out var image)) return image;
        if (_repair.Contains(pageNo)) return null;
        try
        {
            image = _flushing is not null && _flushing.TryGetValue(pageNo, out var f) ? f.ToArray()
                : _store.Read(pageNo) ?? new byte[_settings.Geometry.PageSize];
        }
        catch (DamagedPageException)
        {
            PageDamaged(pageNo, "the materialization");
            return null;
        }
        _dirty[pageNo] = image;
        return image;
    }

    private static Lsn PageLsnOf(byte[] image) => new(BitConverter.ToInt64(image, 0));

    /// <summary>The record this segment holds in memory under <paramref name="lsn"/>, or null: every record above its
    /// SCL (held above a hole) and every record at or below it not yet materialized and compacted away. Older records
    /// are below the SCL, so a resend of them is only re-acknowledged, never stored.</summary>
    private RedoRecord? HeldRecord(Lsn lsn) => _held.Find(lsn);

    /// <summary>The holes of <paramref name="found"/> not recorded as repaired at an earlier open; all of them when the
    /// list cannot be read (said once).</summary>
    private IReadOnlyList<CorruptRange> NewHoles(IReadOnlyList<CorruptRange> found)
    {
        if (found.Count == 0) return found;
        try
        {
            return RepairedHoles.New(found, RepairedHoles.Load(_dir));
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            _log.Warning("Segment {Segment} (PG {Pg}): the list of repaired holes cannot be read ({Reason}); every hole is reported", EntityId(_pg, _replica), _pg, e.Message);
            return found;
        }
    }

    /// <summary>Once the durable SCL passed every record the log held at open, the holes found then are repaired (their
    /// records came back from peers, or were annulled): recorded durably, so later opens do not report them again.</summary>
    private void MaybeRecordHolesRepaired()
    {
        if (_holesRepairedAt is not { } at || _durableScl < at) return;
        _holesRepairedAt = null;
        try
        {
            RepairedHoles.Record(_dir, _segmentLog.Recovery.CorruptRanges, _settings.Segment.Fsync);
            _log.Info("Segment {Segment} (PG {Pg}): the log's {Holes} hole(s) are repaired: SCL {Scl} passed every record the log held; recorded in {File}",
                new object[] { EntityId(_pg, _replica), _pg, _segmentLog.Recovery.CorruptRanges.Count, _durableScl, RepairedHoles.FileName });
        }
        catch (SegmentLogException e)
        {
            _log.Warning("Segment {Segment} (PG {Pg}): the repaired holes could not be recorded ({Reason}); the next open reports them again", EntityId(_pg, _replica), _pg, e.Message);
        }
    }

    /// <summary>Logs an invalid batch (<paramref name="what"/> of <paramref name="records"/> records from
    /// <paramref name="senderNode"/>) when the condition starts (repeats are summarised with the other refusals) and
    /// returns the one reason text, naming PG, replica, epoch and the first invalid record's LSN.</summary>
    private string RefuseInvalid(string what, int records, string senderNode, string problem)
    {
        var reason = RedoValidation.Refusal(_pg, _replica, _meta.Epoch, what, $"{Sender.Path} (node {senderNode})", records, problem);
        if (_refusals.Occurred($"refusing invalid records from node {senderNode}", DateTime.UtcNow))
            _log.Warning("{Reason} (repeats are summarised every {Seconds} s)", reason, (int)_refusals.SummaryEvery.TotalSeconds);
        return reason;
    }

    /// <summary>Applies pending records up to <paramref name="target"/> to the page images, in LSN order.</summary>
    /// <remarks>Stops before a record whose page's slot is damaged (<see cref="_blockedOnPage"/>) until that page is
    /// repaired from a peer; reads are served by other replicas meanwhile.</remarks>
    private void Materialize(Lsn target, int maxRecords = int.MaxValue)
    {
        var limit = maxRecords == int.MaxValue ? int.MaxValue : _held.Applied + maxRecords;
        _blockedOnPage = -1;
        while (_held.Applied < limit && _held.NextToApply is { } r)
        {
            if (r.Lsn > target) break;
            if (r.Kind == RedoKind.PageDelta)
            {
                var image = PageForUpdate(r.PageNo);
                if (image is null)
                {
                    _blockedOnPage = r.PageNo;
                    break;
                }
                if (PageLsnOf(image) < r.Lsn)   // a page restored from a newer checkpoint already holds it
                {
                    // Validated before it was stored (RedoValidation); a record stored before that may still not apply:
                    // PageDelta.Apply leaves the page unchanged, the segment goes on and says which record it skipped.
                    try
                    {
                        PageDelta.Apply(image, r.Payload.Span);
                        BitConverter.TryWriteBytes(image.AsSpan(0, 8), r.Lsn.Value);
                    }
                    catch (FormatException e)
                    {
                        if (_refusals.Occurred("skipping stored records that do not apply", DateTime.UtcNow))
                            _log.Error("Segment {Segment} (PG {Pg}): stored record LSN {Lsn} does not apply to page {PageNo}, skipped: {Reason} (repeats are summarised every {Seconds} s)",
                                new object[] { EntityId(_pg, _replica), _pg, r.Lsn, r.PageNo, e.Message, (int)_refusals.SummaryEvery.TotalSeconds });
                    }
                }
            }
            else if (r.Kind == RedoKind.Commit) _materializedCpl = r;
            _materialized = r.Lsn;
            _held.MarkApplied();
        }
        _held.CompactIfWorthIt();
    }

    // The checkpoint's commit record stands in for those whose log was garbage-collected.
    private SegmentReport Report() => new(_pg, _replica, _meta.Epoch, _durableScl, _scl.MaxLsn,
        _held.Cpls.Where(c => c.Lsn <= _durableScl).Select(c => new CplInfo(c.Lsn, CommitPayload.Decode(c.Payload.Span).PgHighWater))
            .Concat(_meta.CheckpointCpl is { } k ? [k] : []).ToArray(), _meta.Annulled, _meta.OpenedEpoch, _meta.JoinTarget);

    private SegmentStatus Status() => new(_pg, _replica, _meta.Epoch, _durableScl, _scl.MaxLsn,
        _segmentLog.FsyncCount, _syncs, _syncMicros, _segmentLog.BytesWritten, _segmentLog.DiskBytes,
        _materialized, _meta.Materialized, _store.Checkpoints, _store.BytesWritten, Unwritable(), _meta.OpenedEpoch, _catchUp, _meta.JoinTarget,
        ((ExtendedActorSystem)Context.System).Provider.DefaultAddress.ToString(), CurrentFault(), Pages: Health());

    private void StopGracefully()
    {
        if (_unsynced.Waiting == 0 || _state.HasFailed) Context.Stop(Self);
        else if (_state is SegmentLifecycle.Serving) _state = _state.Transition(SegmentLifecycle.Stopping.Instance);   // stops once the last sync is acked
    }
}
