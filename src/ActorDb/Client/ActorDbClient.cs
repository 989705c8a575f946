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
/// The client finds the writer by asking the <see cref="Recovery.RecoverySupervisor"/> (through its cluster-singleton
/// proxy; the answer waits until recovery has opened the volume) and then talks to the writer directly, death-watching
/// it. When that writer stops (it failed and a new recovery runs, or its node died or left and a standby writer node
/// took over), every request still waiting on it ends at once, and the next call finds the new writer:
/// <list type="bullet">
/// <item>a statement without commit ends with <see cref="TransactionAbortedException"/>: nothing of its transaction was
/// committed, so the caller may run the transaction again;</item>
/// <item>a commit (or a statement with commit) ends with <see cref="AmbiguousCommitException"/>: it may or may not have
/// become durable, and it is never retried by the client.</item>
/// </list>
/// A writer that has drained (its node stops or hands the writer over) answers with <see cref="WriterStoppedException"/>
/// (an abort: nothing done); the client then forgets it and finds the next one.
/// A transaction stays with the writer that ran its first statement.
/// </summary>
public sealed class ActorDbClient : IActorDbClient
{
    /// <summary>One request to find the writer waits at most this long before it is sent again: a proxy that still
    /// pointed at a dead node's supervisor drops it, and the next one reaches the new supervisor.</summary>
    private static readonly TimeSpan FindWriterAttempt = TimeSpan.FromSeconds(2);
    /// <summary>A supervisor handing the writer over (its node is stopping) is asked again after this.</summary>
    private static readonly TimeSpan HandOverRetry = TimeSpan.FromMilliseconds(200);

    private readonly IActorRef _supervisor;
    private readonly TimeSpan _timeout;
    private readonly IActorRef? _watcher;
    private readonly ActorSystem? _system;
    private WriterLink? _writer;

    /// <summary>The writer a client talks to, and a token cancelled when it has stopped (DeathWatch's Terminated: a
    /// local actor stopped, or the remote writer's node was downed and removed from the cluster).</summary>
    private sealed class WriterLink(IActorRef writer, long epoch)
    {
        public IActorRef Writer { get; } = writer;
        public long Epoch { get; } = epoch;
        public CancellationTokenSource Gone { get; } = new();
        public bool IsGone => Gone.IsCancellationRequested || IsTerminatedLocally(Writer);
    }

    /// <summary>Death-watches the writers a client talks to and cancels their <see cref="WriterLink.Gone"/>.</summary>
    private sealed class WriterWatcher : ReceiveActor
    {
        public sealed record Watch(IActorRef Writer, CancellationTokenSource Gone);

        private readonly Dictionary<IActorRef, List<CancellationTokenSource>> _watched = new();

        public WriterWatcher()
        {
            Receive<Watch>(w =>
            {
                if (!_watched.TryGetValue(w.Writer, out var list)) _watched[w.Writer] = list = [];
                list.Add(w.Gone);
                Context.Watch(w.Writer);
            });
            Receive<Terminated>(t =>
            {
                if (!_watched.Remove(t.ActorRef, out var list)) return;
                foreach (var gone in list) gone.Cancel();
            });
        }
    }

    /// <summary>Creates a client of the writer that <paramref name="supervisor"/> (a <see cref="Recovery.RecoverySupervisor"/>
    /// or a proxy to it) runs, waiting at most <paramref name="timeout"/> per call (finding the writer included).
    /// With <paramref name="system"/> the client death-watches the writer (a small actor in that system), so a writer
    /// that stops ends the requests waiting on it at once; without it, only a local writer's stop is noticed and a
    /// remote one's ends requests at the timeout.</summary>
    public ActorDbClient(IActorRef supervisor, TimeSpan timeout, ActorSystem? system = null)
    {
        _supervisor = supervisor;
        _timeout = timeout;
        _system = system;
        _watcher = system?.ActorOf(Props.Create(() => new WriterWatcher()));
    }

