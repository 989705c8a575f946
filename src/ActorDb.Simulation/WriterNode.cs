using ActorDb.Core;
using ActorDb.Core.Recovery;
using ActorDb.Core.Storage;
using ActorDb.Core.Transactions;
using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Simulation;

/// <summary>
/// The writer node's shell: the real <see cref="RecoveryProcess"/> and the <see cref="WriterEngine"/> it starts, wired as
/// RecoverySupervisor and WriterActor wire them: a recovery runs when the node starts; its StartWriter output builds a
/// writer over the plan; the writer's Opened ends the recovery and it serves; a writer that fails (not fenced) is
/// abandoned and a new recovery starts after the supervisor's back-off; a fenced one ends the supervisor (it starts no
/// other writer); a failed recovery leaves the node without a writer, as the supervisor does.
/// </summary>
internal sealed class WriterNode(World world, SimNode node, VolumeGeometry geometry, SimTrace trace)
{
    private readonly List<RecoveryOutput> _rout = new();
    private readonly List<WriterOutput> _wout = new();
    private RecoveryProcess? _recovery;
    private WriterEngine? _writer;
    private int _writerNumber;        // which writer instance replies are for (0: the recovery)
    private bool _serving;
    private bool _ended;              // fenced or recovery failed: no writer any more, as in the supervisor
    private int _consecutiveFailures;
    private long _truncationEpoch;

    public SimNode Node { get; } = node;

    /// <summary>The writer serving now, or null.</summary>
    public WriterEngine? Serving => _serving ? _writer : null;

    private DateTime Local => Node.LocalTime(world.Scheduler.Now);
    private long Ticks() => world.Scheduler.Now.Ticks;

    public string Describe() =>
        $"{(_serving ? "serving" : _ended ? "ended" : "recovering")}, recoveries {_recovery?.Recoveries ?? 0}, epoch {_writer?.Epoch ?? 0}, VDL {_writer?.Transactions.Vdl ?? Lsn.Zero}" +
        (_writer is { } w ? $", open transactions {w.Transactions.OpenTransactions} ({string.Join(",", w.Transactions.OpenTransactionIds())}), commits in flight {w.Transactions.CommitsInFlight}" : "") +
        (_recovery?.History.Latest is { } last ? $", last recovery: {last.Outcome}{(last.Failure is null ? "" : $" ({last.Failure})")}" : "");

    /// <summary>The node's process starts: a new supervisor, whose first recovery begins now.</summary>
    public void Start(string reason)
    {
        _recovery = new RecoveryProcess(SimSettings.Recovery(geometry.PgCount));
        _writer = null;
        _serving = false;
        _ended = false;
        _consecutiveFailures = 0;
        BeginRecovery(reason);
    }

    /// <summary>The process died: recovery and writer are gone (their events are dropped with the incarnation).</summary>
    public void Crash()
    {
        _recovery = null;
        _writer = null;
        _serving = false;
    }

    private void BeginRecovery(string reason)
    {
        _writer = null;
        _serving = false;
        RunRecovery(o => _recovery!.Start(reason, Local, o));
    }

    // ---------------------------------------------------------------- segment answers

    /// <summary>A segment's answer to <paramref name="target"/> arrived from <paramref name="from"/>.</summary>
    public void FromSegment(ReplyTarget.WriterNode target, SimNode from, object message)
    {
        if (target.Incarnation != Node.Incarnation || _recovery is null) return;
        if (target.Writer != 0)
        {
            if (_writer is null || target.Writer != _writerNumber) return;   // an answer to a writer that is gone
            ToWriter(from, message);
            return;
        }
        // The supervisor: answers to the recovery, forwarded to the writer once it runs (as RecoverySupervisor does).
        switch (message)
        {
            case SegmentState s when _writer is null:
                RunRecovery(o => _recovery.SegmentStateReceived(s.Report, Local, o));
                break;
            case EpochOpened e when _writer is not null:
                if (_recovery.Plan is { } plan && e.Epoch == plan.Epoch) ToWriter(from, e);
                break;
            case EpochOpened e:
                RunRecovery(o => _recovery.EpochOpened(e.Pg, e.Replica, e.Epoch, e.Scl, Local, o));
                break;
            case RedoRejected r when _writer is not null:
                ToWriter(from, r);
                break;
            case RedoRejected r:
                RunRecovery(o => _recovery.Rejected(r.Pg, r.Replica, r.SegmentEpoch, r.StaleEpoch, r.Refused, r.Reason, Local, o));
                break;
            case PageImage p when _writer is null:
                RunRecovery(o => _recovery.HeaderRead(p.Pg, p.Replica, p.PageNo, p.Image, o));
                break;
            case PageUnavailable p when _writer is null:
                RunRecovery(o => _recovery.HeaderUnavailable(p.PageNo, Local, o));
                break;
        }
    }

