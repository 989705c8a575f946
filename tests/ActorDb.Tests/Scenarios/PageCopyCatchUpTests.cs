using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Event;
using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Core.Commands;
using ActorDb.Storage;
using Xunit.Abstractions;
using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Tests.Scenarios;

/// <summary>
/// design.md: "A segment that starts empty (new node, lost disk, moved shard) does not count in any quorum until it has
/// caught up from its peers to the PG's state at the time it joined." Its peers have garbage-collected their logs below
/// their page-store checkpoints, so records alone cannot bring it back: it copies a peer's pages, then fetches the
/// records above the copy.
/// </summary>
public class PageCopyCatchUpTests(ITestOutputHelper output) : WriterScenarioBase(output, SmallCheckpoints)
{
    private readonly ITestOutputHelper _output = output;

    // Small checkpoints and log files, so a few MB of redo checkpoint and collect the log several times; small chunks, so
    // a copy takes many (ACTORDB_CATCHUP_CHUNK_BYTES sets another size for a hand-run measurement).
    private static string SmallCheckpoints => $"""
        actordb.segment.checkpoint-bytes = 262144
        actordb.segment.max-file-bytes = 1048576
        actordb.segment.preallocate-bytes = 262144
        actordb.segment.page-copy-chunk-bytes = {Environment.GetEnvironmentVariable("ACTORDB_CATCHUP_CHUNK_BYTES") ?? "262144"}
        """;

    /// <summary>Rows written before the segment is emptied (900-byte values): 6000 by default; set
    /// <c>ACTORDB_CATCHUP_ROWS</c> for a bigger hand-run measurement of the catch-up rate (its log line gives MB/s).</summary>
    private static int Rows => int.TryParse(Environment.GetEnvironmentVariable("ACTORDB_CATCHUP_ROWS"), out var n) && n > 0 ? n : 6000;

    private static string Body(long id) => new string((char)('a' + id % 26), 900) + id;

    /// <summary>Inserts <see cref="Rows"/> rows, ten per transaction, each commit durable.</summary>
    private static async Task InsertRowsAsync(ActorDb.Client.ActorDbClient client)
    {
        for (var i = 0; i < Rows; i += 10)
        {
            await using var tx = client.Begin();
            for (var id = i; id < Math.Min(i + 10, Rows); id++) await tx.InsertAsync(Kv.Name, (long)id, Value(Body(id)));
            AssertDurable(await tx.CommitAsync());
        }
    }

