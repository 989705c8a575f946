using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using ActorDb.Core;
using ActorDb.Core.Recovery;
using ActorDb.Metrics;
using ActorDb.Writer;
using static ActorDb.Recovery.RecoveryProtocol;
using static ActorDb.Storage.SegmentProtocol;
using static ActorDb.Writer.WriterProtocol;

namespace ActorDb.Recovery;

/// <summary>
/// Owns the writer's life (design.md, "Recovery"). It runs as a cluster singleton on the oldest <c>writer</c> node
/// (in embedded mode, the one node). When it starts (a process start, or the singleton moving to a standby writer node
/// after the previous one left or was downed) and whenever its writer fails, it recovers the volume before any transaction is
/// accepted, in four phases, each logged with its duration and recorded in <c>actordb.recovery.phase.duration</c>:
/// <list type="number">
/// <item><b>read-quorum</b>: every segment is asked for its <see cref="Core.Recovery.SegmentReport"/>; the phase ends when
/// all answered, or 1 s after the phase began once a read quorum of every PG has answered (a commit that reached a
/// write quorum is within any read quorum; waiting longer for segments that are down would only delay a failover).</item>
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
    public const string ReadQuorumPhase = "read-quorum";
    /// <summary>Name of the phase computing epoch, VDL and truncation.</summary>
    public const string PlanPhase = "plan";
    /// <summary>Name of the phase installing the epoch on the segments.</summary>
    public const string InstallEpochPhase = "install-epoch";
    /// <summary>Name of the phase reading the catalog and starting the writer.</summary>
    public const string OpenVolumePhase = "open-volume";

    private sealed record Tick { public static readonly Tick Instance = new(); }
    private sealed record BeginRecovery(string Reason);
    private sealed record HandOverTimedOut { public static readonly HandOverTimedOut Instance = new(); }

    private static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(500);
    /// <summary>With a read quorum of every PG but not every segment, planning waits this long for the others.</summary>
    private static readonly TimeSpan WaitForAllReports = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan HeaderReadRetry = TimeSpan.FromMilliseconds(500);
    /// <summary>A writer that served this long before failing resets the restart back-off.</summary>
    private static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan MaxRestartDelay = TimeSpan.FromSeconds(10);

    private readonly ActorDbSettings _settings;
    private readonly IActorRef _segments;
    private readonly string? _writerDispatcher;
    private readonly string? _writerMailbox;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly int _pgCount;
    private readonly RecoveryHistory _history = new();
    private readonly RecoveryMetrics _metrics = ActorDbMetrics.For(Context.System).Recovery;
    private int _recoveries;

    // The recovery running now.
    private RecoveryRecord? _running;
    private long _startedTicks;
    private long _phaseTicks;
    private DateTime _deadline;
    private string _phase = ReadQuorumPhase;
    private readonly Dictionary<(int Pg, int Replica), SegmentReport> _probes = new();    // before the fence: epochs seen
    private readonly Dictionary<(int Pg, int Replica), SegmentReport> _reports = new();   // after the fence, at _fenceEpoch
    private long _fenceEpoch;                                                             // 0 until the probe decided it
    private readonly Dictionary<(int Pg, int Replica), OpenedSegment> _opened = new();
    private readonly HashSet<(int Pg, int Replica)> _refusedBy = new();                   // segments that refused this recovery (logged once)
    private readonly RepeatedConditions _rejections = new();                              // other rejections: per segment, summarised
    private RecoveryPlan? _plan;
    private int _headerReplica;
    private DateTime? _headerSent;
    private string? _headerSource;

    // The writer.
    private IActorRef? _writer;
    private long _writerEpoch;
    private DateTime _writerServingSince;
    private Exception? _writerFailure;
    private int _consecutiveFailures;
    private string _state = "recovering";
    private string? _failure;

    /// <summary>Props for the supervisor. <paramref name="segments"/> routes <see cref="Storage.ISegmentMessage"/>s (the
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
        _pgCount = settings.Geometry.PgCount;
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

    private IEnumerable<(int Pg, int Replica)> AllSegments() =>
        from pg in Enumerable.Range(0, _pgCount) from r in Enumerable.Range(0, VolumeGeometry.SegmentsPerPg) select (pg, r);

    private bool ReadQuorumEverywhere<T>(IReadOnlyDictionary<(int Pg, int Replica), T> answered) =>
        Enumerable.Range(0, _pgCount).All(pg => answered.Keys.Count(k => k.Pg == pg) >= VolumeGeometry.ReadQuorum);

    private static TimeSpan Since(long ticks) => Stopwatch.GetElapsedTime(ticks);

    // ---------------------------------------------------------------- recovering

    private void Begin(string reason)
    {
        _recoveries++;
        _running = RecoveryRecord.Start(_recoveries, reason, DateTime.UtcNow);
        _startedTicks = _phaseTicks = Stopwatch.GetTimestamp();
        _deadline = DateTime.UtcNow + _settings.Writer.OpenTimeout;
        _phase = ReadQuorumPhase;
        _probes.Clear();
        _reports.Clear();
        _fenceEpoch = 0;
        _opened.Clear();
        _refusedBy.Clear();
        _plan = null;
        _headerSent = null;
        _state = "recovering";
        _failure = null;
        _log.Info("Recovery {Number} starting ({Reason}): asking {Segments} segments of {Pgs} PGs for their state",
            _recoveries, reason, _pgCount * VolumeGeometry.SegmentsPerPg, _pgCount);
        foreach (var (pg, r) in AllSegments()) _segments.Tell(new GetSegmentState(pg, r));
        Timers.StartPeriodicTimer("tick", Tick.Instance, TickInterval);
        Become(Recovering);
    }

    private void Recovering()
    {
        Receive<SegmentState>(OnSegmentState);
        Receive<EpochOpened>(OnEpochOpened);
        Receive<RedoRejected>(OnRejectedWhileRecovering);
        Receive<PageImage>(OnHeader);
        Receive<PageUnavailable>(p =>
        {
            if (_phase == OpenVolumePhase && _writer is null && p.PageNo == Core.Tables.Catalog.HeaderPage) ReadHeader(nextReplica: true);
        });
        Receive<Tick>(_ => OnTick());
        Receive<WriterOpened>(OnWriterOpened);
        Receive<WriterOpenFailed>(f => { if (Sender.Equals(_writer)) FailRecovery(f.Reason); });
        Receive<WriterFenced>(OnFenced);
        Receive<Terminated>(OnTerminated);
        Receive<GetWriterStatus>(_ => Sender.Tell(OwnStatus()));
        Receive<GetRecoveryHistory>(_ => ReplyHistory());
        Receive<Drain>(_ => Cancel());
        Receive<HandOver>(_ => OnHandOver());
        Receive<GetWriter>(_ => Stash.Stash());
    }

    private void OnTick()
    {
        foreach (var line in _rejections.Due(DateTime.UtcNow))
        {
            if (line.Ended) _log.Info("Recovery epoch {Epoch}: {Condition} ended: {Count} in all", _plan?.Epoch ?? _fenceEpoch, line.Key, line.Total);
            else _log.Warning("Recovery epoch {Epoch}: still {Condition}: {Count} more since the last line", _plan?.Epoch ?? _fenceEpoch, line.Key, line.Count);
        }
        if (DateTime.UtcNow > _deadline)
        {
            FailRecovery(TimeoutReason());
            return;
        }
        switch (_phase)
        {
            case ReadQuorumPhase when _fenceEpoch == 0:
                if (ReadQuorumEverywhere(_probes) && Since(_phaseTicks) > WaitForAllReports) Fence();
                else foreach (var (pg, r) in AllSegments().Where(s => !_probes.ContainsKey(s))) _segments.Tell(new GetSegmentState(pg, r));
                break;
            case ReadQuorumPhase:
                // Segments that join their PG empty do not count (design.md; RecoveryPlanner.CountsInReadQuorum).
                if (RecoveryPlanner.HasReadQuorum(_pgCount, _reports.Values.ToList()) && Since(_phaseTicks) > WaitForAllReports) PlanRecovery();
                else foreach (var (pg, r) in AllSegments().Where(s => !_reports.ContainsKey(s))) _segments.Tell(new GetSegmentState(pg, r, _fenceEpoch));
                break;
            case InstallEpochPhase:
                // The fence again first: a segment that restarted since its fence no longer knows which node fenced it,
                // and takes an OpenEpoch only from that node (SegmentAuthority.Open).
                foreach (var s in AllSegments().Where(s => !_opened.ContainsKey(s)))
                {
                    _segments.Tell(new GetSegmentState(s.Pg, s.Replica, _fenceEpoch));
                    _segments.Tell(OpenEpochFor(s.Pg, s.Replica));
                }
                break;
            case OpenVolumePhase:
                if (_writer is null && _headerSent is { } sent && DateTime.UtcNow - sent > HeaderReadRetry)
                {
                    _log.Warning("Recovery epoch {Epoch}: the volume header read from segment {Segment} is unanswered; asking the next replica",
                        _plan!.Epoch, EntityId(0, _headerReplica));
                    ReadHeader(nextReplica: true);
                }
                break;
        }
    }

    private string TimeoutReason()
    {
        var within = _settings.Writer.OpenTimeout;
        return _phase switch
        {
            ReadQuorumPhase => $"no read quorum of segments within {within}: missing {Missing(_reports)}",
            InstallEpochPhase => $"epoch {_plan!.Epoch} was not installed on a read quorum of every PG within {within}: no answer from {Missing(_opened)}",
            _ when _writer is null => $"the volume header (page 0) could not be read at VDL {_plan!.Vdl} within {within}",
            _ => $"the writer did not open the volume within {within} (a new volume's catalog needs a write quorum of PG 0)",
        };
    }

    private string Missing<T>(IReadOnlyDictionary<(int Pg, int Replica), T> answered) =>
        string.Join(", ", AllSegments().Where(s => !answered.ContainsKey(s)).Select(s => EntityId(s.Pg, s.Replica)));

    private string Describe<T>(IReadOnlyDictionary<(int Pg, int Replica), T> answered, string verb) =>
        string.Join("; ", Enumerable.Range(0, _pgCount).Select(pg =>
            $"PG {pg}: segments {string.Join(",", answered.Keys.Where(k => k.Pg == pg).Select(k => k.Replica).Order())} {verb}"));

    private void EndPhase(string name, string detail)
    {
        var duration = Since(_phaseTicks);
        _phaseTicks = Stopwatch.GetTimestamp();
        _running = _running!.WithPhase(name, duration, detail);
        _metrics.RecordPhase(name, duration);
    }

    private void LogPhase(string name)
    {
        var phase = _running!.Phases.Last(p => p.Name == name);
        _log.Info("Recovery epoch {Epoch}: phase {Phase} {Ms} ms ({Detail})", _running.Epoch, name, (long)phase.Duration.TotalMilliseconds, phase.Detail);
    }

    /// <summary>The read-quorum phase in two steps. First every segment is asked for its epoch; then the epoch above all
    /// of them is installed as a fence, and the state each segment reports after its fence is what the plan uses. A writer
    /// of an older epoch can then no longer get a record onto 4 segments of a PG (at least 3 refuse it), so nothing it
    /// could still get acknowledged escapes the recovery's read quorum (design.md, Recovery steps 2-3).</summary>
    private void OnSegmentState(SegmentState s)
    {
        if (_phase != ReadQuorumPhase) return;
        var key = (s.Report.Pg, s.Report.Replica);
        if (_fenceEpoch == 0)
        {
            _probes[key] = s.Report;
            if (_probes.Count == _pgCount * VolumeGeometry.SegmentsPerPg) Fence();
            return;
        }
        if (s.Report.Epoch > _fenceEpoch)
        {
            EndAsFenced($"segment {EntityId(s.Report.Pg, s.Report.Replica)} is already in epoch {s.Report.Epoch}, above this recovery's epoch {_fenceEpoch}: another recovery took the volume over");
            return;
        }
        if (s.Report.Epoch < _fenceEpoch) return;   // an answer to the probe, arriving late
        _reports[key] = s.Report;
        if (_reports.Count == _pgCount * VolumeGeometry.SegmentsPerPg) PlanRecovery();
    }

    /// <summary>Fences every segment at the epoch above the highest one probed (<see cref="Epochs.Next"/>, checked: a
    /// segment reporting an epoch at the bound fails the recovery with that error instead of overflowing).</summary>
    private void Fence()
    {
        var highest = _probes.Values.MaxBy(r => r.Epoch)!;
        try
        {
            _fenceEpoch = Epochs.Next(highest.Epoch);
        }
        catch (EpochOutOfRangeException e)
        {
            FailRecovery($"cannot fence: segment {EntityId(highest.Pg, highest.Replica)} reports epoch {highest.Epoch}: {e.Message}");
            return;
        }
        _running = _running!.WithEpoch(_fenceEpoch);
        foreach (var (pg, r) in AllSegments()) _segments.Tell(new GetSegmentState(pg, r, _fenceEpoch));
    }

    private void PlanRecovery()
    {
        EndPhase(ReadQuorumPhase, Describe(_reports, $"fenced at epoch {_fenceEpoch} and answered"));
        try
        {
            _plan = RecoveryPlanner.Plan(_pgCount, _reports.Values.ToList(), _settings.Writer.Lal, _fenceEpoch);
        }
        catch (InvalidOperationException e)
        {
            FailRecovery($"cannot open the volume: {e.Message}");
            return;
        }
        _running = _running!.WithPlan(_plan);
        EndPhase(PlanPhase, _plan.TruncateTo > _plan.Vdl
            ? $"VDL {_plan.Vdl}, truncate ({_plan.TruncateAfter}, {_plan.TruncateTo}]"
            : $"VDL {_plan.Vdl}, a new volume: nothing to truncate");
        LogPhase(ReadQuorumPhase);
        LogPhase(PlanPhase);
        _phase = InstallEpochPhase;
        foreach (var (pg, r) in AllSegments()) _segments.Tell(OpenEpochFor(pg, r));
    }

    private OpenEpoch OpenEpochFor(int pg, int replica) =>
        new(pg, replica, _plan!.Epoch, _plan.Vdl, _plan.TruncateTo, _plan.PgTail[pg]);

    private void OnEpochOpened(EpochOpened e)
    {
        if (_plan is null || e.Epoch != _plan.Epoch) return;
        if (_writer is not null)
        {
            _writer.Forward(e);   // a late installation: the writer counts the segment from now on
            return;
        }
        _opened[(e.Pg, e.Replica)] = new OpenedSegment(e.Pg, e.Replica, e.Scl, Sender);
        if (_phase != InstallEpochPhase || !ReadQuorumEverywhere(_opened)) return;
        EndPhase(InstallEpochPhase, Describe(_opened, "installed"));
        LogPhase(InstallEpochPhase);
        _phase = OpenVolumePhase;
        if (_plan.Vdl == Lsn.Zero) StartWriter(null);   // a new volume: the writer formats it
        else ReadHeader(nextReplica: false);
    }

    private void OnRejectedWhileRecovering(RedoRejected r)
    {
        if (_writer is not null)
        {
            _writer.Forward(r);
            return;
        }
        if (r.StaleEpoch && _plan is not null && r.SegmentEpoch > _plan.Epoch)
        {
            EndAsFenced($"segment {EntityId(r.Pg, r.Replica)} is already in epoch {r.SegmentEpoch}, above this recovery's epoch {_plan.Epoch}: another recovery took the volume over");
            return;
        }
        if (r.Refused && !_refusedBy.Add((r.Pg, r.Replica))) return;   // logged once per segment and recovery
        // A failed segment rejects each retry of the phase: one line when it starts, then summaries (OnTick).
        if (!r.Refused && !_rejections.Occurred($"segment {EntityId(r.Pg, r.Replica)} rejecting the recovery", DateTime.UtcNow)) return;
        _log.Warning("Recovery epoch {Epoch}: segment {Segment} refused: {Reason}", _plan?.Epoch ?? _fenceEpoch, EntityId(r.Pg, r.Replica), r.Reason);
    }

    /// <summary>Reads page 0 at VDL from a segment of PG 0 that installed the epoch and holds the PG's records up to
    /// VDL; a refusal or no answer moves on to the next replica.</summary>
    private void ReadHeader(bool nextReplica)
    {
        var plan = _plan!;
        if (nextReplica) _headerReplica = (_headerReplica + 1) % VolumeGeometry.SegmentsPerPg;
        else
            _headerReplica = _opened.Values.Where(s => s.Pg == 0).OrderByDescending(s => s.Scl >= plan.PgTail[0]).ThenByDescending(s => s.Scl)
                .Select(s => s.Replica).DefaultIfEmpty(0).First();
        _headerSent = DateTime.UtcNow;
        _segments.Tell(new ReadPage(0, _headerReplica, Core.Tables.Catalog.HeaderPage, plan.Vdl, plan.PgTail[0]));
    }

    private void OnHeader(PageImage p)
    {
        if (_phase != OpenVolumePhase || _writer is not null || _headerSent is null || p.PageNo != Core.Tables.Catalog.HeaderPage) return;
        _headerSent = null;
        StartWriter(p.Image, $"catalog read from {EntityId(p.Pg, p.Replica)}");
    }

    private void StartWriter(byte[]? header, string? headerSource = null)
    {
        var plan = _plan!;
        _headerSource = headerSource;
        var props = WriterActor.Props(_settings, _segments, new RecoveredVolume(plan, _opened.Values.ToList(), header));
        if (_writerDispatcher is not null) props = props.WithDispatcher(_writerDispatcher);
        if (_writerMailbox is not null) props = props.WithMailbox(_writerMailbox);
        var name = $"writer-e{plan.Epoch}";
        if (!Context.Child(name).IsNobody()) name += $"-{_recoveries}";
        _writer = Context.ActorOf(props, name);
        _writerEpoch = plan.Epoch;
        Context.Watch(_writer);
    }

    private void OnWriterOpened(WriterOpened o)
    {
        if (!Sender.Equals(_writer) || _phase != OpenVolumePhase) return;
        EndPhase(OpenVolumePhase, _headerSource is null ? o.Detail : $"{_headerSource}, {o.Detail}");
        var record = _running!.Finish(RecoveryOutcome.Opened, Since(_startedTicks));
        _history.Add(record);
        _running = null;
        _log.Info("Recovery epoch {Epoch}: {Phases}; total {TotalMs} ms; recovered VDL {Vdl} ({Reason})",
            record.Epoch, record.PhasesText(), (long)record.Total.TotalMilliseconds, record.Vdl, record.Reason);
        _writer!.Tell(new Recovered(record));
        _state = "serving";
        _writerServingSince = DateTime.UtcNow;
        Timers.Cancel("tick");
        Become(Serving);
        Stash.UnstashAll();
    }

    /// <summary>The recovery gives up; clients waiting for the writer, and later ones, get the reason.</summary>
    private void FailRecovery(string reason)
    {
        var record = _running!.Finish(RecoveryOutcome.Failed, Since(_startedTicks), reason);
        _history.Add(record);
        _running = null;
        _log.Error("Recovery {Number} failed after {Ms} ms in phase {Phase}: {Reason}", record.Number, (long)record.Total.TotalMilliseconds, _phase, reason);
        StopWriterChild();
        _state = "failed";
        _failure = reason;
        Timers.CancelAll();
        Become(Unavailable);
        Stash.UnstashAll();
    }

    /// <summary>Drain while recovering: the recovery stops where it is (segments that installed the epoch keep it;
    /// the next recovery starts above it), nothing was accepted.</summary>
    private void Cancel()
    {
        if (_running is not null)
        {
            _history.Add(_running.Finish(RecoveryOutcome.Cancelled, Since(_startedTicks), "the node is stopping"));
            _log.Info("Recovery {Number} cancelled in phase {Phase}: the node is stopping", _running.Number, _phase);
            _running = null;
        }
        StopWriterChild();
        _state = "stopped";
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
            _state = "stopping";
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
        if (_state is not ("serving" or "recovering")) return;

        var reason = error is null
            ? $"the writer of epoch {_writerEpoch} stopped unexpectedly"
            : $"the writer of epoch {_writerEpoch} failed: {error.GetType().Name}: {error.Message}";
        if (_running is not null)
        {
            _history.Add(_running.Finish(RecoveryOutcome.Failed, Since(_startedTicks), reason));
            _running = null;
        }
        if (_state == "serving" && DateTime.UtcNow - _writerServingSince > StableAfter) _consecutiveFailures = 0;
        _consecutiveFailures++;
        var delay = _consecutiveFailures == 1
            ? TimeSpan.Zero
            : TimeSpan.FromMilliseconds(Math.Min(MaxRestartDelay.TotalMilliseconds, 250 * Math.Pow(2, _consecutiveFailures - 2)));
        _log.Error("{Reason}; a new recovery (epoch above {Epoch}) starts in {Ms} ms, and no transaction is accepted until it has finished",
            reason, _writerEpoch, (long)delay.TotalMilliseconds);
        _state = "recovering";
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
        EndAsFenced(f.Reason);
    }

    /// <summary>A newer epoch exists: another supervisor owns the volume. Starting a new recovery here would fence it in
    /// turn (two supervisors taking the volume from each other), so this one stops serving for good. A fenced writer
    /// stays alive and answers its clients with stale-epoch errors.</summary>
    private void EndAsFenced(string reason)
    {
        if (_running is not null)
        {
            _history.Add(_running.Finish(RecoveryOutcome.Fenced, Since(_startedTicks), reason));
            _running = null;
        }
        _log.Error("Writer fenced ({Reason}); this supervisor starts no new writer", reason);
        _state = "fenced";
        _failure = reason;
        Timers.CancelAll();
        Become(Unavailable);
        Stash.UnstashAll();
    }

    // ---------------------------------------------------------------- failed, fenced, stopping, stopped

    private void Unavailable()
    {
        Receive<GetWriter>(_ => Sender.Tell(new WriterUnavailable($"no writer: {_state}: {_failure}", _state == "fenced",
            Stopping: _state is "stopping" or "stopped")));
        Receive<HandOver>(_ => OnHandOver());
        Receive<GetWriterStatus>(m =>
        {
            if (_writer is not null) _writer.Forward(m);
            else Sender.Tell(OwnStatus());
        });
        Receive<GetRecoveryHistory>(_ => ReplyHistory());
        Receive<Drain>(m =>
        {
            if (_writer is not null && _state != "failed") _writer.Forward(m);
            else Sender.Tell(new Drained(0));
        });
        Receive<Terminated>(t =>
        {
            if (!t.ActorRef.Equals(_writer)) return;
            _writer = null;
            if (_state == "stopping") _state = "stopped";
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
        if (_state == "serving" && _writer is not null)
        {
            _log.Info("Handing the writer of epoch {Epoch} over to the next writer node: draining", _writerEpoch);
            _state = "stopping";
            _failure = "the writer is being handed over to another writer node";
            _writer.Tell(Drain.Instance, Self);
            Timers.StartSingleTimer("hand-over", HandOverTimedOut.Instance, _settings.Writer.DrainTimeout + TimeSpan.FromSeconds(5));
            Become(HandingOver);
            return;
        }
        if (_running is not null)
        {
            _history.Add(_running.Finish(RecoveryOutcome.Cancelled, Since(_startedTicks), "handed over to another writer node"));
            _log.Info("Recovery {Number} cancelled in phase {Phase}: the writer is handed over to another writer node", _running.Number, _phase);
            _running = null;
        }
        _log.Info("Writer handed over (state {State}, epoch {Epoch})", _state, _writerEpoch);
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
        new(_state, _plan?.Epoch ?? _writerEpoch, Lsn.Zero, Lsn.Zero, _plan?.Vdl ?? Lsn.Zero, _settings.Writer.Lal,
            0, 0, 0, 0, 0, 0, 0, 0, 0, [], _failure, Running() ?? _history.Latest);

    private RecoveryRecord? Running() => _running is null ? null : _running with { Total = Since(_startedTicks) };

    private void ReplyHistory() => Sender.Tell(new RecoveryHistoryReply(_history.Records, Running()));
}
