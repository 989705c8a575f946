using ActorDb.Core.Storage;
using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Core.Metrics;
using ActorDb.Core.Placement;
using ActorDb.Core.Recovery;
using ActorDb.Core.Transactions;
using ActorDb.Metrics;
using ActorDb.Recovery;
using ActorDb.Storage;
using static ActorDb.Recovery.RecoveryProtocol;
using static ActorDb.Core.Storage.SegmentProtocol;
using static ActorDb.Writer.WriterProtocol;

namespace ActorDb.Writer;

/// <summary>
/// The writer: the single actor that owns the volume's <see cref="TransactionEngine"/> (buffer cache, B+trees, row locks,
/// LSN allocation, quorum tracking) and does its I/O: it ships redo per PG to the six segments of each PG, turns segment
/// acknowledgements into VDL, hands durable commits to its <see cref="CommitCoordinator"/> (one message per VDL advance), fetches missing pages
/// from segments, resends redo to segments that missed it, and reports stalled PGs. Batching is pipelined: a PG's
/// unsent records go out at once while fewer than <c>max-batches-in-flight-per-pg</c> batches of that PG await a write
/// quorum, otherwise they accumulate and leave together when an ack frees a slot; no timer.
/// <para>Metrics (<see cref="WriterMetrics"/>): each commit is timestamped where it passes (request handled, MTR sealed,
/// batch sent, 4th ack, VDL) and the timestamps travel to the coordinator, which records them after replying; batch sizes
/// and network bytes are recorded per batch; the LSN gauges and segment SCLs are published into a
/// <see cref="WriterGaugeSource"/> (volatile stores), which the metrics thread reads.</para>
/// <para>It starts on a volume its parent <see cref="RecoverySupervisor"/> has already recovered (epoch installed,
/// truncation done, header page read): it loads the catalog, or formats a new volume, and reports
/// <see cref="RecoveryProtocol.WriterOpened"/>. It is never restarted: a failure ends it, and the supervisor recovers
/// the volume again in a new epoch.</para>
/// </summary>
public sealed class WriterActor : ReceiveActor, IWithTimers
{
    private sealed record Tick { public static readonly Tick Instance = new(); }
    /// <summary>The commit half of an <see cref="ExecuteStatement"/> with Commit set, after its statement succeeded
    /// (re-sent to self when the commit must wait for a page or for LAL; the statement is never re-run). <paramref name="Sent"/>
    /// is the client's timestamp of the statement.</summary>
    private sealed record AutoCommit(long TxnId, object? Result, long Sent);

    private readonly ActorDbSettings _settings;
    private readonly IActorRef _segments;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly int _pgCount;
    private readonly RecoveryPlan _plan;
    private readonly byte[]? _header;
    private readonly HashSet<(int Pg, int Replica)> _opened = new();
    private RecoveryRecord? _recovery;

