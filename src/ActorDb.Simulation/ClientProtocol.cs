using ActorDb.Client;
using ActorDb.Core.Transactions;

namespace ActorDb.Simulation;

/// <summary>A client's reply target at the writer: which request it belongs to, and the writer instance it talks to
/// (a transaction lives in one writer instance, as a client holds one writer's actor ref in production).</summary>
internal sealed class ClientToken(string what, Action<ClientReply, long> onReply)
{
    public string What { get; } = what;
    public Action<ClientReply, long> OnReply { get; } = onReply;
    /// <inheritdoc />
    public override string ToString() => What;
}

/// <summary>
/// The clients' side of the writer protocol over the simulated network: each operation as the transactions a client
/// runs (an insert with commit; a transfer: two reads for update, two updates, the second with commit), the set-up of the
/// tables and accounts before the fault phase, and the final read-back after the quiet phase. Requests and replies cross
/// the network between the client node and the writer node (lost or late like any message).
/// </summary>
internal sealed class ClientProtocol(World world)
{
    public const string KvTable = "kv";
    public const string BankTable = "bank";
    private int _nextRequest;

    private static readonly TableSchema Kv = new(KvTable, [new ColumnDef("k", ColumnType.String), new ColumnDef("v", ColumnType.Int64)]);
    private static readonly TableSchema Bank = new(BankTable, [new ColumnDef("id", ColumnType.Int64), new ColumnDef("balance", ColumnType.Int64)]);

    /// <summary>True once the tables and accounts exist.</summary>
    public bool SetUp { get; private set; }

    private SimNode ClientNode => world.ClientNode;
    private SimNode WriterNode => world.Writer.Node;

    // ---------------------------------------------------------------- the wire

    /// <summary>Sends a statement (transaction <paramref name="txn"/>, 0: a new one, on writer instance
    /// <paramref name="epoch"/> when not 0) to the writer; <paramref name="onReply"/> gets the reply and the writer's epoch.</summary>
    private void Statement(string what, long txn, long epoch, Statement statement, bool commit, Action<ClientReply, long> onReply)
    {
        var token = new ClientToken($"{what} #{_nextRequest++}", onReply);
        world.Network.Send(ClientNode, WriterNode, statement, mayDuplicate: false, deliver: () =>
        {
            var serving = world.Writer.Serving;
            if (serving is not null && txn != 0 && serving.Epoch != epoch)
            {
                // The writer this transaction lived in is gone; this one never heard of it.
                Reply(token, new ClientReply.StatementReply(txn, null, new TransactionAbortedException($"transaction {txn} of epoch {epoch} is gone: the writer of epoch {serving.Epoch} serves now"), true), serving.Epoch);
                return;
            }
            world.Writer.FromClient(token, (w, o) => w.Execute(new ClientCall(token, 0, world.Scheduler.Now.Ticks), txn, statement, commit, world.Writer.Node.LocalTime(world.Scheduler.Now), o),
                () => new ClientReply.StatementReply(txn, null, new TransactionAbortedException("no writer serves the volume now"), true));
        });
    }

    /// <summary>Rolls transaction <paramref name="txn"/> of the writer of <paramref name="epoch"/> back, asking again every
    /// 500 ms until it is answered or that writer is gone. (ActorDbClient asks once: a rollback lost on the network leaves the
    /// transaction open with its row locks until the writer's idle-transaction timeout ends it.)</summary>
    private void Rollback(long txn, long epoch)
    {
        var answered = false;
        var token = new ClientToken($"rollback {txn}", (_, _) => answered = true);
        world.Network.Send(ClientNode, WriterNode, "rollback", mayDuplicate: false, deliver: () =>
        {
            if (world.Writer.Serving is { } w && w.Epoch == epoch) world.Writer.FromClient(token, (e, o) => e.Rollback(token, txn, o), () => new ClientReply.RolledBack(txn));
        });
        world.Scheduler.After(TimeSpan.FromMilliseconds(500), null, world.Trace.Enabled ? $"rollback {txn} answered?" : "", () =>
        {
            if (!answered && world.Writer.Serving is { } w && w.Epoch == epoch) Rollback(txn, epoch);
        });
    }

    private void CreateTable(TableSchema schema, Action<ClientReply, long> onReply)
    {
        var token = new ClientToken($"create table {schema.Name}", onReply);
        world.Network.Send(ClientNode, WriterNode, schema, mayDuplicate: false, deliver: () =>
            world.Writer.FromClient(token, (w, o) => w.CreateTable(token, schema, world.Writer.Node.LocalTime(world.Scheduler.Now), o),
                () => new ClientReply.TableReply(null, new TransactionAbortedException("no writer serves the volume now"))));
    }

