using Akka.Actor;
using Akka.Hosting;
using ActorDb.Core.Recovery;
using ActorDb.Core.Transactions;
using ActorDb.Hosting;
using static ActorDb.Recovery.RecoveryProtocol;
using static ActorDb.Writer.WriterProtocol;

namespace ActorDb.Client;

/// <summary>
/// <see cref="IActorDbClient"/> over the writer actor: each statement and commit is one request/reply with the writer.
/// The client finds the writer by asking the <see cref="Recovery.RecoverySupervisor"/> once (the answer waits until
/// recovery has opened the volume) and then talks to the writer directly; when that writer stops (it failed and a new
/// recovery runs) the next call asks the supervisor again. A transaction stays with the writer that ran its first
/// statement: if that writer goes away, the transaction is gone.
/// </summary>
public sealed class ActorDbClient : IActorDbClient
{
    private readonly IActorRef _supervisor;
    private readonly TimeSpan _timeout;
    private IActorRef? _writer;

    /// <summary>Creates a client of the writer that <paramref name="supervisor"/> (a <see cref="Recovery.RecoverySupervisor"/>)
    /// runs, waiting at most <paramref name="timeout"/> per call (finding the writer included).</summary>
    public ActorDbClient(IActorRef supervisor, TimeSpan timeout)
    {
        _supervisor = supervisor;
        _timeout = timeout;
    }

    /// <summary>A client of the writer of the recovery supervisor registered by <c>WithActorDb</c> in <paramref name="system"/>.</summary>
    public static async Task<ActorDbClient> ForAsync(ActorSystem system, CancellationToken ct = default)
    {
        var supervisor = await ActorRegistry.For(system).GetAsync<RecoverySupervisorKey>(ct);
        return new ActorDbClient(supervisor, ActorDbSettings.Create(system.Settings.Config).AskTimeout);
    }

    /// <summary>The writer's current status (the supervisor's while a recovery runs, with state <c>recovering</c>).</summary>
    public Task<WriterStatus> GetStatusAsync(CancellationToken ct = default) =>
        _supervisor.Ask<WriterStatus>(GetWriterStatus.Instance, _timeout, ct);

    /// <summary>The recoveries the supervisor has run, oldest first, and the one running now, if any.</summary>
    public Task<RecoveryHistoryReply> GetRecoveryHistoryAsync(CancellationToken ct = default) =>
        _supervisor.Ask<RecoveryHistoryReply>(GetRecoveryHistory.Instance, _timeout, ct);

    /// <summary>Waits until recovery has opened the volume and a writer serves transactions.</summary>
    /// <exception cref="ActorDbException">recovery failed (the message says why) or did not finish in time.</exception>
    /// <exception cref="StaleEpochException">the writer was fenced by a newer epoch.</exception>
    public async Task WaitUntilServingAsync(TimeSpan timeout, CancellationToken ct = default) =>
        await ResolveWriterAsync(DateTime.UtcNow + timeout, ct);

    /// <inheritdoc />
    public async Task<TableSchema> CreateTableAsync(TableSchema schema, CancellationToken ct = default)
    {
        var reply = await AskAsync<TableReply>(null, new CreateTable(schema), ct);
        if (reply.Error is not null) throw reply.Error;
        return reply.Schema!;
    }

    /// <inheritdoc />
    public async Task<TableSchema?> GetTableAsync(string table, CancellationToken ct = default)
    {
        var reply = await AskAsync<TableReply>(null, new GetTable(table), ct);
        if (reply.Error is not null) throw reply.Error;
        return reply.Schema;
    }

    /// <inheritdoc />
    public ITransaction Begin() => new Transaction(this);

    /// <summary>True when <paramref name="writer"/> is a local actor that has stopped. DeathWatch, which Akka marks
    /// IsTerminated obsolete in favour of, needs an actor; this client is not one. A remote writer always reads as
    /// alive here, and a request to a dead one ends with the ask timeout.</summary>
#pragma warning disable CS0618
    private static bool IsGone(IActorRef writer) => writer is IInternalActorRef { IsTerminated: true };
#pragma warning restore CS0618

    /// <summary>The writer: the one cached, unless it has stopped; else asks the supervisor (waits while it recovers).</summary>
    private async Task<IActorRef> WriterAsync(DateTime deadline, CancellationToken ct)
    {
        var writer = Volatile.Read(ref _writer);
        return writer is not null && !IsGone(writer) ? writer : await ResolveWriterAsync(deadline, ct);
    }

