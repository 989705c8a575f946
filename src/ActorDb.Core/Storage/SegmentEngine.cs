using ActorDb.Core.Pages;
using ActorDb.Core.Recovery;
using ActorDb.Core.Redo;
using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Core.Storage;

/// <summary>
/// One storage segment's protocol as a deterministic state machine (issue 17): a replica of one protection group that
/// appends redo to its segment log, acknowledges its SCL only after the group commit's fsync, refuses older epochs, and
/// materializes pages from redo up to the writer's VDL to serve page reads (design.md, "Storage segment on disk"). No
/// Akka, no wall clock, no thread: each input is a method taking <c>now</c> and appending <see cref="SegmentOutput"/>s
/// to a caller-given list, which the shell (SegmentActor, or the simulator) performs in order. File I/O goes through the
/// <see cref="IStorage"/> seam; what runs off the segment's thread (the group commit's write + fsync, a checkpoint's page
/// writes) is asked for with <see cref="SegmentOutput.StartSync"/> / <see cref="SegmentOutput.StartCheckpoint"/> and
/// completes with <see cref="Synced"/> / <see cref="CheckpointWritten"/>. Not thread-safe: one input at a time.
/// <para>Materialized pages are checkpointed to the segment's <see cref="PageStore"/> in the background every
/// <c>actordb.segment.checkpoint-bytes</c> of log; the log files below the checkpoint are then deleted. Opening reads the
/// checkpoint from <see cref="SegmentMetadata"/> and only the log above it, so its time does not grow with the redo
/// written before (Aurora SIGMOD 2017 §3.3, §4.3: no redo replay at compute, bounded work at storage).</para>
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
public sealed partial class SegmentEngine
{
    /// <summary>How often a segment checks whether it misses records its PG's peers hold.</summary>
    private static readonly TimeSpan CatchUpInterval = TimeSpan.FromSeconds(1);
    /// <summary>Most record bytes a peer sends in one <see cref="PeerRedo"/>: across processes a message must fit the
    /// transport's frame (4 MiB in hocon/cluster-node.conf) after the default serializer's base64.</summary>
    private const int MaxPeerRedoBytes = 1 << 20;

    private sealed record CheckpointDone(Lsn Materialized, RedoRecord? Cpl, int Pages, long Micros);
    /// <summary>A page copy from <paramref name="Peer"/> in progress: the next chunk starts at <paramref name="NextPageNo"/>;
    /// <paramref name="Checkpoint"/> (zero until the first chunk) is the peer checkpoint the copy is taken at.</summary>
    private sealed record CopyState(int Peer, long Session, long NextPageNo, Lsn Checkpoint, CplInfo? Cpl, AnnulledRange[] Annulled,
        DateTime StartedUtc, DateTime LastProgressUtc, long Pages, long Bytes);
    /// <summary>A page copy whose peer has not answered for this long is abandoned (the next catch-up round starts over).</summary>
    private static readonly TimeSpan CopyStallTimeout = TimeSpan.FromSeconds(10);

    private readonly int _pg;
    private readonly int _replica;
    private readonly SegmentId _id;
    private readonly string _dir;
    private readonly SegmentEngineSettings _settings;
    private readonly IStorage _storage;
    private readonly Func<NodeMembership> _membership;
    private readonly Action? _closingLog;
    private readonly Func<TimeSpan>? _workClock;
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
    private SegmentOutput.StartCheckpoint? _checkpoint;         // the checkpoint in flight (or failed: no other starts until the reopen)
    private bool _storageClosed;                                // a heal closed the log and page store and has not reopened them yet
    private bool _checkpointFailed;                             // _checkpoint failed: its pages stay readable in _flushing until the reopen
    private long _logBytesAtCheckpoint;
    private Lsn _materialized;                                  // LSN of the last record applied to the pages
    private RedoRecord? _materializedCpl;                       // the last commit record applied
    private SegmentLog _segmentLog = null!;
    private SegmentOutput.StartSync? _startSync;                // the group-commit request of the open log (one per generation)
    private SegmentMetadata _meta = null!;
    private SclTracker _scl = null!;
    private Lsn _durableScl;
    private Lsn _knownVdl;
    private readonly SyncRuns _unsynced = new();                              // append runs awaiting their group commit
    private SegmentSender? _writer;                                           // the sender of the last accepted redo batch
    private long _writerEpoch;                                                // the epoch of the batches it sent
    private SegmentLifecycle _state = new SegmentLifecycle.Opening(null);
    private long _syncMicros;
    private long _syncs;
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
    private long _pageStoreBytesCounted;

    // The input being handled: its time, its sender, and the list its outputs go to.
    private DateTime _now;
    private SegmentSender _sender = null!;
    private List<SegmentOutput> _out = null!;

