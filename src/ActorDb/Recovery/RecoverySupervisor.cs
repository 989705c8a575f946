using Akka.Actor;
using Akka.Event;
using ActorDb.Core;
using ActorDb.Core.Recovery;
using ActorDb.Metrics;
using ActorDb.Writer;
using static ActorDb.Recovery.RecoveryProtocol;
using static ActorDb.Core.Storage.SegmentProtocol;
using static ActorDb.Writer.WriterProtocol;

namespace ActorDb.Recovery;

/// <summary>
/// Owns the writer's life (design.md, "Recovery"). It runs as a cluster singleton on the oldest <c>writer</c> node
/// (in embedded mode, the one node). When it starts (a process start, or the singleton moving to a standby writer node
/// after the previous one left or was downed) and whenever its writer fails, it recovers the volume before any transaction is
/// accepted. The recovery's rules live in <see cref="RecoveryProcess"/> (ActorDb.Core); this actor feeds it messages and
/// ticks with the time and performs what it returns. Four phases, each logged with its duration and recorded in
/// <c>actordb.recovery.phase.duration</c>:
/// <list type="number">
/// <item><b>read-quorum</b>: every segment is asked for its <see cref="Core.Recovery.SegmentReport"/>; the phase ends when
/// all answered, or 1 s after the phase began once a read quorum of every PG has answered (<see cref="Core.Quorum.QuorumRules"/>;
/// a commit that reached a write quorum is within any read quorum; waiting longer for segments that are down would only
/// delay a failover).</item>
/// <item><b>plan</b>: <see cref="RecoveryPlanner"/> computes the new epoch, the VDL and the range to annul.</item>
/// <item><b>install-epoch</b>: every segment is sent the epoch and the truncation; the phase ends once a read quorum of
/// every PG has installed it (durably), so the previous writer can no longer gather a write quorum.</item>
/// <item><b>open-volume</b>: the volume header (page 0) is read at VDL from a segment that holds it, and the
/// <see cref="WriterActor"/> is started as a child with the plan; it loads the catalog (or formats a new volume
/// durably) and reports <see cref="RecoveryProtocol.WriterOpened"/>.</item>
/// </list>
/// Clients ask it once for the writer (<see cref="RecoveryProtocol.GetWriter"/>, held until recovery has finished) and
/// then talk to the writer directly: no hop is added to the transaction path. A writer that throws is stopped, never
/// restarted with its old state: a new recovery (a new epoch) runs first. A writer fenced by a newer epoch means another
/// supervisor took the volume over; this one then starts nothing more. <see cref="RecoveryProtocol.HandOver"/> (the
/// singleton's termination message) drains the writer and stops the supervisor. Every recovery is kept in a
/// <see cref="RecoveryHistory"/> (<see cref="RecoveryProtocol.GetRecoveryHistory"/>).
/// </summary>
public sealed class RecoverySupervisor : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    /// <summary>Name of the phase collecting segment reports.</summary>
    public const string ReadQuorumPhase = RecoveryPhaseNames.ReadQuorum;
    /// <summary>Name of the phase computing epoch, VDL and truncation.</summary>
    public const string PlanPhase = RecoveryPhaseNames.Plan;
    /// <summary>Name of the phase installing the epoch on the segments.</summary>
    public const string InstallEpochPhase = RecoveryPhaseNames.InstallEpoch;
    /// <summary>Name of the phase reading the catalog and starting the writer.</summary>
    public const string OpenVolumePhase = RecoveryPhaseNames.OpenVolume;

    private sealed record Tick { public static readonly Tick Instance = new(); }
    private sealed record BeginRecovery(string Reason);
    private sealed record HandOverTimedOut { public static readonly HandOverTimedOut Instance = new(); }

    /// <summary>A writer that served this long before failing resets the restart back-off.</summary>
    private static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan MaxRestartDelay = TimeSpan.FromSeconds(10);

    private readonly ActorDbSettings _settings;
    private readonly IActorRef _segments;
    private readonly string? _writerDispatcher;
    private readonly string? _writerMailbox;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly RecoveryMetrics _metrics = ActorDbMetrics.For(Context.System).Recovery;
    private readonly RecoveryProcess _process;
    private readonly List<RecoveryOutput> _outputs = new();
    private readonly Dictionary<SegmentId, IActorRef> _installedBy = new();   // who answered EpochOpened

    // The writer.
    private IActorRef? _writer;
    private long _writerEpoch;
    private DateTime _writerServingSince;
    private Exception? _writerFailure;
    private int _consecutiveFailures;
    private SupervisorState _state = SupervisorState.Recovering;
    private string? _failure;

    /// <summary>Props for the supervisor. <paramref name="segments"/> routes <see cref="ActorDb.Core.Storage.ISegmentMessage"/>s (the
    /// segment shard region); the writer child runs on <paramref name="writerDispatcher"/> with
    /// <paramref name="writerMailbox"/> when given (configuration paths, e.g. <c>actordb.writer-dispatcher</c>).</summary>
    public static Props Props(ActorDbSettings settings, IActorRef segments, string? writerDispatcher = null, string? writerMailbox = null) =>
        Akka.Actor.Props.Create(() => new RecoverySupervisor(settings, segments, writerDispatcher, writerMailbox));

    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Creates the supervisor; use <see cref="Props"/>.</summary>
    public RecoverySupervisor(ActorDbSettings settings, IActorRef segments, string? writerDispatcher, string? writerMailbox)
    {
        _settings = settings;
        _segments = segments;
        _writerDispatcher = writerDispatcher;
        _writerMailbox = writerMailbox;
        _process = new RecoveryProcess(new RecoveryProcessSettings(settings.Geometry.PgCount, settings.Writer.Lal, settings.Writer.OpenTimeout));
        Recovering();
    }

    /// <summary>
    /// A failing writer is stopped, never restarted: a restart would keep serving the old epoch with the old plan and
    /// LSN allocation, after a failure that may have left its state half-changed. Its Terminated starts a new recovery.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(e =>
    {
        _writerFailure = e;
        return Directive.Stop;
    });

    /// <inheritdoc />
    protected override void PreStart() => Begin("the writer is starting");

    private void MoveTo(SupervisorState state) => _state = SupervisorStates.Transition(_state, state);

    /// <summary>Calls the engine with an output list and performs what it returned, in order.</summary>
    private void Run(Action<List<RecoveryOutput>> input)
    {
        _outputs.Clear();
        input(_outputs);
        foreach (var output in _outputs.ToArray()) Perform(output);
    }

    private void Perform(RecoveryOutput output)
    {
        switch (output)
        {
            case AskSegmentState a: _segments.Tell(new GetSegmentState(a.Pg, a.Replica, a.FenceEpoch)); break;
            case InstallEpoch i: _segments.Tell(new OpenEpoch(i.Pg, i.Replica, i.Epoch, i.Vdl, i.TruncateTo, i.PgTail)); break;
            case ReadHeader h: _segments.Tell(new ReadPage(h.Pg, h.Replica, h.PageNo, h.ReadPoint, h.RequiredScl)); break;
            case ScheduleTick t: Timers.StartSingleTimer("tick", Tick.Instance, Max(TimeSpan.Zero, t.At - DateTime.UtcNow)); break;
            case PhaseEnded p: _metrics.RecordPhase(p.Name, p.Duration); break;
            case RecoveryLog l: _log.Log(l.Level.ToAkka(), l.Template, l.Args); break;
            case StartWriter w: StartWriter(w); break;
            case RecoveryEnded e: Ended(e.Record); break;
            default: throw new InvalidOperationException($"the recovery supervisor cannot perform {output}");
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    // ---------------------------------------------------------------- recovering

    private void Begin(string reason)
    {
        MoveTo(SupervisorState.Recovering);
        _failure = null;
        _installedBy.Clear();
        Run(o => _process.Start(reason, DateTime.UtcNow, o));
        Become(Recovering);
    }

    private void Recovering()
    {
        Receive<SegmentState>(s => Run(o => _process.SegmentStateReceived(s.Report, DateTime.UtcNow, o)));
        Receive<EpochOpened>(OnEpochOpened);
        Receive<RedoRejected>(OnRejectedWhileRecovering);
        Receive<PageImage>(p => { if (_writer is null) Run(o => _process.HeaderRead(p.Pg, p.Replica, p.PageNo, p.Image, o)); });
        Receive<PageUnavailable>(p => { if (_writer is null) Run(o => _process.HeaderUnavailable(p.PageNo, DateTime.UtcNow, o)); });
        Receive<Tick>(_ => Run(o => _process.Tick(DateTime.UtcNow, o)));
        Receive<WriterOpened>(o => { if (Sender.Equals(_writer)) Run(outputs => _process.WriterOpened(o.Detail, DateTime.UtcNow, outputs)); });
        Receive<WriterOpenFailed>(f => { if (Sender.Equals(_writer)) Run(o => _process.WriterOpenFailed(f.Reason, DateTime.UtcNow, o)); });
        Receive<WriterFenced>(OnFenced);
        Receive<Terminated>(OnTerminated);
        Receive<GetWriterStatus>(_ => Sender.Tell(OwnStatus()));
        Receive<GetRecoveryHistory>(_ => ReplyHistory());
        Receive<Drain>(_ => Cancel());
        Receive<HandOver>(_ => OnHandOver());
        Receive<GetWriter>(_ => Stash.Stash());
    }

    private void OnEpochOpened(EpochOpened e)
    {
        if (_process.Plan is not { } plan || e.Epoch != plan.Epoch) return;
        if (_writer is not null)
        {
            _writer.Forward(e);   // a late installation: the writer counts the segment from now on
            return;
        }
        _installedBy[new SegmentId(e.Pg, e.Replica)] = Sender;
        Run(o => _process.EpochOpened(e.Pg, e.Replica, e.Epoch, e.Scl, DateTime.UtcNow, o));
    }

    private void OnRejectedWhileRecovering(RedoRejected r)
    {
        if (_writer is not null)
        {
            _writer.Forward(r);
            return;
        }
        Run(o => _process.Rejected(r.Pg, r.Replica, r.SegmentEpoch, r.StaleEpoch, r.Refused, r.Reason, DateTime.UtcNow, o));
    }

    private void StartWriter(StartWriter start)
    {
        var plan = start.Plan;
        var opened = start.Installed.Select(s => new OpenedSegment(s.Pg, s.Replica, s.Scl, _installedBy[new SegmentId(s.Pg, s.Replica)])).ToList();
        var props = WriterActor.Props(_settings, _segments, new RecoveredVolume(plan, opened, start.Header));
        if (_writerDispatcher is not null) props = props.WithDispatcher(_writerDispatcher);
        if (_writerMailbox is not null) props = props.WithMailbox(_writerMailbox);
        var name = $"writer-e{plan.Epoch}";
        if (!Context.Child(name).IsNobody()) name += $"-{_process.Recoveries}";
        _writer = Context.ActorOf(props, name);
        _writerEpoch = plan.Epoch;
        Context.Watch(_writer);
    }

    /// <summary>The recovery ended on its own: opened (the writer serves), failed (clients waiting for the writer, and
    /// later ones, get the reason) or fenced by another recovery.</summary>
    private void Ended(RecoveryRecord record)
    {
        switch (record.Outcome)
        {
            case RecoveryOutcome.Opened:
                _writer!.Tell(new Recovered(record));
                MoveTo(SupervisorState.Serving);
                _writerServingSince = DateTime.UtcNow;
                Timers.Cancel("tick");
                Become(Serving);
                Stash.UnstashAll();
                break;
            case RecoveryOutcome.Fenced:
                EndAsFenced(record.Failure!);
                break;
            default:
                StopWriterChild();
                MoveTo(SupervisorState.Failed);
                _failure = record.Failure;
                Timers.CancelAll();
                Become(Unavailable);
                Stash.UnstashAll();
                break;
        }
    }

    /// <summary>Drain while recovering: the recovery stops where it is (segments that installed the epoch keep it;
    /// the next recovery starts above it), nothing was accepted.</summary>
    private void Cancel()
    {
        Run(o => _process.Cancel("the node is stopping", "the node is stopping", DateTime.UtcNow, o));
        StopWriterChild();
        MoveTo(SupervisorState.Stopped);
        _failure = "the node is stopping";
        Timers.CancelAll();
        Sender.Tell(new Drained(0));
        Become(Unavailable);
        Stash.UnstashAll();
    }

    private void StopWriterChild()
    {
        if (_writer is null) return;
        Context.Unwatch(_writer);
        Context.Stop(_writer);
        _writer = null;
    }

    // ---------------------------------------------------------------- serving

    private void Serving()
    {
        Receive<GetWriter>(_ => Sender.Tell(new CurrentWriter(_writer!, _writerEpoch)));
        Receive<GetWriterStatus>(m => _writer!.Forward(m));
        Receive<GetRecoveryHistory>(_ => ReplyHistory());
        Receive<Drain>(m =>
        {
            MoveTo(SupervisorState.Stopping);
            _failure = "the node is stopping";
            _writer!.Forward(m);
            Become(Unavailable);
        });
        Receive<HandOver>(_ => OnHandOver());
        Receive<EpochOpened>(e => { if (e.Epoch == _writerEpoch) _writer!.Forward(e); });
        Receive<RedoRejected>(r => _writer!.Forward(r));
        Receive<WriterFenced>(OnFenced);
        Receive<Terminated>(OnTerminated);
        Receive<SegmentState>(_ => { });
        Receive<PageImage>(_ => { });
        Receive<PageUnavailable>(_ => { });
    }

    /// <summary>
    /// The writer stopped. Draining: the node stops. Otherwise it failed: whatever it held in memory is discarded and a
    /// new recovery (a new epoch, so it is fenced even if it were still alive) runs before clients get a writer again;
    /// repeated failures back off up to 10 s.
    /// </summary>
    private void OnTerminated(Terminated t)
    {
        if (!t.ActorRef.Equals(_writer)) return;
        _writer = null;
        var error = _writerFailure;
        _writerFailure = null;
        if (_state is not (SupervisorState.Serving or SupervisorState.Recovering)) return;

        var reason = error is null
            ? $"the writer of epoch {_writerEpoch} stopped unexpectedly"
            : $"the writer of epoch {_writerEpoch} failed: {error.GetType().Name}: {error.Message}";
        _process.Abandon(reason, DateTime.UtcNow);
        if (_state == SupervisorState.Serving && DateTime.UtcNow - _writerServingSince > StableAfter) _consecutiveFailures = 0;
        _consecutiveFailures++;
        var delay = _consecutiveFailures == 1
            ? TimeSpan.Zero
            : TimeSpan.FromMilliseconds(Math.Min(MaxRestartDelay.TotalMilliseconds, 250 * Math.Pow(2, _consecutiveFailures - 2)));
        _log.Error("{Reason}; a new recovery (epoch above {Epoch}) starts in {Ms} ms, and no transaction is accepted until it has finished",
            reason, _writerEpoch, (long)delay.TotalMilliseconds);
        MoveTo(SupervisorState.Recovering);
        _failure = reason;
        Timers.CancelAll();
        Timers.StartSingleTimer("begin", new BeginRecovery(reason), delay);
        Become(WaitingToRecover);
    }

    private void WaitingToRecover()
    {
        Receive<BeginRecovery>(b => Begin(b.Reason));
        Receive<GetWriterStatus>(_ => Sender.Tell(OwnStatus()));
        Receive<GetRecoveryHistory>(_ => ReplyHistory());
        Receive<Drain>(_ => Cancel());
        Receive<HandOver>(_ => OnHandOver());
        Receive<GetWriter>(_ => Stash.Stash());
        ReceiveAny(_ => { });   // late segment replies of the failed writer's epoch
    }

    private void OnFenced(WriterFenced f)
    {
        if (!Sender.Equals(_writer)) return;
        _process.Fenced(f.Reason, DateTime.UtcNow);
        EndAsFenced(f.Reason);
    }

    /// <summary>A newer epoch exists: another supervisor owns the volume. Starting a new recovery here would fence it in
    /// turn (two supervisors taking the volume from each other), so this one stops serving for good. A fenced writer
    /// stays alive and answers its clients with stale-epoch errors.</summary>
    private void EndAsFenced(string reason)
    {
        _log.Error("Writer fenced ({Reason}); this supervisor starts no new writer", reason);
        MoveTo(SupervisorState.Fenced);
        _failure = reason;
        Timers.CancelAll();
        Become(Unavailable);
        Stash.UnstashAll();
    }

    // ---------------------------------------------------------------- failed, fenced, stopping, stopped

    private void Unavailable()
    {
        Receive<GetWriter>(_ => Sender.Tell(new WriterUnavailable($"no writer: {_state.Name()}: {_failure}", _state == SupervisorState.Fenced,
            Stopping: _state is SupervisorState.Stopping or SupervisorState.Stopped)));
        Receive<HandOver>(_ => OnHandOver());
        Receive<GetWriterStatus>(m =>
        {
            if (_writer is not null) _writer.Forward(m);
            else Sender.Tell(OwnStatus());
        });
        Receive<GetRecoveryHistory>(_ => ReplyHistory());
        Receive<Drain>(m =>
        {
            if (_writer is not null && _state != SupervisorState.Failed) _writer.Forward(m);
            else Sender.Tell(new Drained(0));
        });
        Receive<Terminated>(t =>
        {
            if (!t.ActorRef.Equals(_writer)) return;
            _writer = null;
            if (_state == SupervisorState.Stopping) MoveTo(SupervisorState.Stopped);
        });
        Receive<RedoRejected>(r => _writer?.Forward(r));
        Receive<EpochOpened>(e => _writer?.Forward(e));
        ReceiveAny(_ => { });
    }

    // ---------------------------------------------------------------- hand-over (cluster singleton)

    /// <summary>
    /// The singleton manager hands the writer over (this node leaves the cluster). A serving writer is drained first:
    /// its in-flight commits become durable or are aborted, so the next writer node's recovery finds every acknowledged
    /// commit. A recovery still running is cancelled (the next one starts above its epoch). Then the supervisor stops,
    /// which tells the manager the hand-over may go on. A node stopping by coordinated shutdown has drained already.
    /// </summary>
    private void OnHandOver()
    {
        if (_state == SupervisorState.Serving && _writer is not null)
        {
            _log.Info("Handing the writer of epoch {Epoch} over to the next writer node: draining", _writerEpoch);
            MoveTo(SupervisorState.Stopping);
            _failure = "the writer is being handed over to another writer node";
            _writer.Tell(Drain.Instance, Self);
            Timers.StartSingleTimer("hand-over", HandOverTimedOut.Instance, _settings.Writer.DrainTimeout + TimeSpan.FromSeconds(5));
            Become(HandingOver);
            return;
        }
        Run(o => _process.Cancel("handed over to another writer node", "the writer is handed over to another writer node", DateTime.UtcNow, o));
        _log.Info("Writer handed over (state {State}, epoch {Epoch})", _state.Name(), _writerEpoch);
        Context.Stop(Self);
    }

    private void HandingOver()
    {
        Receive<Drained>(d =>
        {
            _log.Info("Writer of epoch {Epoch} drained ({Left} commits not durable); handed over", _writerEpoch, d.CommitsNotDurable);
            Context.Stop(Self);
        });
        Receive<HandOverTimedOut>(_ =>
        {
            _log.Warning("Writer of epoch {Epoch} did not drain in time; handing over anyway", _writerEpoch);
            Context.Stop(Self);
        });
        Receive<Terminated>(t => { if (t.ActorRef.Equals(_writer)) Context.Stop(Self); });
        Receive<GetWriter>(_ => Sender.Tell(new WriterUnavailable($"no writer: {_failure}", Fenced: false, Stopping: true)));
        Receive<GetWriterStatus>(m => _writer!.Forward(m));
        Receive<GetRecoveryHistory>(_ => ReplyHistory());
        Receive<Drain>(_ => Sender.Tell(new Drained(0)));
        Receive<RedoRejected>(r => _writer?.Forward(r));
        ReceiveAny(_ => { });
    }

    // ---------------------------------------------------------------- status and history

    private WriterStatus OwnStatus() =>
        new(_state.Name(), _process.Plan?.Epoch ?? _writerEpoch, Lsn.Zero, Lsn.Zero, _process.Plan?.Vdl ?? Lsn.Zero, _settings.Writer.Lal,
            0, 0, 0, 0, 0, 0, 0, 0, 0, [], _failure, _process.Running(DateTime.UtcNow) ?? _process.History.Latest);

    private void ReplyHistory() => Sender.Tell(new RecoveryHistoryReply(_process.History.Records, _process.Running(DateTime.UtcNow)));
}
