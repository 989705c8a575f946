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

    /// <summary>The writer can no longer make the commit durable (fenced, stopped): the outcome is ambiguous.</summary>
    public sealed record Abandoned(string Reason);

    private readonly long _txnId;
    private readonly Lsn _commitLsn;
    private readonly long _epoch;
    private readonly IActorRef _client;
    private readonly long _started = Environment.TickCount64;
    private readonly StatementResult? _statement;

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
                Context.Stop(Self);
                break;
            case Abandoned a:
                var error = new AmbiguousCommitException(
                    $"transaction {_txnId}: commit LSN {_commitLsn} in epoch {_epoch} was sent but not acknowledged: {a.Reason}");
                _client.Tell(_statement is null
                    ? new WriterProtocol.CommitReply(_txnId, null, error)
                    : new WriterProtocol.StatementReply(_txnId, null, error, true));
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

    private sealed class Producer(long txnId, Lsn commitLsn, long epoch, IActorRef client, TimeSpan slowCommitThreshold, StatementResult? statement) : IIndirectActorProducer
    {
        public Type ActorType => typeof(CommitCoordinator);
        public ActorBase Produce() => new CommitCoordinator(txnId, commitLsn, epoch, client, slowCommitThreshold, statement);
        public void Release(ActorBase actor) { }
    }
}
