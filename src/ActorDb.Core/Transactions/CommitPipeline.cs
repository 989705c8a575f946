using ActorDb.Core.Placement;
using ActorDb.Core.Redo;

namespace ActorDb.Core.Transactions;

/// <summary>What the <see cref="CommitPipeline"/> and the <see cref="WriterEngine"/> ask their shell to do, in the order given.</summary>
public abstract record WriterOutput
{
    private WriterOutput() { }

    /// <summary>Send <paramref name="Records"/> (one batch of <paramref name="Pg"/>, in LSN order) to each replica whose bit
    /// is set in <paramref name="Replicas"/> (bit r: replica r); <paramref name="FrameBytes"/> is the batch's size on the
    /// wire per replica, bytes.</summary>
    public sealed record ShipBatch(int Pg, RedoRecord[] Records, int Replicas, long FrameBytes) : WriterOutput;

    /// <summary>VDL reached <paramref name="Vdl"/>: answer each of <paramref name="Commits"/> (client commits, already
    /// marked answered, in commit LSN order) as durable.</summary>
    public sealed record CommitsDurable(Lsn Vdl, IReadOnlyList<WaitingCommit> Commits) : WriterOutput;

    /// <summary>A system MTR (format, DDL) is durable: run its <see cref="WaitingCommit.ReplyTo"/> continuation.</summary>
    public sealed record SystemMtrDurable(WaitingCommit Commit) : WriterOutput;

    /// <summary>Lock requests granted by the commits that became durable: resume those transactions.</summary>
    public sealed record LocksGranted(IReadOnlyList<(long Txn, RowId Row)> Granted) : WriterOutput;

    /// <summary>Requests that waited for LAL (opaque tokens of the shell, in arrival order): run them again.</summary>
    public sealed record RetryWaiting(IReadOnlyList<object> Requests) : WriterOutput;

    /// <summary>The writer can no longer make <paramref name="Commits"/> durable: answer them as ambiguous for
    /// <paramref name="Reason"/>; <paramref name="FencedByEpoch"/> &gt; 0 when a newer epoch fenced it.</summary>
    public sealed record CommitsAbandoned(string Reason, IReadOnlyList<WaitingCommit> Commits, long FencedByEpoch) : WriterOutput;

    /// <summary>Send <paramref name="Message"/> to segment <paramref name="Replica"/> of <paramref name="Pg"/>: straight to
    /// its actor when the shell knows it, else through the shard region; with <paramref name="ViaRegion"/> always through
    /// the region (messages that must arrive in order, or to a segment with no node).</summary>
    public sealed record SendToSegment(int Pg, int Replica, SegmentRequest Message, bool ViaRegion = false) : WriterOutput;

    /// <summary>Answer <paramref name="Client"/> (the shell's opaque reply target) with <paramref name="Reply"/>.</summary>
    public sealed record ReplyToClient(object Client, ClientReply Reply) : WriterOutput;

    /// <summary>Run <paramref name="Request"/> again (<see cref="WriterEngine.Rerun"/>) after the requests already queued:
    /// its row lock was granted or its page arrived.</summary>
    public sealed record Rerun(ClientRequest Request) : WriterOutput;

    /// <summary>Log a line: a message template with named holes (<c>{Epoch}</c>) and their values, in order.</summary>
    public sealed record Log(EngineLogLevel Level, string Template, params object[] Args) : WriterOutput;

    /// <summary>The volume is open in <paramref name="Epoch"/> (catalog loaded, or a new volume formatted durably): tell
    /// the supervisor, with <paramref name="Detail"/>.</summary>
    public sealed record Opened(long Epoch, string Detail) : WriterOutput;

    /// <summary>The volume cannot be opened (<paramref name="Failure"/>): tell the supervisor; the writer serves nothing.</summary>
    public sealed record OpenFailed(long Epoch, string Failure) : WriterOutput;

    /// <summary>A segment in <paramref name="ByEpoch"/> fenced this writer of <paramref name="Epoch"/>: tell the supervisor.</summary>
    public sealed record Fenced(long Epoch, long ByEpoch, string Failure) : WriterOutput;

    /// <summary>A drain ended with <paramref name="CommitsNotDurable"/> commits not durable: answer <paramref name="Client"/>
    /// after every answer handed on before (through the commit coordinator).</summary>
    public sealed record DrainEnded(object Client, int CommitsNotDurable) : WriterOutput;
}