    /// <summary>Creates segment <paramref name="replica"/> (0..5) of PG <paramref name="pg"/> over the files in
    /// <paramref name="directory"/> (created at <see cref="Open"/> if missing); nothing is read until then.</summary>
    /// <param name="pg">The protection group.</param>
    /// <param name="replica">The replica, 0..5.</param>
    /// <param name="settings">Sizes, intervals, back-offs (built by the shell from its settings).</param>
    /// <param name="storage">The storage seam every file operation goes through (<see cref="DiskStorage.Instance"/>, a
    /// <see cref="FaultyStorage"/>, or a simulated disk).</param>
    /// <param name="directory">The segment's directory (<c>{dataDir}/{az}/pg-{pg}-{replica}</c> in a node).</param>
    /// <param name="selfNode">This node's address: a local sender's <see cref="SegmentSender.Node"/> and the
    /// <see cref="SegmentStatus.Node"/> it reports.</param>
    /// <param name="membership">The cluster's members and roles now, asked only when a sender's node must be checked
    /// (a fence, an OpenEpoch, redo from a node that does not own the epoch, a peer's answer).</param>
    /// <param name="closingLog">Called synchronously before the engine closes its log (a reopen after a storage fault, a
    /// failed open): the shell stops its group-commit runner for the log, making what it holds durable first. Null: nothing
    /// to stop (the simulator drops the pending syncs itself by their generation).</param>
    /// <param name="workClock">A monotonic clock that times the engine's own synchronous work: the open's duration in its
    /// log line, the scrub's time slice (10 ms a tick at most). Null (deterministic): the open reads 0 ms and the slice is
    /// bounded by its page budget only.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="replica"/> is not in 0..5 or <paramref name="pg"/> is negative.</exception>
    public SegmentEngine(int pg, int replica, SegmentEngineSettings settings, IStorage storage, string directory, string selfNode,
        Func<NodeMembership> membership, Action? closingLog = null, Func<TimeSpan>? workClock = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pg);
        if (replica is < 0 or >= VolumeGeometry.SegmentsPerPg) throw new ArgumentOutOfRangeException(nameof(replica), replica, "a replica is in 0..5");
        _pg = pg;
        _replica = replica;
        _id = new SegmentId(pg, replica);
        _settings = settings;
        _storage = storage;
        _dir = directory;
        _selfNode = selfNode;
        _membership = membership;
        _closingLog = closingLog;
        _workClock = workClock;
        _held = new HeldRecords(settings.RememberedCpls);
    }

    /// <summary>The segment's lifecycle state now.</summary>
    public SegmentLifecycle State => _state;

    /// <summary>The durable SCL: every record of the PG up to it is fsynced here (what the segment acknowledges), LSN.</summary>
    public Lsn DurableScl => _durableScl;

    /// <summary>Group-commit runs appended and not yet durable (0: nothing waits for a sync).</summary>
    public int UnsyncedRuns => _unsynced.Waiting;

    /// <summary>Opens the segment's files and reads its log above the checkpoint; an open that fails releases every file
    /// and lock it took and is retried with back-off (<see cref="SegmentTimer.Reopen"/>) while the segment rejects redo
    /// with <see cref="SegmentFault.OpenFailed"/>. Call once, first.</summary>
    public void Open(DateTime now, List<SegmentOutput> outputs)
    {
        Begin(now, null, outputs);
        _repair = new PageRepair(_replica);
        var min = _settings.OpenRetryMin;
        _openRetry = new RetryBackoff(min, _settings.OpenRetryMax < min ? min : _settings.OpenRetryMax, HealthSummaryEvery);
        TryOpen();
    }

    /// <summary>A protocol message from <paramref name="from"/>: <see cref="RedoBatch"/>, <see cref="GetSegmentState"/>
    /// (with its fence), <see cref="OpenEpoch"/>, <see cref="ReadPage"/>, <see cref="FetchRedo"/>/<see cref="PeerRedo"/>,
    /// <see cref="FetchPages"/>/<see cref="PeerPages"/>, <see cref="FetchPage"/>/<see cref="PeerPage"/>,
    /// <see cref="GetSegmentStatus"/>, <see cref="Stop"/>. Returns false for any other message (nothing done). While the
    /// segment cannot open, every message is taken: reads, redo and peer requests are answered as unavailable, a fence or
    /// an OpenEpoch gets no answer (it has no state to report, as if unreachable).</summary>
    public bool Receive(SegmentSender from, object message, DateTime now, List<SegmentOutput> outputs)
    {
        Begin(now, from, outputs);
        if (_state is SegmentLifecycle.Opening) return ReceiveWhileOpening(message);
        if (_storageClosed && ReceiveWhileStorageClosed(message)) return true;
        switch (message)
        {
            case RedoBatch batch: OnBatch(batch); break;
            case GetSegmentState get: OnGetState(get); break;
            case OpenEpoch open: OnOpenEpoch(open); break;
            case ReadPage read: OnReadPage(read); break;
            case GetSegmentStatus: Reply(Status()); break;
            case Stop: StopGracefully(); break;
            case FetchRedo f: OnFetchRedo(f); break;
            case PeerRedo p: OnPeerRedo(p); break;
            case FetchPages f: OnFetchPages(f); break;
            case PeerPages p: OnPeerPages(p); break;
            case FetchPage f: OnFetchPage(f); break;
            case PeerPage p: OnPeerPage(p); break;
            default: return false;
        }
        return true;
    }

    /// <summary>The group commit of <see cref="SegmentOutput.StartSync"/> <paramref name="generation"/> made the first
    /// <paramref name="cumulativeRecords"/> records appended to that log durable in <paramref name="micros"/> µs, writing
    /// <paramref name="bytes"/> bytes: acknowledges the writer (or answers it stale-epoch when fenced meanwhile). A
    /// completion of a log closed since (an older generation) is dropped.</summary>
    public void Synced(int generation, long cumulativeRecords, long micros, int bytes, DateTime now, List<SegmentOutput> outputs)
    {
        Begin(now, null, outputs);
        if (generation != _storageGeneration) return;   // a log closed since
        OnSynced(cumulativeRecords, micros, bytes);
    }

    /// <summary>The group commit of generation <paramref name="generation"/> failed with <paramref name="error"/>: nothing
    /// waiting is acknowledged; a storage error faults the segment (it heals in place), any other fails it.</summary>
    public void SyncFailed(int generation, Exception error, DateTime now, List<SegmentOutput> outputs)
    {
        Begin(now, null, outputs);
        if (generation != _storageGeneration) return;
        _unsynced.Forget();
        Fail(error, "log write");
    }

    /// <summary>The checkpoint <paramref name="done"/> is durable in the page store (it took <paramref name="micros"/> µs):
    /// its point is recorded in <c>segment.meta</c> and the log files below the previous one are deleted.</summary>
    public void CheckpointWritten(SegmentOutput.StartCheckpoint done, long micros, DateTime now, List<SegmentOutput> outputs)
    {
        Begin(now, null, outputs);
        if (!ReferenceEquals(done, _checkpoint)) return;   // not the one in flight (handled already)
        OnCheckpointWritten(new CheckpointDone(done.Materialized, done.Cpl, done.Pages.Count, micros));
    }

    /// <summary>The checkpoint in flight failed with <paramref name="error"/>: a storage error faults the segment (the reopen
    /// rereads the log above the last durable checkpoint), any other fails it; no other checkpoint starts meanwhile.</summary>
    public void CheckpointFailed(Exception error, DateTime now, List<SegmentOutput> outputs)
    {
        Begin(now, null, outputs);
        if (_checkpoint is null || _checkpointFailed) return;
        _checkpointFailed = true;   // its pages are served from memory until the storage is reopened (it rereads the log)
        Fail(error, "page-store checkpoint");
    }

    /// <summary>The tick of <paramref name="timer"/> asked for by <see cref="SegmentOutput.ScheduleTick"/> is due.</summary>
    public void Tick(SegmentTimer timer, DateTime now, List<SegmentOutput> outputs)
    {
        Begin(now, null, outputs);
        switch (timer)
        {
            case SegmentTimer.Reopen:
                if (_state is SegmentLifecycle.Opening) TryOpen();
                break;
            case SegmentTimer.CatchUp when _state is not SegmentLifecycle.Opening:
                Schedule(SegmentTimer.CatchUp, CatchUpInterval);
                if (!_storageClosed) OnCatchUpTick();
                break;
            case SegmentTimer.Heal:
                OnHealTick();
                break;
            case SegmentTimer.PageHealth when _state is not SegmentLifecycle.Opening:
                Schedule(SegmentTimer.PageHealth, PageHealthInterval);
                if (!_storageClosed) OnPageHealthTick();
                break;
        }
    }

    /// <summary>The segment stops (the shell stopped its group-commit runner first, making every append durable, and
    /// delivered the checkpoint in flight): a last checkpoint makes the next open read (almost) no log; then the log and
    /// page store are closed. Nothing may be called after it.</summary>
    public void Close(DateTime now, List<SegmentOutput> outputs)
    {
        Begin(now, null, outputs);
        try
        {
            // A checkpoint still in flight was delivered first: its pages must be durable before a later point is recorded.
            if (!_state.HasFailed && _checkpoint is null && _segmentLog is not null && _store is not null)
            {
                Materialize(Lsn.Min(_durableScl, _knownVdl));
                if (_dirty.Count > 0)
                {
                    _flushing = _dirty;
                    _dirty = new();
                    var pages = _flushing.ToList();
                    _store.Write(pages);
                    OnCheckpointWritten(new CheckpointDone(_materialized, _materializedCpl, pages.Count, 0));
                }
            }
        }
        catch (Exception e)
        {
            Error(e, "Segment {Segment} (PG {Pg}): final checkpoint failed (the next open reads more log; nothing is lost)", _id.EntityId, _pg);
        }
        _segmentLog?.Dispose();
        _store?.Dispose();
    }

    private void Begin(DateTime now, SegmentSender? from, List<SegmentOutput> outputs)
    {
        _now = now;
        if (from is not null) _sender = from;
        _out = outputs;
    }

    private void Reply(object message) => _out.Add(new SegmentOutput.Reply(message));
    private void SendTo(SegmentSender target, object message) => _out.Add(new SegmentOutput.SendTo(target, message));
    private void SendToPeer(ISegmentMessage message) => _out.Add(new SegmentOutput.SendToPeer(message.Replica, message));
    private void Schedule(SegmentTimer timer, TimeSpan delay) => _out.Add(new SegmentOutput.ScheduleTick(timer, _now + delay));
    private void Metric(SegmentMetric kind, double value) => _out.Add(new SegmentOutput.Metric(kind, value));
    private void StopNow() => _out.Add(SegmentOutput.Stopped.Instance);
    private void Debug(string template, params object[] args) => _out.Add(new SegmentOutput.Log(EngineLogLevel.Debug, null, template, args));
    private void Info(string template, params object[] args) => _out.Add(new SegmentOutput.Log(EngineLogLevel.Info, null, template, args));
    private void Warning(string template, params object[] args) => _out.Add(new SegmentOutput.Log(EngineLogLevel.Warning, null, template, args));
    private void Error(string template, params object[] args) => _out.Add(new SegmentOutput.Log(EngineLogLevel.Error, null, template, args));
    private void Error(Exception e, string template, params object[] args) => _out.Add(new SegmentOutput.Log(EngineLogLevel.Error, e, template, args));

    /// <summary>Why <paramref name="senderNode"/> may not act as a writer now (cluster membership and roles), or null.</summary>
    private string? NodeRefusal(string senderNode) => SegmentAuthority.NodeRefusal(senderNode, _membership());

    /// <summary>Opens the segment's files and reads its log above the checkpoint (<see cref="TryOpen"/> retries it with
    /// back-off when it throws, after releasing what it took).</summary>
    private void Open()
    {
        var started = _workClock?.Invoke() ?? TimeSpan.Zero;
        if (_storage is FaultyStorage)
            Warning("Segment {Segment} (PG {Pg}): TEST FAULTS: its storage is a fault-injecting FaultyStorage (actordb.segment.test-faults or a test); never in production",
                _id.EntityId, _pg);
        var records = OpenStorage();
        var report = _segmentLog.Recovery;
        if (report.TailBytesCut > 0)
            Warning("Segment {Segment} (PG {Pg}): {Tail}; nothing acknowledged is in them", _id.EntityId, _pg, report.DescribeTail());
        var newHoles = NewHoles(report.CorruptRanges);
        foreach (var hole in newHoles)
            Error("Segment {Segment} (PG {Pg}): corrupt record in {Hole}: counted as a hole, SCL stops before it; its records are fetched from peers", _id.EntityId, _pg, hole);
        if (report.CorruptRanges.Count > newHoles.Count)
            Debug("Segment {Segment} (PG {Pg}): {Holes} hole(s) in the log were repaired before ({File})", _id.EntityId, _pg, report.CorruptRanges.Count - newHoles.Count, RepairedHoles.FileName);
        // Every record the log held (and the PG's VDL) is below the chain once the SCL reaches this: the holes' records are back.
        if (newHoles.Count > 0) _holesRepairedAt = Lsn.Max(_scl.MaxLsn, _meta.Vdl);
        if (_store.RestoredFromDoubleWrite > 0)
            Warning("Segment {Segment} (PG {Pg}): a checkpoint was cut short; {Pages} page(s) restored from the doublewrite buffer", _id.EntityId, _pg, _store.RestoredFromDoubleWrite);

        _durableScl = _scl.Scl;
        MaybeRecordHolesRepaired();   // holes below the checkpoint: their records are in the pages already
        _knownVdl = Lsn.Max(_meta.Vdl, _meta.Materialized);
        Schedule(SegmentTimer.CatchUp, CatchUpInterval);
        Materialize(Lsn.Min(_durableScl, _knownVdl));
        Info("Segment {Segment} (PG {Pg}) opened in {Ms} ms: epoch {Epoch}, checkpoint {Materialized}, SCL {Scl}, {Records} records read above the checkpoint; log writes {LogWrites}",
            new object[] { _id.EntityId, _pg, (int)((_workClock?.Invoke() ?? TimeSpan.Zero) - started).TotalMilliseconds, _meta.Epoch, _meta.Materialized, _durableScl, records,
                _segmentLog.DirectIo ? "O_DIRECT | O_DSYNC" : _settings.Fsync ? "write + fdatasync" : "write, NO fsync (not durable)" });
        if (_segmentLog.Options.WantsDirectIo && !_segmentLog.DirectIo && OperatingSystem.IsLinux())
            Warning("Segment {Segment} (PG {Pg}): the file system of {Dir} refuses O_DIRECT; the log is written with write + fdatasync (as durable, more CPU)",
                _id.EntityId, _pg, _dir);
    }

    private SclTracker NewTracker(Lsn start) => new(start, _meta.Annulled.Where(r => r.ToInclusive > start));

    private void OnBatch(RedoBatch batch)
    {
        var senderNode = _sender.Node;
        var decision = SegmentAuthority.Redo(batch.Epoch, _meta.Epoch, _meta.OpenedEpoch, _epochOwner, senderNode, () => NodeRefusal(senderNode));
        if (decision.Verdict == SegmentVerdict.Refuse)
        {
            Refuse("a redo batch", batch.Epoch, senderNode, decision);
            return;
        }
        if (decision.Verdict == SegmentVerdict.Stale)
        {
            Reply(new RedoRejected(_pg, _replica, _meta.Epoch, $"stale epoch {batch.Epoch}: segment {_id.EntityId} is in epoch {_meta.Epoch}", StaleEpoch: true));
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
            Reply(new RedoRejected(_pg, _replica, _meta.OpenedEpoch, $"segment {_id.EntityId} has not installed epoch {batch.Epoch}", StaleEpoch: false));
            return;
        }
        if ((Unwritable() ?? (_state is SegmentLifecycle.Stopping ? "segment is stopping" : null)) is { } unwritable)
        {
            Reply(new RedoRejected(_pg, _replica, _meta.Epoch, unwritable, StaleEpoch: false, Fault: CurrentFault()));
            return;
        }
        // Validated as a whole before anything is stored: a bad batch is refused, never cut, and changes no state.
        var ceiling = RedoValidation.LsnCeiling(Lsn.Max(_knownVdl, batch.WriterVdl), _meta.Annulled, _settings.Lal);
        if (RedoValidation.CheckBatch(batch.Records, _pg, _settings.Geometry, ceiling, HeldRecord) is { } problem)
        {
            var reason = RefuseInvalid("a redo batch", batch.Records?.Length ?? 0, senderNode, problem);
            Reply(new RedoRejected(_pg, _replica, _meta.Epoch, reason, StaleEpoch: false));
            return;
        }
        _epochOwner ??= senderNode;   // restarted since the open: the first writer node that sends redo of it
        _writer = _sender;
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
            _out.Add(_startSync!);
        }
        else Reply(new RedoAck(_pg, _replica, _meta.Epoch, _durableScl));   // nothing new: re-ack
    }

    private void OnSynced(long cumulativeRecords, long micros, int bytes)
    {
        HealedIfFaulted();
        _syncMicros += micros;
        _syncs++;
        Metric(SegmentMetric.FsyncSeconds, micros / 1_000_000.0);
        Metric(SegmentMetric.SegmentLogBytes, bytes);
        // A sync started before an epoch change may finish after truncation reset the chain: never count past it.
        (_durableScl, var advanced, var fromWriter) = _unsynced.Synced(cumulativeRecords, _scl.Scl, _durableScl);
        if (advanced) MaybeRecordHolesRepaired();   // the sync that takes SCL past every record the log held repairs its holes
        switch (SyncRuns.Answer(fromWriter, advanced, _writerEpoch, _meta.Epoch, _writer is not null))
        {
            case SyncAnswer.StaleEpoch:
                SendTo(_writer!, new RedoRejected(_pg, _replica, _meta.Epoch, $"stale epoch {_writerEpoch}: segment {_id.EntityId} is in epoch {_meta.Epoch}", StaleEpoch: true));
                break;
            case SyncAnswer.Ack:
                SendTo(_writer!, new RedoAck(_pg, _replica, _meta.Epoch, _durableScl, micros));
                break;
        }
        var backlog = _held.Backlog;
        if (backlog >= MaterializeStep) Materialize(Lsn.Min(_durableScl, _knownVdl), Math.Max(MaterializeStep, backlog / 4));
        CheckCatchUpDone();
        MaybeJoined();
        MaybeCheckpoint();
        if (_state is SegmentLifecycle.Stopping && _unsynced.Waiting == 0) StopNow();
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
        if (_copy is { } copy && _now - copy.LastProgressUtc > CopyStallTimeout)
            AbortCopy($"peer pg-{_pg}-{copy.Peer} did not answer for {CopyStallTimeout.TotalSeconds:0} s");
        var stuck = _scl.Scl < CatchUpTarget && _scl.Scl == _sclAtLastTick;
        _sclAtLastTick = _scl.Scl;
        if (stuck && _now - _fetchSentAt >= 3 * CatchUpInterval)   // one request at a time (or a lost one)
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
        _fetchSentAt = _now;
        if (_catchUp is null && _scl.Scl < CatchUpTarget)
        {
            _catchUp = new CatchUpProgress(_meta.Epoch, peer, _now, _durableScl, CatchUpTarget, Lsn.Zero, 0, 0, 0, 0);
            Info("Segment {Segment} (PG {Pg}) catch-up started in epoch {Epoch}: SCL {Scl}, target {Target} (the PG's state now); it counts in no quorum above its SCL",
                new object[] { _id.EntityId, _pg, _meta.Epoch, _durableScl, _catchUp.Target });
        }
        else if (_catchUp is not null) _catchUp = _catchUp with { Peer = peer };
        SendToPeer(new FetchRedo(_pg, peer, _meta.Epoch, _scl.Scl, new Lsn(long.MaxValue), _replica));   // the peer caps at its SCL
    }

    private void OnFetchRedo(FetchRedo f)
    {
        string? unavailable =
            _meta.OpenedEpoch != f.Epoch ? $"{_id} is opened in epoch {_meta.OpenedEpoch}, not {f.Epoch}"
            : _durableScl <= f.FromExclusive ? $"{_id} holds nothing above {f.FromExclusive} (SCL {_durableScl})"
            : null;
        if (unavailable is not null)
        {
            Reply(new PeerRedo(_pg, _replica, [], unavailable, _durableScl));
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
            Reply(action == CatchUpAction.CopyPages
                ? new PeerRedo(_pg, _replica, [], $"{_id} has no record connecting to {f.FromExclusive} in its log (checkpoint {_meta.Materialized}): a page copy is needed", _durableScl, _meta.Materialized.Value)
                : new PeerRedo(_pg, _replica, [], $"{_id} has no record above {f.FromExclusive} in its log (checkpoint {_meta.Materialized})", _durableScl));
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
        Reply(new PeerRedo(_pg, _replica, batch.ToArray(), null, _durableScl));
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
            var ceiling = Lsn.Min(p.PeerScl, RedoValidation.LsnCeiling(_knownVdl, _meta.Annulled, _settings.Lal));
            if (RedoValidation.CheckBatch(p.Records, _pg, _settings.Geometry, ceiling, HeldRecord) is { } problem)
            {
                // Dropped whole (an answer: nothing is sent back); the other peers are asked instead.
                RefuseInvalid($"peer records (peer SCL {p.PeerScl})", p.Records?.Length ?? 0, _sender.Node, problem);
                if (++_peersTried < VolumeGeometry.SegmentsPerPg - 1 && _scl.Scl < CatchUpTarget) FetchFrom(NextPeer());
                return;
            }
        }
        if (p.CopyPagesAt > 0 && new Lsn(p.CopyPagesAt) > _scl.Scl)
        {
            Info("Segment {Segment} (PG {Pg}): {Reason}", _id.EntityId, _pg, p.Unavailable);
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
            Debug("Segment {Segment} (PG {Pg}): peer pg-{Pg}-{Peer} cannot help: {Reason}", _id.EntityId, _pg, _pg, p.FromReplica, p.Unavailable);
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
        _out.Add(_startSync!);
        Metric(SegmentMetric.GossipRepairs, appended);
        Info("Segment {Segment} (PG {Pg}): {Records} record(s) from peer pg-{Pg}-{Peer}; SCL now {Scl}",
            new object[] { _id.EntityId, _pg, appended, _pg, p.FromReplica, _scl.Scl });
        if (_scl.Scl < _peerScl) FetchFrom(p.FromReplica);   // more where these came from
    }

    /// <summary>Starts a page copy from <paramref name="peer"/>: the records this segment needs next are below every log
    /// the peer keeps. Not while a checkpoint of its own is in flight (the next catch-up round retries).</summary>
    private void StartCopy(int peer)
    {
        if (_copy is not null || _state is not SegmentLifecycle.Serving || _checkpoint is not null) return;
        if (_meta.Epoch == 0 || _meta.OpenedEpoch != _meta.Epoch) return;
        _catchUp ??= new CatchUpProgress(_meta.Epoch, peer, _now, _durableScl, Lsn.Max(CatchUpTarget, _durableScl), Lsn.Zero, 0, 0, 0, 0);
        _catchUp = _catchUp with { Peer = peer };
        var now = _now;
        _copy = new CopyState(peer, ++_copySessions, _settings.Geometry.FirstPageOf(_pg), Lsn.Zero, null, [], now, now, 0, 0);
        Info("Segment {Segment} (PG {Pg}) page copy from pg-{Pg}-{Peer} started in epoch {Epoch}: SCL {Scl}, target {Target}, chunks of {ChunkBytes} bytes",
            new object[] { _id.EntityId, _pg, _pg, peer, _meta.Epoch, _durableScl, _catchUp.Target, _settings.PageCopyChunkBytes });
        SendFetchPages(_copy);
    }

    private void SendFetchPages(CopyState copy) =>
        SendToPeer(new FetchPages(_pg, copy.Peer, _meta.Epoch, _replica, copy.Session, copy.NextPageNo, _settings.PageCopyChunkBytes));

    /// <summary>Serves one chunk of a page copy: the current image of each page (in memory if materialized since the last
    /// checkpoint, else from the page store), all at or above the durable checkpoint it reports.</summary>
    private void OnFetchPages(FetchPages f)
    {
        var pageSize = _settings.Geometry.PageSize;
        string? unavailable =
            _state.Failure is { } failure ? failure
            : _meta.OpenedEpoch != f.Epoch ? $"{_id} is opened in epoch {_meta.OpenedEpoch}, not {f.Epoch}"
            : _meta.Materialized == Lsn.Zero ? $"{_id} has no page-store checkpoint"
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
                unavailable = $"{_id}: {e.Message}";
            }
            catch (Exception e) when (e is InvalidDataException or SegmentLogException)
            {
                if (_refusals.Occurred($"failing page copies to pg-{_pg}-{f.RequesterReplica} (page store)", _now))
                    Error(e, "Segment {Segment} (PG {Pg}): page copy to pg-{Pg}-{Peer} failed reading the page store (repeats are summarised every {Seconds} s)",
                        new object[] { _id.EntityId, _pg, _pg, f.RequesterReplica, (int)_refusals.SummaryEvery.TotalSeconds });
                unavailable = $"{_id}: page store read failed: {e.Message}";
            }
        }
        var (cpl, tails) = PageCopy.Flatten(_meta.CheckpointCpl);
        Reply(unavailable is not null
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
        var now = _now;
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
            _meta.Save(_dir, _settings.Fsync, _storage);
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
        var elapsed = _now - copy.StartedUtc;
        Info("Segment {Segment} (PG {Pg}) page copy from pg-{Pg}-{Peer} finished in epoch {Epoch}: checkpoint {Checkpoint}, {Pages} pages, {Bytes} bytes in {Ms} ms ({MBps:0.0} MB/s); SCL now {Scl}, fetching the records above it",
            new object[] { _id.EntityId, _pg, _pg, copy.Peer, _meta.Epoch, point, copy.Pages, copy.Bytes, (long)elapsed.TotalMilliseconds, PageCopy.MegabytesPerSecond(copy.Bytes, elapsed), _durableScl });
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
            meta.Save(_dir, _settings.Fsync, _storage);
        }
        catch (Exception e)
        {
            Fail(e, "segment.meta write (joined)");
            return;
        }
        _meta = meta;
        Info("Segment {Segment} (PG {Pg}) joined its PG in epoch {Epoch}: SCL {Scl} reached {Target}; it counts in quorums again",
            new object[] { _id.EntityId, _pg, _meta.Epoch, _durableScl, target });
    }

    private void AbortCopy(string reason)
    {
        if (_copy is not { } copy) return;
        _copy = null;
        _fetchSentAt = DateTime.MinValue;   // the next catch-up tick starts over
        Warning("Segment {Segment} (PG {Pg}) page copy from pg-{Pg}-{Peer} abandoned after {Pages} pages: {Reason}",
            new object[] { _id.EntityId, _pg, _pg, copy.Peer, copy.Pages, reason });
    }

    /// <summary>Ends the catch-up once the durable SCL reached its target, with one log line of what it took.</summary>
    private void CheckCatchUpDone()
    {
        if (_catchUp is not { } c || _copy is not null || !c.IsDone(_durableScl)) return;
        _catchUp = null;
        var now = _now;
        Info("Segment {Segment} (PG {Pg}) caught up in epoch {Epoch}: SCL {StartScl} -> {Scl} (target {Target}) in {Ms} ms from pg-{Pg}-{Peer}; page copy at {CopyPoint}: {Pages} pages {PageBytes} bytes; {Records} records {RecordBytes} bytes; {MBps:0.0} MB/s",
            new object[] { _id.EntityId, _pg, c.Epoch, c.StartScl, _durableScl, c.Target, (long)(now - c.StartedUtc).TotalMilliseconds, _pg, c.Peer,
                c.CopyPoint, c.PagesCopied, c.PageBytes, c.RecordsFetched, c.RecordBytes, c.MegabytesPerSecond(now) });
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
        if (!_state.HasFailed) _state = _state.Transition(new SegmentLifecycle.Failed($"segment {_id.EntityId}: {what} failed: {error.Message}"));
        Error(error, "Segment {Segment} (PG {Pg}): {What} failed; it acknowledges nothing more until restarted", _id.EntityId, _pg, what);
        if (stopping) StopNow();
    }

    /// <summary>Starts a background checkpoint of the pages materialized since the last one, once enough log arrived.</summary>
    /// <param name="now">Start one whatever the log bytes (pages repaired from peers must become durable).</param>
    private void MaybeCheckpoint(bool now = false)
    {
        if (_checkpoint is not null || _state.HasFailed || _copy is not null || _dirty.Count == 0) return;
        if (!now && _segmentLog.BytesWritten - _logBytesAtCheckpoint < _settings.CheckpointBytes && _dirty.Count < MaxDirtyPages) return;
        _logBytesAtCheckpoint = _segmentLog.BytesWritten;
        _flushing = _dirty;
        _dirty = new();
        _checkpoint = new SegmentOutput.StartCheckpoint(_store, _flushing.ToList(), _materialized, _materializedCpl);
        _out.Add(_checkpoint);
    }

    private void OnCheckpointWritten(CheckpointDone done)
    {
        if (_flushing is null) return;   // already handled (the final checkpoint at stop)
        _flushing = null;
        _checkpoint = null;
        var cpl = done.Cpl is null ? null : new CplInfo(done.Cpl.Lsn, CommitPayload.Decode(done.Cpl.Payload.Span).PgHighWater);
        _meta = _meta.WithCheckpoint(done.Materialized, cpl);
        _meta.Save(_dir, _settings.Fsync, _storage);
        var (files, bytes) = _segmentLog.CollectGarbage(_gcFloor);
        _gcFloor = done.Materialized;
        var pageStoreBytes = _store.BytesWritten;
        Metric(SegmentMetric.PageStoreBytes, pageStoreBytes - _pageStoreBytesCounted);
        _pageStoreBytesCounted = pageStoreBytes;
        Debug("Segment {Segment} (PG {Pg}): checkpoint at {Materialized}: {Pages} pages in {Ms} ms; {Files} log file(s) ({Bytes} bytes) deleted",
            new object[] { _id.EntityId, _pg, done.Materialized, done.Pages, done.Micros / 1000, files, bytes });
    }

    private void OnGetState(GetSegmentState get)
    {
        if (get.FenceEpoch != 0)
        {
            var senderNode = _sender.Node;
            var decision = SegmentAuthority.Fence(get.FenceEpoch, _meta.Epoch, _epochOwner, senderNode, () => NodeRefusal(senderNode));
            if (decision.Verdict == SegmentVerdict.Refuse)
            {
                Refuse("a fence", get.FenceEpoch, senderNode, decision);
                return;
            }
            if (decision.Verdict == SegmentVerdict.Accept && get.FenceEpoch > _meta.Epoch)
            {
                var fenced = _meta.WithFence(get.FenceEpoch);
                fenced.Save(_dir, _settings.Fsync, _storage);
                _meta = fenced;
                _epochOwner = senderNode;
                Info("Segment {Segment} (PG {Pg}) fenced at epoch {Epoch} by node {Node}: SCL {Scl}; older epochs are refused",
                    new object[] { _id.EntityId, _pg, get.FenceEpoch, senderNode, _durableScl });
            }
            else if (decision.Verdict == SegmentVerdict.Accept && _epochOwner is null)
            {
                _epochOwner = senderNode;
                Info("Segment {Segment} (PG {Pg}) fenced again at its epoch {Epoch} by node {Node} (the owner of the epoch was not known since a restart)",
                    _id.EntityId, _pg, get.FenceEpoch, senderNode);
            }
        }
        Reply(new SegmentState(Report()));
    }



    /// <summary>Answers a refused request (<paramref name="what"/> of <paramref name="epoch"/>) and logs the condition once
    /// when it starts; <see cref="LogRefusalSummaries"/> summarises and ends it.</summary>
    private void Refuse(string what, long epoch, string senderNode, SegmentDecision decision)
    {
        var reason = SegmentAuthority.Refusal(_pg, _replica, what, epoch, _sender.Path, decision.Refusal!);
        if (_refusals.Occurred($"refusing {decision.Kind} from node {senderNode}", _now))
            Warning("{Reason}; nothing was changed (repeats are summarised every {Seconds} s)", reason, (int)_refusals.SummaryEvery.TotalSeconds);
        Reply(new RedoRejected(_pg, _replica, _meta.Epoch, reason, StaleEpoch: false, Refused: true));
    }

    /// <summary>Records and pages from peers are taken only from <c>storage</c> nodes (a peer is a segment); others are
    /// dropped (they are answers: nothing is sent back) and logged once per condition.</summary>
    private bool FromStorageNode(string what)
    {
        var senderNode = _sender.Node;
        if (SegmentAuthority.NodeRefusal(senderNode, _membership(), SegmentAuthority.StorageRole) is not { } why) return true;
        if (_refusals.Occurred($"dropping {what} from node {senderNode}", _now))
            Warning("{Reason}; dropped (repeats are summarised every {Seconds} s)",
                SegmentAuthority.Refusal(_pg, _replica, what, _meta.Epoch, _sender.Path, why), (int)_refusals.SummaryEvery.TotalSeconds);
        return false;
    }

    private void LogRefusalSummaries()
    {
        if (_refusals.Count == 0) return;
        foreach (var line in _refusals.Due(_now))
        {
            if (line.Ended)
                Info("Segment {Segment} (PG {Pg}): {Condition} ended: {Count} in all", _id.EntityId, _pg, line.Key, line.Total);
            else
                Warning("Segment {Segment} (PG {Pg}): still {Condition}: {Count} more since the last line", _id.EntityId, _pg, line.Key, line.Count);
        }
    }

    private void OnOpenEpoch(OpenEpoch open)
    {
        var senderNode = _sender.Node;
        var decision = SegmentAuthority.Open(open.Epoch, _meta.Epoch, _epochOwner, senderNode, () => NodeRefusal(senderNode));
        if (decision.Verdict == SegmentVerdict.Refuse)
        {
            Refuse("an OpenEpoch", open.Epoch, senderNode, decision);
            return;
        }
        if (decision.Verdict == SegmentVerdict.Stale)
        {
            Reply(new RedoRejected(_pg, _replica, _meta.Epoch, $"stale epoch {open.Epoch}: segment {_id.EntityId} is in epoch {_meta.Epoch}", StaleEpoch: true));
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
                Info("Segment {Segment} (PG {Pg}) joins its PG empty in epoch {Epoch}: it counts in no quorum until its SCL reaches {Target}",
                    _id.EntityId, _pg, open.Epoch, joinTarget);
            _meta.Save(_dir, _settings.Fsync, _storage);
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
            Info("Segment {Segment} (PG {Pg}) installed epoch {Epoch}: VDL {Vdl}, annulled up to {TruncateTo}, SCL {Scl}",
                new object[] { _id.EntityId, _pg, open.Epoch, open.Vdl, open.TruncateTo, _durableScl });
        }
        if (open.Vdl > _knownVdl) _knownVdl = open.Vdl;
        Materialize(Lsn.Min(_durableScl, _knownVdl));
        Reply(new EpochOpened(_pg, _replica, _meta.Epoch, _durableScl));
        // Below the PG's recovered tail: its peers hold what it lacks; ask at once rather than after a stuck interval,
        // since the PG may need this segment for its next write quorum.
        if (_scl.Scl < open.PgTail && open.Epoch == _meta.OpenedEpoch && _now - _fetchSentAt >= 3 * CatchUpInterval)
        {
            _peersTried = 0;
            FetchFrom(NextPeer());
        }
    }

    private void OnReadPage(ReadPage read)
    {
        var senderNode = _sender.Node;
        var decision = SegmentAuthority.Read(_epochOwner, senderNode, () => NodeRefusal(senderNode));
        if (decision.Verdict == SegmentVerdict.Refuse)
        {
            Refuse($"a read of page {read.PageNo}", _meta.Epoch, senderNode, decision);
            return;
        }
        if (_durableScl < read.RequiredScl || _copy is not null)   // mid-copy the page store mixes two points in time
        {
            Reply(new PageUnavailable(_pg, _replica, read.PageNo, _durableScl));
            return;
        }
        if (read.ReadPoint > _knownVdl) _knownVdl = read.ReadPoint;
        Materialize(Lsn.Min(_durableScl, _knownVdl));
        if (_blockedOnPage >= 0 || _repair.Contains(read.PageNo))
        {
            // Materialization waits for a damaged page's repair (every page may lack records), or this page is damaged:
            // another replica serves the read meanwhile.
            Reply(new PageUnavailable(_pg, _replica, read.PageNo, _durableScl, Damaged: _repair.Contains(read.PageNo)));
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
            Reply(new PageUnavailable(_pg, _replica, read.PageNo, _durableScl, Damaged: true));
            return;
        }
        catch (SegmentLogException e)
        {
            if (_refusals.Occurred($"page store read error: {e.Message}", _now))
                Error(e, "Segment {Segment} (PG {Pg}): page {PageNo} cannot be read from the page store (repeats are summarised every {Seconds} s)",
                    _id.EntityId, _pg, read.PageNo, (int)_refusals.SummaryEvery.TotalSeconds);
            Reply(new PageUnavailable(_pg, _replica, read.PageNo, _durableScl));
            return;
        }
        Reply(new PageImage(_pg, _replica, read.PageNo, image, image is null ? Lsn.Zero : PageLsnOf(image)));
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
            Warning("Segment {Segment} (PG {Pg}): the list of repaired holes cannot be read ({Reason}); every hole is reported", _id.EntityId, _pg, e.Message);
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
            RepairedHoles.Record(_dir, _segmentLog.Recovery.CorruptRanges, _settings.Fsync);
            Info("Segment {Segment} (PG {Pg}): the log's {Holes} hole(s) are repaired: SCL {Scl} passed every record the log held; recorded in {File}",
                new object[] { _id.EntityId, _pg, _segmentLog.Recovery.CorruptRanges.Count, _durableScl, RepairedHoles.FileName });
        }
        catch (SegmentLogException e)
        {
            Warning("Segment {Segment} (PG {Pg}): the repaired holes could not be recorded ({Reason}); the next open reports them again", _id.EntityId, _pg, e.Message);
        }
    }

    /// <summary>Logs an invalid batch (<paramref name="what"/> of <paramref name="records"/> records from
    /// <paramref name="senderNode"/>) when the condition starts (repeats are summarised with the other refusals) and
    /// returns the one reason text, naming PG, replica, epoch and the first invalid record's LSN.</summary>
    private string RefuseInvalid(string what, int records, string senderNode, string problem)
    {
        var reason = RedoValidation.Refusal(_pg, _replica, _meta.Epoch, what, $"{_sender.Path} (node {senderNode})", records, problem);
        if (_refusals.Occurred($"refusing invalid records from node {senderNode}", _now))
            Warning("{Reason} (repeats are summarised every {Seconds} s)", reason, (int)_refusals.SummaryEvery.TotalSeconds);
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
                        if (_refusals.Occurred("skipping stored records that do not apply", _now))
                            Error("Segment {Segment} (PG {Pg}): stored record LSN {Lsn} does not apply to page {PageNo}, skipped: {Reason} (repeats are summarised every {Seconds} s)",
                                new object[] { _id.EntityId, _pg, r.Lsn, r.PageNo, e.Message, (int)_refusals.SummaryEvery.TotalSeconds });
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
        _selfNode, CurrentFault(), Pages: Health());

    private void StopGracefully()
    {
        if (_unsynced.Waiting == 0 || _state.HasFailed) StopNow();
        else if (_state is SegmentLifecycle.Serving) _state = _state.Transition(SegmentLifecycle.Stopping.Instance);   // stops once the last sync is acked
    }
}
