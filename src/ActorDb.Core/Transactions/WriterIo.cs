using ActorDb.Client;
using ActorDb.Core.Redo;

namespace ActorDb.Core.Transactions;

/// <summary>The settings of a <see cref="WriterEngine"/> (the shell reads them from <c>actordb.writer</c>).</summary>
/// <param name="BufferCachePages">Pages the buffer cache holds.</param>
/// <param name="Lal">LSN allocation limit: at most this many LSNs allocated above VDL.</param>
/// <param name="RetainedRedoBytesPerPg">Bytes of sent redo kept per PG for resends.</param>
/// <param name="MaxBatchesInFlightPerPg">Batches of one PG awaiting a write quorum before further redo accumulates.</param>
/// <param name="LockTimeout">How long a statement waits for a row lock before its transaction is aborted.</param>
/// <param name="ResendAfter">A live segment that made no progress for this long is resent what it lacks; also the probe interval.</param>
/// <param name="SilentAfter">A segment that answers nothing shipped to it for this long gets only probes.</param>
/// <param name="ProbeMaxInterval">The longest interval between probes through the region.</param>
/// <param name="StallWarningAfter">A PG whose write-quorum LSN has not advanced for this long, with redo outstanding, is logged stalled.</param>
/// <param name="DrainTimeout">How long a drain waits for the commits in flight.</param>
public sealed record WriterEngineSettings(
    int BufferCachePages, long Lal, long RetainedRedoBytesPerPg, int MaxBatchesInFlightPerPg, TimeSpan LockTimeout,
    TimeSpan ResendAfter, TimeSpan SilentAfter, TimeSpan ProbeMaxInterval, TimeSpan StallWarningAfter, TimeSpan DrainTimeout)
{
    /// <summary>A transaction that is open, not committing and has had no statement for this long is aborted (its row
    /// locks freed): its client is gone or lost the reply that named it, so nothing would ever end it (found by the
    /// simulator: a lost reply to a transfer's first statement held its row lock until the writer restarted).
    /// <see cref="TimeSpan.Zero"/> (the default of a bare record): never. The shell sets it from
    /// <c>actordb.writer.idle-transaction-timeout</c>.</summary>
    public TimeSpan IdleTransactionTimeout { get; init; }

    /// <summary>How often the shell calls <see cref="WriterEngine.Tick"/>.</summary>
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>A page read with no answer for this long is asked of the next replica.</summary>
    public static readonly TimeSpan PageReadRetryAfter = TimeSpan.FromMilliseconds(500);
}

/// <summary>Who sent a client request and when: <paramref name="Client"/> is the shell's opaque reply target;
/// <paramref name="Requested"/> the client's timestamp of the request when meaningful here (same process), else 0;
/// <paramref name="Received"/> when the shell began handling it (both in the shell's ticks).</summary>
public readonly record struct ClientCall(object Client, long Requested, long Received);

/// <summary>A client request the <see cref="WriterEngine"/> parked (waiting for a row lock, a page, or LAL) and hands back
/// in a <see cref="WriterOutput.Rerun"/> or <see cref="WriterOutput.RetryWaiting"/>: the shell feeds it to
/// <see cref="WriterEngine.Rerun"/> (after the requests already queued, as a message to itself).</summary>
public abstract record ClientRequest(object Client, long Requested)
{
    /// <summary>A statement of transaction <paramref name="TxnId"/> (never 0 once parked); with <paramref name="Commit"/>,
    /// commit after it.</summary>
    public sealed record ExecuteStatement(object Client, long Requested, long TxnId, Statement Statement, bool Commit) : ClientRequest(Client, Requested);

    /// <summary>The commit of <paramref name="TxnId"/>; <paramref name="WithStatement"/>: the commit half of a statement
    /// with commit, whose <paramref name="Result"/> the reply carries (the statement is never run again).</summary>
    public sealed record CommitTransaction(object Client, long Requested, long TxnId, bool WithStatement, object? Result) : ClientRequest(Client, Requested);