    [Fact]
    public async Task An_emptied_segment_copies_pages_from_a_peer_counts_in_no_quorum_before_and_then_holds_every_page()
    {
        var (writer, client) = await StartWriterAsync("writer-1");
        await client.CreateTableAsync(Kv);
        await InsertRowsAsync(client);
        var epoch = (await client.GetStatusAsync()).Epoch;

        // The peers checkpointed and collected their logs: a segment with nothing (SCL 0) gets no record from them, only
        // the answer that a page copy is needed, at the peer's checkpoint.
        await AwaitAssertAsync(async () =>
        {
            var answer = await Router.Ask<PeerRedo>(new FetchRedo(Pg, 0, epoch, Lsn.Zero, new Lsn(long.MaxValue), 5), Short);
            var peer = await SegmentStatusAsync(0);
            Assert.True(answer.Records.Length == 0, $"pg-0-0 (checkpoint {peer.Checkpoint}, SCL {peer.Scl}, {peer.BytesWritten} log bytes written, {peer.BytesOnDisk} on disk) served {answer.Records.Length} records from {answer.Records.FirstOrDefault()?.Lsn}");
            Assert.True(answer.CopyPagesAt > 0, $"pg-0-0 answered {answer.Unavailable} without a page-copy point");
            Assert.Equal((await SegmentStatusAsync(0)).Checkpoint.Value, answer.CopyPagesAt);
        }, Short, TimeSpan.FromMilliseconds(200));

        // pg-0-5 loses its disk and comes back empty. Its page copy is held, so it stays below the PG's state for a while.
        await StopSegmentAsync(5);
        Directory.Delete(SegmentActor.DirectoryOf(DataDir, Pg, 5), recursive: true);
        Faults.Hold("copy", (m, _) => m is FetchPages { RequesterReplica: 5 });
        var joined = await client.GetStatusAsync();
        await StartSegmentAsync(5);
        AssertDurable(await InsertAsync(client, Rows, "pg-0-5 is back"));   // five full segments are a quorum
        await AwaitAssertAsync(() => Assert.NotEmpty(Faults.Held("copy")), Short, TimeSpan.FromMilliseconds(100));
        Assert.All(Faults.Held("copy"), m => Assert.Equal(0, m.Replica));   // its first peer answered with a page-copy point

        var empty = await SegmentStatusAsync(5);
        Assert.Equal(epoch, empty.OpenedEpoch);
        Assert.Equal(Lsn.Zero, empty.Scl);
        Assert.Equal(Lsn.Zero, empty.Checkpoint);
        Assert.NotNull(empty.CatchUp);
        Assert.True(empty.JoinTarget >= joined.Vdl, $"join target {empty.JoinTarget} below the VDL {joined.Vdl} it joined at");
        Assert.True(empty.CatchUp!.Target >= joined.Vdl, $"catch-up target {empty.CatchUp.Target} below the VDL {joined.Vdl} it joined at");
        Assert.Equal(SegmentHealth.CatchingUp, SegmentHealth.Classify(true, empty.Failure, empty.Epoch, empty.OpenedEpoch, epoch, empty.Scl.Value, 0, empty.CatchUp is not null));
        Assert.Contains("SCL 0 of", empty.CatchUp!.Describe(Pg, empty.Scl, DateTime.UtcNow));
        // It serves no read: it does not hold the read point.
        var firstPage = Settings.Geometry.FirstPageOf(Pg);
        Assert.IsType<PageUnavailable>(await Router.Ask<object>(new ReadPage(Pg, 5, firstPage, joined.Vdl, joined.Vdl), Short));

        // It counts in no quorum: with pg-0-1 and pg-0-2 down, pg-0-0, 3, 4 and the empty pg-0-5 are four segments, and a
        // commit does not become durable.
        await StopSegmentAsync(1);
        await StopSegmentAsync(2);
        var blocked = InsertAsync(client, Rows + 1, "needs pg-0-5 caught up");
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(blocked.IsCompleted, "a commit became durable with an empty segment as the 4th acknowledgement");
        // The writer keeps the highest SCL a segment ever acknowledged (what was durable there before its disk was lost,
        // at or below the VDL it joined at, long since counted); the emptied segment's acknowledgements add nothing above.
        var stalled = await client.GetStatusAsync();
        Assert.True(stalled.Pgs[Pg].Scl[5] <= joined.Vdl, $"the writer tracks SCL {stalled.Pgs[Pg].Scl[5]} for pg-0-5, above the VDL {joined.Vdl} it joined at");
        Assert.True(stalled.Vdl < stalled.Allocated, $"VDL {stalled.Vdl} reached the allocated LSN {stalled.Allocated}");
        Assert.Equal(Lsn.Zero, (await SegmentStatusAsync(5)).Scl);

        // The copy goes on: pages from pg-0-0, then its records; pg-0-5 becomes the 4th acknowledgement.
        Assert.Equal(1, await ReleaseAsync("copy"));
        var info = await blocked.WaitAsync(TimeSpan.FromSeconds(30));
        AssertDurable(info);
        SegmentStatus caughtUp = null!;
        await AwaitAssertAsync(async () =>
        {
            caughtUp = await SegmentStatusAsync(5);
            Assert.Null(caughtUp.CatchUp);
            Assert.True(caughtUp.Scl.Value >= info.CommitLsn, $"pg-0-5 SCL {caughtUp.Scl} below {info.CommitLsn}");
        }, Short, TimeSpan.FromMilliseconds(200));
        Assert.True(caughtUp.Checkpoint > Lsn.Zero, "pg-0-5 has no checkpoint: its pages did not come from a copy");
        Assert.Equal(Lsn.Zero, caughtUp.JoinTarget);   // joined: it counts in quorums again
        Assert.True(caughtUp.Checkpoint < joined.Vdl, $"copy point {caughtUp.Checkpoint} should be a peer checkpoint below the VDL {joined.Vdl}");
        await StartSegmentAsync(1);
        await StartSegmentAsync(2);
        await StopWriterAsync(writer);

        // It holds every page: read at the same point from pg-0-5 and from pg-0-3 (never emptied), they are equal.
        var point = Lsn.Zero;
        await AwaitAssertAsync(async () =>
        {
            var s3 = await SegmentStatusAsync(3);
            var s5 = await SegmentStatusAsync(5);
            Assert.Equal(s3.Scl, s5.Scl);
            point = s5.Scl;
        }, Short, TimeSpan.FromMilliseconds(200));
        var pages = 0;
        var emptyRun = 0;
        for (var pageNo = firstPage; emptyRun < 64; pageNo++)
        {
            var fromPeer = Assert.IsType<PageImage>(await Router.Ask<object>(new ReadPage(Pg, 3, pageNo, point, point), Short));
            var fromCopy = Assert.IsType<PageImage>(await Router.Ask<object>(new ReadPage(Pg, 5, pageNo, point, point), Short));
            Assert.Equal(fromPeer.PageLsn, fromCopy.PageLsn);
            Assert.Equal(fromPeer.Image, fromCopy.Image);
            if (fromPeer.Image is null) emptyRun++;
            else
            {
                emptyRun = 0;
                pages++;
            }
        }
        Assert.True(pages > Rows / 10, $"only {pages} pages compared for {Rows} rows of 900 bytes");

        // And a writer that can read only from pg-0-5 and two others finds every row.
        await StopSegmentAsync(0);
        await StopSegmentAsync(1);
        await StopSegmentAsync(3);
        var (writer2, client2) = await StartWriterAsync("writer-2");
        await using (var tx = client2.Begin())
        {
            var rows = await tx.ScanAsync(Kv.Name, 0L, Rows + 10);
            Assert.Equal(Rows + 2, rows.Count);
            Assert.Equal(Body(1234 % Rows), (string?)rows[1234 % Rows].Fields["v"]);
            await tx.CommitAsync();
        }
        await KillAsync(writer2);
    }