    private readonly TransactionEngine _engine;
    private readonly Dictionary<long, (object Message, IActorRef Sender, DateTime Deadline)> _lockWaits = new();
    private readonly Dictionary<long, List<(object Message, IActorRef Sender)>> _pageWaiters = new();
    private readonly Dictionary<long, (int Replica, DateTime Sent)> _pageReadReplica = new();
    private static readonly TimeSpan PageReadRetryAfter = TimeSpan.FromMilliseconds(500);
    /// <summary>The replicas that answered the read of a page in progress with a damaged copy: not asked again by that
    /// read; when all six did, no copy can serve it and the read fails.</summary>
    private readonly Dictionary<long, HashSet<int>> _damagedCopies = new();
    /// <summary>Pages no copy could serve: logged when first seen, summarised, and when no read hits them any more.</summary>
    private readonly RepeatedConditions _unreadablePages = new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60));
    private readonly IActorRef _coordinator;
    /// <summary>The commit bookkeeping (batching window, durable and abandoned commits, LAL waits, the writer's state);
    /// its outputs collect in <see cref="_outputs"/> and <see cref="Perform"/> carries them out.</summary>
    private readonly CommitPipeline _pipeline;
    private readonly List<WriterOutput> _outputs = new();
    /// <summary>A request parked until LAL lets it allocate: the pipeline's opaque token.</summary>
    private sealed record Parked(object Message, IActorRef Sender);
    private readonly WriterMetrics _metrics;
    private readonly RedoMetrics _redoMetrics;
    private readonly WriterGaugeSource _gauges;
    private long _messageStarted;
    private readonly DateTime[][] _lastProgress;
    private readonly Lsn[][] _lastAcked;
    private readonly bool[] _stalled;
    private readonly Dictionary<(int Pg, int Replica), IActorRef> _segmentRefs = new();
    /// <summary>Which segments take redo now, and why the others do not (no node, unreachable node, storage fault,
    /// silence): redo goes only to live segments, the rest get bounded probes (see <see cref="SegmentLinks"/>).</summary>
    private readonly SegmentLinks _links;
    private readonly Cluster? _cluster;
    private readonly HashSet<(int Pg, int Replica)> _behind = new();   // reported once: lacks records no outbox holds
    private readonly RepeatedConditions _conditions = new();   // rejections, unanswered page reads: logged per condition, never per event
    private readonly HashSet<(int Pg, int Replica)> _refused = new();  // logged once: the segment refuses this writer (until it opens)
    private readonly HashSet<(int Pg, int Replica)> _hinted = new();   // sent the PG's newest record before its open (once per opening)
    private (IActorRef Sender, DateTime Deadline)? _drain;

    /// <summary>Props for the writer of a recovered volume; <paramref name="segments"/> routes <see cref="ISegmentMessage"/>s
    /// (the segment shard region). Started by the <see cref="RecoverySupervisor"/>.</summary>
    public static Props Props(ActorDbSettings settings, IActorRef segments, RecoveredVolume volume) =>
        Akka.Actor.Props.Create(() => new WriterActor(settings, segments, volume));

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    private long _busyTicks;
    private WaitingCommit? _committedByThisMessage;   // the commit the message being handled sealed (answered here if it fails)

    /// <summary>Times every message (the writer's busy share), and answers the request that made the writer fail with an
    /// error before the failure ends it: the client learns at once instead of waiting out its timeout.</summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        var started = _messageStarted = Stopwatch.GetTimestamp();
        _committedByThisMessage = null;
        try { return base.AroundReceive(receive, message); }
        catch (Exception e)
        {
            // Answered here (ambiguous): PostStop must not answer that commit a second time.
            if (_committedByThisMessage is { Answered: false } sealedHere) sealedHere.MarkAnswered();
            var reason = $"the writer of epoch {_engine.Epoch} failed on {message.GetType().Name}: {e.Message}";
            ReplyError(message, message is CommitTransaction or AutoCommit or ExecuteStatement { Commit: true }
                ? new AmbiguousCommitException(reason, e)
                : new TransactionAbortedException(reason, e));
            throw;
        }
        finally
        {
            _busyTicks += Stopwatch.GetTimestamp() - started;
            _gauges.PublishVolume(_engine.Epoch, _engine.Allocated, _engine.Vcl, _engine.Vdl, _engine.RedoBacklog, _engine.LalHeadroom);
        }
    }

    /// <summary>Creates the writer; use <see cref="Props"/>.</summary>
    public WriterActor(ActorDbSettings settings, IActorRef segments, RecoveredVolume volume)
    {
        _settings = settings;
        _segments = segments;
        _pgCount = settings.Geometry.PgCount;
        _plan = volume.Plan;
        _header = volume.Header;
        _engine = new TransactionEngine(
            new EngineOptions(_settings.Geometry, _settings.Writer.BufferCachePages, _settings.Writer.Lal, _settings.Writer.RetainedRedoBytesPerPg),
            _plan.Epoch, _plan.Vdl, _plan.TruncateTo, _plan.PgTail);
        var metrics = ActorDbMetrics.For(Context.System);
        _metrics = metrics.Writer;
        _redoMetrics = metrics.Redo;
        _gauges = new WriterGaugeSource(_pgCount);
        _coordinator = Context.ActorOf(CommitCoordinator.Props(settings.Writer.SlowCommitThreshold, _metrics), "commit-coordinator");
        var now = DateTime.UtcNow;
        _lastProgress = Enumerable.Range(0, _pgCount).Select(_ => Enumerable.Repeat(now, 6).ToArray()).ToArray();
        _lastAcked = Enumerable.Range(0, _pgCount).Select(_ => new Lsn[6]).ToArray();
        _stalled = new bool[_pgCount];
        var writer = settings.Writer;
        _links = new SegmentLinks(_pgCount, VolumeGeometry.SegmentsPerPg, writer.ResendAfter, writer.SilentAfter,
            writer.ProbeMaxInterval < writer.ResendAfter ? writer.ResendAfter : writer.ProbeMaxInterval);
        _pipeline = new CommitPipeline(_engine, _links, writer.MaxBatchesInFlightPerPg, now);
        _cluster = Context.System is ExtendedActorSystem { Provider: IClusterActorRefProvider } ? Cluster.Get(Context.System) : null;
        foreach (var s in volume.Opened)
        {
            _opened.Add((s.Pg, s.Replica));
            SeedScl(s.Pg, s.Replica, s.Scl);
            LearnSegment(s.Pg, s.Replica, s.Ref);
            _links.Heard(s.Pg, s.Replica, NodeOf(s.Ref), null, now);
        }
        Serving();
    }

    // ---------------------------------------------------------------- opening

    /// <summary>Loads the catalog from the header page the recovery read, or formats a new volume (VDL 0) and reports
    /// open once the format MTR is durable.</summary>
    protected override void PreStart()
    {
        Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.FromMilliseconds(100));
        // Reachability of the nodes that host segments: nothing is sent to a segment on an unreachable node.
        _cluster?.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.MemberRemoved));
        _gauges.PublishVolume(_engine.Epoch, _engine.Allocated, _engine.Vcl, _engine.Vdl, _engine.RedoBacklog, _engine.LalHeadroom);
        for (var pg = 0; pg < _pgCount; pg++)
        {
            _gauges.PublishSent(pg, _engine.Outboxes[pg].LastSent);
            for (var r = 0; r < VolumeGeometry.SegmentsPerPg; r++) _gauges.PublishScl(pg, r, _engine.Tracker.Scl(pg, r));
        }
        _metrics.Attach(_gauges);
        if (_plan.Vdl == Lsn.Zero)
        {
            var format = _engine.FormatVolume();
            _log.Info("Writer formatting a new volume in epoch {Epoch}: catalog MTR at LSN {Lsn}", _plan.Epoch, format.CommitLsn);
            format.Commit.ReplyTo = (Action)(() => Opened($"new volume formatted: catalog MTR at LSN {format.CommitLsn}"));
            Ship();
            return;
        }
        try
        {
            _engine.LoadVolume(_header ?? throw new InvalidDataException("the volume header page was never written"));
        }
        catch (Exception e)
        {
            var failure = $"cannot load the volume header (page 0) at VDL {_plan.Vdl}: {e.Message}";
            _pipeline.MoveTo(new WriterState.Failed(failure));
            _log.Error("Writer failed: {Reason}", failure);
            Become(() =>
            {
                Receive<GetWriterStatus>(_ => Sender.Tell(Status()));
                Receive<Drain>(_ => Sender.Tell(new Drained(0)));
                ReceiveAny(m => ReplyError(m, new ActorDbException($"the writer is not available: {failure}")));
            });
            Context.Parent.Tell(new WriterOpenFailed(_plan.Epoch, failure));
            return;
        }
        var tables = _engine.Catalog!.Tables.Count;
        Opened($"{tables} table{(tables == 1 ? "" : "s")}");
    }

    private void Opened(string detail)
    {
        // A drain asked for while the format MTR was in flight goes on: the writer reports open, and stays draining.
        if (_pipeline.State is WriterState.Opening) _pipeline.MoveTo(WriterState.Serving.Instance);
        _log.Info("Writer serving epoch {Epoch}: VDL {Vdl}, {Tables} tables", _engine.Epoch, _engine.Vdl, _engine.Catalog!.Tables.Count);
        Context.Parent.Tell(new WriterOpened(_engine.Epoch, detail));
    }

    /// <summary>Requests still parked when the writer stops (failure or shutdown) get an error now rather than a timeout:
    /// commits waiting for VDL are ambiguous, the rest (no commit LSN yet) aborted.</summary>
    protected override void PostStop()
    {
        _cluster?.Unsubscribe(Self);
        _metrics.Detach(_gauges);
        foreach (var c in _engine.Committing)
        {
            if (c.Answered || c.ReplyTo is not IActorRef client) continue;
            c.MarkAnswered();
            client.Tell(CommitCoordinator.AmbiguousReply(c, "the writer stopped before the commit was durable"));
        }
        var error = new TransactionAbortedException($"the writer of epoch {_engine.Epoch} stopped ({_pipeline.State.Name}); the transaction is gone");
        foreach (var w in _lockWaits.Values) ReplyError(w.Message, error, w.Sender);
        foreach (var list in _pageWaiters.Values) foreach (var w in list) ReplyError(w.Message, error, w.Sender);
        foreach (Parked w in _pipeline.TakeWaitingForLal()) ReplyError(w.Message, error, w.Sender);
    }

    /// <summary>
    /// Takes a segment's SCL as reported when it installed the epoch, including one below the recovered VDL: a segment
    /// that missed records before this writer started is then seen lagging (its acks do not count for those records,
    /// the resend path reports it) instead of being assumed complete up to VDL.
    /// </summary>
    private void SeedScl(int pg, int replica, Lsn scl)
    {
        var tail = _plan.PgTail[pg];
        _engine.SeedScl(pg, replica, scl >= tail ? _engine.Tracker.Scl(pg, replica) : scl);
        if (scl < tail)
            _log.Warning("Segment {Segment} (PG {Pg}) opened epoch {Epoch} at SCL {Scl}, behind the PG's last durable record {Tail}: it lacks records only its peers hold",
                new object[] { EntityId(pg, replica), pg, _plan.Epoch, scl, tail });
    }

    // ---------------------------------------------------------------- serving

    private void Serving()
    {
        Receive<ExecuteStatement>(OnStatement);
        Receive<CommitTransaction>(c => Commit(c.TxnId, c, c.Sent));
        Receive<AutoCommit>(a => Commit(a.TxnId, a, a.Sent));
        Receive<RollbackTransaction>(r =>
        {
            _lockWaits.Remove(r.TxnId);
            Resume(_engine.Abort(r.TxnId));
            Sender.Tell(new RolledBack(r.TxnId));
        });
        Receive<CreateTable>(OnCreateTable);
        Receive<GetTable>(g => Sender.Tell(new TableReply(_engine.GetTable(g.Name), null)));
        Receive<RedoAck>(OnRedoAck);
        Receive<RedoRejected>(OnRejected);
        Receive<SegmentState>(_ => { });   // the answer to a fence sent before an OpenEpoch (OnRejected)
        Receive<EpochOpened>(e =>
        {
            if (e.Epoch != _engine.Epoch) return;
            _refused.Remove((e.Pg, e.Replica));
            _hinted.Remove((e.Pg, e.Replica));
            _opened.Add((e.Pg, e.Replica));
            LearnSegment(e.Pg, e.Replica, Sender);
            SeedScl(e.Pg, e.Replica, e.Scl);
            OnRedoAck(new RedoAck(e.Pg, e.Replica, e.Epoch, e.Scl));
        });
        Receive<PageImage>(OnPageImage);
        Receive<PageUnavailable>(OnPageUnavailable);
        Receive<Tick>(_ => OnTick());
        Receive<SegmentTerminated>(OnSegmentTerminated);
        Receive<ClusterEvent.UnreachableMember>(u => _links.NodeUnreachable(u.Member.Address.ToString()));
        Receive<ClusterEvent.ReachableMember>(r =>
        {
            foreach (var (pg, replica) in _links.NodeReachable(r.Member.Address.ToString(), DateTime.UtcNow)) ResendNow(pg, replica, DateTime.UtcNow);
        });
        Receive<ClusterEvent.MemberRemoved>(m => _links.NodeRemoved(m.Member.Address.ToString(), DateTime.UtcNow));
        Receive<GetWriterStatus>(_ => Sender.Tell(Status()));
        Receive<Drain>(_ => StartDrain());
        Receive<Recovered>(r => _recovery = r.Record);
    }

    private void OnStatement(ExecuteStatement m)
    {
        if (_drain is not null) { Sender.Tell(new StatementReply(m.TxnId, null, new TransactionAbortedException("the writer is stopping"), true)); return; }
        var txnId = m.TxnId == 0 ? _engine.Begin() : m.TxnId;
        var message = m.TxnId == 0 ? m with { TxnId = txnId } : m;
        switch (_engine.Execute(txnId, m.Statement))
        {
            case StatementOutcome.Done d when m.Commit:
                Commit(txnId, new AutoCommit(txnId, d.Result, m.Sent), m.Sent);
                break;
            case StatementOutcome.Done d:
                Sender.Tell(new StatementReply(txnId, d.Result, null, false));
                break;
            case StatementOutcome.Failed f:
                Sender.Tell(new StatementReply(txnId, null, f.Error, !_engine.IsOpen(txnId)));
                break;
            case StatementOutcome.Aborted a:
                Sender.Tell(new StatementReply(txnId, null, a.Error, true));
                Resume(a.Granted);
                break;
            case StatementOutcome.Blocked:
                _lockWaits[txnId] = (message, Sender, DateTime.UtcNow + _settings.Writer.LockTimeout);
                break;
            case StatementOutcome.NeedPage p:
                WaitForPage(p.PageNo, message);
                break;
        }
    }

    /// <summary>Commits <paramref name="txnId"/>; <paramref name="request"/> (a <see cref="CommitTransaction"/> or an
    /// <see cref="AutoCommit"/>) decides the reply's shape and is what waits, if the commit must wait. <paramref name="sent"/>
    /// is the client's timestamp of the request, used only when the client is in this process (a timestamp of another
    /// machine's clock means nothing here).</summary>
    private void Commit(long txnId, object request, long sent)
    {
        var auto = request as AutoCommit;
        switch (_engine.Commit(txnId))
        {
            case CommitOutcome.Pending p:
                var commit = _committedByThisMessage = p.Commit;
                commit.ReplyTo = Sender;
                commit.WithStatement = auto is not null;
                commit.Result = auto?.Result;
                commit.Times = new CommitTimes(
                    Requested: sent != 0 && sent <= _messageStarted && Sender.Path.Address.HasLocalScope ? sent : 0,
                    Received: _messageStarted, Sealed: Stopwatch.GetTimestamp(), Shipped: 0, Quorum: 0, Durable: 0, FsyncTicks: 0);
                _pipeline.Sealed(commit);
                Ship();
                break;
            case CommitOutcome.ReadOnly r:
                var info = new CommitInfo(0, _engine.Vdl.Value);
                Sender.Tell(auto is null ? new CommitReply(txnId, info, null) : new StatementReply(txnId, auto.Result, null, false, info));
                Resume(r.Granted);
                break;
            case CommitOutcome.NeedPage p:
                WaitForPage(p.PageNo, request);
                break;
            case CommitOutcome.Backpressure:
                _pipeline.WaitForLal(new Parked(request, Sender));
                break;
            case CommitOutcome.Failed f:
                ReplyError(request, f.Error);
                break;
        }
    }

    private void OnCreateTable(CreateTable m)
    {
        try
        {
            var (schema, commit) = _engine.CreateTable(m.Schema);
            switch (commit)
            {
                case null: Sender.Tell(new TableReply(schema, null)); break;
                case CommitOutcome.Backpressure: _pipeline.WaitForLal(new Parked(m, Sender)); break;
                case CommitOutcome.Pending p:
                    var sender = Sender;
                    p.Commit.ReplyTo = (Action)(() => sender.Tell(new TableReply(schema, null)));
                    _log.Info("Creating table {Table} in epoch {Epoch} at LSN {Lsn}", schema.Name, _engine.Epoch, p.CommitLsn);
                    Ship();
                    break;
            }
        }
        catch (ActorDbException e)
        {
            Sender.Tell(new TableReply(null, e));
        }
    }

    private void Resume(IReadOnlyList<(long Txn, Core.Transactions.RowId Row)> granted)
    {
        foreach (var (txn, _) in granted)
            if (_lockWaits.Remove(txn, out var w)) Self.Tell(w.Message, w.Sender);
    }

    private void WaitForPage(long pageNo, object message)
    {
        if (!_pageWaiters.TryGetValue(pageNo, out var waiters))
        {
            _pageWaiters[pageNo] = waiters = new List<(object, IActorRef)>();
            RequestPage(pageNo, nextReplica: false);
        }
        waiters.Add((message, Sender));
    }

    /// <summary>Reads a page from one segment of its PG (design.md, "Pages": one read, no quorum). First choice: a segment
    /// that installed this epoch, with the highest SCL; a refusal or no answer within 500 ms moves on to the next replica.</summary>
    private void RequestPage(long pageNo, bool nextReplica)
    {
        var pg = _settings.Geometry.PgOf(pageNo);
        var required = _engine.ReadRequirement(pg);
        int replica;
        if (nextReplica && _pageReadReplica.TryGetValue(pageNo, out var previous))
        {
            // The next replica that takes messages now, if any does (a read to one with no node would wait in the region),
            // skipping one whose copy is damaged and answered already (it is being repaired; asking it again only spins).
            var now = DateTime.UtcNow;
            replica = (previous.Replica + 1) % VolumeGeometry.SegmentsPerPg;
            for (var step = 1; step <= VolumeGeometry.SegmentsPerPg; step++)
            {
                var candidate = (previous.Replica + step) % VolumeGeometry.SegmentsPerPg;
                if (_damagedCopies.TryGetValue(pageNo, out var damaged) && damaged.Contains(candidate)) continue;
                if (_links.Why(pg, candidate, now) is SegmentAbsence.None or SegmentAbsence.Silent) { replica = candidate; break; }
            }
        }
        else
        {
            replica = -1;
            for (var r = 0; r < VolumeGeometry.SegmentsPerPg; r++)
            {
                if (!_opened.Contains((pg, r))) continue;
                if (replica < 0 || _engine.Tracker.Scl(pg, r) > _engine.Tracker.Scl(pg, replica)) replica = r;
            }
            if (replica < 0) replica = 0;
        }
        _pageReadReplica[pageNo] = (replica, DateTime.UtcNow);
        TellSegment(pg, replica, new ReadPage(pg, replica, pageNo, _engine.Vdl, required));
    }

    /// <summary>A segment cannot serve a page read: the next replica is asked; a damaged copy (<c>Damaged</c>) is not asked
    /// again by this read, and when all six copies are damaged the read fails at once, naming the page and PG.</summary>
    private void OnPageUnavailable(PageUnavailable p)
    {
        if (!_pageWaiters.ContainsKey(p.PageNo)) return;
        if (p.Damaged && p.Replica is >= 0 and < VolumeGeometry.SegmentsPerPg && p.Pg == _settings.Geometry.PgOf(p.PageNo))
        {
            if (!_damagedCopies.TryGetValue(p.PageNo, out var damaged)) _damagedCopies[p.PageNo] = damaged = new HashSet<int>();
            damaged.Add(p.Replica);
            if (damaged.Count == VolumeGeometry.SegmentsPerPg)
            {
                FailPageRead(p.Pg, p.PageNo);
                return;
            }
        }
        RequestPage(p.PageNo, nextReplica: true);
    }

    /// <summary>No copy of <paramref name="pageNo"/> can be read: every request waiting for it fails with one error naming
    /// the page and the PG, and its transaction is aborted; other pages go on being served.</summary>
    private void FailPageRead(int pg, long pageNo)
    {
        _pageReadReplica.Remove(pageNo);
        _damagedCopies.Remove(pageNo);
        if (!_pageWaiters.Remove(pageNo, out var waiters)) return;
        var error = new TransactionAbortedException(Core.Storage.PageRepair.Unreadable(pg, pageNo));
        if (_unreadablePages.Occurred($"page {pageNo} of PG {pg}", DateTime.UtcNow))
            _log.Error("{Error}; reads of it fail until a copy is repaired (repeats are summarised every 10 s)", error.Message);
        foreach (var (message, sender) in waiters)
        {
            var txnId = message switch { ExecuteStatement s => s.TxnId, AutoCommit a => a.TxnId, CommitTransaction c => c.TxnId, _ => 0L };
            if (txnId != 0) Resume(_engine.Abort(txnId));
            ReplyError(message, error, sender);
        }
    }

    private void OnPageImage(PageImage p)
    {
        _pageReadReplica.Remove(p.PageNo);
        _damagedCopies.Remove(p.PageNo);
        if (!_pageWaiters.Remove(p.PageNo, out var waiters)) return;
        _engine.InstallPage(p.PageNo, p.Image ?? new byte[_settings.Geometry.PageSize]);
        foreach (var (message, sender) in waiters) Self.Tell(message, sender);
    }

    // ---------------------------------------------------------------- redo shipping and acks

    /// <summary>
    /// Sends to a segment directly once it has answered (its entity ref, watched), else through the shard region. This
    /// saves the region and shard hops on the hot path; if the entity stops (handoff, crash) its Terminated drops the
    /// cached ref and messages go through the region again. Delivery is never assumed: acks drive resends.
    /// </summary>
    private void TellSegment(int pg, int replica, object message)
    {
        if (_segmentRefs.TryGetValue((pg, replica), out var segment)) segment.Tell(message);
        else _segments.Tell(message);
    }

    private void LearnSegment(int pg, int replica, IActorRef sender)
    {
        if (sender.IsNobody() || (_segmentRefs.TryGetValue((pg, replica), out var known) && known.Equals(sender))) return;
        if (known is not null) Context.Unwatch(known);
        _segmentRefs[(pg, replica)] = sender;
        Context.WatchWith(sender, new SegmentTerminated(pg, replica, sender));
    }

    private sealed record SegmentTerminated(int Pg, int Replica, IActorRef Ref);

    private void OnSegmentTerminated(SegmentTerminated t)
    {
        if (_segmentRefs.TryGetValue((t.Pg, t.Replica), out var known) && known.Equals(t.Ref))
        {
            _segmentRefs.Remove((t.Pg, t.Replica));
            _links.Lost(t.Pg, t.Replica, DateTime.UtcNow);
        }
    }

    /// <summary>
    /// Pipelined batching: every PG with unsent redo and a free in-flight slot sends all of it now, as one batch; a PG
    /// whose window is full keeps accumulating, and the ack that frees a slot sends the accumulated records. Batches
    /// grow with load without any timer.
    /// </summary>
    private void Ship()
    {
        _pipeline.Ship(DateTime.UtcNow, Stopwatch.GetTimestamp(), _outputs);
        Perform();
    }

    /// <summary>Carries out the pipeline's outputs in order, then forgets them (also when one throws: the writer then
    /// fails, and nothing is carried out twice).</summary>
    private void Perform()
    {
        try
        {
            for (var i = 0; i < _outputs.Count; i++)
                switch (_outputs[i])
                {
                    case WriterOutput.ShipBatch b:
                        for (var r = 0; r < VolumeGeometry.SegmentsPerPg; r++)
                            if ((b.Replicas & (1 << r)) != 0) TellSegment(b.Pg, r, new RedoBatch(b.Pg, r, _engine.Epoch, b.Records, _engine.Vdl));
                        _gauges.PublishSent(b.Pg, b.Records[^1].Lsn);
                        _metrics.BatchRecords.Record(b.Records.Length);
                        _metrics.BatchSize.Record(b.FrameBytes);
                        _redoMetrics.Bytes.Add(b.FrameBytes * VolumeGeometry.SegmentsPerPg, RedoMetrics.NetworkTag);
                        break;
                    case WriterOutput.CommitsDurable d:
                        _coordinator.Tell(new CommitCoordinator.Durable(d.Vdl, d.Commits));
                        break;
                    case WriterOutput.SystemMtrDurable { Commit.ReplyTo: Action action }:
                        action();
                        break;
                    case WriterOutput.LocksGranted g:
                        Resume(g.Granted);
                        break;
                    case WriterOutput.RetryWaiting w:
                        foreach (Parked p in w.Requests) Self.Tell(p.Message, p.Sender);
                        break;
                    case WriterOutput.CommitsAbandoned a:
                        _coordinator.Tell(new CommitCoordinator.Abandoned(a.Reason, a.Commits, a.FencedByEpoch));
                        break;
                }
        }
        finally
        {
            _outputs.Clear();
        }
    }

    private void OnRedoAck(RedoAck ack)
    {
        if (ack.Epoch != _engine.Epoch) return;
        LearnSegment(ack.Pg, ack.Replica, Sender);
        if (_links.Heard(ack.Pg, ack.Replica, NodeOf(Sender), null, DateTime.UtcNow) && ack.Scl < _engine.Outboxes[ack.Pg].LastSent)
            ResendNow(ack.Pg, ack.Replica, DateTime.UtcNow);   // back after an absence: what it lacks, from the window
        if (ack.Scl > _lastAcked[ack.Pg][ack.Replica])
        {
            _lastAcked[ack.Pg][ack.Replica] = ack.Scl;
            _lastProgress[ack.Pg][ack.Replica] = DateTime.UtcNow;
        }
        _pipeline.OnAck(ack.Pg, ack.Replica, ack.Epoch, ack.Scl, ack.SyncMicros * Stopwatch.Frequency / 1_000_000,
            DateTime.UtcNow, Stopwatch.GetTimestamp(), _outputs);
        _gauges.PublishScl(ack.Pg, ack.Replica, _engine.Tracker.Scl(ack.Pg, ack.Replica));
        Perform();
        if (_drain is not null) CheckDrain();
    }

    private void OnRejected(RedoRejected r)
    {
        // A refusal is an answer: the segment is there, and says whether a storage fault keeps it from taking redo.
        if (!Sender.IsNobody())
        {
            if (!r.Refused) LearnSegment(r.Pg, r.Replica, Sender);
            _links.Heard(r.Pg, r.Replica, NodeOf(Sender), r.Fault.Describe(), DateTime.UtcNow);
        }
        var verdict = CommitPipeline.Judge(r.Refused, r.StaleEpoch, r.SegmentEpoch, _engine.Epoch);
        if (verdict == RedoRejectionVerdict.Refused)
        {
            // The segment does not take this writer's node as its epoch's writer (SegmentAuthority): not a writer node, or
            // another node fenced it at this epoch. Re-sending cannot help; a newer epoch or a fix of the roles must.
            if (_refused.Add((r.Pg, r.Replica)))
                _log.Error("Segment {Segment} (PG {Pg}) refuses this writer in epoch {Epoch}: {Reason}", EntityId(r.Pg, r.Replica), r.Pg, _engine.Epoch, r.Reason);
            return;
        }
        if (verdict == RedoRejectionVerdict.Fenced)
        {
            BecomeFenced(r);
            return;
        }
        if (verdict == RedoRejectionVerdict.Reopen)
        {
            // The segment missed the epoch change (it was down, or restarted and lost who fenced it): fence it at this epoch
            // (a segment takes an OpenEpoch only from the node that fenced it), install it, then the resend path fills it in.
            _opened.Remove((r.Pg, r.Replica));
            // First the PG's newest record (refused, but it tells a segment that lost its data how far the PG has come:
            // its join target), then the fence and the open, all through the region so that they arrive in this order.
            if (_engine.Outboxes[r.Pg].Newest is { } newest && _hinted.Add((r.Pg, r.Replica))) _segments.Tell(new RedoBatch(r.Pg, r.Replica, _engine.Epoch, [newest], _engine.Vdl));
            _segments.Tell(new GetSegmentState(r.Pg, r.Replica, _plan.Epoch));
            _segments.Tell(new OpenEpoch(r.Pg, r.Replica, _plan.Epoch, _plan.Vdl, _plan.TruncateTo, _plan.PgTail[r.Pg]));
            return;
        }
        // A full or failed segment rejects every batch and resend: one line when it starts, then summaries (OnTick).
        if (_conditions.Occurred($"segment {EntityId(r.Pg, r.Replica)} rejecting redo", DateTime.UtcNow))
            _log.Warning("Segment {Segment} (PG {Pg}) rejected redo in epoch {Epoch}: {Reason} (repeats are summarised every {Seconds} s)",
                EntityId(r.Pg, r.Replica), r.Pg, _engine.Epoch, r.Reason, (int)_conditions.SummaryEvery.TotalSeconds);
    }

    private void BecomeFenced(RedoRejected r)
    {
        var failure = $"fenced: segment {EntityId(r.Pg, r.Replica)} is in epoch {r.SegmentEpoch}, this writer in epoch {_engine.Epoch}";
        _log.Error("Writer fenced in epoch {Epoch} by segment {Segment} (PG {Pg}) in epoch {SegmentEpoch}; no further commit can be acknowledged",
            _engine.Epoch, EntityId(r.Pg, r.Replica), r.Pg, r.SegmentEpoch);
        // A commit in flight may or may not have reached the read quorum the new epoch recovered from: ambiguous.
        var parked = _pipeline.StepDown(r.SegmentEpoch, failure, _outputs);
        Perform();
        Context.Parent.Tell(new WriterFenced(_engine.Epoch, r.SegmentEpoch, failure));
        var error = new StaleEpochException($"the writer of epoch {_engine.Epoch} was fenced by epoch {r.SegmentEpoch}", ambiguous: false);
        foreach (var w in _lockWaits.Values) ReplyError(w.Message, error, w.Sender);
        foreach (var list in _pageWaiters.Values) foreach (var w in list) ReplyError(w.Message, error, w.Sender);
        foreach (Parked w in parked) ReplyError(w.Message, error, w.Sender);
        _lockWaits.Clear(); _pageWaiters.Clear(); _damagedCopies.Clear();
        Become(() =>
        {
            Receive<GetWriterStatus>(_ => Sender.Tell(Status()));
            Receive<Drain>(_ => Sender.Tell(new Drained(0)));
            ReceiveAny(m => ReplyError(m, error));
        });
    }

    private void ReplyError(object message, ActorDbException error, IActorRef? to = null)
    {
        var target = to ?? Sender;
        switch (message)
        {
            case ExecuteStatement s: target.Tell(new StatementReply(s.TxnId, null, error, true)); break;
            case AutoCommit a: target.Tell(new StatementReply(a.TxnId, null, error, true)); break;
            case CommitTransaction c: target.Tell(new CommitReply(c.TxnId, null, error)); break;
            case RollbackTransaction r: target.Tell(new RolledBack(r.TxnId)); break;
            case CreateTable or GetTable: target.Tell(new TableReply(null, error)); break;
        }
    }

    // ---------------------------------------------------------------- periodic work

    private void OnTick()
    {
        var now = DateTime.UtcNow;
        foreach (var line in _unreadablePages.Due(now))
            if (line.Ended) _log.Info("Reads of {Page} no longer fail ({Count} failed in all)", line.Key, line.Total);
            else _log.Warning("Reads of {Page} still fail: no copy can serve it ({Count} more since the last line)", line.Key, line.Count);
        foreach (var (txn, wait) in _lockWaits.Where(w => w.Value.Deadline <= now).ToList())
        {
            _lockWaits.Remove(txn);
            Resume(_engine.Abort(txn));
            ReplyError(wait.Message, new LockTimeoutException(
                $"transaction {txn} aborted: a row lock was not granted within {_settings.Writer.LockTimeout.TotalMilliseconds} ms"), wait.Sender);
        }

        LogConditions(now);
        foreach (var (pageNo, read) in _pageReadReplica.Where(r => now - r.Value.Sent > PageReadRetryAfter && _pageWaiters.ContainsKey(r.Key)).ToList())
        {
            if (_conditions.Occurred($"page reads unanswered in PG {_settings.Geometry.PgOf(pageNo)}", now))
                _log.Warning("Page {PageNo} read from segment {Segment} unanswered after {Ms} ms in epoch {Epoch}; asking the next replica",
                    pageNo, EntityId(_settings.Geometry.PgOf(pageNo), read.Replica), (int)(now - read.Sent).TotalMilliseconds, _engine.Epoch);
            RequestPage(pageNo, nextReplica: true);
        }

        for (var pg = 0; pg < _pgCount; pg++)
        {
            var outbox = _engine.Outboxes[pg];
            for (var r = 0; r < VolumeGeometry.SegmentsPerPg; r++)
            {
                // An absent segment gets a probe (an empty batch: it answers with its SCL or why it refuses), never redo.
                switch (_links.Due(pg, r, now))
                {
                    case SegmentProbe.Direct: TellSegment(pg, r, new RedoBatch(pg, r, _engine.Epoch, [], _engine.Vdl)); continue;
                    case SegmentProbe.ViaRegion: _segments.Tell(new RedoBatch(pg, r, _engine.Epoch, [], _engine.Vdl)); continue;
                }
                if (!_links.Live(pg, r, now)) continue;
                if (_engine.Tracker.Scl(pg, r) >= outbox.LastSent || now - _lastProgress[pg][r] < _settings.Writer.ResendAfter) continue;
                ResendNow(pg, r, now);
            }
            CheckStall(pg, now);
        }
        if (_drain is not null) CheckDrain();
    }

    /// <summary>Summaries and ends of the repeated conditions (<see cref="_conditions"/>), each at most every 10 s.</summary>
    private void LogConditions(DateTime now)
    {
        if (_conditions.Count == 0) return;
        foreach (var line in _conditions.Due(now))
        {
            if (line.Ended) _log.Info("Writer: {Condition} ended in epoch {Epoch}: {Count} in all", line.Key, _engine.Epoch, line.Total);
            else _log.Warning("Writer: still {Condition} in epoch {Epoch}: {Count} more since the last line", line.Key, _engine.Epoch, line.Count);
        }
    }


    /// <summary>Sends a live segment what it lacks above its SCL from the PG's resend window (straight to its actor), or
    /// reports once that the window no longer holds it (the segment then catches up from its peers).</summary>
    private void ResendNow(int pg, int replica, DateTime now)
    {
        var scl = _engine.Tracker.Scl(pg, replica);
        var outbox = _engine.Outboxes[pg];
        _lastProgress[pg][replica] = now;   // one resend per interval
        if (scl >= outbox.LastSent) return;
        var missing = outbox.RetainedAbove(scl);
        if (missing is { Length: > 0 })
        {
            TellSegment(pg, replica, new RedoBatch(pg, replica, _engine.Epoch, missing, _engine.Vdl));
            _links.Shipped(pg, replica, now);
        }
        else if (missing is null && _behind.Add((pg, replica)))
            _log.Warning("Segment {Segment} (PG {Pg}) at SCL {Scl} lacks records the writer no longer keeps; it must catch up from its peers",
                EntityId(pg, replica), pg, scl);
    }

    /// <summary>The cluster address of the node an actor runs on (this node's for a local actor), as cluster events name it.</summary>
    private string NodeOf(IActorRef actor) =>
        (actor.Path.Address.HasLocalScope ? _cluster?.SelfAddress ?? actor.Path.Address : actor.Path.Address).ToString();

    private void CheckStall(int pg, DateTime now)
    {
        var oldest = _engine.Tracker.OldestOutstanding(pg);
        var stalled = oldest is not null && now - _pipeline.QuorumProgress(pg) > _settings.Writer.StallWarningAfter;
        if (stalled && !_stalled[pg])
        {
            _stalled[pg] = true;
            var missing = StalledReplicas(pg, oldest!.Value);
            _log.Warning("PG {Pg} stalled in epoch {Epoch}: LSN {Lsn} has lacked a write quorum for {Ms} ms; missing segments: {Missing}",
                pg, _engine.Epoch, oldest, (int)(now - _pipeline.QuorumProgress(pg)).TotalMilliseconds, _links.Describe(pg, missing, now, EntityId));
        }
        else if (!stalled && _stalled[pg])
        {
            _stalled[pg] = false;
            _log.Info("PG {Pg} resumed in epoch {Epoch}: quorum LSN {Lsn}", pg, _engine.Epoch, _engine.Tracker.PgQuorumLsn(pg));
        }
    }

    private List<int> StalledReplicas(int pg, Lsn oldest) =>
        Enumerable.Range(0, VolumeGeometry.SegmentsPerPg).Where(r => _engine.Tracker.Scl(pg, r) < oldest).ToList();

    // ---------------------------------------------------------------- clean stop

    private void StartDrain()
    {
        _drain = (Sender, DateTime.UtcNow + _settings.Writer.DrainTimeout);
        _pipeline.MoveTo(new WriterState.Draining(_drain.Value.Deadline));
        foreach (var txn in _engine.OpenTransactionIds())
        {
            if (_lockWaits.Remove(txn, out var w)) ReplyError(w.Message, new TransactionAbortedException("the writer is stopping"), w.Sender);
            Resume(_engine.Abort(txn));
        }
        _log.Info("Writer draining in epoch {Epoch}: {Commits} commits in flight, VDL {Vdl}", _engine.Epoch, _engine.CommitsInFlight, _engine.Vdl);
        Ship();
        CheckDrain();
    }

    private void CheckDrain()
    {
        var (sender, deadline) = _drain!.Value;
        var left = _engine.CommitsInFlight;
        if (left > 0 && DateTime.UtcNow < deadline) return;
        if (left > 0)
            _log.Warning("Writer drain timed out in epoch {Epoch}: {Commits} commits not durable (VDL {Vdl}, allocated {Allocated})",
                _engine.Epoch, left, _engine.Vdl, _engine.Allocated);
        else _log.Info("Writer drained in epoch {Epoch}: VDL {Vdl}", _engine.Epoch, _engine.Vdl);
        _pipeline.Abandon("the writer stopped", fencedByEpoch: 0, _outputs);
        Perform();
        _drain = null;
        _pipeline.MoveTo(WriterState.Stopped.Instance);
        // Through the coordinator: Drained arrives after every acknowledgement and abandonment handed to it, so stopping
        // the writer (and with it the coordinator) then drops no reply.
        _coordinator.Tell(new CommitCoordinator.Flush(sender, new Drained(left)));
        // Drained means stopped: nothing new is accepted from here on (a client that still holds this writer gets an
        // abort, never a commit), while the node finishes its shutdown or hands the writer over.
        var stopped = new WriterStoppedException($"the writer of epoch {_engine.Epoch} has stopped (drained); nothing of this request was done");
        Become(() =>
        {
            Receive<GetWriterStatus>(_ => Sender.Tell(Status()));
            Receive<Drain>(_ => Sender.Tell(new Drained(0)));
            ReceiveAny(m => ReplyError(m, stopped));
        });
    }

    private WriterStatus Status()
    {
        var pgs = Enumerable.Range(0, _pgCount).Select(pg => new PgStatus(pg,
            Enumerable.Range(0, 6).Select(r => _engine.Tracker.Scl(pg, r)).ToArray(),
            _engine.Tracker.PgQuorumLsn(pg),
            _engine.Tracker.OldestOutstanding(pg) is { } o && _stalled[pg] ? StalledReplicas(pg, o) : [],
            Enumerable.Range(0, 6).Select(r => _engine.Outboxes[pg].ShippedAt(_engine.Tracker.Scl(pg, r)) is { } at
                ? (long)Stopwatch.GetElapsedTime(at).TotalMilliseconds : 0L).ToArray())).ToArray();
        var (quorate, quorumTicks) = _pipeline.BatchQuorums;
        return new WriterStatus(_pipeline.State.Name, _engine.Epoch, _engine.Allocated, _engine.Vcl, _engine.Vdl, _settings.Writer.Lal,
            _engine.DurableCommits, _engine.RedoRecords, _engine.RedoBytes, _pipeline.BytesShipped, _pipeline.Batches,
            quorate == 0 ? 0 : quorumTicks * 1_000_000 / Stopwatch.Frequency / quorate,
            _busyTicks * 1_000_000 / Stopwatch.Frequency,
            _engine.OpenTransactions, _engine.CommitsInFlight, pgs, _pipeline.State.Failure, _recovery,
            _metrics.RecentCommits.Summarize(Stopwatch.GetTimestamp()));
    }
}