    /// <summary>Creating <paramref name="Schema"/>'s table.</summary>
    public sealed record CreateTable(object Client, TableSchema Schema) : ClientRequest(Client, 0);
}

/// <summary>A reply to a client (<see cref="WriterOutput.ReplyToClient"/>); the shell maps it to its wire records.</summary>
public abstract record ClientReply
{
    private ClientReply() { }

    /// <summary>A statement's reply: its transaction, result or error; <paramref name="TxnAborted"/>: the transaction is gone;
    /// <paramref name="Committed"/>: the commit of a statement with commit.</summary>
    public sealed record StatementReply(long TxnId, object? Result, ActorDbException? Error, bool TxnAborted, CommitInfo? Committed = null) : ClientReply;

    /// <summary>A commit's reply: the commit (LSN, VDL) or the error.</summary>
    public sealed record CommitReply(long TxnId, CommitInfo? Info, ActorDbException? Error) : ClientReply;

    /// <summary>A rollback's reply.</summary>
    public sealed record RolledBack(long TxnId) : ClientReply;

    /// <summary>A table's reply (create or look up): the schema (null: no such table) or the error.</summary>
    public sealed record TableReply(TableSchema? Schema, ActorDbException? Error) : ClientReply;

    /// <summary>A drain of a writer already stopped, fenced or failed: nothing was in flight.</summary>
    public sealed record Drained(int CommitsNotDurable) : ClientReply;

    /// <summary>The writer stopped with <paramref name="Commit"/> sent but not durable: its outcome is ambiguous.</summary>
    public sealed record Ambiguous(WaitingCommit Commit, string Reason) : ClientReply;
}

/// <summary>What the writer sends a segment (<see cref="WriterOutput.SendToSegment"/>); the shell maps each to the segment
/// protocol record of the same name.</summary>
public abstract record SegmentRequest
{
    private SegmentRequest() { }

    /// <summary><c>RedoBatch</c>: <paramref name="Records"/> (in LSN order; empty: a probe) in <paramref name="Epoch"/>,
    /// with the writer's <paramref name="WriterVdl"/>.</summary>
    public sealed record Redo(long Epoch, RedoRecord[] Records, Lsn WriterVdl) : SegmentRequest;

    /// <summary><c>ReadPage</c>: page <paramref name="PageNo"/> at <paramref name="ReadPoint"/> from a segment holding its
    /// PG's records up to <paramref name="RequiredScl"/>.</summary>
    public sealed record ReadPage(long PageNo, Lsn ReadPoint, Lsn RequiredScl) : SegmentRequest;

    /// <summary><c>GetSegmentState</c> with a fence at <paramref name="FenceEpoch"/>.</summary>
    public sealed record Fence(long FenceEpoch) : SegmentRequest;

    /// <summary><c>OpenEpoch</c>: install <paramref name="Epoch"/> with the truncation (<paramref name="Vdl"/>,
    /// <paramref name="TruncateTo"/>] and the PG's tail <paramref name="PgTail"/>.</summary>
    public sealed record OpenEpoch(long Epoch, Lsn Vdl, Lsn TruncateTo, Lsn PgTail) : SegmentRequest;
}

/// <summary>A segment's rejection of redo (the segment protocol's <c>RedoRejected</c>), as the writer engine takes it;
/// <paramref name="Fault"/> names the storage fault that keeps it from taking redo (null: none).</summary>
public sealed record SegmentRejection(int Pg, int Replica, long SegmentEpoch, string Reason, bool StaleEpoch, bool Refused, string? Fault);

/// <summary>A segment that installed the writer's epoch during recovery, with its SCL then and the node that hosts it
/// (null: unknown).</summary>
public sealed record InstalledReplica(int Pg, int Replica, Lsn Scl, string? Node);

