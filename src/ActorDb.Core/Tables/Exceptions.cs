namespace ActorDb.Client;

/// <summary>Base of every error ActorDb reports to a client.</summary>
public class ActorDbException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The transaction was aborted (by a lock timeout, a deadlock, the writer stopping, or the client) and
/// none of its changes are or will become visible. It may be retried.</summary>
public class TransactionAbortedException(string message, Exception? inner = null) : ActorDbException(message, inner);

/// <summary>The writer that got the request has stopped (drained at a clean stop, or handed over to another writer node);
/// nothing of the request was done and its transaction is gone. Retry the transaction: the client finds the next
/// writer.</summary>
public sealed class WriterStoppedException(string message) : TransactionAbortedException(message);

/// <summary>A row lock was not granted within <c>actordb.writer.lock-timeout</c>; the transaction was aborted.</summary>
public sealed class LockTimeoutException(string message) : TransactionAbortedException(message);

/// <summary>Granting the lock would close a cycle of waiting transactions; this transaction was chosen as the victim and aborted.</summary>
public sealed class DeadlockException(string message) : TransactionAbortedException(message);

/// <summary>An insert named a key that already exists. The statement failed; the transaction is still open.</summary>
public sealed class DuplicateKeyException(string message) : ActorDbException(message);

/// <summary>A table, column or value did not match the schema. The statement failed; the transaction is still open.</summary>
public sealed class SchemaException(string message) : ActorDbException(message);

/// <summary>The writer that served this transaction was fenced by a newer epoch (another writer recovered the volume).
/// A commit that ends this way is ambiguous only if <see cref="Ambiguous"/> is true.</summary>
public sealed class StaleEpochException(string message, bool ambiguous) : TransactionAbortedException(message)
{
    /// <summary>True when the commit record may have reached storage: the outcome is unknown until recovery.</summary>
    public bool Ambiguous { get; } = ambiguous;
}

/// <summary>The commit was sent but its outcome is unknown (the writer went away before acknowledging it).
/// Never retry such a commit blindly: read back what it wrote.</summary>
public sealed class AmbiguousCommitException(string message, Exception? inner = null) : ActorDbException(message, inner);
