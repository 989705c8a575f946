using Akka.Actor;
using Akka.Event;
using ActorDb.Client;
using ActorDb.Core;

namespace ActorDb.Writer;

/// <summary>
/// Owns the client's reply for one committing transaction (design.md, "Commit"): the writer creates one per commit
/// with the commit LSN, and tells it when VDL passes that LSN (<see cref="Durable"/>) or when the outcome can no longer
/// be known (<see cref="Abandoned"/>). It logs the commit once when it is slower than the slow-commit threshold. One
/// message in, one reply out: the ack path costs one message per transaction, not per segment.
/// </summary>
/// <remarks>An <see cref="UntypedActor"/> made by an <see cref="IIndirectActorProducer"/>: one is created per commit,
/// so it avoids the per-instance handler table of a ReceiveActor and the reflection of expression-based Props.</remarks>
public sealed class CommitCoordinator : UntypedActor
{
    /// <summary>VDL has reached the commit LSN.</summary>
    public sealed record Durable(Lsn Vdl);

    /// <summary>The writer can no longer make the commit durable (fenced, stopped): the outcome is ambiguous. With
    /// <paramref name="FencedByEpoch"/> (the writer was fenced by that epoch) the client gets a
    /// <see cref="StaleEpochException"/> marked ambiguous, otherwise an <see cref="AmbiguousCommitException"/>.</summary>
    public sealed record Abandoned(string Reason, long FencedByEpoch = 0);

    private readonly long _txnId;
    private readonly Lsn _commitLsn;
    private readonly long _epoch;
    private readonly IActorRef _client;
    private readonly long _started = Environment.TickCount64;
    private readonly StatementResult? _statement;
    private bool _replied;

    /// <summary>The result of the statement that committed with <see cref="WriterProtocol.ExecuteStatement.Commit"/>: the
    /// coordinator then answers with a <see cref="WriterProtocol.StatementReply"/> carrying it.</summary>
    public sealed record StatementResult(object? Result);

    /// <summary>Props for the coordinator of <paramref name="txnId"/>, replying to <paramref name="client"/> with a
    /// <see cref="WriterProtocol.CommitReply"/>, or, given <paramref name="statement"/>, a <see cref="WriterProtocol.StatementReply"/>.</summary>
    public static Props Props(long txnId, Lsn commitLsn, long epoch, IActorRef client, TimeSpan slowCommitThreshold, StatementResult? statement = null) =>
        Akka.Actor.Props.CreateBy(new Producer(txnId, commitLsn, epoch, client, slowCommitThreshold, statement));

    /// <summary>Creates the coordinator; see <see cref="Props"/>.</summary>
    public CommitCoordinator(long txnId, Lsn commitLsn, long epoch, IActorRef client, TimeSpan slowCommitThreshold, StatementResult? statement)
    {
        _txnId = txnId;
        _commitLsn = commitLsn;
        _epoch = epoch;
        _client = client;
        _statement = statement;
        Context.SetReceiveTimeout(slowCommitThreshold);
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
                break;
            case Abandoned a:
                ReplyAmbiguous(a.Reason, a.FencedByEpoch);
                Context.Stop(Self);
                break;
            case ReceiveTimeout:
                Context.GetLogger().Warning("Slow commit: transaction {TxnId} commit LSN {Lsn} in epoch {Epoch} not durable after {Ms} ms",
                    _txnId, _commitLsn, _epoch, Environment.TickCount64 - _started);
                Context.SetReceiveTimeout(null);
                break;
            default:
                Unhandled(message);
                break;
        }
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

    private sealed class Producer(long txnId, Lsn commitLsn, long epoch, IActorRef client, TimeSpan slowCommitThreshold, StatementResult? statement) : IIndirectActorProducer
    {
        public Type ActorType => typeof(CommitCoordinator);
        public ActorBase Produce() => new CommitCoordinator(txnId, commitLsn, epoch, client, slowCommitThreshold, statement);
        public void Release(ActorBase actor) { }
    }
}
