using Akka.Actor;
using Akka.Hosting;
using ActorDb.Core.Transactions;
using ActorDb.Hosting;
using static ActorDb.Writer.WriterProtocol;

namespace ActorDb.Client;

/// <summary>
/// <see cref="IActorDbClient"/> over the writer actor: each statement and commit is one request/reply with the writer.
/// </summary>
public sealed class ActorDbClient : IActorDbClient
{
    private readonly IActorRef _writer;
    private readonly TimeSpan _timeout;

    /// <summary>Creates a client talking to <paramref name="writer"/>, waiting at most <paramref name="timeout"/> per call.</summary>
    public ActorDbClient(IActorRef writer, TimeSpan timeout)
    {
        _writer = writer;
        _timeout = timeout;
    }

    /// <summary>A client for the writer registered by <c>WithActorDb</c> in <paramref name="system"/>.</summary>
    public static async Task<ActorDbClient> ForAsync(ActorSystem system, CancellationToken ct = default)
    {
        var writer = await ActorRegistry.For(system).GetAsync<WriterKey>(ct);
        return new ActorDbClient(writer, ActorDbSettings.Create(system.Settings.Config).AskTimeout);
    }

    /// <summary>The writer's current status.</summary>
    public Task<WriterStatus> GetStatusAsync(CancellationToken ct = default) =>
        _writer.Ask<WriterStatus>(GetWriterStatus.Instance, _timeout, ct);

    /// <summary>Waits until the writer has opened the volume and serves transactions.</summary>
    /// <exception cref="ActorDbException">the writer failed to open (the message says why) or did not open in time.</exception>
    public async Task WaitUntilServingAsync(TimeSpan timeout, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var status = await _writer.Ask<WriterStatus>(GetWriterStatus.Instance, TimeSpan.FromSeconds(5), ct);
            if (status.State == "serving") return;
            if (status.State is "failed" or "fenced") throw new ActorDbException($"the writer is {status.State}: {status.Failure}");
            if (DateTime.UtcNow > deadline) throw new ActorDbException($"the writer did not open the volume within {timeout} (state {status.State})");
            await Task.Delay(50, ct);
        }
    }

    /// <inheritdoc />
    public async Task<TableSchema> CreateTableAsync(TableSchema schema, CancellationToken ct = default)
    {
        var reply = await AskAsync<TableReply>(new CreateTable(schema), ct);
        if (reply.Error is not null) throw reply.Error;
        return reply.Schema!;
    }

    /// <inheritdoc />
    public async Task<TableSchema?> GetTableAsync(string table, CancellationToken ct = default)
    {
        var reply = await AskAsync<TableReply>(new GetTable(table), ct);
        if (reply.Error is not null) throw reply.Error;
        return reply.Schema;
    }

    /// <inheritdoc />
    public ITransaction Begin() => new Transaction(this);

    /// <summary>Asks the writer; a missing reply becomes an <see cref="ActorDbException"/> naming the request and the wait.</summary>
    private async Task<T> AskAsync<T>(object request, CancellationToken ct)
    {
        try
        {
            return await _writer.Ask<T>(request, _timeout, ct);
        }
        catch (AskTimeoutException e)
        {
            throw new ActorDbException($"the writer did not answer {request.GetType().Name} within {_timeout.TotalSeconds:0.#} s (actordb.client.ask-timeout)", e);
        }
    }

    private sealed class Transaction(ActorDbClient client) : ITransaction
    {
        private long _txnId;
        private bool _finished;
        private CommitInfo? _committed;

        private async Task<object?> Run(Statement statement, CancellationToken ct)
        {
            if (_finished) throw new TransactionAbortedException($"transaction {_txnId} is finished");
            var reply = await client.AskAsync<StatementReply>(new ExecuteStatement(_txnId, statement), ct);
            _txnId = reply.TxnId;
            if (reply.Error is null) return reply.Result;
            if (reply.TxnAborted) _finished = true;
            throw reply.Error;
        }

        public async Task<Row?> GetAsync(string table, object key, CancellationToken ct = default) =>
            (Row?)await Run(new GetStatement(table, key), ct);

        public async Task<Row?> GetForUpdateAsync(string table, object key, CancellationToken ct = default) =>
            (Row?)await Run(new GetStatement(table, key, ForUpdate: true), ct);

        public async Task<IReadOnlyList<Row>> ScanAsync(string table, object fromKey, int maxRows, CancellationToken ct = default) =>
            (IReadOnlyList<Row>)(await Run(new ScanStatement(table, fromKey, maxRows), ct))!;

        public Task InsertAsync(string table, object key, IReadOnlyDictionary<string, object?> fields, CancellationToken ct = default) =>
            Run(new InsertStatement(table, key, fields), ct);

        public async Task<bool> UpdateAsync(string table, object key, IReadOnlyDictionary<string, object?> fields, CancellationToken ct = default) =>
            (bool)(await Run(new UpdateStatement(table, key, fields), ct))!;

        public async Task<bool> DeleteAsync(string table, object key, CancellationToken ct = default) =>
            (bool)(await Run(new DeleteStatement(table, key), ct))!;

        public async Task<(object? Result, CommitInfo Commit)> ExecuteAndCommitAsync(Statement statement, CancellationToken ct = default)
        {
            if (_finished) throw new TransactionAbortedException($"transaction {_txnId} is finished");
            StatementReply reply;
            try
            {
                reply = await client._writer.Ask<StatementReply>(new ExecuteStatement(_txnId, statement, Commit: true), client._timeout, ct);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or OperationCanceledException)
            {
                _finished = true;
                throw new AmbiguousCommitException($"transaction {_txnId}: no reply to a statement with commit within {client._timeout}", e);
            }
            _txnId = reply.TxnId;
            if (reply.Error is not null)
            {
                if (reply.TxnAborted) _finished = true;
                throw reply.Error;
            }
            _finished = true;
            _committed = reply.Committed;
            return (reply.Result, reply.Committed!);
        }

        public async Task<CommitInfo> CommitAsync(CancellationToken ct = default)
        {
            if (_committed is not null) return _committed;
            if (_finished) throw new TransactionAbortedException($"transaction {_txnId} is finished");
            _finished = true;
            if (_txnId == 0) return new CommitInfo(0, 0);
            CommitReply reply;
            try
            {
                reply = await client._writer.Ask<CommitReply>(new CommitTransaction(_txnId), client._timeout, ct);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or OperationCanceledException)
            {
                throw new AmbiguousCommitException($"transaction {_txnId}: no reply to the commit within {client._timeout}", e);
            }
            if (reply.Error is not null) throw reply.Error;
            return reply.Info!;
        }

        public async Task RollbackAsync(CancellationToken ct = default)
        {
            if (_finished) return;
            _finished = true;
            if (_txnId != 0) await client.AskAsync<RolledBack>(new RollbackTransaction(_txnId), ct);
        }

        public async ValueTask DisposeAsync()
        {
            if (!_finished) await RollbackAsync();
        }
    }
}
