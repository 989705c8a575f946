using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Core.Pages;
using ActorDb.Core.Redo;
using ActorDb.Core.Tables;
using ActorDb.Core.Transactions;

namespace ActorDb.Core.Tests.Transactions;

public class TransactionEngineTests
{
    private const long Lal = 10_000;
    private static readonly VolumeGeometry Geometry = new(8192, 2, 4096);
    private static readonly TableSchema Accounts = new("accounts", [new ColumnDef("id", ColumnType.Int64), new ColumnDef("balance", ColumnType.Int64)]);

    /// <summary>A stand-in for the segments: every record shipped is applied to page images in LSN order.</summary>
    private sealed class Storage
    {
        public readonly Dictionary<long, byte[]> Pages = new();
        public readonly Lsn[] Tail = new Lsn[Geometry.PgCount];

        /// <summary>A cache miss served from storage: the page as materialized, or a zero page never written.</summary>
        public void ReadInto(TransactionEngine engine, long pageNo) =>
            engine.InstallPage(pageNo, Pages.TryGetValue(pageNo, out var image) ? (byte[])image.Clone() : new byte[Geometry.PageSize]);

        /// <summary>Ships every outbox to all six replicas and acks; returns what became durable.</summary>
        public List<WaitingCommit> ShipAndAck(TransactionEngine engine, int replicas = 6)
        {
            var durable = new List<WaitingCommit>();
            foreach (var outbox in engine.Outboxes)
            {
                var batch = outbox.TakeBatch();
                if (batch.Length == 0) continue;
                foreach (var r in batch)
                {
                    if (r.Kind == RedoKind.PageDelta)
                    {
                        if (!Pages.TryGetValue(r.PageNo, out var image)) Pages[r.PageNo] = image = new byte[Geometry.PageSize];
                        PageDelta.Apply(image, r.Payload.Span);
                        BitConverter.TryWriteBytes(image.AsSpan(0, 8), r.Lsn.Value);
                    }
                    Tail[r.Pg] = r.Lsn;
                }
                for (var replica = 0; replica < replicas; replica++)
                    durable.AddRange(engine.OnAck(outbox.Pg, replica, batch[^1].Lsn).Durable);
            }
            return durable;
        }
    }

    private static TransactionEngine NewEngine(Lsn vdl, Lsn allocateAfter, IReadOnlyList<Lsn> tail) =>
        new(new EngineOptions(Geometry, CachePages: 64, Lal, MaxRetainedBytesPerPg: 1 << 20), epoch: 1, vdl, allocateAfter, tail);

    /// <summary>A new engine on a formatted volume with the accounts table, everything durable in a fresh storage.</summary>
    private static (Storage Storage, TransactionEngine Engine) NewVolume(long lal = Lal)
    {
        var storage = new Storage();
        var e = new TransactionEngine(new EngineOptions(Geometry, CachePages: 64, lal, MaxRetainedBytesPerPg: 1 << 20), epoch: 1, Lsn.Zero, Lsn.Zero, new Lsn[Geometry.PgCount]);
        e.FormatVolume();
        storage.ShipAndAck(e);
        e.CreateTable(Accounts);
        storage.ShipAndAck(e);
        return (storage, e);
    }

    private static object? Run(TransactionEngine e, long txn, Statement s, Storage storage)
    {
        while (true)
        {
            switch (e.Execute(txn, s))
            {
                case StatementOutcome.Done d: return d.Result;
                case StatementOutcome.NeedPage p: storage.ReadInto(e, p.PageNo); break;
                case var other: throw new Xunit.Sdk.XunitException($"unexpected {other}");
            }
        }
    }

    private static Lsn Commit(TransactionEngine e, long txn, Storage storage)
    {
        while (true)
        {
            switch (e.Commit(txn))
            {
                case CommitOutcome.Pending p: return p.CommitLsn;
                case CommitOutcome.NeedPage p: storage.ReadInto(e, p.PageNo); break;
                case var other: throw new Xunit.Sdk.XunitException($"unexpected {other}");
            }
        }
    }

    private static Dictionary<string, object?> Balance(long b) => new() { ["balance"] = b };

    [Fact]
    public void A_commit_becomes_durable_only_when_its_pg_acks_arrive_and_its_locks_are_held_until_then()
    {
        var (storage, e) = NewVolume();

        var t1 = e.Begin();
        Run(e, t1, new InsertStatement("accounts", 1L, Balance(10)), storage);
        var lsn = Commit(e, t1, storage);
        Assert.True(lsn > e.Vdl);

        // Another transaction wanting the row waits: the lock is held until the commit is durable.
        var t2 = e.Begin();
        Assert.IsType<StatementOutcome.Blocked>(e.Execute(t2, new GetStatement("accounts", 1L)));

        Assert.Empty(storage.ShipAndAck(e, replicas: 3));   // 3 acks: no write quorum
        Assert.True(lsn > e.Vdl);
        var durable = new List<WaitingCommit>();
        foreach (var outbox in e.Outboxes)
            for (var r = 3; r < 6; r++) durable.AddRange(e.OnAck(outbox.Pg, r, storage.Tail[outbox.Pg]).Durable);
        Assert.Contains(durable, d => d.TxnId == t1 && d.CommitLsn == lsn);
        Assert.True(e.Vdl >= lsn);
        var row = (Row?)Run(e, t2, new GetStatement("accounts", 1L), storage);
        Assert.Equal(10L, row!.Fields["balance"]);
    }

