using System.Buffers.Binary;
using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;
using System.Diagnostics;
using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Core.Storage;
using ActorDb.Hosting;
using ActorDb.Storage;
using Xunit.Abstractions;

namespace ActorDb.Tests.EndToEnd;

/// <summary>
/// Issue 12 item 3: a damaged <c>pages.dat</c> slot (no doublewrite copy) is repaired from a peer without a restart,
/// whether a read, the materialization of new redo or the background scrub finds it; a page damaged on all six copies
/// fails its reads fast with an error naming page and PG while every other row stays readable.
/// </summary>
public class PageRepairTests(ITestOutputHelper output)
{
    private static readonly TableSchema Docs = new("docs", [new ColumnDef("id", ColumnType.Int64), new ColumnDef("body", ColumnType.String)]);
    private const int Rows = 3000;
    private const int PageSize = 8192;
    private const int SlotSize = PageStore.SlotHeaderSize + PageSize;

    private static string Hocon(double scrubPagesPerSecond) => $"""
        actordb.segment.checkpoint-bytes = 262144
        actordb.segment.max-file-bytes = 1048576
        actordb.segment.preallocate-bytes = 262144
        actordb.writer.buffer-cache-pages = 16
        actordb.segment.scrub.pages-per-second = {scrubPagesPerSecond}
        """;

    private static string Body(long id) => new string((char)('a' + id % 26), 900) + id;

    private static async Task InsertAsync(IActorDbClient db, long from, long to)
    {
        for (var i = from; i < to; i += 20)
        {
            await using var tx = db.Begin();
            for (var id = i; id < Math.Min(i + 20, to); id++)
                await tx.InsertAsync("docs", id, new Dictionary<string, object?> { ["body"] = Body(id) });
            await tx.CommitAsync();
        }
    }

    private static async Task AssertRowsAsync(IActorDbClient db, IEnumerable<long> keys)
    {
        var expected = keys.ToList();
        await using var tx = db.Begin();
        var found = await tx.ScanAsync("docs", 0L, expected.Count + 10);
        Assert.Equal(expected, found.Select(r => (long)r.Key!));
        Assert.All(found, r => Assert.Equal(Body((long)r.Key!), r.Fields["body"]));
        await tx.CommitAsync();
    }

    private sealed class LogCollector : ReceiveActor
    {
        public LogCollector(ConcurrentQueue<LogEvent> events) => Receive<LogEvent>(events.Enqueue);
    }

    /// <summary>Collects the node's warning and error events from now on.</summary>
    private static ConcurrentQueue<LogEvent> CollectLogs(EmbeddedNode node)
    {
        var events = new ConcurrentQueue<LogEvent>();
        node.System.EventStream.Subscribe(node.System.ActorOf(Props.Create(() => new LogCollector(events))), typeof(LogEvent));
        return events;
    }

    private static List<string> LinesOf(ConcurrentQueue<LogEvent> events, string source) =>
        events.Where(e => e.LogSource.Contains(source) && e.LogLevel() >= LogLevel.WarningLevel).Select(e => e.Message.ToString() ?? "").ToList();

    private static string SegmentDir(string dataDir, int replica) => SegmentActor.DirectoryOf(dataDir, 0, replica);

    /// <summary>Flips one image byte of every written slot of <paramref name="replica"/>'s pages.dat whose page
    /// <paramref name="select"/> picks (its CRC-32C then fails), and deletes the doublewrite buffer that could restore
    /// it. Returns the damaged pages.</summary>
    private static List<long> Damage(string dataDir, int replica, Func<IReadOnlyList<long>, IEnumerable<long>> select)
    {
        var dir = SegmentDir(dataDir, replica);
        File.Delete(Path.Combine(dir, PageStore.DoubleWriteFileName));
        var written = WrittenPages(Path.Combine(dir, PageStore.FileName));
        var damaged = select(written).ToList();
        using var f = File.OpenHandle(Path.Combine(dir, PageStore.FileName), FileMode.Open, FileAccess.ReadWrite);
        var b = new byte[1];
        foreach (var page in damaged)
        {
            var at = page * SlotSize + PageStore.SlotHeaderSize + 100;
            RandomAccess.Read(f, b, at);
            b[0] ^= 0x5A;
            RandomAccess.Write(f, b, at);
        }
        return damaged;
    }

    private static List<long> WrittenPages(string file)
    {
        var pages = new List<long>();
        var header = new byte[PageStore.SlotHeaderSize];
        using var f = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var length = RandomAccess.GetLength(f);
        for (long page = 0; (page + 1) * SlotSize <= length; page++)
        {
            RandomAccess.Read(f, header, page * SlotSize);
            if (header.AsSpan().ContainsAnyExcept((byte)0) && BinaryPrimitives.ReadInt64LittleEndian(header) == page) pages.Add(page);
        }
        return pages;
    }