/// <summary>How the writer takes a segment's rejection of redo (see <see cref="CommitPipeline.Judge"/>).</summary>
public enum RedoRejectionVerdict
{
    /// <summary>The segment does not take this writer's node as its epoch's writer: resending cannot help.</summary>
    Refused,
    /// <summary>The segment is in a newer epoch: this writer steps down (<see cref="CommitPipeline.StepDown"/>).</summary>
    Fenced,
    /// <summary>The segment missed this epoch's change: fence and open it at this epoch, then resend.</summary>
    Reopen,
    /// <summary>The segment rejects redo for a fault of its own (full, failed): a repeated condition, logged as one.</summary>
    Rejecting,
}

/// <summary>
/// The writer's commit bookkeeping (design.md, "Commit"), free of actors and clocks: around the
/// <see cref="TransactionEngine"/> (which seals MTRs, tracks quorum points and VDL, and queues the
/// <see cref="WaitingCommit"/>s), it decides when a PG's redo leaves (pipelined batching: at most
/// <c>maxBatchesInFlightPerPg</c> batches of a PG await a write quorum, further records accumulate and leave together when
/// an ack frees a slot), which commits an ack makes durable and hands on, which requests waited for LAL and may run again,
/// and what a newer epoch's rejection does to the writer (<see cref="WriterState"/>). Each input returns its outputs
/// (<see cref="WriterOutput"/>) appended to the caller's list; the writer actor performs them in order.
/// </summary>
/// <remarks>
/// Time comes in as arguments: <c>now</c> (UTC, for quorum progress) and <c>ticks</c> (the shell's Stopwatch timestamp, for
/// the commit timestamps only: no rule reads them). Per ack it allocates at most the durable list; per commit nothing but
/// the <see cref="WaitingCommit"/> the engine sealed. Single-threaded: the writer actor owns it.
/// </remarks>
public sealed class CommitPipeline
{
    private readonly TransactionEngine _engine;
    private readonly SegmentLinks _links;
    private readonly int _maxBatchesInFlightPerPg;
    private readonly Queue<(Lsn Last, long SentTicks)>[] _batchesInFlight;
    /// <summary>Per PG, the commits whose commit record is in that PG, in LSN order: not yet sent, and sent but not yet on a
    /// write quorum. Only for timing: an entry already answered (fenced, drained) is skipped.</summary>
    private readonly Queue<WaitingCommit>[] _unshipped, _unquorate;
    private readonly DateTime[] _quorumProgress;
    private readonly List<object> _waitingForLal = new();

    /// <summary>A pipeline over <paramref name="engine"/>, shipping only to segments <paramref name="links"/> holds live,
    /// with at most <paramref name="maxBatchesInFlightPerPg"/> batches per PG awaiting a write quorum; <paramref name="now"/>
    /// starts every PG's quorum-progress clock.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBatchesInFlightPerPg"/> &lt; 1.</exception>
    public CommitPipeline(TransactionEngine engine, SegmentLinks links, int maxBatchesInFlightPerPg, DateTime now)
    {
        if (maxBatchesInFlightPerPg < 1) throw new ArgumentOutOfRangeException(nameof(maxBatchesInFlightPerPg), maxBatchesInFlightPerPg, "at least one batch per PG must be allowed in flight");
        _engine = engine;
        _links = links;
        _maxBatchesInFlightPerPg = maxBatchesInFlightPerPg;
        var pgs = engine.Geometry.PgCount;
        _batchesInFlight = new Queue<(Lsn, long)>[pgs];
        _unshipped = new Queue<WaitingCommit>[pgs];
        _unquorate = new Queue<WaitingCommit>[pgs];
        _quorumProgress = new DateTime[pgs];
        for (var pg = 0; pg < pgs; pg++)
        {
            _batchesInFlight[pg] = new Queue<(Lsn, long)>();
            _unshipped[pg] = new Queue<WaitingCommit>();
            _unquorate[pg] = new Queue<WaitingCommit>();
            _quorumProgress[pg] = now;
        }
    }

    /// <summary>The writer's life-cycle state; moved only through <see cref="WriterState.Transition"/>.</summary>
    public WriterState State { get; private set; } = WriterState.Opening.Instance;

