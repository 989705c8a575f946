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
public sealed class CommitCoordinator : ReceiveActor
{
    /// <summary>VDL has reached the commit LSN.</summary>
    public sealed record Durable(Lsn Vdl);

    /// <summary>The writer can no longer make the commit durable (fenced, stopped): the outcome is ambiguous.</summary>
    public sealed record Abandoned(string Reason);

    /// <summary>Props for the coordinator of <paramref name="txnId"/>, replying to <paramref name="client"/>.</summary>
    public static Props Props(long txnId, Lsn commitLsn, long epoch, IActorRef client, TimeSpan slowCommitThreshold) =>
        Akka.Actor.Props.Create(() => new CommitCoordinator(txnId, commitLsn, epoch, client, slowCommitThreshold));

    public CommitCoordinator(long txnId, Lsn commitLsn, long epoch, IActorRef client, TimeSpan slowCommitThreshold)
    {
        var log = Context.GetLogger();
        var started = DateTime.UtcNow;
        Context.SetReceiveTimeout(slowCommitThreshold);

        Receive<Durable>(d =>
        {
            client.Tell(new WriterProtocol.CommitReply(txnId, new CommitInfo(commitLsn.Value, d.Vdl.Value), null));
            Context.Stop(Self);
        });
        Receive<Abandoned>(a =>
        {
            client.Tell(new WriterProtocol.CommitReply(txnId, null, new AmbiguousCommitException(
                $"transaction {txnId}: commit LSN {commitLsn} in epoch {epoch} was sent but not acknowledged: {a.Reason}")));
            Context.Stop(Self);
        });
        Receive<ReceiveTimeout>(_ =>
        {
            log.Warning("Slow commit: transaction {TxnId} commit LSN {Lsn} in epoch {Epoch} not durable after {Ms} ms",
                txnId, commitLsn, epoch, (int)(DateTime.UtcNow - started).TotalMilliseconds);
            Context.SetReceiveTimeout(null);
        });
    }
}