    /// <summary>The pages among <paramref name="pages"/> still damaged in <paramref name="replica"/>'s pages.dat
    /// (verified on a copy, so no doublewrite buffer is applied to it).</summary>
    private static List<long> StillDamaged(string dataDir, int replica, IEnumerable<long> pages)
    {
        using var copy = new TestDirectory();
        File.Copy(Path.Combine(SegmentDir(dataDir, replica), PageStore.FileName), Path.Combine(copy.Path, PageStore.FileName));
        using var store = PageStore.Open(copy.Path, PageSize, 0, 1048576, fsync: false);
        return pages.Where(p => store.Verify(p) != SlotState.Intact).ToList();
    }

    private static async Task<SegmentProtocol.SegmentStatus> StatusAsync(EmbeddedNode node, int replica) =>
        (await node.GetSegmentStatusesAsync(TimeSpan.FromSeconds(10))).Single(s => s.Replica == replica);

    private static async Task EventuallyAsync(Func<Task<bool>> condition, TimeSpan within, Func<Task<string>> describe)
    {
        var until = DateTime.UtcNow + within;
        while (!await condition())
        {
            if (DateTime.UtcNow > until) Assert.Fail(await describe());
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task A_damaged_slot_is_repaired_from_a_peer_when_a_read_or_new_redo_hits_it_without_a_restart()
    {
        using var dir = new TestDirectory();
        var options = new ActorDbOptions { DataDir = dir.Path, Hocon = Hocon(0) };   // no scrub: reads and redo find the damage
        await using (var node = await EmbeddedNode.StartAsync(options, "WARNING"))
        {
            await node.Client.CreateTableAsync(Docs);
            await InsertAsync(node.Client, 0, Rows);
        }
        var damaged = Damage(dir.Path, 0, written => written);   // every slot of pg-0-0, the replica reads go to first
        Assert.True(damaged.Count > 300, $"{damaged.Count} written pages");
        long repaired;

        await using (var node = await EmbeddedNode.StartAsync(options, "WARNING"))
        {
            var logs = CollectLogs(node);
            // New redo for damaged pages (the rightmost leaf, the inner pages): pg-0-0's materialization must wait for
            // their repair, not throw; the commits go on meanwhile.
            await InsertAsync(node.Client, Rows, Rows + 200);
            await AssertRowsAsync(node.Client, Enumerable.Range(0, Rows + 200).Select(i => (long)i));
            await EventuallyAsync(async () => (await StatusAsync(node, 0)).Pages is { Repairing: 0, Repaired: > 0 } p && p.Repaired == p.DamagedFound,
                TimeSpan.FromSeconds(30), async () => $"pg-0-0: {await StatusAsync(node, 0)}");
            var s0 = await StatusAsync(node, 0);
            var s1 = await StatusAsync(node, 1);
            output.WriteLine($"pg-0-0 repaired {s0.Pages!.Repaired} of {damaged.Count} damaged pages; materialized {s0.Materialized}, pg-0-1 {s1.Materialized}");
            Assert.Null(s0.Failure);
            await AssertRowsAsync(node.Client, Enumerable.Range(0, Rows + 200).Select(i => (long)i));
            repaired = s0.Pages.Repaired;
            // Durable while the node runs (a checkpoint started at once writes them), not only at its final checkpoint.
            var expectedLeft = damaged.Count - (int)repaired;
            await EventuallyAsync(() => Task.FromResult(StillDamaged(dir.Path, 0, damaged).Count == expectedLeft), TimeSpan.FromSeconds(10),
                () => Task.FromResult($"{StillDamaged(dir.Path, 0, damaged).Count} damaged slots left in pg-0-0's pages.dat, expected {expectedLeft}"));
            // One condition, not a line per page or per read: the first damaged page (the node's start may have found it
            // before the collector listened) and at most a summary.
            var lines = LinesOf(logs, "pg-0-0");
            output.WriteLine(string.Join("\n", lines));
            Assert.InRange(lines.Count, 0, 2);
        }
        // The repairs were written back (pages.dat, not only memory): the pages no read or redo reached stay damaged (no
        // scrub here), those repaired are whole.
        Assert.Equal(damaged.Count - repaired, StillDamaged(dir.Path, 0, damaged).Count);
    }

    [Fact]
    public async Task The_scrub_finds_and_repairs_every_damaged_slot_of_a_replica_no_read_touches()
    {
        using var dir = new TestDirectory();
        var options = new ActorDbOptions { DataDir = dir.Path, Hocon = Hocon(0) };
        await using (var node = await EmbeddedNode.StartAsync(options, "WARNING"))
        {
            await node.Client.CreateTableAsync(Docs);
            await InsertAsync(node.Client, 0, Rows);
        }
        var damaged = Damage(dir.Path, 3, written => written.Where((_, i) => i % 3 == 0));
        var written = WrittenPages(Path.Combine(SegmentDir(dir.Path, 3), PageStore.FileName)).Count;

        var scrubbing = new ActorDbOptions { DataDir = dir.Path, Hocon = Hocon(5000) };
        var started = Stopwatch.StartNew();
        await using (var node = await EmbeddedNode.StartAsync(scrubbing, "WARNING"))
        {
            await EventuallyAsync(async () => (await StatusAsync(node, 3)).Pages is { } p && p.Repaired == damaged.Count && p.Repairing == 0 && p.ScrubPasses >= 1,
                TimeSpan.FromSeconds(60), async () => $"pg-0-3 after {started.Elapsed}: {(await StatusAsync(node, 3)).Pages} of {damaged.Count} damaged, {written} written");
            var elapsed = started.Elapsed;
            var p3 = (await StatusAsync(node, 3)).Pages!;
            Assert.Equal(damaged.Count, p3.DamagedFound);
            Assert.True(p3.ScrubbedPages >= written - damaged.Count, $"{p3.ScrubbedPages} slots scrubbed of {written}");
            output.WriteLine($"pg-0-3: {p3.ScrubbedPages} slots ({p3.ScrubbedBytes / 1e6:0.0} MB) scrubbed, {p3.Repaired} of {written} repaired, in {elapsed.TotalSeconds:0.0} s " +
                             $"(node start included): {p3.Repaired / elapsed.TotalSeconds:0} repairs/s, scrub {p3.ScrubbedPages / elapsed.TotalSeconds:0} pages/s");
            foreach (var other in (await node.GetSegmentStatusesAsync(TimeSpan.FromSeconds(10))).Where(s => s.Replica != 3))
                Assert.Equal(0, other.Pages!.DamagedFound);
            await AssertRowsAsync(node.Client, Enumerable.Range(0, Rows).Select(i => (long)i));
            // The scrub's own pace (a measurement, not asserted): slots verified per second over a 2 s window.
            var before = (await StatusAsync(node, 3)).Pages!.ScrubbedPages;
            var window = Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromSeconds(2));
            var after = (await StatusAsync(node, 3)).Pages!.ScrubbedPages;
            output.WriteLine($"scrub at 5000 pages/s configured: {(after - before) / window.Elapsed.TotalSeconds:0} slots/s, {(after - before) * SlotSize / 1e6 / window.Elapsed.TotalSeconds:0.0} MB/s");
        }
        Assert.Empty(StillDamaged(dir.Path, 3, damaged));
    }

    [Fact]
    public async Task A_page_damaged_on_all_six_copies_fails_its_reads_fast_naming_page_and_pg_and_every_other_row_reads()
    {
        using var dir = new TestDirectory();
        var options = new ActorDbOptions { DataDir = dir.Path, Hocon = Hocon(0) };
        await using (var node = await EmbeddedNode.StartAsync(options, "WARNING"))
        {
            await node.Client.CreateTableAsync(Docs);
            await InsertAsync(node.Client, 0, Rows);
        }
        // A page written in the middle of the load: a leaf (they are almost all of the pages), never the header or a root.
        var all = WrittenPages(Path.Combine(SegmentDir(dir.Path, 0), PageStore.FileName));
        var page = all[all.Count / 2];
        for (var r = 0; r < VolumeGeometry.SegmentsPerPg; r++) Assert.Equal([page], Damage(dir.Path, r, _ => [page]));

        await using (var node = await EmbeddedNode.StartAsync(options, "WARNING"))
        {
            var logs = CollectLogs(node);
            var failed = new List<long>();
            var slowest = TimeSpan.Zero;
            for (long id = 0; id < Rows; id++)
            {
                var watch = Stopwatch.StartNew();
                try
                {
                    await using var tx = node.Client.Begin();
                    var row = await tx.GetAsync("docs", id);
                    Assert.NotNull(row);
                    Assert.Equal(Body(id), row.Fields["body"]);
                }
                catch (ActorDbException e)
                {
                    Assert.Contains($"page {page} of PG 0 cannot be read", e.Message);
                    failed.Add(id);
                    if (watch.Elapsed > slowest) slowest = watch.Elapsed;
                }
            }
            output.WriteLine($"page {page}: {failed.Count} rows unreadable ({failed.FirstOrDefault()}..{failed.LastOrDefault()}), slowest failure {slowest.TotalMilliseconds:0} ms");
            Assert.InRange(failed.Count, 1, 50);   // one leaf's rows (about 8 at 900 bytes), nothing else
            Assert.Equal(failed.Count, failed.Last() - failed.First() + 1);   // contiguous keys: one leaf
            Assert.True(slowest < TimeSpan.FromSeconds(10), $"a failing read took {slowest}");   // liveness, not speed
            var statuses = await node.GetSegmentStatusesAsync(TimeSpan.FromSeconds(10));
            Assert.All(statuses, s => Assert.Equal((1L, 0L, 1), (s.Pages!.DamagedFound, s.Pages.Repaired, s.Pages.Repairing)));
            // Writes go on.
            await InsertAsync(node.Client, Rows, Rows + 20);
            // Logged throttled: one line per segment when its repair starts (at most a summary), one by the writer.
            for (var r = 0; r < VolumeGeometry.SegmentsPerPg; r++) Assert.InRange(LinesOf(logs, $"pg-0-{r}").Count, 1, 2);
            var writerLines = logs.Select(e => e.Message.ToString() ?? "").Where(l => l.Contains($"page {page} of PG 0 cannot be read")).ToList();
            Assert.Single(writerLines);
        }
    }
}