    /// <summary>The writer answers <paramref name="client"/> (a <see cref="ClientToken"/>) over the network.</summary>
    public void Reply(object client, ClientReply reply, long epoch)
    {
        if (client is not ClientToken token) return;
        if (world.Trace.Enabled) world.Trace.Line(world.Scheduler.Now, $"writer answers {token}: {SimNetwork.Describe(reply)}");
        world.Network.Send(WriterNode, ClientNode, reply, mayDuplicate: false, deliver: () => token.OnReply(reply, epoch));
    }

    /// <summary>A commit of <paramref name="token"/> became durable at <paramref name="vdl"/>: the client gets its commit.</summary>
    public void Durable(ClientToken token, WaitingCommit commit, Core.Lsn vdl, long epoch)
    {
        var info = new CommitInfo(commit.CommitLsn.Value, vdl.Value);
        Reply(token, commit.WithStatement
            ? new ClientReply.StatementReply(commit.TxnId, commit.Result, null, false, info)
            : new ClientReply.CommitReply(commit.TxnId, info, null), epoch);
    }

    // ---------------------------------------------------------------- operations

    /// <summary>Runs <paramref name="op"/>; <paramref name="done"/> gets its outcome. Returns what to do when the client
    /// gives up waiting (roll back the transfer's open transaction).</summary>
    public Action Run(ClientOp op, Action<Outcome, long, string?> done)
    {
        if (op.IsTransfer) return Transfer(op, done);
        Statement($"op {op.Id} insert", 0, 0, new InsertStatement(KvTable, op.Key!, new Dictionary<string, object?> { ["v"] = op.Value }), commit: true,
            (reply, epoch) =>
            {
                // A statement that failed leaves its transaction open (TxnAborted false): the client rolls it back.
                if (reply is ClientReply.StatementReply { Error: not null, TxnAborted: false, TxnId: not 0 } f) Rollback(f.TxnId, epoch);
                Finished(reply, epoch, done);
            });
        return () => { };
    }

    /// <summary>The outcome a commit's reply means: committed (ok), refused before commit (failed), or unknown.</summary>
    private static void Finished(ClientReply reply, long epoch, Action<Outcome, long, string?> done)
    {
        switch (reply)
        {
            case ClientReply.StatementReply { Committed: not null }:
            case ClientReply.CommitReply { Info: not null }:
                done(Outcome.Ok, epoch, null);
                break;
            case ClientReply.StatementReply { Error: { } e }:
                done(Outcome.Failed, 0, e.Message);
                break;
            case ClientReply.CommitReply { Error: { } e }:
                done(Outcome.Failed, 0, e.Message);
                break;
            case ClientReply.Ambiguous a:
                done(Outcome.Ambiguous, 0, a.Reason);
                break;
            default:
                done(Outcome.Ambiguous, 0, $"unexpected reply {reply}");
                break;
        }
    }

    private Action Transfer(ClientOp op, Action<Outcome, long, string?> done)
    {
        var what = $"op {op.Id} transfer";
        long openTxn = 0, openEpoch = 0;
        var gaveUp = false;
        void Fail(long txn, long epoch, string why)
        {
            if (txn != 0) Rollback(txn, epoch);
            done(Outcome.Failed, 0, why);
        }
        static long? Balance(object? result) => result is Row row && row.Fields.TryGetValue("balance", out var b) && b is long v ? v : null;

        Statement(what, 0, 0, new GetStatement(BankTable, (long)op.From, ForUpdate: true), false, (r1, epoch) =>
        {
            if (r1 is not ClientReply.StatementReply { Error: null } s1 || Balance(s1.Result) is not { } fromBalance)
            {
                Fail(r1 is ClientReply.StatementReply x ? x.TxnId : 0, epoch, $"read of account {op.From}: {r1}");
                return;
            }
            var txn = openTxn = s1.TxnId;
            openEpoch = epoch;
            if (gaveUp)
            {
                Rollback(txn, epoch);
                return;
            }
            Statement(what, txn, epoch, new GetStatement(BankTable, (long)op.To, ForUpdate: true), false, (r2, _) =>
            {
                if (r2 is not ClientReply.StatementReply { Error: null } s2 || Balance(s2.Result) is not { } toBalance)
                {
                    Fail(txn, epoch, $"read of account {op.To}: {r2}");
                    return;
                }
                if (fromBalance < op.Amount)
                {
                    Fail(txn, epoch, $"account {op.From} holds {fromBalance}, less than {op.Amount}");
                    return;
                }
                Statement(what, txn, epoch, new UpdateStatement(BankTable, (long)op.From, new Dictionary<string, object?> { ["balance"] = fromBalance - op.Amount }), false, (r3, _) =>
                {
                    if (r3 is not ClientReply.StatementReply { Error: null, Result: true })
                    {
                        Fail(txn, epoch, $"update of account {op.From}: {r3}");
                        return;
                    }
                    Statement(what, txn, epoch, new UpdateStatement(BankTable, (long)op.To, new Dictionary<string, object?> { ["balance"] = toBalance + op.Amount }), commit: true,
                        (r4, e4) => Finished(r4, e4, done));
                });
            });
        });
        return () =>
        {
            gaveUp = true;
            if (openTxn != 0) Rollback(openTxn, openEpoch);   // a rollback after the commit was sent is a no-op at the writer
        };
    }