    /// <summary>A client of the writer of the recovery supervisor registered by <c>WithActorDb</c> in <paramref name="system"/>.</summary>
    public static async Task<ActorDbClient> ForAsync(ActorSystem system, CancellationToken ct = default)
    {
        var supervisor = await ActorRegistry.For(system).GetAsync<RecoverySupervisorKey>(ct);
        return new ActorDbClient(supervisor, ActorDbSettings.Create(system.Settings.Config).AskTimeout, system);
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

    /// <summary>The epoch of the writer this client talks to now (0 before it found one).</summary>
    public long WriterEpoch => Volatile.Read(ref _writer)?.Epoch ?? 0;

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

    /// <summary>True when <paramref name="writer"/> is a local actor that has stopped (no watcher needed for that).</summary>
#pragma warning disable CS0618
    private static bool IsTerminatedLocally(IActorRef writer) => writer is IInternalActorRef { IsTerminated: true };
#pragma warning restore CS0618

    /// <summary>The writer: the one cached, unless it has stopped; else asks the supervisor (waits while it recovers).</summary>
    private async Task<WriterLink> WriterAsync(DateTime deadline, CancellationToken ct)
    {
        var writer = Volatile.Read(ref _writer);
        return writer is not null && !writer.IsGone ? writer : await ResolveWriterAsync(deadline, ct);
    }

    /// <summary>Asks the supervisor for the writer until it names one or <paramref name="deadline"/> passes: each
    /// request waits <see cref="FindWriterAttempt"/> at most (during a failover the proxy may still address the dead
    /// node), and a supervisor handing the writer over is asked again.</summary>
    private async Task<WriterLink> ResolveWriterAsync(DateTime deadline, CancellationToken ct)
    {
        string? lastReason = null;
        while (true)
        {
            if (_system is { WhenTerminated.IsCompleted: true })
                throw ClientErrors.SystemStopped(_system.Name);
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw ClientErrors.NoWriter(_timeout, lastReason);
            object reply;
            try
            {
                reply = await _supervisor.Ask<object>(GetWriter.Instance, left < FindWriterAttempt ? left : FindWriterAttempt, ct);
            }
            catch (AskTimeoutException)
            {
                continue;
            }
            switch (reply)
            {
                case CurrentWriter current:
                {
                    var known = Volatile.Read(ref _writer);
                    if (known is not null && known.Writer.Equals(current.Writer) && !known.IsGone) return known;
                    var link = new WriterLink(current.Writer, current.Epoch);
                    _watcher?.Tell(new WriterWatcher.Watch(current.Writer, link.Gone));
                    Volatile.Write(ref _writer, link);
                    return link;
                }
                case WriterUnavailable { Fenced: true } fenced:
                    throw new StaleEpochException(fenced.Reason, ambiguous: false);
                case WriterUnavailable { Stopping: true } stopping:
                    lastReason = stopping.Reason;
                    await Task.Delay(HandOverRetry, ct);
                    continue;
                case WriterUnavailable unavailable:
                    throw new ActorDbException(unavailable.Reason);
                default:
                    throw ClientErrors.UnexpectedReply(reply, nameof(GetWriter));
            }
        }
    }

    /// <summary>Forgets <paramref name="writer"/> after it left a request unanswered, so the next call asks the supervisor.</summary>
    private void Forget(WriterLink writer) => Interlocked.CompareExchange(ref _writer, null, writer);

    /// <summary>Forgets <paramref name="writer"/> when it answered that it has stopped (drained or handing over): the
    /// next transaction asks the supervisor, which names the next writer once one serves.</summary>
    private void ForgetIfStopped(WriterLink writer, ActorDbException error)
    {
        if (error is WriterStoppedException) Forget(writer);
    }

    /// <summary>Sends <paramref name="request"/> to <paramref name="writer"/> and waits for the reply until
    /// <paramref name="deadline"/>, <paramref name="ct"/>, or the writer's stop. Returns null when the writer stopped
    /// first (the caller decides what that means for the request); an <see cref="AskTimeoutException"/> or a
    /// cancellation by <paramref name="ct"/> propagates.</summary>
    private static async Task<T?> AskOrGoneAsync<T>(WriterLink writer, object request, DateTime deadline, CancellationToken ct) where T : class
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, writer.Gone.Token);
        try
        {
            return await writer.Writer.Ask<T>(request, Remaining(deadline), linked.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && writer.Gone.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Asks the writer (<paramref name="writer"/>, or the current one); finding the writer and its reply share
    /// the ask timeout. A missing reply becomes an <see cref="ActorDbException"/> naming the request and the wait; a
    /// writer that stopped first, a <see cref="TransactionAbortedException"/> (the request changed nothing durable).</summary>
    private async Task<T> AskAsync<T>(WriterLink? writer, object request, CancellationToken ct) where T : class
    {
        var deadline = DateTime.UtcNow + _timeout;
        writer ??= await WriterAsync(deadline, ct);
        try
        {
            return await AskOrGoneAsync<T>(writer, request, deadline, ct)
                   ?? throw ClientErrors.WriterStoppedBeforeAnswer(writer.Epoch, request);
        }
        catch (AskTimeoutException e)
        {
            Forget(writer);
            throw ClientErrors.NoAnswer(request, _timeout, e);
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
        private WriterLink? _writer;   // the writer that runs this transaction, from its first statement on

        /// <summary>The transaction's writer; the current one for a first statement. A transaction whose writer has
        /// stopped is gone: nothing of it was committed (a commit already sent is answered by its coordinator).</summary>
        private async Task<WriterLink> WriterAsync(DateTime deadline, CancellationToken ct)
        {
            if (_writer is null) return _writer = await client.WriterAsync(deadline, ct);
            if (!_writer.IsGone) return _writer;
            _finished = true;
            throw ClientErrors.TransactionWriterStopped(_txnId, _writer.Epoch);
        }

        private async Task<object?> Run(Statement statement, CancellationToken ct)
        {
            if (_finished) throw ClientErrors.TransactionFinished(_txnId);
            var writer = await WriterAsync(DateTime.UtcNow + client._timeout, ct);
            StatementReply reply;
            try { reply = await client.AskAsync<StatementReply>(writer, new ExecuteStatement(_txnId, statement), ct); }
            catch (TransactionAbortedException) { _finished = true; throw; }
            _txnId = reply.TxnId;
            if (reply.Error is null) return reply.Result;
            if (reply.TxnAborted) _finished = true;
            client.ForgetIfStopped(writer, reply.Error);
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
            if (_finished) throw ClientErrors.TransactionFinished(_txnId);
            var deadline = DateTime.UtcNow + client._timeout;
            var writer = await WriterAsync(deadline, ct);   // nothing sent yet: a failure here is not ambiguous
            StatementReply? reply;
            try
            {
                reply = await AskOrGoneAsync<StatementReply>(writer, new ExecuteStatement(_txnId, statement, Commit: true, Sent: System.Diagnostics.Stopwatch.GetTimestamp()), deadline, ct);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or OperationCanceledException)
            {
                _finished = true;
                if (e is AskTimeoutException) client.Forget(writer);
                throw ClientErrors.CommitUnanswered(_txnId, "a statement with commit", client._timeout, e);
            }
            if (reply is null)
            {
                _finished = true;
                throw ClientErrors.CommitWriterStopped(_txnId, writer.Epoch, "a statement with commit");
            }
            _txnId = reply.TxnId;
            if (reply.Error is not null)
            {
                if (reply.TxnAborted) _finished = true;
                client.ForgetIfStopped(writer, reply.Error);
                throw reply.Error;
            }
            _finished = true;
            _committed = reply.Committed;
            return (reply.Result, reply.Committed!);
        }

        public async Task<CommitInfo> CommitAsync(CancellationToken ct = default)
        {
            if (_committed is not null) return _committed;
            if (_finished) throw ClientErrors.TransactionFinished(_txnId);
            if (_txnId == 0)
            {
                _finished = true;
                return new CommitInfo(0, 0);
            }
            var writer = await WriterAsync(DateTime.UtcNow + client._timeout, ct);
            _finished = true;
            CommitReply? reply;
            try
            {
                reply = await AskOrGoneAsync<CommitReply>(writer, new CommitTransaction(_txnId, System.Diagnostics.Stopwatch.GetTimestamp()), DateTime.UtcNow + client._timeout, ct);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or OperationCanceledException)
            {
                if (e is AskTimeoutException) client.Forget(writer);
                throw ClientErrors.CommitUnanswered(_txnId, "the commit", client._timeout, e);
            }
            if (reply is null)
                throw ClientErrors.CommitWriterStopped(_txnId, writer.Epoch, "the commit");
            if (reply.Error is not null)
            {
                client.ForgetIfStopped(writer, reply.Error);
                throw reply.Error;
            }
            return reply.Info!;
        }

        public async Task RollbackAsync(CancellationToken ct = default)
        {
            if (_finished) return;
            _finished = true;
            if (_txnId == 0 || _writer is null || _writer.IsGone) return;   // a stopped writer holds nothing of it
            await client.AskAsync<RolledBack>(_writer, new RollbackTransaction(_txnId), ct);
        }

        public async ValueTask DisposeAsync()
        {
            if (!_finished) await RollbackAsync();
        }
    }
}