    /// <summary>Batches sent so far (each to up to six replicas).</summary>
    public long Batches { get; private set; }
    /// <summary>Redo bytes sent so far, counted once per replica.</summary>
    public long BytesShipped { get; private set; }
    /// <summary>Batches that reached a write quorum, and their summed time from send to quorum (shell ticks).</summary>
    public (long Count, long Ticks) BatchQuorums => (_batchesQuorate, _batchQuorumTicks);
    private long _batchesQuorate, _batchQuorumTicks;

    /// <summary>Requests waiting for LAL.</summary>
    public int WaitingForLal => _waitingForLal.Count;

    /// <summary>When <paramref name="pg"/>'s write-quorum LSN last advanced, or its first batch in flight left (UTC).</summary>
    public DateTime QuorumProgress(int pg) => _quorumProgress[pg];

    /// <summary>Moves the writer to <paramref name="next"/>.</summary>
    /// <exception cref="InvalidOperationException">the life cycle forbids the move.</exception>
    public void MoveTo(WriterState next) => State = State.Transition(next);

    /// <summary>Input: the engine sealed <paramref name="commit"/> (its reply target and timestamps set by the shell); it
    /// waits for VDL. Ship to send it.</summary>
    public void Sealed(WaitingCommit commit) => _unshipped[commit.Pg].Enqueue(commit);

    /// <summary>Input: a commit (or DDL) could not allocate under LAL; <paramref name="request"/> (an opaque token) runs
    /// again when VDL advances (<see cref="WriterOutput.RetryWaiting"/>).</summary>
    public void WaitForLal(object request) => _waitingForLal.Add(request);

    /// <summary>
    /// Input: redo may leave. Every PG with unsent redo and a free in-flight slot sends all of it as one batch, to the
    /// replicas live now (<see cref="SegmentLinks.Live"/>; the others find it in the resend window when they answer again).
    /// </summary>
    public void Ship(DateTime now, long ticks, List<WriterOutput> outputs)
    {
        foreach (var outbox in _engine.Outboxes)
        {
            var pg = outbox.Pg;
            var inFlight = _batchesInFlight[pg];
            if (outbox.UnsentCount == 0 || inFlight.Count >= _maxBatchesInFlightPerPg) continue;
            if (inFlight.Count == 0) _quorumProgress[pg] = now;
            var records = outbox.TakeBatch(ticks);
            var last = records[^1].Lsn;
            inFlight.Enqueue((last, ticks));
            Batches++;
            long bytes = 0;
            foreach (var r in records) bytes += RedoCodec.FrameSize(r);
            BytesShipped += bytes * VolumeGeometry.SegmentsPerPg;
            var replicas = 0;
            for (var r = 0; r < VolumeGeometry.SegmentsPerPg; r++)
            {
                if (!_links.Live(pg, r, now)) continue;
                replicas |= 1 << r;
                _links.Shipped(pg, r, now);
            }
            outputs.Add(new WriterOutput.ShipBatch(pg, records, replicas, bytes));
            var unshipped = _unshipped[pg];
            while (unshipped.Count > 0 && unshipped.Peek().CommitLsn <= last)
            {
                var c = unshipped.Dequeue();
                if (c.Answered) continue;
                c.Times = c.Times with { Shipped = ticks };
                _unquorate[pg].Enqueue(c);
            }
        }
    }

