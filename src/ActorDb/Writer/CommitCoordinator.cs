using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.Event;
using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Core.Metrics;
using ActorDb.Core.Transactions;
using ActorDb.Metrics;

namespace ActorDb.Writer;

/// <summary>
/// Sends the commit acknowledgements of one writer (design.md, "Commit"). The writer records each committing
/// transaction in its list of commits waiting for VDL and moves on; when VDL passes commit LSNs it hands the ones now
/// durable to this actor in one <see cref="Durable"/> message, and this actor replies to each client, records the
/// commit's latency and where its time went (<see cref="WriterMetrics.CommitDuration"/>,
/// <see cref="WriterMetrics.CommitPhaseDuration"/>), and logs a commit slower than the slow-commit threshold once, with
/// that breakdown. This is Aurora's dedicated commit thread: "as VDL advances, a dedicated thread sends commit
/// acknowledgements to the waiting clients" (Verbitski et al., SIGMOD 2017, §4.2.2; SIGMOD 2018, §2.3).
/// </summary>
/// <remarks>
/// One per writer (its child <c>commit-coordinator</c>), not one actor per transaction: at 30,000 commits/s on 2 cores,
/// creating and stopping a child per commit took about 40% of the writer thread's time (perf), and the writer is the
/// volume's one serial point. Handing commits over costs one message per VDL advance, not one per commit.
/// </remarks>
public sealed class CommitCoordinator : ReceiveActor
{
    /// <summary>VDL has reached <paramref name="Vdl"/>, at or above the commit LSN of every one of <paramref name="Commits"/>:
    /// acknowledge them. Each commit's <see cref="WaitingCommit.ReplyTo"/> is the client's <see cref="IActorRef"/>; a commit
    /// <see cref="WaitingCommit.WithStatement"/> is answered with a <see cref="WriterProtocol.StatementReply"/> carrying its
    /// result, a plain one with a <see cref="WriterProtocol.CommitReply"/>. The writer hands them over and no longer touches them.</summary>
    public sealed record Durable(Lsn Vdl, IReadOnlyList<WaitingCommit> Commits);

    /// <summary>The writer can no longer make <paramref name="Commits"/> durable (fenced, stopped): their outcome is
    /// ambiguous. With <paramref name="FencedByEpoch"/> (the writer was fenced by that epoch) each client gets a
    /// <see cref="StaleEpochException"/> marked ambiguous, otherwise an <see cref="AmbiguousCommitException"/>.</summary>
    public sealed record Abandoned(string Reason, IReadOnlyList<WaitingCommit> Commits, long FencedByEpoch = 0);

    /// <summary>Sends <paramref name="Reply"/> to <paramref name="ReplyTo"/> once every message the writer sent before this
    /// one is handled: the writer's <see cref="WriterProtocol.Drained"/> goes through here, so whoever stops the writer
    /// after a drain (its supervisor, a hand-over) does so only after every client was answered. Messages still queued
    /// in a stopped actor's mailbox are dropped, not handled.</summary>
    public sealed record Flush(IActorRef ReplyTo, object Reply);

    private readonly TimeSpan _slowCommitThreshold;
    private readonly WriterMetrics? _metrics;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly RepeatedConditions _slowCommits = new();   // a slow commit is logged in full when they start, then counted

    /// <summary>Props for a writer's coordinator; it logs commits slower than <paramref name="slowCommitThreshold"/> and
    /// records into <paramref name="metrics"/> when given.</summary>
    public static Props Props(TimeSpan slowCommitThreshold, WriterMetrics? metrics = null) =>
        Akka.Actor.Props.Create(() => new CommitCoordinator(slowCommitThreshold, metrics));

    /// <summary>Creates the coordinator; see <see cref="Props"/>.</summary>
    public CommitCoordinator(TimeSpan slowCommitThreshold, WriterMetrics? metrics)
    {
        _slowCommitThreshold = slowCommitThreshold;
        _metrics = metrics;
        Receive<Durable>(d =>
        {
            foreach (var c in d.Commits)
            {
                var info = new CommitInfo(c.CommitLsn.Value, d.Vdl.Value);
                Client(c).Tell(c.WithStatement
                    ? new WriterProtocol.StatementReply(c.TxnId, c.Result, null, false, info)
                    : new WriterProtocol.CommitReply(c.TxnId, info, null));
                Completed(c, Stopwatch.GetTimestamp());
            }
        });
        Receive<Abandoned>(a =>
        {
            foreach (var c in a.Commits) Client(c).Tell(AmbiguousReply(c, a.Reason, a.FencedByEpoch));
        });
        Receive<Flush>(f => f.ReplyTo.Tell(f.Reply));
    }