    private void ToWriter(SimNode from, object message)
    {
        switch (message)
        {
            case RedoAck a: RunWriter((w, o) => w.OnAck(a.Pg, a.Replica, a.Epoch, a.Scl, a.SyncMicros, from.Address, Local, o)); break;
            case EpochOpened e: RunWriter((w, o) => w.OnEpochOpened(e.Pg, e.Replica, e.Epoch, e.Scl, from.Address, Local, o)); break;
            case RedoRejected r:
                RunWriter((w, o) => w.OnRejected(new SegmentRejection(r.Pg, r.Replica, r.SegmentEpoch, r.Reason, r.StaleEpoch, r.Refused,
                    r.Fault == SegmentFault.None ? null : r.Fault.ToString()), from.Address, Local, o));
                break;
            case PageImage p: RunWriter((w, o) => w.OnPageImage(p.PageNo, p.Image, o)); break;
            case PageUnavailable p: RunWriter((w, o) => w.OnPageUnavailable(p.Pg, p.Replica, p.PageNo, p.Damaged, Local, o)); break;
        }
    }

    // ---------------------------------------------------------------- the recovery's outputs

    private void RunRecovery(Action<List<RecoveryOutput>> input)
    {
        if (_recovery is null) return;
        _rout.Clear();
        input(_rout);
        foreach (var output in _rout.ToArray()) PerformRecovery(output);
    }

    private ReplyTarget.WriterNode RecoveryTarget => new(Node.Incarnation, 0);

    private void PerformRecovery(RecoveryOutput output)
    {
        switch (output)
        {
            case AskSegmentState a:
                world.ToSegment(Node, a.Pg, a.Replica, new GetSegmentState(a.Pg, a.Replica, a.FenceEpoch), RecoveryTarget);
                break;
            case InstallEpoch i:
                if (i.Epoch != _truncationEpoch)
                {
                    _truncationEpoch = i.Epoch;
                    world.Obs.Truncations.Add(new Truncation(i.Epoch, i.Vdl, i.TruncateTo, world.Scheduler.Now));
                }
                world.ToSegment(Node, i.Pg, i.Replica, new OpenEpoch(i.Pg, i.Replica, i.Epoch, i.Vdl, i.TruncateTo, i.PgTail), RecoveryTarget);
                break;
            case ReadHeader h:
                world.ToSegment(Node, h.Pg, h.Replica, new ReadPage(h.Pg, h.Replica, h.PageNo, h.ReadPoint, h.RequiredScl), RecoveryTarget);
                break;
            case ScheduleTick t:
                var recovery = _recovery;
                world.Scheduler.At(t.At - Node.ClockAhead, Node, trace.Enabled ? "recovery tick" : "", () =>
                {
                    if (_recovery == recovery) RunRecovery(o => _recovery!.Tick(Local, o));
                });
                break;
            case PhaseEnded:
                break;
            case RecoveryLog l:
                if (trace.Enabled) trace.Line(world.Scheduler.Now, $"recovery {l.Level}: {SimLog.Format(l.Template, l.Args)}");
                break;
            case StartWriter s:
                StartWriter(s);
                break;
            case RecoveryEnded e:
                switch (e.Record.Outcome)
                {
                    case RecoveryOutcome.Opened:
                        _serving = true;
                        break;
                    default:   // failed or fenced: the supervisor serves no more (RecoverySupervisor.Ended)
                        _writer = null;
                        _ended = true;
                        if (trace.Enabled) trace.Line(world.Scheduler.Now, $"writer node: recovery ended {e.Record.Outcome}: {e.Record.Failure}");
                        break;
                }
                break;
            default:
                throw new InvalidOperationException($"the writer node cannot perform {output}");
        }
    }

    private void StartWriter(StartWriter start)
    {
        _writerNumber++;
        var writer = _writer = new WriterEngine(SimSettings.Writer(), geometry, start.Plan, Ticks, TimeSpan.TicksPerSecond, Local);
        var installed = start.Installed.Select(s => new InstalledReplica(s.Pg, s.Replica, s.Scl, world.Segment(s.Pg, s.Replica).Node.Address)).ToList();
        RunWriter((w, o) => w.Open(installed, start.Header, Local, o));
        ScheduleWriterTick(writer);
    }

    private void ScheduleWriterTick(WriterEngine writer)
    {
        world.Scheduler.After(WriterEngineSettings.TickInterval, Node, trace.Enabled ? "writer tick" : "", () =>
        {
            if (_writer != writer) return;
            RunWriter((w, o) => w.Tick(Local, o));
            ScheduleWriterTick(writer);
        });
    }

    // ---------------------------------------------------------------- the writer's outputs

    /// <summary>Runs one writer input and performs its outputs.</summary>
    public void RunWriter(Action<WriterEngine, List<WriterOutput>> input)
    {
        if (_writer is not { } writer) return;
        _wout.Clear();
        writer.ForgetSealed();
        input(writer, _wout);
        foreach (var output in _wout.ToArray()) PerformWriter(writer, output);
        if (_writer == writer && writer.State.IsFinal && writer.State is not WriterState.Fenced) WriterFailed(writer);
    }