    /// <summary>
    /// Input: segment <paramref name="replica"/> of <paramref name="pg"/> acknowledged every record of its PG up to
    /// <paramref name="scl"/> in <paramref name="epoch"/> (an ack of another epoch is ignored), its fsync taking
    /// <paramref name="syncTicks"/>. A commit is answered only once VDL passes it, which needs a write quorum in every PG
    /// up to its commit LSN (<see cref="Quorum.QuorumTracker"/>). Outputs, in order: the durable system MTRs and client
    /// commits, the lock requests granted, the requests that waited for LAL, and the batches the ack let leave.
    /// </summary>
    public void OnAck(int pg, int replica, long epoch, Lsn scl, long syncTicks, DateTime now, long ticks, List<WriterOutput> outputs)
    {
        if (epoch != _engine.Epoch) return;
        var quorumBefore = _engine.Tracker.PgQuorumLsn(pg);
        var (durable, granted) = _engine.OnAck(pg, replica, scl);
        var quorum = _engine.Tracker.PgQuorumLsn(pg);
        if (quorum > quorumBefore)
        {
            _quorumProgress[pg] = now;
            var inFlight = _batchesInFlight[pg];
            while (inFlight.Count > 0 && inFlight.Peek().Last <= quorum)
            {
                _batchQuorumTicks += ticks - inFlight.Dequeue().SentTicks;
                _batchesQuorate++;
            }
            // Commits this ack brought onto a write quorum: its segment's sync is the fsync they waited for.
            var unquorate = _unquorate[pg];
            while (unquorate.Count > 0 && unquorate.Peek().CommitLsn <= quorum)
            {
                var c = unquorate.Dequeue();
                if (!c.Answered) c.Times = c.Times with { Quorum = ticks, FsyncTicks = syncTicks };
            }
        }
        if (durable.Count > 0)
        {
            List<WaitingCommit>? acknowledge = null;
            foreach (var c in durable)
            {
                if (c.Answered) continue;
                c.MarkAnswered();
                if (c.TxnId == 0) outputs.Add(new WriterOutput.SystemMtrDurable(c));
                else
                {
                    c.Times = c.Times with { Durable = ticks };
                    (acknowledge ??= new(durable.Count)).Add(c);
                }
            }
            if (acknowledge is not null) outputs.Add(new WriterOutput.CommitsDurable(_engine.Vdl, acknowledge));
        }
        if (granted.Count > 0) outputs.Add(new WriterOutput.LocksGranted(granted));
        if (durable.Count > 0 && _waitingForLal.Count > 0)
        {
            outputs.Add(new WriterOutput.RetryWaiting(_waitingForLal.ToArray()));
            _waitingForLal.Clear();
        }
        if (_engine.Outboxes[pg].UnsentCount > 0) Ship(now, ticks, outputs);
    }

    /// <summary>The rule for a segment's rejection of redo from a writer of <paramref name="writerEpoch"/>: refused (not
    /// this epoch's writer node), fenced (<paramref name="staleEpoch"/> with a newer <paramref name="segmentEpoch"/>),
    /// reopen (the segment is behind this epoch), otherwise a fault of the segment's own.</summary>
    public static RedoRejectionVerdict Judge(bool refused, bool staleEpoch, long segmentEpoch, long writerEpoch) =>
        refused ? RedoRejectionVerdict.Refused
        : staleEpoch && segmentEpoch > writerEpoch ? RedoRejectionVerdict.Fenced
        : segmentEpoch < writerEpoch ? RedoRejectionVerdict.Reopen
        : RedoRejectionVerdict.Rejecting;

    /// <summary>
    /// Input: a segment is in <paramref name="byEpoch"/>, newer than this writer's. The writer becomes
    /// <see cref="WriterState.Fenced"/>: a commit in flight may or may not have reached the read quorum the new epoch
    /// recovered from, so each is abandoned as ambiguous (<see cref="WriterOutput.CommitsAbandoned"/>); the requests that
    /// waited for LAL are returned (<see cref="WriterOutput.RetryWaiting"/> is not emitted: the caller answers them with
    /// the error) and forgotten.
    /// </summary>
    /// <returns>The requests that were waiting for LAL, to be answered with an error.</returns>
    /// <exception cref="InvalidOperationException">the writer is already in a final state.</exception>
    public IReadOnlyList<object> StepDown(long byEpoch, string reason, List<WriterOutput> outputs)
    {
        MoveTo(new WriterState.Fenced(byEpoch, reason));
        Abandon(reason, byEpoch, outputs);
        return TakeWaitingForLal();
    }

    /// <summary>Input: the writer gives up on every client commit still waiting for VDL (a drain ends, a fence): each is
    /// marked answered and handed on as ambiguous; the timing queues are cleared.</summary>
    public void Abandon(string reason, long fencedByEpoch, List<WriterOutput> outputs)
    {
        List<WaitingCommit>? abandoned = null;
        foreach (var c in _engine.Committing)
        {
            if (c.Answered || c.TxnId == 0) continue;
            c.MarkAnswered();
            (abandoned ??= new()).Add(c);
        }
        if (abandoned is not null) outputs.Add(new WriterOutput.CommitsAbandoned(reason, abandoned, fencedByEpoch));
        foreach (var q in _unshipped) q.Clear();
        foreach (var q in _unquorate) q.Clear();
    }

    /// <summary>The requests still waiting for LAL, taken (for a writer that stops: each gets an error).</summary>
    public IReadOnlyList<object> TakeWaitingForLal()
    {
        var waiting = _waitingForLal.ToArray();
        _waitingForLal.Clear();
        return waiting;
    }
}