    [Fact]
    public void A_scan_over_more_pages_than_the_buffer_cache_holds_completes_reading_from_storage()
    {
        var (storage, first) = NewVolume();
        const int rows = 20_000;
        for (var i = 0; i < rows; i += 500)
        {
            var t = first.Begin();
            for (var k = i; k < i + 500; k++) Run(first, t, new InsertStatement("accounts", (long)k, Balance(k)), storage);
            Commit(first, t, storage);
            storage.ShipAndAck(first);
        }
        Assert.True(storage.Pages.Count > 3 * 16, $"{storage.Pages.Count} pages");

        // A reopened writer with a 16-page cache: the scan misses page after page. Without pinning the pages it missed,
        // each retry would evict the first ones again and the scan would never finish.
        var vdl = first.Vdl;
        var second = new TransactionEngine(new EngineOptions(Geometry, CachePages: 16, Lal, MaxRetainedBytesPerPg: 1 << 20), epoch: 2, vdl, vdl + Lal, storage.Tail.ToArray());
        second.LoadVolume((byte[])storage.Pages[Catalog.HeaderPage].Clone());
        var txn = second.Begin();
        var misses = 0;
        IReadOnlyList<Row>? found = null;
        while (found is null)
        {
            switch (second.Execute(txn, new ScanStatement("accounts", 0L, rows)))
            {
                case StatementOutcome.Done d: found = (IReadOnlyList<Row>)d.Result!; break;
                case StatementOutcome.NeedPage p:
                    Assert.True(++misses <= storage.Pages.Count, $"{misses} misses for {storage.Pages.Count} pages: the scan evicts its own pages");
                    storage.ReadInto(second, p.PageNo);
                    break;
                case var other: throw new Xunit.Sdk.XunitException($"unexpected {other}");
            }
        }
        Assert.Equal(rows, found.Count);
        Assert.Equal(Enumerable.Range(0, rows).Select(i => (object)(long)i), found.Select(r => r.Key));
        Assert.Equal(12_345L, found[12_345].Fields["balance"]);
        Assert.Equal(0, second.Commit(txn) is CommitOutcome.ReadOnly ? 0 : 1);
    }

    [Fact]
    public void A_transaction_whose_commit_could_never_fit_under_LAL_is_aborted_with_a_clear_error_and_releases_its_locks()
    {
        var (storage, e) = NewVolume(lal: 200);
        var big = e.Begin();
        for (var i = 0; i < 23; i++) Run(e, big, new InsertStatement("accounts", (long)i, Balance(i)), storage);
        var outcome = e.Execute(big, new InsertStatement("accounts", 23L, Balance(23)));
        var aborted = Assert.IsType<StatementOutcome.Aborted>(outcome);
        Assert.Contains("actordb.writer.lal = 200", aborted.Error.Message);
        Assert.IsType<StatementOutcome.Failed>(e.Execute(big, new GetStatement("accounts", 1L)));   // no longer open
        // Its locks are gone: another transaction writes the same rows and commits.
        var next = e.Begin();
        Run(e, next, new InsertStatement("accounts", 1L, Balance(1)), storage);
        Commit(e, next, storage);
        Assert.Contains(storage.ShipAndAck(e), d => d.TxnId == next);
    }

    [Fact]
    public void Pages_allocated_before_a_reopen_are_never_handed_out_again_after_it()
    {
        var (storage, first) = NewVolume();
        for (var i = 0; i < 3000; i += 100)
        {
            var t = first.Begin();
            for (var k = i; k < i + 100; k++) Run(first, t, new InsertStatement("accounts", (long)k, Balance(k)), storage);
            Commit(first, t, storage);
            storage.ShipAndAck(first);
        }
        var pagesBefore = storage.Pages.Keys.ToHashSet();
        Assert.True(pagesBefore.Count > 5, $"{pagesBefore.Count} pages: no splits");

        // Reopen from storage only (as recovery does) and insert enough to split many more pages.
        var vdl = first.Vdl;
        var second = new TransactionEngine(new EngineOptions(Geometry, CachePages: 64, Lal, MaxRetainedBytesPerPg: 1 << 20), epoch: 2, vdl, vdl + Lal, storage.Tail.ToArray());
        second.LoadVolume((byte[])storage.Pages[Catalog.HeaderPage].Clone());
        var allocated = new HashSet<long>();
        for (var i = 3000; i < 6000; i += 100)
        {
            var t = second.Begin();
            for (var k = i; k < i + 100; k++) Run(second, t, new InsertStatement("accounts", (long)k, Balance(k)), storage);
            Commit(second, t, storage);
            storage.ShipAndAck(second);
        }
        var txn = second.Begin();
        var rows = (IReadOnlyList<Row>)Run(second, txn, new ScanStatement("accounts", 0L, 10_000), storage)!;
        Assert.Equal(Enumerable.Range(0, 6000).Select(i => (object)(long)i), rows.Select(r => r.Key));
        Assert.All(rows, r => Assert.Equal(r.Key, r.Fields["balance"]));
        Assert.True(storage.Pages.Count > pagesBefore.Count + 5, "the second writer allocated no new pages");
    }

