using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Metrics;

namespace ActorDb.Writer;

/// <summary>
/// Owns the client's reply for one committing transaction (design.md, "Commit"): the writer creates one per commit
/// with the commit LSN, and tells it when VDL passes that LSN (<see cref="Durable"/>) or when the outcome can no longer
/// be known (<see cref="Abandoned"/>). Once it has replied it records the commit's latency and where the time went
/// (<see cref="WriterMetrics.CommitDuration"/>, <see cref="WriterMetrics.CommitPhaseDuration"/>), off the writer's thread,
/// and a commit slower than the slow-commit threshold is logged once, with that breakdown. One message in, one reply out:
/// the ack path costs one message per transaction, not per segment.
/// </summary>
/// <remarks>An <see cref="UntypedActor"/> made by an <see cref="IIndirectActorProducer"/>: one is created per commit,
/// so it avoids the per-instance handler table of a ReceiveActor and the reflection of expression-based Props.</remarks>
public sealed class CommitCoordinator : UntypedActor
{
    /// <summary>VDL has reached the commit LSN; <paramref name="Times"/> are the points the commit passed in the writer
    /// (default: unknown, then the commit's time counts from the coordinator's start).</summary>
    public sealed record Durable(Lsn Vdl, CommitTimes Times = default);

    /// <summary>The writer can no longer make the commit durable (fenced, stopped): the outcome is ambiguous. With
    /// <paramref name="FencedByEpoch"/> (the writer was fenced by that epoch) the client gets a
    /// <see cref="StaleEpochException"/> marked ambiguous, otherwise an <see cref="AmbiguousCommitException"/>.</summary>
    public sealed record Abandoned(string Reason, long FencedByEpoch = 0);

    private readonly long _txnId;
    private readonly Lsn _commitLsn;
    private readonly long _epoch;
    private readonly IActorRef _client;
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly StatementResult? _statement;
    private readonly TimeSpan _slowCommitThreshold;
    private readonly WriterMetrics? _metrics;
    private bool _replied;

    /// <summary>The result of the statement that committed with <see cref="WriterProtocol.ExecuteStatement.Commit"/>: the
    /// coordinator then answers with a <see cref="WriterProtocol.StatementReply"/> carrying it.</summary>
    public sealed record StatementResult(object? Result);

    /// <summary>Props for the coordinator of <paramref name="txnId"/>, replying to <paramref name="client"/> with a
    /// <see cref="WriterProtocol.CommitReply"/>, or, given <paramref name="statement"/>, a <see cref="WriterProtocol.StatementReply"/>;
    /// it records into <paramref name="metrics"/> when given.</summary>
    public static Props Props(long txnId, Lsn commitLsn, long epoch, IActorRef client, TimeSpan slowCommitThreshold, StatementResult? statement = null,
        WriterMetrics? metrics = null) =>
        Akka.Actor.Props.CreateBy(new Producer(txnId, commitLsn, epoch, client, slowCommitThreshold, statement, metrics));

    /// <summary>Creates the coordinator; see <see cref="Props"/>.</summary>
    public CommitCoordinator(long txnId, Lsn commitLsn, long epoch, IActorRef client, TimeSpan slowCommitThreshold, StatementResult? statement,
        WriterMetrics? metrics = null)
    {
        _txnId = txnId;
        _commitLsn = commitLsn;
        _epoch = epoch;
        _client = client;
        _statement = statement;
        _slowCommitThreshold = slowCommitThreshold;
        _metrics = metrics;
    }

    /// <inheritdoc />
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Durable d:
                var info = new CommitInfo(_commitLsn.Value, d.Vdl.Value);
                _client.Tell(_statement is null
                    ? new WriterProtocol.CommitReply(_txnId, info, null)
                    : new WriterProtocol.StatementReply(_txnId, _statement.Result, null, false, info));
                _replied = true;
                Context.Stop(Self);
                Completed(d.Times, Stopwatch.GetTimestamp());
                break;
            case Abandoned a:
                ReplyAmbiguous(a.Reason, a.FencedByEpoch);
                Context.Stop(Self);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>After the reply: records the commit's metrics and logs it once when it was slower than the threshold.
    /// A commit that never becomes durable is not logged here: the writer's stalled-PG warning names what it waits for.</summary>
    private void Completed(in CommitTimes times, long replied)
    {
        var t = times.Received == 0 ? times with { Received = _started } : times;
        _metrics?.RecordCommit(t, replied);
        var start = t.Requested != 0 ? t.Requested : t.Received;
        var total = Stopwatch.GetElapsedTime(start, replied);
        if (total < _slowCommitThreshold) return;
        static string F(double? ms) => ms is { } v ? v.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) : "n/a";
        var replicate = CommitTimes.Ms(t.Shipped, t.Quorum);
        var fsync = t.FsyncTicks * 1000.0 / Stopwatch.Frequency;
        Context.GetLogger().Warning(
            "Slow commit: transaction {TxnId} commit LSN {Lsn} in epoch {Epoch} took {Ms} ms: queue {QueueMs} ms, execute {ExecuteMs} ms, " +
            "batch {BatchMs} ms, network {NetworkMs} ms, fsync {FsyncMs} ms, vdl {VdlMs} ms, reply {ReplyMs} ms",
            new object[]
            {
                _txnId, _commitLsn, _epoch, F(total.TotalMilliseconds), F(CommitTimes.Ms(t.Requested, t.Received)), F(CommitTimes.Ms(t.Received, t.Sealed)),
                F(CommitTimes.Ms(t.Sealed, t.Shipped)), F(replicate is { } r ? Math.Max(0, r - fsync) : null), F(replicate is null ? null : Math.Min(fsync, replicate.Value)),
                F(CommitTimes.Ms(t.Quorum, t.Durable)), F(CommitTimes.Ms(t.Durable, replied)),
            });
    }

    /// <summary>Stopped without an outcome (its writer failed or was stopped): the client learns now that the commit is
    /// ambiguous, instead of waiting for its timeout.</summary>
    protected override void PostStop()
    {
        if (!_replied) ReplyAmbiguous("the writer stopped before the commit was durable", 0);
    }

    private void ReplyAmbiguous(string reason, long fencedByEpoch)
    {
        var message = $"transaction {_txnId}: commit LSN {_commitLsn} in epoch {_epoch} was sent but not acknowledged: {reason}";
        ActorDbException error = fencedByEpoch > 0
            ? new StaleEpochException($"{message} (stale epoch: fenced by epoch {fencedByEpoch}; read back what it wrote)", ambiguous: true)
            : new AmbiguousCommitException(message);
        _client.Tell(_statement is null
            ? new WriterProtocol.CommitReply(_txnId, null, error)
            : new WriterProtocol.StatementReply(_txnId, null, error, true));
        _replied = true;
    }

    private sealed class Producer(long txnId, Lsn commitLsn, long epoch, IActorRef client, TimeSpan slowCommitThreshold, StatementResult? statement,
        WriterMetrics? metrics) : IIndirectActorProducer
    {
        public Type ActorType => typeof(CommitCoordinator);
        public ActorBase Produce() => new CommitCoordinator(txnId, commitLsn, epoch, client, slowCommitThreshold, statement, metrics);
        public void Release(ActorBase actor) { }
    }
}