    // ---------------------------------------------------------------- set-up and read-back

    /// <summary>Creates the two tables and the accounts (one transaction), retrying every 200 ms until it is done.</summary>
    public void StartSetUp()
    {
        void Retry() => world.Scheduler.After(TimeSpan.FromMilliseconds(200), null, "set-up retry", StartSetUp);
        CreateTable(Kv, (r1, _) =>
        {
            if (r1 is not ClientReply.TableReply { Schema: not null }) { Retry(); return; }
            CreateTable(Bank, (r2, _) =>
            {
                if (r2 is not ClientReply.TableReply { Schema: not null }) { Retry(); return; }
                InsertAccounts(0, 0, 0, Retry);
            });
        });
    }

    private void InsertAccounts(int account, long txn, long epoch, Action retry)
    {
        var accounts = world.Sim.Plan.Accounts;
        var last = account == accounts - 1;
        Statement("set-up", txn, epoch, new InsertStatement(BankTable, (long)account, new Dictionary<string, object?> { ["balance"] = world.Sim.Plan.OpeningBalance }), last, (reply, e) =>
        {
            switch (reply)
            {
                case ClientReply.StatementReply { Committed: not null }:
                    SetUp = true;
                    break;
                case ClientReply.StatementReply { Error: null } s when !last:
                    InsertAccounts(account + 1, s.TxnId, e, retry);
                    break;
                case ClientReply.StatementReply { Error: DuplicateKeyException }:
                    SetUp = true;   // an earlier attempt committed after all (its answer was lost): the accounts exist
                    break;
                default:
                    if (reply is ClientReply.StatementReply { TxnId: not 0 } f && !f.TxnAborted) Rollback(f.TxnId, e);
                    retry();
                    break;
            }
        });
    }

    /// <summary>Reads every row of both tables back (a scan each, read-only transactions), retrying every 200 ms, running
    /// the world with <paramref name="runWhile"/> (given the test "read") meanwhile; stores what it read in the observations.</summary>
    public void ReadBack(Action<Func<bool>> runWhile)
    {
        Dictionary<string, long>? rows = null;
        long[]? balances = null;
        var stop = false;
        void Attempt()
        {
            if (stop) return;
            if (world.Writer.Serving is null)
            {
                world.Scheduler.After(TimeSpan.FromMilliseconds(100), null, "read-back waits for a writer", Attempt);
                return;
            }
            Statement("read-back kv", 0, 0, new ScanStatement(KvTable, "", 1_000_000), commit: true, (r1, _) =>
            {
                if (r1 is not ClientReply.StatementReply { Error: null, Result: IReadOnlyList<Row> kv })
                {
                    world.Scheduler.After(TimeSpan.FromMilliseconds(200), null, "read-back retry", Attempt);
                    return;
                }
                Statement("read-back bank", 0, 0, new ScanStatement(BankTable, 0L, 1_000_000), commit: true, (r2, _) =>
                {
                    if (r2 is not ClientReply.StatementReply { Error: null, Result: IReadOnlyList<Row> bank })
                    {
                        world.Scheduler.After(TimeSpan.FromMilliseconds(200), null, "read-back retry", Attempt);
                        return;
                    }
                    rows = kv.ToDictionary(r => (string)r.Key, r => (long)r.Fields["v"]!, StringComparer.Ordinal);
                    balances = bank.Select(r => (long)r.Fields["balance"]!).ToArray();
                    stop = true;
                });
            });
        }
        Attempt();
        runWhile(() => stop);
        stop = true;
        world.Obs.FinalRows = rows;
        world.Obs.FinalBalances = balances;
    }
}
