using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Core.Metrics;
using ActorDb.Core.Recovery;
using ActorDb.Core.Transactions;

namespace ActorDb.Writer;

/// <summary>Messages between clients (sessions) and the writer.</summary>
public static class WriterProtocol
{
    /// <summary>Runs one statement in transaction <paramref name="TxnId"/> (0 starts a new transaction); with
    /// <paramref name="Commit"/>, commits the transaction right after a successful statement. Reply: <see cref="StatementReply"/>
    /// (with <paramref name="Commit"/>: once the commit is durable). <paramref name="Sent"/>: the client's
    /// <see cref="System.Diagnostics.Stopwatch"/> timestamp when it sent the request (0: none), from which a writer in the
    /// same process measures how long the request queued (<c>actordb.commit.phase.duration</c>, phase queue).</summary>
    public sealed record ExecuteStatement(long TxnId, Statement Statement, bool Commit = false, long Sent = 0) : IActorDbMessage;

    /// <summary>Reply to <see cref="ExecuteStatement"/>: the transaction id (new when the request said 0), the result
    /// (see each statement type for its shape), or the error. <paramref name="TxnAborted"/>: the transaction is gone.
    /// <paramref name="Committed"/>: the commit, when the request asked to commit and it succeeded.</summary>
    public sealed record StatementReply(long TxnId, object? Result, ActorDbException? Error, bool TxnAborted, CommitInfo? Committed = null) : IActorDbMessage;

    /// <summary>Commits a transaction. Reply: <see cref="CommitReply"/> once VDL &gt;= its commit LSN, or an error.
    /// <paramref name="Sent"/>: as in <see cref="ExecuteStatement"/>.</summary>
    public sealed record CommitTransaction(long TxnId, long Sent = 0) : IActorDbMessage;

    /// <summary>Reply to <see cref="CommitTransaction"/>.</summary>
    public sealed record CommitReply(long TxnId, CommitInfo? Info, ActorDbException? Error) : IActorDbMessage;

    /// <summary>Rolls a transaction back. Reply: <see cref="RolledBack"/>.</summary>
    public sealed record RollbackTransaction(long TxnId) : IActorDbMessage;

    /// <summary>Reply to <see cref="RollbackTransaction"/>.</summary>
    public sealed record RolledBack(long TxnId) : IActorDbMessage;

    /// <summary>Creates a table unless it exists. Reply: <see cref="TableReply"/> once durable.</summary>
    public sealed record CreateTable(TableSchema Schema) : IActorDbMessage;

    /// <summary>Looks a table up. Reply: <see cref="TableReply"/>.</summary>
    public sealed record GetTable(string Name) : IActorDbMessage;

    /// <summary>Reply to <see cref="CreateTable"/> and <see cref="GetTable"/>: the schema (null: no such table) or the error.</summary>
    public sealed record TableReply(TableSchema? Schema, ActorDbException? Error) : IActorDbMessage;

    /// <summary>Asks for <see cref="WriterStatus"/>.</summary>
    public sealed record GetWriterStatus : IActorDbMessage
    {
        /// <summary>The instance.</summary>
        public static readonly GetWriterStatus Instance = new();
    }

    /// <summary>The writer's state: <paramref name="State"/> is recovering (no writer yet: the
    /// <see cref="Recovery.RecoverySupervisor"/> answers, and only epoch, VDL, failure and recovery are set), opening,
    /// serving, draining, stopping, stopped, fenced or failed; <paramref name="AvgBatchQuorumMicros"/> is the mean time
    /// from sending a redo batch to its write quorum, in µs; <paramref name="BusyMicros"/> the writer's total time spent
    /// handling messages, µs; <paramref name="Recovery"/> the recovery that opened this writer's epoch (or the one
    /// running now, or the last one that failed); <paramref name="CommitLatency"/> the durable commits of this node over
    /// the last minute (<see cref="Metrics.WriterMetrics.RecentCommits"/>: count, p50, p99), null from the supervisor.</summary>
    public sealed record WriterStatus(
        string State, long Epoch, Lsn Allocated, Lsn Vcl, Lsn Vdl, long Lal,
        long Commits, long RedoRecords, long RedoBytes, long RedoBytesShipped, long Batches, long AvgBatchQuorumMicros, long BusyMicros,
        int OpenTransactions, int CommitsInFlight, IReadOnlyList<PgStatus> Pgs, string? Failure, RecoveryRecord? Recovery = null,
        LatencySummary? CommitLatency = null) : IActorDbMessage;

    /// <summary>One PG as the writer sees it: SCL per replica, quorum LSN, the replicas a stall is waiting for, and per
    /// replica how long (ms) the oldest record it lacks has been shipped (0: it lacks nothing the writer shipped).</summary>
    public sealed record PgStatus(int Pg, IReadOnlyList<Lsn> Scl, Lsn QuorumLsn, IReadOnlyList<int> StalledReplicas, IReadOnlyList<long>? LagMs = null);

    /// <summary>Clean stop: stop accepting work, abort open transactions, wait (up to the drain timeout) for in-flight
    /// commits to become durable. Reply: <see cref="Drained"/>.</summary>
    public sealed record Drain
    {
        /// <summary>The instance.</summary>
        public static readonly Drain Instance = new();
    }

    /// <summary>Reply to <see cref="Drain"/>: how many commits were still not durable when the drain ended (0 = clean).</summary>
    public sealed record Drained(int CommitsNotDurable);
}
