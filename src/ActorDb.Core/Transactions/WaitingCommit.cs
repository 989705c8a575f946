using ActorDb.Core.Metrics;

namespace ActorDb.Core.Transactions;

/// <summary>
/// The one shape of a commit from its seal to its answer (Aurora's "list of transactions waiting on commit", SIGMOD 2017,
/// §4.2.2): created once per MTR by <see cref="TransactionEngine.Commit"/> (or a system MTR: format, DDL, with
/// <see cref="TxnId"/> 0), queued by the engine until VDL passes <see cref="CommitLsn"/>, then handed, the same object, to
/// whoever answers the client. No other record of a waiting commit exists; per-PG timing queues hold references to it.
/// </summary>
/// <remarks>
/// Single owner at a time: the writer fills in the reply target and the timestamps while it holds the commit, and hands
/// it on (to the commit coordinator) only once durable or abandoned, never touching it again. <see cref="Answered"/> makes
/// "answered exactly once" checkable: a commit answered by an error path is never answered again.
/// </remarks>
public sealed class WaitingCommit
{
    /// <summary>A commit of transaction <paramref name="txnId"/> (0: a system MTR) whose commit record is at
    /// <paramref name="commitLsn"/> in PG <paramref name="pg"/>, sealed in <paramref name="epoch"/>.</summary>
    public WaitingCommit(long txnId, Lsn commitLsn, long epoch, int pg)
    {
        TxnId = txnId;
        CommitLsn = commitLsn;
        Epoch = epoch;
        Pg = pg;
    }

    /// <summary>The transaction; 0 for a system MTR (format, DDL), which is answered through <see cref="ReplyTo"/> too.</summary>
    public long TxnId { get; }
    /// <summary>The commit record's LSN (the MTR's CPL): the commit is durable once VDL &gt;= it.</summary>
    public Lsn CommitLsn { get; }
    /// <summary>The volume epoch the commit was sealed in.</summary>
    public long Epoch { get; }
    /// <summary>The PG whose outbox holds the commit record.</summary>
    public int Pg { get; }

    /// <summary>Whom to answer: an opaque token of the shell (an actor ref, or a continuation for a system MTR); null
    /// until the shell sets it.</summary>
    public object? ReplyTo { get; set; }
    /// <summary>True when the client asked to commit with its statement (answered with the statement's
    /// <see cref="Result"/>), false for a plain commit.</summary>
    public bool WithStatement { get; set; }
    /// <summary>The result of the statement that committed (see <see cref="WithStatement"/>).</summary>
    public object? Result { get; set; }
    /// <summary>The timestamps this commit has passed (Stopwatch ticks, 0: unknown); set by the shell, never read by rules.</summary>
    public CommitTimes Times { get; set; }
    /// <summary>True once the commit was answered (acknowledged, or failed as ambiguous): it must not be answered again.</summary>
    public bool Answered { get; private set; }

    /// <summary>Marks the commit answered.</summary>
    /// <exception cref="InvalidOperationException">it was answered already: a second answer would contradict the first.</exception>
    public void MarkAnswered()
    {
        if (Answered) throw new InvalidOperationException($"transaction {TxnId}: commit LSN {CommitLsn} in epoch {Epoch} was answered twice");
        Answered = true;
    }

    /// <inheritdoc />
    public override string ToString() => $"commit of transaction {TxnId} at LSN {CommitLsn} in epoch {Epoch} (PG {Pg})";
}
