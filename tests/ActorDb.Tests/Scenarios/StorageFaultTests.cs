using System.Diagnostics;
using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Core.Storage;
using Xunit.Abstractions;
using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Tests.Scenarios;

/// <summary>Issue 12: storage faults under the segments (a <see cref="FaultyStorage"/> under all six) heal by themselves.
/// The log is written through the page cache with fdatasync (direct-io off), so a sync is a real step that can fail and a
/// power loss has unsynced bytes to take.</summary>
public sealed class StorageFaultTests : WriterScenarioBase
{
    private readonly ITestOutputHelper _output;
    private readonly FaultyStorage _storage;

    public StorageFaultTests(ITestOutputHelper output) : this(output, new FaultyStorage()) { }

    private StorageFaultTests(ITestOutputHelper output, FaultyStorage storage)
        : base(output, "actordb.segment.direct-io = off\nactordb.segment.preallocate-bytes = 1048576", storage)
    {
        _output = output;
        _storage = storage;
    }

    /// <summary>The log files of segment <paramref name="replica"/> (not its segment.meta or page store).</summary>
    private static string LogOf(int replica) => $"{new SegmentId(Pg, replica)}{Path.DirectorySeparatorChar}{SegmentLog.FilePrefix}";

    private static string SegmentOf(int replica) => $"{new SegmentId(Pg, replica)}{Path.DirectorySeparatorChar}";

    private async Task<Lsn> SclOfAsync(int replica) => (await SegmentStatusAsync(replica)).Scl;

    [Fact]
    public async Task A_full_disk_on_three_segments_stalls_commits_and_freeing_the_space_resumes_them_without_a_restart()
    {
        var (writer, client) = await StartWriterAsync("writer");
        await client.CreateTableAsync(Kv);
        AssertDurable(await InsertAsync(client, 0, "before"));

        foreach (var r in new[] { 0, 2, 4 }) _storage.Inject(StorageFault.DiskFull(SegmentOf(r)));
        var commit = InsertAsync(client, 1, "after the disk filled");
        var winner = await Task.WhenAny(commit, Task.Delay(TimeSpan.FromMilliseconds(1500)));
        Assert.True(winner != commit, "a commit was acknowledged while 3 of 6 segments had no space");
        foreach (var r in new[] { 0, 2, 4 })
        {
            var status = await SegmentStatusAsync(r);
            Assert.Equal(SegmentFault.DiskFull, status.Fault);
            Assert.Contains("disk full", status.Failure);
        }
        Assert.Equal(SegmentFault.None, (await SegmentStatusAsync(1)).Fault);

        // A while longer full: the retries back off and nothing is acknowledged meanwhile.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(commit.IsCompleted);

        var freed = Stopwatch.StartNew();
        Assert.True(_storage.Clear() > 0);
        var info = await commit.WaitAsync(Short);
        var ms = freed.ElapsedMilliseconds;
        _output.WriteLine($"space freed to first commit: {ms} ms");
        AssertDurable(info);
        Assert.True(ms < 5000, $"the first commit after freeing space took {ms} ms (goal 2 s)");

        for (var i = 2; i < 20; i++) AssertDurable(await InsertAsync(client, i, $"v{i}"));
        foreach (var r in new[] { 0, 2, 4 })
            await AwaitAssertAsync(async () =>
            {
                var status = await SegmentStatusAsync(r);
                Assert.Equal(SegmentFault.None, status.Fault);
                Assert.Null(status.Failure);
                Assert.True(status.Scl.Value >= info.CommitLsn, $"pg-0-{r} SCL {status.Scl} below the commit {info.CommitLsn}");
            }, Short);
        Assert.Equal("after the disk filled", (await ReadAsync(client, 1))!.Fields["v"]);
        await StopWriterAsync(writer);
    }

    [Fact]
    public async Task After_eio_on_a_sync_the_failed_range_is_cut_at_the_reopen_and_refetched_and_commits_go_on()
    {
        var (writer, client) = await StartWriterAsync("writer");
        await client.CreateTableAsync(Kv);
        AssertDurable(await InsertAsync(client, 0, "v0"));

        // From the 3rd sync of segment 3's log on, until cleared: it stays faulted, so its state can be looked at.
        _storage.Inject(new StorageFault(StorageOps.Sync, StorageErrors.Eio, LogOf(3), After: 2));
        var infos = new List<CommitInfo>();
        for (var i = 1; i <= 30; i++) infos.Add(await InsertAsync(client, i, $"v{i}"));   // 5 of 6 segments: commits go on
        infos.ForEach(AssertDurable);

        await AwaitAssertAsync(async () => Assert.Equal(SegmentFault.IoError, (await SegmentStatusAsync(3)).Fault), Short);
        var dir = Directory.GetDirectories(DataDir, new SegmentId(Pg, 3).EntityId, SearchOption.AllDirectories).Single();
        var meta = SegmentMetadata.Load(dir);
        Assert.NotNull(meta.Distrusted);   // recorded durably before anything else
        var sclWhileFaulted = await SclOfAsync(3);
        Assert.True(sclWhileFaulted.Value < infos[^1].CommitLsn, $"a faulted segment counted SCL {sclWhileFaulted} up to {infos[^1].CommitLsn}");

        // The device answers again: the segment reopens (cutting the distrusted bytes), gets its records back, counts again.
        await EventFilter.Warning(contains: "cut the log at").ExpectAsync(1, async () =>
        {
            _storage.Clear();
            await AwaitAssertAsync(async () => Assert.Equal(SegmentFault.None, (await SegmentStatusAsync(3)).Fault), Short);
        }, Short);
        for (var i = 31; i <= 35; i++) infos.Add(await InsertAsync(client, i, $"v{i}"));
        await AwaitAssertAsync(async () =>
            Assert.True((await SclOfAsync(3)).Value >= infos[^1].CommitLsn, "pg-0-3 did not catch up after the I/O error"), Short);
        Assert.Null(SegmentMetadata.Load(dir).Distrusted);   // forgotten once the cut was durable
        for (var i = 0; i <= 35; i++) Assert.Equal($"v{i}", (await ReadAsync(client, i))!.Fields["v"]);
        await StopWriterAsync(writer);
    }