    [Fact]
    public void After_reopen_above_the_annulled_range_commits_are_not_held_back_by_LAL()
    {
        var (storage, first) = NewVolume();
        for (var i = 0; i < 200; i++)
        {
            var t = first.Begin();
            Run(first, t, new InsertStatement("accounts", (long)i, Balance(i)), storage);
            Commit(first, t, storage);
            storage.ShipAndAck(first);
        }
        var vdl = first.Vdl;

        // Reopen as recovery does: VDL as before, new LSNs above (VDL, VDL + LAL], pages read from "storage".
        var second = NewEngine(vdl, vdl + Lal, storage.Tail.ToArray());
        second.LoadVolume((byte[])storage.Pages[Catalog.HeaderPage].Clone());
        var txn = second.Begin();
        Assert.True((bool)Run(second, txn, new UpdateStatement("accounts", 7L, Balance(-7)), storage)!);
        var lsn = Commit(second, txn, storage);
        Assert.True(lsn > vdl + Lal);
        storage.ShipAndAck(second);
        Assert.True(second.Vdl >= lsn);

        var check = second.Begin();
        Assert.Equal(-7L, ((Row?)Run(second, check, new GetStatement("accounts", 7L), storage))!.Fields["balance"]);
        Assert.Equal(199L, ((Row?)Run(second, check, new GetStatement("accounts", 199L), storage))!.Fields["balance"]);
        Assert.Equal(200, ((IReadOnlyList<Row>)Run(second, check, new ScanStatement("accounts", 0L, 1000), storage)!).Count);
    }

    [Fact]
    public void Rollback_leaves_nothing_and_a_duplicate_insert_fails_without_aborting()
    {
        var storage = new Storage();
        var e = NewEngine(Lsn.Zero, Lsn.Zero, new Lsn[Geometry.PgCount]);
        e.FormatVolume();
        e.CreateTable(Accounts);
        storage.ShipAndAck(e);
        var t = e.Begin();
        Run(e, t, new InsertStatement("accounts", 5L, Balance(1)), storage);
        var allocated = e.Allocated;
        e.Abort(t);
        Assert.Equal(allocated, e.Allocated);   // nothing was logged for the rolled-back transaction

        var t2 = e.Begin();
        Assert.Null(Run(e, t2, new GetStatement("accounts", 5L), storage));
        Run(e, t2, new InsertStatement("accounts", 5L, Balance(2)), storage);
        var dup = Assert.IsType<StatementOutcome.Failed>(e.Execute(t2, new InsertStatement("accounts", 5L, Balance(3))));
        Assert.IsType<DuplicateKeyException>(dup.Error);
        Assert.True(e.IsOpen(t2));
    }

    [Fact]
    public void Read_for_update_takes_the_write_lock_so_two_read_then_write_transactions_do_not_deadlock()
    {
        var storage = new Storage();
        var e = NewEngine(Lsn.Zero, Lsn.Zero, new Lsn[Geometry.PgCount]);
        e.FormatVolume();
        e.CreateTable(Accounts);
        var load = e.Begin();
        Run(e, load, new InsertStatement("accounts", 1L, Balance(100)), storage);
        Commit(e, load, storage);
        storage.ShipAndAck(e);

        // Shared reads then writes: the second upgrade closes a cycle.
        var a = e.Begin();
        var b = e.Begin();
        Run(e, a, new GetStatement("accounts", 1L), storage);
        Run(e, b, new GetStatement("accounts", 1L), storage);
        Assert.IsType<StatementOutcome.Blocked>(e.Execute(a, new UpdateStatement("accounts", 1L, Balance(90))));
        Assert.IsType<StatementOutcome.Aborted>(e.Execute(b, new UpdateStatement("accounts", 1L, Balance(80))));
        e.Abort(a);

        // Reads for update: the second reader waits instead, and nobody is aborted.
        var c = e.Begin();
        var d = e.Begin();
        Run(e, c, new GetStatement("accounts", 1L, ForUpdate: true), storage);
        Assert.IsType<StatementOutcome.Blocked>(e.Execute(d, new GetStatement("accounts", 1L, ForUpdate: true)));
        Assert.True((bool)Run(e, c, new UpdateStatement("accounts", 1L, Balance(70)), storage)!);
    }
}