    private async Task<IActorRef> ResolveWriterAsync(DateTime deadline, CancellationToken ct)
    {
        var wait = deadline - DateTime.UtcNow;
        if (wait <= TimeSpan.Zero) wait = TimeSpan.FromMilliseconds(1);
        object reply;
        try
        {
            reply = await _supervisor.Ask<object>(GetWriter.Instance, wait, ct);
        }
        catch (AskTimeoutException e)
        {
            throw new ActorDbException($"no writer within {wait.TotalSeconds:0.#} s: the volume's recovery has not finished (actordb.client.ask-timeout)", e);
        }
        switch (reply)
        {
            case CurrentWriter current:
                Volatile.Write(ref _writer, current.Writer);
                return current.Writer;
            case WriterUnavailable { Fenced: true } fenced:
                throw new StaleEpochException(fenced.Reason, ambiguous: false);
            case WriterUnavailable unavailable:
                throw new ActorDbException(unavailable.Reason);
            default:
                throw new ActorDbException($"unexpected reply {reply.GetType().Name} to {nameof(GetWriter)}");
        }
    }

    /// <summary>Forgets <paramref name="writer"/> after it left a request unanswered, so the next call asks the supervisor.</summary>
    private void Forget(IActorRef writer) => Interlocked.CompareExchange(ref _writer, null, writer);

    /// <summary>Asks the writer (<paramref name="writer"/>, or the current one); finding the writer and its reply share
    /// the ask timeout. A missing reply becomes an <see cref="ActorDbException"/> naming the request and the wait.</summary>
    private async Task<T> AskAsync<T>(IActorRef? writer, object request, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + _timeout;
        writer ??= await WriterAsync(deadline, ct);
        try
        {
            return await writer.Ask<T>(request, Remaining(deadline), ct);
        }
        catch (AskTimeoutException e)
        {
            Forget(writer);
            throw new ActorDbException($"the writer did not answer {request.GetType().Name} within {_timeout.TotalSeconds:0.#} s (actordb.client.ask-timeout)", e);
        }
    }

    private static TimeSpan Remaining(DateTime deadline)
    {
        var left = deadline - DateTime.UtcNow;
        return left > TimeSpan.FromMilliseconds(1) ? left : TimeSpan.FromMilliseconds(1);
    }

    private sealed class Transaction(ActorDbClient client) : ITransaction
    {
        private long _txnId;
        private bool _finished;
        private CommitInfo? _committed;
        private IActorRef? _writer;   // the writer that runs this transaction, from its first statement on

        /// <summary>The transaction's writer; the current one for a first statement. A transaction whose writer has
        /// stopped is gone: nothing of it was committed (a commit already sent is answered by its coordinator).</summary>
        private async Task<IActorRef> WriterAsync(DateTime deadline, CancellationToken ct)
        {
            if (_writer is null) return _writer = await client.WriterAsync(deadline, ct);
            if (!IsGone(_writer)) return _writer;
            _finished = true;
            throw new TransactionAbortedException($"transaction {_txnId}: the writer that ran it has stopped; nothing of it was committed");
        }

        private async Task<object?> Run(Statement statement, CancellationToken ct)
        {
            if (_finished) throw new TransactionAbortedException($"transaction {_txnId} is finished");
            var writer = await WriterAsync(DateTime.UtcNow + client._timeout, ct);
            var reply = await client.AskAsync<StatementReply>(writer, new ExecuteStatement(_txnId, statement), ct);
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
            var deadline = DateTime.UtcNow + client._timeout;
            var writer = await WriterAsync(deadline, ct);   // nothing sent yet: a failure here is not ambiguous
            StatementReply reply;
            try
            {
                reply = await writer.Ask<StatementReply>(new ExecuteStatement(_txnId, statement, Commit: true, Sent: System.Diagnostics.Stopwatch.GetTimestamp()), Remaining(deadline), ct);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or OperationCanceledException)
            {
                _finished = true;
                if (e is AskTimeoutException) client.Forget(writer);
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
            if (_txnId == 0)
            {
                _finished = true;
                return new CommitInfo(0, 0);
            }
            var writer = await WriterAsync(DateTime.UtcNow + client._timeout, ct);
            _finished = true;
            CommitReply reply;
            try
            {
                reply = await writer.Ask<CommitReply>(new CommitTransaction(_txnId, System.Diagnostics.Stopwatch.GetTimestamp()), client._timeout, ct);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or OperationCanceledException)
            {
                if (e is AskTimeoutException) client.Forget(writer);
                throw new AmbiguousCommitException($"transaction {_txnId}: no reply to the commit within {client._timeout}", e);
            }
            if (reply.Error is not null) throw reply.Error;
            return reply.Info!;
        }

        public async Task RollbackAsync(CancellationToken ct = default)
        {
            if (_finished) return;
            _finished = true;
            if (_txnId == 0 || _writer is null || IsGone(_writer)) return;   // a stopped writer holds nothing of it
            await client.AskAsync<RolledBack>(_writer, new RollbackTransaction(_txnId), ct);
        }

        public async ValueTask DisposeAsync()
        {
            if (!_finished) await RollbackAsync();
        }
    }
}
