using ActorDb.Core.Transactions;

namespace ActorDb.Client;

/// <summary>
/// The session API of ActorDb: create tables and run interactive transactions against the writer.
/// Thread-safe; one instance serves many concurrent transactions.
/// </summary>
public interface IActorDbClient
{
    /// <summary>Creates a table (durably) unless one of that name exists.</summary>
    /// <returns>The schema in force (the existing one when the table already existed).</returns>
    /// <exception cref="SchemaException">the schema is invalid, or a table of that name exists with other columns.</exception>
    Task<TableSchema> CreateTableAsync(TableSchema schema, CancellationToken ct = default);

    /// <summary>The schema of <paramref name="table"/>, or null when no such table exists.</summary>
    Task<TableSchema?> GetTableAsync(string table, CancellationToken ct = default);

    /// <summary>Starts a transaction. Costs nothing until its first statement.</summary>
    ITransaction Begin();
}

/// <summary>
/// An interactive, serializable transaction (strict two-phase row locking; changes are private until commit).
/// Not thread-safe: issue one statement at a time. Disposing an open transaction rolls it back.
/// </summary>
public interface ITransaction : IAsyncDisposable
{
    /// <summary>Reads one row (shared lock on the key), seeing this transaction's own changes.</summary>
    Task<Row?> GetAsync(string table, object key, CancellationToken ct = default);

    /// <summary>Reads one row taking its exclusive lock (SELECT … FOR UPDATE), for a read that a write of the same row
    /// will follow: two transactions reading with shared locks and then both writing would deadlock.</summary>
    Task<Row?> GetForUpdateAsync(string table, object key, CancellationToken ct = default);

    /// <summary>Reads up to <paramref name="maxRows"/> rows with key &gt;= <paramref name="fromKey"/>, in key order
    /// (shared lock on each row returned).</summary>
    Task<IReadOnlyList<Row>> ScanAsync(string table, object fromKey, int maxRows, CancellationToken ct = default);

    /// <summary>Inserts a row (exclusive lock on the key). Fields not given are null.</summary>
    /// <exception cref="DuplicateKeyException">the key exists.</exception>
    Task InsertAsync(string table, object key, IReadOnlyDictionary<string, object?> fields, CancellationToken ct = default);

    /// <summary>Sets the given fields of an existing row (exclusive lock). Returns false when the row does not exist.</summary>
    Task<bool> UpdateAsync(string table, object key, IReadOnlyDictionary<string, object?> fields, CancellationToken ct = default);

    /// <summary>Deletes a row (exclusive lock). Returns false when the row does not exist.</summary>
    Task<bool> DeleteAsync(string table, object key, CancellationToken ct = default);

    /// <summary>Commits: completes once the volume durable LSN (VDL) has reached the transaction's commit LSN,
    /// i.e. every redo record of the transaction is on 4 of the 6 segments of its PG.</summary>
    /// <exception cref="TransactionAbortedException">the transaction was aborted earlier; nothing was written.</exception>
    /// <exception cref="AmbiguousCommitException">the writer went away after the commit was sent.</exception>
    Task<CommitInfo> CommitAsync(CancellationToken ct = default);

    /// <summary>Discards every change and releases the locks.</summary>
    Task RollbackAsync(CancellationToken ct = default);

    /// <summary>
    /// Runs <paramref name="statement"/> as the transaction's last statement and commits, in one request where the
    /// implementation can (a single-statement transaction then costs one round trip, like an auto-commit statement).
    /// Returns the statement's result (shapes as for the methods above) and the commit; the transaction is then
    /// finished. If the statement fails, nothing is committed and the transaction stays open (roll it back).
    /// </summary>
    async Task<(object? Result, CommitInfo Commit)> ExecuteAndCommitAsync(Statement statement, CancellationToken ct = default)
    {
        object? result;
        switch (statement)
        {
            case GetStatement g: result = g.ForUpdate ? await GetForUpdateAsync(g.Table, g.Key, ct) : await GetAsync(g.Table, g.Key, ct); break;
            case ScanStatement s: result = await ScanAsync(s.Table, s.FromKey, s.MaxRows, ct); break;
            case InsertStatement i: await InsertAsync(i.Table, i.Key, i.Fields, ct); result = null; break;
            case UpdateStatement u: result = await UpdateAsync(u.Table, u.Key, u.Fields, ct); break;
            case DeleteStatement d: result = await DeleteAsync(d.Table, d.Key, ct); break;
            default: throw ClientErrors.UnknownStatement(statement, nameof(statement));
        }
        return (result, await CommitAsync(ct));
    }
}
