using ActorDb.Client;

namespace ActorDb.Core.Transactions;

/// <summary>A statement of an interactive transaction. Immutable; safe to send between actors.</summary>
public abstract record Statement(string Table);

/// <summary>Point read of one row: a shared lock, or with <paramref name="ForUpdate"/> an exclusive one (SELECT … FOR UPDATE:
/// a read that will be followed by a write takes the write lock at once instead of upgrading, which deadlocks when two
/// transactions do it). Result: <see cref="Row"/> or null.</summary>
public sealed record GetStatement(string Table, object Key, bool ForUpdate = false) : Statement(Table);

/// <summary>Range read from <paramref name="FromKey"/> (inclusive), at most <paramref name="MaxRows"/> rows (shared lock per row).
/// Result: <see cref="IReadOnlyList{Row}"/>.</summary>
public sealed record ScanStatement(string Table, object FromKey, int MaxRows) : Statement(Table);

/// <summary>Insert (exclusive lock). Result: null. Fails with <see cref="DuplicateKeyException"/> when the key exists.</summary>
public sealed record InsertStatement(string Table, object Key, IReadOnlyDictionary<string, object?> Fields) : Statement(Table);

/// <summary>Update of the given fields (exclusive lock). Result: bool, false when the row does not exist.</summary>
public sealed record UpdateStatement(string Table, object Key, IReadOnlyDictionary<string, object?> Fields) : Statement(Table);

/// <summary>Delete (exclusive lock). Result: bool, false when the row does not exist.</summary>
public sealed record DeleteStatement(string Table, object Key) : Statement(Table);

/// <summary>What executing a statement led to.</summary>
public abstract record StatementOutcome
{
    /// <summary>Completed with <paramref name="Result"/> (see each statement for its shape).</summary>
    public sealed record Done(object? Result) : StatementOutcome;
    /// <summary>The statement failed; the transaction stays open.</summary>
    public sealed record Failed(ActorDbException Error) : StatementOutcome;
    /// <summary>The transaction was aborted (deadlock); its locks are released and <paramref name="Granted"/> may resume.</summary>
    public sealed record Aborted(TransactionAbortedException Error, IReadOnlyList<(long Txn, RowId Row)> Granted) : StatementOutcome;
    /// <summary>Waiting for a row lock; re-execute when the lock is granted.</summary>
    public sealed record Blocked(RowId Row) : StatementOutcome;
    /// <summary>A page is not in the buffer cache; load it and re-execute.</summary>
    public sealed record NeedPage(long PageNo) : StatementOutcome;
}

/// <summary>What a commit request led to.</summary>
public abstract record CommitOutcome
{
    /// <summary>The redo is allocated and queued; <paramref name="Commit"/> waits until VDL &gt;= its commit LSN.
    /// <paramref name="Records"/> and <paramref name="RedoBytes"/> count the MTR's redo (payload bytes).</summary>
    public sealed record Pending(WaitingCommit Commit, int Records, long RedoBytes) : CommitOutcome
    {
        /// <summary>The commit record's LSN.</summary>
        public Lsn CommitLsn => Commit.CommitLsn;
        /// <summary>The PG whose outbox holds the commit record.</summary>
        public int Pg => Commit.Pg;
    }
    /// <summary>Nothing to write: committed now; <paramref name="Granted"/> lock requests may resume.</summary>
    public sealed record ReadOnly(IReadOnlyList<(long Txn, RowId Row)> Granted) : CommitOutcome;
    /// <summary>A page is not in the buffer cache; load it and retry the commit.</summary>
    public sealed record NeedPage(long PageNo) : CommitOutcome;
    /// <summary>Allocating would pass VDL + LAL; retry when VDL advances.</summary>
    public sealed record Backpressure : CommitOutcome;
    /// <summary>The transaction does not exist or was aborted.</summary>
    public sealed record Failed(ActorDbException Error) : CommitOutcome;
}
