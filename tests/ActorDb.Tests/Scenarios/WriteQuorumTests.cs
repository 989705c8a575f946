using Akka.Event;
using ActorDb.Client;
using Xunit.Abstractions;

namespace ActorDb.Tests.Scenarios;

/// <summary>Scenarios 2-4: a commit is acknowledged only once 4 of the 6 segments of its PG hold it (design.md, "Quorum").</summary>
public class WriteQuorumTests(ITestOutputHelper output) : WriterScenarioBase(output)
{
    private static async Task AssertNotCompletedWithin(Task task, TimeSpan time, string what)
    {
        var winner = await Task.WhenAny(task, Task.Delay(time));
        Assert.True(winner != task, $"{what} completed while only 3 segments could acknowledge it: " +
            (task.IsFaulted ? task.Exception!.InnerException!.ToString() : "acknowledged"));
    }

    [Fact]
    public async Task No_commit_is_acknowledged_before_four_segments_hold_it()
    {
        var (writer, client) = await StartWriterAsync("writer");
        await client.CreateTableAsync(Kv);
        AssertDurable(await InsertAsync(client, 0, "all six up"));

        foreach (var r in new[] { 0, 2, 4 }) await BlackholeAsync(r, on: true);   // one segment per AZ unreachable
        var commit = InsertAsync(client, 1, "needs a fourth ack");
        await AssertNotCompletedWithin(commit, TimeSpan.FromMilliseconds(1500), "the commit");

        var stalled = await client.GetStatusAsync();
        Assert.Equal(1, stalled.CommitsInFlight);
        Assert.True(stalled.Allocated > stalled.Vdl, $"allocated {stalled.Allocated} should be above VDL {stalled.Vdl}");
        Assert.True(Dropped(2) > 0, "the blackholed segment should have been sent the batch (and resends)");

        await BlackholeAsync(2, on: false);   // the writer resends to it after resend-after
        var info = await commit.WaitAsync(Short);
        AssertDurable(info);

        var status = await client.GetStatusAsync();
        var scl = status.Pgs[Pg].Scl;
        Assert.True(status.Vdl.Value >= info.CommitLsn);
        Assert.True(scl[2].Value >= info.CommitLsn, $"segment 2 (un-blackholed) should have caught up: SCL {scl[2]} < {info.CommitLsn}");
        foreach (var r in new[] { 0, 4 })
            Assert.True(scl[r].Value < info.CommitLsn, $"segment {r} is still blackholed but has SCL {scl[r]} >= {info.CommitLsn}");
        Assert.Equal("needs a fourth ack", (await ReadAsync(client, 1))!.Fields["v"]);

        foreach (var r in new[] { 0, 4 }) await BlackholeAsync(r, on: false);
        await StopWriterAsync(writer);
    }

    [Fact]
    public async Task Commits_succeed_with_two_segments_stopped_and_the_stopped_segments_catch_up_when_they_return()
    {
        var (writer, client) = await StartWriterAsync("writer");
        await client.CreateTableAsync(Kv);
        await StopSegmentAsync(1);
        await StopSegmentAsync(5);
        var sclAtStop = (await client.GetStatusAsync()).Pgs[Pg].Scl;

        var infos = new List<CommitInfo>();
        for (var i = 0; i < 50; i++)
        {
            var info = await InsertAsync(client, i, $"value-{i}");
            AssertDurable(info);
            infos.Add(info);
        }
        Assert.Equal(infos.Select(i => i.CommitLsn).OrderBy(l => l), infos.Select(i => i.CommitLsn));   // increasing
        for (var i = 0; i < 50; i++) Assert.Equal($"value-{i}", (await ReadAsync(client, i))!.Fields["v"]);

        var status = await client.GetStatusAsync();
        Assert.Equal(sclAtStop[1], status.Pgs[Pg].Scl[1]);
        Assert.Equal(sclAtStop[5], status.Pgs[Pg].Scl[5]);
        Assert.True(status.Pgs[Pg].QuorumLsn.Value >= infos[^1].CommitLsn);

        // Back: recreated from their logs, then filled in by the writer's resends.
        await StartSegmentAsync(1);
        await StartSegmentAsync(5);
        await AwaitAssertAsync(async () =>
        {
            var s = await client.GetStatusAsync();
            Assert.True(s.Pgs[Pg].Scl[1].Value >= infos[^1].CommitLsn, $"segment 1 SCL {s.Pgs[Pg].Scl[1]}");
            Assert.True(s.Pgs[Pg].Scl[5].Value >= infos[^1].CommitLsn, $"segment 5 SCL {s.Pgs[Pg].Scl[5]}");
        }, Short, TimeSpan.FromMilliseconds(200));
        Assert.True((await SegmentStatusAsync(5)).Scl.Value >= infos[^1].CommitLsn);
        await StopWriterAsync(writer);
    }