    // Benchmark-style: the catch-up rate is printed (test output), never asserted. A hand run with a bigger volume:
    //   ACTORDB_CATCHUP_ROWS=60000 dotnet test tests/ActorDb.Tests -c Release --filter "FullyQualifiedName~PageCopyCatchUp" --logger "console;verbosity=detailed"
    [Fact]
    public async Task An_emptied_segment_catches_up_unaided_and_reports_its_rate()
    {
        var (writer, client) = await StartWriterAsync("writer-1");
        await client.CreateTableAsync(Kv);
        await InsertRowsAsync(client);
        var logs = CreateTestProbe();
        Sys.EventStream.Subscribe(logs, typeof(Info));
        await StopSegmentAsync(4);
        Directory.Delete(SegmentActor.DirectoryOf(DataDir, Pg, 4), recursive: true);
        await StartSegmentAsync(4);
        var last = await InsertAsync(client, Rows, "pg-0-4 is back");
        AssertDurable(last);

        var copied = (Info)await logs.FishForMessageAsync(m => m is Info i && i.Message.ToString()!.Contains("pg-0-4 (PG 0) page copy from") && i.Message.ToString()!.Contains("finished"), TimeSpan.FromSeconds(60));
        var caughtUp = (Info)await logs.FishForMessageAsync(m => m is Info i && i.Message.ToString()!.Contains("pg-0-4 (PG 0) caught up"), TimeSpan.FromSeconds(60));
        var copyLine = copied.Message.ToString()!;
        var doneLine = caughtUp.Message.ToString()!;
        _output.WriteLine($"CATCH-UP {Rows} rows: {copyLine}");
        _output.WriteLine($"CATCH-UP {Rows} rows: {doneLine}");
        Assert.Contains("finished in epoch 1", copyLine);
        var pageBytes = long.Parse(Regex.Match(copyLine, @"(\d+) pages, (\d+) bytes").Groups[2].Value);
        Assert.True(pageBytes >= Rows * 900L, $"{pageBytes} page bytes copied for {Rows} rows of 900 bytes");
        Assert.Matches(@"\d+\.\d MB/s", doneLine);
        var s4 = await SegmentStatusAsync(4);
        Assert.Null(s4.CatchUp);
        Assert.True(s4.Scl.Value >= last.CommitLsn, $"pg-0-4 SCL {s4.Scl} below {last.CommitLsn}");
        await StopWriterAsync(writer);
    }

