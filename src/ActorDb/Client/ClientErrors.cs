namespace ActorDb.Client;

/// <summary>
/// The one place the client's errors are built (<see cref="ActorDbClient"/>, <see cref="IActorDbClient"/>), by what the
/// caller may do about them: <see cref="TransactionAbortedException"/> (nothing of the transaction was committed:
/// retry it), <see cref="AmbiguousCommitException"/> (a commit was sent and its outcome is unknown), and
/// <see cref="ActorDbException"/> (no writer could be reached or did not answer). Every message names the transaction
/// or the request, and the writer's epoch where there is one; timeouts are shown as the client's ask timeout
/// (<c>actordb.client.ask-timeout</c>).
/// </summary>
public static class ClientErrors
{
    // ---------------------------------------------------------------- finding the writer

    /// <summary>The actor system the client runs in has terminated.</summary>
    public static ActorDbException SystemStopped(string systemName) =>
        new($"the actor system '{systemName}' this client runs in has stopped (its node left or was downed): no writer can be reached from it");

    /// <summary>No writer was named within the ask timeout; <paramref name="lastReason"/> is the supervisor's last
    /// answer, if any.</summary>
    public static ActorDbException NoWriter(TimeSpan timeout, string? lastReason) =>
        new($"no writer within {timeout.TotalSeconds:0.#} s: " + (lastReason ?? "the volume's recovery has not finished") + " (actordb.client.ask-timeout)");

    /// <summary>The supervisor answered the writer lookup with a message the client does not know.</summary>
    public static ActorDbException UnexpectedReply(object reply, string request) =>
        new($"unexpected reply {reply.GetType().Name} to {request}");

    // ---------------------------------------------------------------- requests

    /// <summary>The writer stopped before answering <paramref name="request"/> (not a commit).</summary>
    public static TransactionAbortedException WriterStoppedBeforeAnswer(long epoch, object request) =>
        new($"the writer of epoch {epoch} stopped before answering {request.GetType().Name}; nothing of it was committed");

    /// <summary>The writer did not answer <paramref name="request"/> (not a commit) within the ask timeout.</summary>
    public static ActorDbException NoAnswer(object request, TimeSpan timeout, Exception inner) =>
        new($"the writer did not answer {request.GetType().Name} within {timeout.TotalSeconds:0.#} s (actordb.client.ask-timeout)", inner);

    /// <summary>A statement of a type the client cannot send.</summary>
    public static ArgumentException UnknownStatement(object statement, string paramName) =>
        new($"unknown statement {statement.GetType().Name}", paramName);

    // ---------------------------------------------------------------- transactions

    /// <summary>The writer that ran the transaction has stopped: it is gone.</summary>
    public static TransactionAbortedException TransactionWriterStopped(long txnId, long epoch) =>
        new($"transaction {txnId}: the writer that ran it (epoch {epoch}) has stopped; nothing of it was committed");

    /// <summary>A statement, commit or rollback on a transaction already committed, rolled back or aborted.</summary>
    public static TransactionAbortedException TransactionFinished(long txnId) => new($"transaction {txnId} is finished");

    /// <summary>No reply to a commit (<paramref name="what"/>: <c>a statement with commit</c> or <c>the commit</c>) within
    /// <paramref name="timeout"/>: it may or may not have committed.</summary>
    public static AmbiguousCommitException CommitUnanswered(long txnId, string what, TimeSpan timeout, Exception inner) =>
        new($"transaction {txnId}: no reply to {what} within {timeout}", inner);

    /// <summary>The writer stopped before answering a commit (<paramref name="what"/> as in <see cref="CommitUnanswered"/>).</summary>
    public static AmbiguousCommitException CommitWriterStopped(long txnId, long epoch, string what) =>
        new($"transaction {txnId}: the writer of epoch {epoch} stopped before answering {what}; it may or may not have committed");
}
