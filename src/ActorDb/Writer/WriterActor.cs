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

    private readonly IActorRef _segments;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly int _pgCount;
    private readonly RecoveredVolume _volume;
    private RecoveryRecord? _recovery;

    /// <summary>Every decision of the writer (<see cref="WriterEngine"/>); its outputs collect in <see cref="_outputs"/> and
    /// <see cref="Perform"/> carries them out.</summary>
    private readonly WriterEngine _writer;
    private readonly TransactionEngine _engine;
    private readonly CommitPipeline _pipeline;
    private readonly List<WriterOutput> _outputs = new();
    private readonly IActorRef _coordinator;
    private readonly WriterMetrics _metrics;
    private readonly RedoMetrics _redoMetrics;
    private readonly WriterGaugeSource _gauges;
    private long _messageStarted;
    private readonly Dictionary<(int Pg, int Replica), IActorRef> _segmentRefs = new();
    private readonly Cluster? _cluster;
    private readonly long _lal;

    /// <summary>Props for the writer of a recovered volume; <paramref name="segments"/> routes <see cref="ISegmentMessage"/>s
    /// (the segment shard region). Started by the <see cref="RecoverySupervisor"/>.</summary>
    public static Props Props(ActorDbSettings settings, IActorRef segments, RecoveredVolume volume) =>
        Akka.Actor.Props.Create(() => new WriterActor(settings, segments, volume));

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    private long _busyTicks;

    /// <summary>Times every message (the writer's busy share), and answers the request that made the writer fail with an
    /// error before the failure ends it: the client learns at once instead of waiting out its timeout.</summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        var started = _messageStarted = Stopwatch.GetTimestamp();
        _writer.ForgetSealed();
        try { return base.AroundReceive(receive, message); }
        catch (Exception e)
        {
            // Answered here (ambiguous): PostStop must not answer that commit a second time.
            if (_writer.Sealed is { Answered: false } sealedHere) sealedHere.MarkAnswered();
            var reason = $"the writer of epoch {_engine.Epoch} failed on {message.GetType().Name}: {e.Message}";
            ReplyError(message, message is CommitTransaction or ExecuteStatement { Commit: true }
                    or ClientRequest.CommitTransaction or ClientRequest.ExecuteStatement { Commit: true }
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
        _segments = segments;
        _pgCount = settings.Geometry.PgCount;
        _volume = volume;
        var writer = settings.Writer;
        _lal = writer.Lal;
        _writer = new WriterEngine(
            new WriterEngineSettings(writer.BufferCachePages, writer.Lal, writer.RetainedRedoBytesPerPg, writer.MaxBatchesInFlightPerPg,
                writer.LockTimeout, writer.ResendAfter, writer.SilentAfter, writer.ProbeMaxInterval, writer.StallWarningAfter, writer.DrainTimeout)
            { IdleTransactionTimeout = writer.IdleTransactionTimeout },
            settings.Geometry, volume.Plan, Stopwatch.GetTimestamp, Stopwatch.Frequency, DateTime.UtcNow);
        _engine = _writer.Transactions;
        _pipeline = _writer.Pipeline;
        var metrics = ActorDbMetrics.For(Context.System);
        _metrics = metrics.Writer;
        _redoMetrics = metrics.Redo;
        _gauges = new WriterGaugeSource(_pgCount);
        _coordinator = Context.ActorOf(CommitCoordinator.Props(writer.SlowCommitThreshold, _metrics), "commit-coordinator");
        _cluster = Context.System is ExtendedActorSystem { Provider: IClusterActorRefProvider } ? Cluster.Get(Context.System) : null;
        foreach (var s in volume.Opened) LearnSegment(s.Pg, s.Replica, s.Ref);
        Serving();
    }

    // ---------------------------------------------------------------- opening

    /// <summary>Opens the volume (<see cref="WriterEngine.Open"/>): loads the catalog from the header page the recovery
    /// read, or formats a new volume (VDL 0) and reports open once the format MTR is durable.</summary>
    protected override void PreStart()
    {
        Timers.StartPeriodicTimer("tick", Tick.Instance, WriterEngineSettings.TickInterval);
        // Reachability of the nodes that host segments: nothing is sent to a segment on an unreachable node.
        _cluster?.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.MemberRemoved));
        _writer.Open(_volume.Opened.Select(s => new InstalledReplica(s.Pg, s.Replica, s.Scl, NodeOf(s.Ref))).ToList(), _volume.Header, DateTime.UtcNow, _outputs);
        _gauges.PublishVolume(_engine.Epoch, _engine.Allocated, _engine.Vcl, _engine.Vdl, _engine.RedoBacklog, _engine.LalHeadroom);
        for (var pg = 0; pg < _pgCount; pg++)
        {
            _gauges.PublishSent(pg, _engine.Outboxes[pg].LastSent);
            for (var r = 0; r < VolumeGeometry.SegmentsPerPg; r++) _gauges.PublishScl(pg, r, _engine.Tracker.Scl(pg, r));
        }
        _metrics.Attach(_gauges);
        Perform();
    }

    /// <summary>Requests still parked when the writer stops (failure or shutdown) get an error now rather than a timeout:
    /// commits waiting for VDL are ambiguous, the rest (no commit LSN yet) aborted (<see cref="WriterEngine.Stop"/>).</summary>
    protected override void PostStop()
    {
        _cluster?.Unsubscribe(Self);
        _metrics.Detach(_gauges);
        _writer.Stop(_outputs);
        Perform();
    }

    // ---------------------------------------------------------------- serving

    private void Serving()
    {
        Receive<ExecuteStatement>(m => { _writer.Execute(Call(m.Sent), m.TxnId, m.Statement, m.Commit, DateTime.UtcNow, _outputs); Perform(); });
        Receive<CommitTransaction>(c => { _writer.Commit(Call(c.Sent), c.TxnId, DateTime.UtcNow, _outputs); Perform(); });
        Receive<ClientRequest>(r => { _writer.Rerun(r, _messageStarted, DateTime.UtcNow, _outputs); Perform(); });
        Receive<RollbackTransaction>(r => { _writer.Rollback(Sender, r.TxnId, _outputs); Perform(); });
        Receive<CreateTable>(m => { _writer.CreateTable(Sender, m.Schema, DateTime.UtcNow, _outputs); Perform(); });
        Receive<GetTable>(g => { _writer.GetTable(Sender, g.Name, _outputs); Perform(); });
        Receive<RedoAck>(OnRedoAck);
        Receive<RedoRejected>(r =>
        {
            // A refusal is an answer: the segment is there (unless the region answered for it).
            var node = Sender.IsNobody() ? null : NodeOf(Sender);
            if (node is not null && !r.Refused) LearnSegment(r.Pg, r.Replica, Sender);
            _writer.OnRejected(new SegmentRejection(r.Pg, r.Replica, r.SegmentEpoch, r.Reason, r.StaleEpoch, r.Refused, r.Fault.Describe()),
                node, DateTime.UtcNow, _outputs);
            Perform();
        });
        Receive<SegmentState>(_ => { });   // the answer to a fence sent before an OpenEpoch (WriterEngine.OnRejected)
        Receive<EpochOpened>(e =>
        {
            if (e.Epoch != _engine.Epoch || _writer.State.IsFinal) return;
            LearnSegment(e.Pg, e.Replica, Sender);
            _writer.OnEpochOpened(e.Pg, e.Replica, e.Epoch, e.Scl, NodeOf(Sender), DateTime.UtcNow, _outputs);
            _gauges.PublishScl(e.Pg, e.Replica, _engine.Tracker.Scl(e.Pg, e.Replica));
            Perform();
        });
        Receive<PageImage>(p => { _writer.OnPageImage(p.PageNo, p.Image, _outputs); Perform(); });
        Receive<PageUnavailable>(p => { _writer.OnPageUnavailable(p.Pg, p.Replica, p.PageNo, p.Damaged, DateTime.UtcNow, _outputs); Perform(); });
        Receive<Tick>(_ => { _writer.Tick(DateTime.UtcNow, _outputs); Perform(); });
        Receive<SegmentTerminated>(OnSegmentTerminated);
        Receive<ClusterEvent.UnreachableMember>(u => _writer.OnNodeUnreachable(u.Member.Address.ToString()));
        Receive<ClusterEvent.ReachableMember>(r => { _writer.OnNodeReachable(r.Member.Address.ToString(), DateTime.UtcNow, _outputs); Perform(); });
        Receive<ClusterEvent.MemberRemoved>(m => _writer.OnNodeRemoved(m.Member.Address.ToString(), DateTime.UtcNow));
        Receive<GetWriterStatus>(_ => Sender.Tell(Status()));
        Receive<Drain>(_ => { _writer.Drain(Sender, DateTime.UtcNow, _outputs); Perform(); });
        Receive<Recovered>(r => _recovery = r.Record);
    }

    /// <summary>The client of the request being handled: the sender, with the client's timestamp <paramref name="sent"/>
    /// of the request, used only when the client is in this process (a timestamp of another machine's clock means nothing
    /// here).</summary>
    private ClientCall Call(long sent) =>
        new(Sender, sent != 0 && sent <= _messageStarted && Sender.Path.Address.HasLocalScope ? sent : 0, _messageStarted);

    private void OnRedoAck(RedoAck ack)
    {
        if (ack.Epoch != _engine.Epoch) return;
        LearnSegment(ack.Pg, ack.Replica, Sender);
        _writer.OnAck(ack.Pg, ack.Replica, ack.Epoch, ack.Scl, ack.SyncMicros, NodeOf(Sender), DateTime.UtcNow, _outputs);
        _gauges.PublishScl(ack.Pg, ack.Replica, _engine.Tracker.Scl(ack.Pg, ack.Replica));
        Perform();
    }

    /// <summary>Answers a request that cannot be served (the writer failed on it) with <paramref name="error"/>, in the
    /// request's reply shape.</summary>
    private void ReplyError(object message, ActorDbException error)
    {
        switch (message)
        {
            case ExecuteStatement s: Sender.Tell(new StatementReply(s.TxnId, null, error, true)); break;
            case CommitTransaction c: Sender.Tell(new CommitReply(c.TxnId, null, error)); break;
            case RollbackTransaction r: Sender.Tell(new RolledBack(r.TxnId)); break;
            case CreateTable or GetTable: Sender.Tell(new TableReply(null, error)); break;
            case ClientRequest.ExecuteStatement s: Client(s.Client).Tell(new StatementReply(s.TxnId, null, error, true)); break;
            case ClientRequest.CommitTransaction { WithStatement: true } c: Client(c.Client).Tell(new StatementReply(c.TxnId, null, error, true)); break;
            case ClientRequest.CommitTransaction c: Client(c.Client).Tell(new CommitReply(c.TxnId, null, error)); break;
            case ClientRequest.CreateTable t: Client(t.Client).Tell(new TableReply(null, error)); break;
        }
    }

    private static IActorRef Client(object client) =>
        client as IActorRef ?? throw new InvalidOperationException($"a reply target of the writer engine is {client.GetType().Name}, not an actor");

    /// <summary>The wire record of an engine's reply.</summary>
    private static object Wire(ClientReply reply) => reply switch
    {
        ClientReply.StatementReply s => new StatementReply(s.TxnId, s.Result, s.Error, s.TxnAborted, s.Committed),
        ClientReply.CommitReply c => new CommitReply(c.TxnId, c.Info, c.Error),
        ClientReply.RolledBack r => new RolledBack(r.TxnId),
        ClientReply.TableReply t => new TableReply(t.Schema, t.Error),
        ClientReply.Drained d => new Drained(d.CommitsNotDurable),
        ClientReply.Ambiguous a => CommitCoordinator.AmbiguousReply(a.Commit, a.Reason),
        _ => throw new InvalidOperationException($"no wire record for {reply.GetType().Name}"),
    };

    /// <summary>The segment protocol record of an engine's request to segment <paramref name="replica"/> of <paramref name="pg"/>.</summary>
    private static ISegmentMessage Wire(int pg, int replica, SegmentRequest request) => request switch
    {
        SegmentRequest.Redo r => new RedoBatch(pg, replica, r.Epoch, r.Records, r.WriterVdl),
        SegmentRequest.ReadPage p => new ReadPage(pg, replica, p.PageNo, p.ReadPoint, p.RequiredScl),
        SegmentRequest.Fence f => new GetSegmentState(pg, replica, f.FenceEpoch),
        SegmentRequest.OpenEpoch o => new OpenEpoch(pg, replica, o.Epoch, o.Vdl, o.TruncateTo, o.PgTail),
        _ => throw new InvalidOperationException($"no segment message for {request.GetType().Name}"),
    };

    /// <summary>The cluster address of the node an actor runs on (this node's for a local actor), as cluster events name it.</summary>
    private string NodeOf(IActorRef actor) =>
        (actor.Path.Address.HasLocalScope ? _cluster?.SelfAddress ?? actor.Path.Address : actor.Path.Address).ToString();

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
            _writer.OnSegmentLost(t.Pg, t.Replica, DateTime.UtcNow);
        }
    }

    /// <summary>Carries out the engine's outputs in order, then forgets them (also when one throws: the writer then
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
                    case WriterOutput.CommitsAbandoned a:
                        _coordinator.Tell(new CommitCoordinator.Abandoned(a.Reason, a.Commits, a.FencedByEpoch));
                        break;
                    case WriterOutput.RetryWaiting w:
                        foreach (ClientRequest request in w.Requests) Self.Tell(request);
                        break;
                    case WriterOutput.Rerun r:
                        Self.Tell(r.Request);
                        break;
                    case WriterOutput.SendToSegment s:
                        if (s.ViaRegion) _segments.Tell(Wire(s.Pg, s.Replica, s.Message));
                        else TellSegment(s.Pg, s.Replica, Wire(s.Pg, s.Replica, s.Message));
                        break;
                    case WriterOutput.ReplyToClient r:
                        Client(r.Client).Tell(Wire(r.Reply));
                        break;
                    case WriterOutput.Log l:
                        _log.Log(l.Level.ToAkka(), l.Template, l.Args);
                        break;
                    case WriterOutput.Opened o:
                        Context.Parent.Tell(new WriterOpened(o.Epoch, o.Detail));
                        break;
                    case WriterOutput.OpenFailed f:
                        Context.Parent.Tell(new WriterOpenFailed(f.Epoch, f.Failure));
                        break;
                    case WriterOutput.Fenced f:
                        Context.Parent.Tell(new WriterFenced(f.Epoch, f.ByEpoch, f.Failure));
                        break;
                    case WriterOutput.DrainEnded d:
                        // Through the coordinator: Drained arrives after every acknowledgement and abandonment handed to it, so
                        // stopping the writer (and with it the coordinator) then drops no reply.
                        _coordinator.Tell(new CommitCoordinator.Flush(Client(d.Client), new Drained(d.CommitsNotDurable)));
                        break;
                    // SystemMtrDurable and LocksGranted: the engine carried them out (their consequences follow in the list).
                }
        }
        finally
        {
            _outputs.Clear();
        }
    }

    private WriterStatus Status()
    {
        var pgs = Enumerable.Range(0, _pgCount).Select(pg => new PgStatus(pg,
            Enumerable.Range(0, 6).Select(r => _engine.Tracker.Scl(pg, r)).ToArray(),
            _engine.Tracker.PgQuorumLsn(pg),
            _writer.IsStalled(pg) ? _writer.StalledReplicas(pg) : [],
            Enumerable.Range(0, 6).Select(r => _engine.Outboxes[pg].ShippedAt(_engine.Tracker.Scl(pg, r)) is { } at
                ? (long)Stopwatch.GetElapsedTime(at).TotalMilliseconds : 0L).ToArray())).ToArray();
        var (quorate, quorumTicks) = _pipeline.BatchQuorums;
        return new WriterStatus(_pipeline.State.Name, _engine.Epoch, _engine.Allocated, _engine.Vcl, _engine.Vdl, _lal,
            _engine.DurableCommits, _engine.RedoRecords, _engine.RedoBytes, _pipeline.BytesShipped, _pipeline.Batches,
            quorate == 0 ? 0 : quorumTicks * 1_000_000 / Stopwatch.Frequency / quorate,
            _busyTicks * 1_000_000 / Stopwatch.Frequency,
            _engine.OpenTransactions, _engine.CommitsInFlight, pgs, _pipeline.State.Failure, _recovery,
            _metrics.RecentCommits.Summarize(Stopwatch.GetTimestamp()));
    }
}