    // The read quorum of a recovery too: a commit on pg-0-0, 1, 2 and 5 only; pg-0-5 then loses its disk. pg-0-3 and 4
    // (which lack the commit) and the empty pg-0-5 are 3 segments, but counting pg-0-5 would plan a VDL below the commit
    // and annul it. The recovery waits for a segment that counts instead, and then finds the commit.
    [Fact]
    public async Task A_recovery_does_not_count_a_segment_that_lost_its_disk_in_its_read_quorum()
    {
        var (writer, client) = await StartWriterAsync("writer-1");
        await client.CreateTableAsync(Kv);
        for (var i = 0; i < 10; i++) AssertDurable(await InsertAsync(client, i, $"v{i}"));
        await BlackholeAsync(3, true);
        await BlackholeAsync(4, true);
        var onFour = await InsertAsync(client, 100, "on pg-0-0, 1, 2 and 5 only");
        AssertDurable(onFour);
        await StopWriterAsync(writer);

        await StopSegmentAsync(5);
        Directory.Delete(SegmentActor.DirectoryOf(DataDir, Pg, 5), recursive: true);
        await StartSegmentAsync(5);
        await BlackholeAsync(3, false);
        await BlackholeAsync(4, false);
        await StopSegmentAsync(0);
        await StopSegmentAsync(1);
        await StopSegmentAsync(2);
        Assert.True((await SegmentStatusAsync(3)).Scl.Value < onFour.CommitLsn);
        Assert.True((await SegmentStatusAsync(4)).Scl.Value < onFour.CommitLsn);

        var (writer2, client2) = StartSupervisor("writer-2");
        await Assert.ThrowsAnyAsync<Exception>(() => client2.WaitUntilServingAsync(TimeSpan.FromSeconds(5)));
        var report = (await Router.Ask<SegmentState>(new GetSegmentState(Pg, 5), Short)).Report;
        Assert.Equal(0, report.OpenedEpoch);   // fenced by the waiting recovery, never opened: it holds nothing
        Assert.Equal(Lsn.Zero, report.Scl);

        await StartSegmentAsync(0);   // comes back at the recovery's next request
        await client2.WaitUntilServingAsync(TimeSpan.FromSeconds(30));
        var status = await client2.GetStatusAsync();
        Assert.True(status.Vdl.Value >= onFour.CommitLsn, $"recovered VDL {status.Vdl} below the commit {onFour.CommitLsn}");
        Assert.Equal("on pg-0-0, 1, 2 and 5 only", (await ReadAsync(client2, 100))!.Fields["v"]);
        await StartSegmentAsync(1);
        await StartSegmentAsync(2);
        await StopWriterAsync(writer2);
    }
}