    /// <summary>The reply for a commit whose outcome cannot be known: <see cref="AmbiguousCommitException"/> naming the
    /// transaction, commit LSN, epoch and <paramref name="reason"/>, or, when fenced by <paramref name="fencedByEpoch"/>
    /// (&gt; 0), a <see cref="StaleEpochException"/> marked ambiguous. Also what the writer sends for commits it still
    /// held when it stopped.</summary>
    public static object AmbiguousReply(WaitingCommit c, string reason, long fencedByEpoch = 0)
    {
        var message = $"transaction {c.TxnId}: commit LSN {c.CommitLsn} in epoch {c.Epoch} was sent but not acknowledged: {reason}";
        ActorDbException error = fencedByEpoch > 0
            ? new StaleEpochException($"{message} (stale epoch: fenced by epoch {fencedByEpoch}; read back what it wrote)", ambiguous: true)
            : new AmbiguousCommitException(message);
        return c.WithStatement
            ? new WriterProtocol.StatementReply(c.TxnId, null, error, true)
            : new WriterProtocol.CommitReply(c.TxnId, null, error);
    }

    /// <summary>The client a handed-over commit answers to.</summary>
    /// <exception cref="InvalidOperationException">the commit carries no actor to answer (a system MTR, or a writer bug).</exception>
    private static IActorRef Client(WaitingCommit c) =>
        c.ReplyTo as IActorRef ?? throw new InvalidOperationException($"{c} has no client to answer");

    /// <summary>After the reply: records the commit's metrics and logs it once when it was slower than the threshold.
    /// A commit that never becomes durable is not logged here: the writer's stalled-PG warning names what it waits for.</summary>
    private void Completed(WaitingCommit c, long replied)
    {
        var t = c.Times;
        _metrics?.RecordCommit(t, replied);
        var start = t.Requested != 0 ? t.Requested : t.Received;
        if (start == 0) return;
        var total = Stopwatch.GetElapsedTime(start, replied);
        var now = DateTime.UtcNow;
        if (_slowCommits.Count > 0)   // summaries and the end come with the next commits (this actor has no tick)
            foreach (var line in _slowCommits.Due(now))
            {
                if (line.Ended) _log.Info("Slow commits ended: {Count} in all", line.Total);
                else _log.Warning("Still slow commits: {Count} more since the last line (over {ThresholdMs} ms each)", line.Count, _slowCommitThreshold.TotalMilliseconds);
            }
        if (total < _slowCommitThreshold) return;
        if (!_slowCommits.Occurred("slow commits", now)) return;
        static string F(double? ms) => ms is { } v ? v.ToString("0.###", CultureInfo.InvariantCulture) : "n/a";
        var replicate = CommitTimes.Ms(t.Shipped, t.Quorum);
        var fsync = t.FsyncTicks * 1000.0 / Stopwatch.Frequency;
        _log.Warning(
            "Slow commit: transaction {TxnId} commit LSN {Lsn} in epoch {Epoch} took {Ms} ms: queue {QueueMs} ms, execute {ExecuteMs} ms, " +
            "batch {BatchMs} ms, network {NetworkMs} ms, fsync {FsyncMs} ms, vdl {VdlMs} ms, reply {ReplyMs} ms (further slow commits are summarised every 10 s)",
            new object[]
            {
                c.TxnId, c.CommitLsn, c.Epoch, F(total.TotalMilliseconds), F(CommitTimes.Ms(t.Requested, t.Received)), F(CommitTimes.Ms(t.Received, t.Sealed)),
                F(CommitTimes.Ms(t.Sealed, t.Shipped)), F(replicate is { } r ? Math.Max(0, r - fsync) : null), F(replicate is null ? null : Math.Min(fsync, replicate.Value)),
                F(CommitTimes.Ms(t.Quorum, t.Durable)), F(CommitTimes.Ms(t.Durable, replied)),
            });
    }
}