    [Fact]
    public async Task A_power_loss_on_two_segments_never_loses_an_acknowledged_commit()
    {
        var (writer, client) = await StartWriterAsync("writer");
        await client.CreateTableAsync(Kv);
        var acked = new List<long>();
        var stop = false;
        // Commits running while the power goes: some are acknowledged, some not; only the acknowledged ones are checked.
        var running = Enumerable.Range(0, 8).Select(async t =>
        {
            for (var i = 0; i < 900 && !Volatile.Read(ref stop); i++)
            {
                var key = t * 1000L + i;
                try
                {
                    AssertDurable(await InsertAsync(client, key, $"k{key}"));
                    lock (acked) acked.Add(key);
                }
                catch (Exception) when (i > 0) { return; }
            }
        }).ToList();
        await Task.Delay(300);
        // Slow syncs on the two: batches written to them wait unsynced (their acks too) while the quorum goes on without them.
        foreach (var r in new[] { 1, 4 }) _storage.Slow(StorageOps.Sync, LogOf(r), TimeSpan.FromSeconds(1));
        await Task.Delay(1500);
        var lost = _storage.PowerLoss(tear: true, SegmentOf(1)) + _storage.PowerLoss(tear: true, SegmentOf(4));
        _output.WriteLine($"power loss on pg-0-1 and pg-0-4: {lost} unsynced bytes lost");
        await Task.Delay(300);
        Volatile.Write(ref stop, true);
        Assert.True(lost > 0, "the power loss should have taken written, unsynced bytes (the syncs were slowed)");
        await Task.WhenAll(running);
        await KillAsync(writer);
        await StopSegmentAsync(1);
        await StopSegmentAsync(4);
        _storage.PowerOn();
        _storage.Clear();
        await StartSegmentAsync(1);
        await StartSegmentAsync(4);
        // Recovery must use the two power-lost segments: two others are down.
        await StopSegmentAsync(0);
        await StopSegmentAsync(2);
        var (writer2, client2) = await StartWriterAsync("writer2");
        Assert.True(acked.Count > 0);
        foreach (var key in acked)
            Assert.Equal($"k{key}", (await ReadAsync(client2, key))?.Fields["v"]);
        _output.WriteLine($"{acked.Count} acknowledged commits all present");
        await StopWriterAsync(writer2);
    }
}

/// <summary>The same faults with the log written by O_DIRECT | O_DSYNC (the default): a failed direct write must not crash the
/// segment whatever the order of its messages (issue 12, item 2), and heals like any other.</summary>
public sealed class DirectIoStorageFaultTests : WriterScenarioBase
{
    private readonly FaultyStorage _storage;

    public DirectIoStorageFaultTests(ITestOutputHelper output) : this(output, new FaultyStorage()) { }

    private DirectIoStorageFaultTests(ITestOutputHelper output, FaultyStorage storage) : base(output, "", storage) => _storage = storage;

    [Fact]
    public async Task Eio_on_direct_writes_faults_the_segment_without_a_restart_and_it_heals_when_the_device_answers()
    {
        var (writer, client) = await StartWriterAsync("writer");
        await client.CreateTableAsync(Kv);
        AssertDurable(await InsertAsync(client, 0, "v0"));
        var log = $"{new SegmentId(Pg, 3)}{Path.DirectorySeparatorChar}{SegmentLog.FilePrefix}";
        _storage.Inject(new StorageFault(StorageOps.Write, StorageErrors.Eio, log, After: 3));
        var infos = new List<CommitInfo>();
        // Concurrent commits: batches reach the segment while its failed write is still on its way to the mailbox.
        for (var round = 0; round < 5; round++)
            infos.AddRange(await Task.WhenAll(Enumerable.Range(1, 8).Select(i => InsertAsync(client, round * 100 + i, $"v{round * 100 + i}"))));
        infos.ForEach(AssertDurable);
        var faulted = await SegmentStatusAsync(3);
        Assert.Equal(SegmentFault.IoError, faulted.Fault);   // stopped, or reopened and not yet proven by a sync
        Assert.True(faulted.Scl.Value < infos.Max(i => i.CommitLsn));

        _storage.Clear();
        var last = await InsertAsync(client, 999, "after");
        await AwaitAssertAsync(async () =>
        {
            var status = await SegmentStatusAsync(3);
            Assert.Equal(SegmentFault.None, status.Fault);
            Assert.True(status.Scl.Value >= last.CommitLsn, $"pg-0-3 SCL {status.Scl} below {last.CommitLsn}");
        }, Short);
        await StopWriterAsync(writer);
    }
}