    [Fact]
    public async Task With_three_segments_stopped_commits_stall_visibly_and_complete_when_one_returns()
    {
        var warnings = CreateTestProbe();
        Sys.EventStream.Subscribe(warnings.Ref, typeof(Warning));
        var (writer, client) = await StartWriterAsync("writer");
        await client.CreateTableAsync(Kv);
        AssertDurable(await InsertAsync(client, 0, "before"));

        foreach (var r in new[] { 1, 3, 5 }) await StopSegmentAsync(r);
        var commits = Enumerable.Range(1, 5).Select(i => InsertAsync(client, i, $"stalled-{i}")).ToArray();
        await AssertNotCompletedWithin(Task.WhenAny(commits), TimeSpan.FromMilliseconds(1500), "a commit");

        var stallLine = (await warnings.FishForMessageAsync<Warning>(w => w.Message.ToString()!.Contains("stalled"), Short)).Message.ToString()!;
        Assert.Contains("PG 0 stalled", stallLine);
        Assert.Contains("missing segments: no node: pg-0-1, pg-0-3, pg-0-5", stallLine);   // stopped: no actor to send to
        Assert.Contains("in epoch 1", stallLine);

        await AwaitAssertAsync(async () =>
        {
            var s = await client.GetStatusAsync();
            Assert.Equal([1, 3, 5], s.Pgs[Pg].StalledReplicas);
            Assert.Equal(5, s.CommitsInFlight);
        }, Short, TimeSpan.FromMilliseconds(100));
        Assert.All(commits, c => Assert.False(c.IsCompleted));

        await StartSegmentAsync(3);
        var infos = await Task.WhenAll(commits).WaitAsync(Short);
        Assert.All(infos, AssertDurable);
        Assert.Equal(5, infos.Select(i => i.CommitLsn).Distinct().Count());
        for (var i = 1; i <= 5; i++) Assert.Equal($"stalled-{i}", (await ReadAsync(client, i))!.Fields["v"]);
        await AwaitAssertAsync(async () => Assert.Empty((await client.GetStatusAsync()).Pgs[Pg].StalledReplicas), Short);

        foreach (var r in new[] { 1, 5 }) await StartSegmentAsync(r);
        await StopWriterAsync(writer);
    }

    [Fact]
    public async Task A_segment_that_misses_batches_shows_how_long_it_has_lagged_in_ms()
    {
        var (writer, client) = await StartWriterAsync("writer-lag");
        await client.CreateTableAsync(Kv);
        await BlackholeAsync(5, on: true);
        var before = DateTime.UtcNow;
        AssertDurable(await InsertAsync(client, 1, "pg-0-5 misses this"));
        await Task.Delay(400);
        var status = await client.GetStatusAsync();
        var lag = status.Pgs[Pg].LagMs!;
        var waited = (long)(DateTime.UtcNow - before).TotalMilliseconds;
        // At least the 400 ms waited since the insert was acknowledged (less a timer's slack), at most the time since it began.
        Assert.True(lag[5] >= 350 && lag[5] <= waited + 50, $"pg-0-5 lag {lag[5]} ms; {waited} ms since the insert began");
        Assert.All(Enumerable.Range(0, 5), r => Assert.Equal(0, lag[r]));   // the others hold everything shipped
        await BlackholeAsync(5, on: false);
        await StopWriterAsync(writer);
    }
}