    private void PerformWriter(WriterEngine writer, WriterOutput output)
    {
        var target = new ReplyTarget.WriterNode(Node.Incarnation, _writerNumber);
        switch (output)
        {
            case WriterOutput.SendToSegment s:
                world.ToSegment(Node, s.Pg, s.Replica, ToMessage(s.Pg, s.Replica, s.Message), target);
                break;
            case WriterOutput.ShipBatch b:
                foreach (var r in b.Records) world.Obs.Produced.Add(RecordHash.Of(r));
                for (var replica = 0; replica < VolumeGeometry.SegmentsPerPg; replica++)
                    if ((b.Replicas & (1 << replica)) != 0)
                        world.ToSegment(Node, b.Pg, replica, new RedoBatch(b.Pg, replica, writer.Epoch, b.Records, writer.Transactions.Vdl), target);
                break;
            case WriterOutput.ReplyToClient r:
                world.ClientSide.Reply(r.Client, r.Reply, writer.Epoch);
                break;
            case WriterOutput.CommitsDurable d:
                foreach (var c in d.Commits)
                    if (c.ReplyTo is ClientToken token) world.ClientSide.Durable(token, c, d.Vdl, writer.Epoch);
                break;
            case WriterOutput.CommitsAbandoned a:
                foreach (var c in a.Commits)
                    if (c.ReplyTo is ClientToken token) world.ClientSide.Reply(token, new ClientReply.Ambiguous(c, a.Reason), writer.Epoch);
                break;
            case WriterOutput.RetryWaiting w:
                foreach (var request in w.Requests) Rerun(writer, (ClientRequest)request);
                break;
            case WriterOutput.Rerun r:
                Rerun(writer, r.Request);
                break;
            case WriterOutput.Log l:
                if (trace.Enabled) trace.Line(world.Scheduler.Now, $"writer e{writer.Epoch} {l.Level}: {SimLog.Format(l.Template, l.Args)}");
                break;
            case WriterOutput.Opened o:
                RunRecovery(outs => _recovery!.WriterOpened(o.Detail, Local, outs));
                break;
            case WriterOutput.OpenFailed f:
                RunRecovery(outs => _recovery!.WriterOpenFailed(f.Failure, Local, outs));
                break;
            case WriterOutput.Fenced f:
                _recovery?.Fenced(f.Failure, Local);
                _serving = false;
                _ended = true;
                if (trace.Enabled) trace.Line(world.Scheduler.Now, $"writer e{writer.Epoch} fenced by epoch {f.ByEpoch}: {f.Failure}");
                break;
            case WriterOutput.SystemMtrDurable or WriterOutput.LocksGranted or WriterOutput.DrainEnded:
                break;   // carried out inside the engine (WriterEngine.Expand); a drain is never asked here
            default:
                throw new InvalidOperationException($"the writer shell cannot perform {output}");
        }
    }

    private object ToMessage(int pg, int replica, SegmentRequest request)
    {
        switch (request)
        {
            case SegmentRequest.Redo r:
                foreach (var record in r.Records) world.Obs.Produced.Add(RecordHash.Of(record));
                return new RedoBatch(pg, replica, r.Epoch, r.Records, r.WriterVdl);
            case SegmentRequest.ReadPage p: return new ReadPage(pg, replica, p.PageNo, p.ReadPoint, p.RequiredScl);
            case SegmentRequest.Fence f: return new GetSegmentState(pg, replica, f.FenceEpoch);
            case SegmentRequest.OpenEpoch o: return new OpenEpoch(pg, replica, o.Epoch, o.Vdl, o.TruncateTo, o.PgTail);
            default: throw new InvalidOperationException($"the writer shell cannot send {request}");
        }
    }

    /// <summary>A parked request runs again after the requests already queued: as a message the actor sends itself.</summary>
    private void Rerun(WriterEngine writer, ClientRequest request) =>
        world.Scheduler.After(TimeSpan.Zero, Node, trace.Enabled ? $"writer rerun {request.GetType().Name}" : "", () =>
        {
            if (_writer == writer) RunWriter((w, o) => w.Rerun(request, Ticks(), Local, o));
        });

    /// <summary>The writer failed on its own (not fenced): as RecoverySupervisor.OnTerminated, the recovery is abandoned
    /// and a new one (a new epoch) starts after the back-off.</summary>
    private void WriterFailed(WriterEngine writer)
    {
        var reason = $"the writer of epoch {writer.Epoch} failed ({writer.State.Name})";
        _writer = null;
        _serving = false;
        _recovery!.Abandon(reason, Local);
        _consecutiveFailures++;
        var recovery = _recovery;
        world.Scheduler.After(SimSettings.RestartDelay(_consecutiveFailures), Node, trace.Enabled ? "begin recovery after a writer failure" : "", () =>
        {
            if (_recovery == recovery && !_ended) BeginRecovery(reason);
        });
    }

    // ---------------------------------------------------------------- client requests

    /// <summary>A client request arrived: run it on the serving writer, or answer that none serves.</summary>
    public void FromClient(ClientToken token, Action<WriterEngine, List<WriterOutput>> request, Func<ClientReply> unavailable)
    {
        if (Serving is null)
        {
            world.ClientSide.Reply(token, unavailable(), 0);
            return;
        }
        RunWriter(request);
    }
}
