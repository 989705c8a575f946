using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Core.Metrics;
using ActorDb.Core.Transactions;
using ActorDb.Metrics;
using ActorDb.Writer;
using Xunit.Abstractions;
using static ActorDb.Writer.WriterProtocol;

namespace ActorDb.Tests.Scenarios;

/// <summary>VDL never goes below an acknowledged commit, at the CommitCoordinator and at the writer.</summary>
public class VdlInvariantTests(ITestOutputHelper output) : WriterScenarioBase(output)
{
    private static WaitingCommit Waiting(long txnId, long commitLsn, long epoch, IActorRef client,
        bool withStatement = false, object? result = null, long received = 0) =>
        new(txnId, new Lsn(commitLsn), epoch, pg: 0)
        {
            ReplyTo = client, WithStatement = withStatement, Result = result,
            Times = new CommitTimes(0, received == 0 ? Stopwatch.GetTimestamp() : received, 0, 0, 0, 0, 0),
        };

    [Fact]
    public async Task Coordinator_replies_once_to_each_durable_commit_with_its_commit_lsn_and_the_vdl_it_was_told()
    {
        var first = CreateTestProbe();
        var second = CreateTestProbe();
        var coordinator = Sys.ActorOf(CommitCoordinator.Props(TimeSpan.FromSeconds(30)));
        coordinator.Tell(new CommitCoordinator.Durable(new Lsn(1240),
            [Waiting(42, 1234, 3, first.Ref), Waiting(43, 1236, 3, second.Ref, withStatement: true, result: true)]));
        var reply = await first.ExpectMsgAsync<CommitReply>(Short);
        Assert.Equal(42, reply.TxnId);
        Assert.Null(reply.Error);
        Assert.Equal(new CommitInfo(1234, 1240), reply.Info);
        var statement = await second.ExpectMsgAsync<StatementReply>(Short);
        Assert.Equal(43, statement.TxnId);
        Assert.Equal(true, statement.Result);
        Assert.Null(statement.Error);
        Assert.Equal(new CommitInfo(1236, 1240), statement.Committed);
        await first.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
        await second.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public async Task Coordinator_reports_abandoned_commits_as_ambiguous_naming_lsn_epoch_and_reason()
    {
        var client = CreateTestProbe();
        var fenced = CreateTestProbe();
        var coordinator = Sys.ActorOf(CommitCoordinator.Props(TimeSpan.FromSeconds(30)));
        coordinator.Tell(new CommitCoordinator.Abandoned("the writer stopped", [Waiting(7, 99, 5, client.Ref)]));
        var reply = await client.ExpectMsgAsync<CommitReply>(Short);
        Assert.Null(reply.Info);
        var error = Assert.IsType<AmbiguousCommitException>(reply.Error);
        Assert.Contains("transaction 7", error.Message);
        Assert.Contains("commit LSN 99", error.Message);
        Assert.Contains("epoch 5", error.Message);
        Assert.Contains("the writer stopped", error.Message);

        coordinator.Tell(new CommitCoordinator.Abandoned("fenced", [Waiting(8, 120, 5, fenced.Ref)], FencedByEpoch: 6));
        var stale = Assert.IsType<StaleEpochException>((await fenced.ExpectMsgAsync<CommitReply>(Short)).Error);
        Assert.True(stale.Ambiguous);
        Assert.Contains("fenced by epoch 6", stale.Message);
    }

    [Fact]
    public async Task Coordinator_logs_each_slow_commit_once_and_a_fast_one_not_at_all()
    {
        var client = CreateTestProbe();
        var coordinator = Sys.ActorOf(CommitCoordinator.Props(TimeSpan.FromMilliseconds(200)));
        var slowSince = Stopwatch.GetTimestamp() - Stopwatch.Frequency;   // received 1 s ago: several thresholds
        var warnings = CreateTestProbe();
        Sys.EventStream.Subscribe(warnings.Ref, typeof(Akka.Event.Warning));
        coordinator.Tell(new CommitCoordinator.Durable(new Lsn(501), [Waiting(8, 500, 2, client.Ref, received: slowSince), Waiting(9, 501, 2, client.Ref)]));
        Assert.Equal(new CommitInfo(500, 501), (await client.ExpectMsgAsync<CommitReply>(Short)).Info);
        Assert.Equal(new CommitInfo(501, 501), (await client.ExpectMsgAsync<CommitReply>(Short)).Info);
        var slow = await warnings.FishForMessageAsync<Akka.Event.Warning>(w => w.Message.ToString()!.Contains("Slow commit"), Short);
        Assert.Contains("Slow commit: transaction 8 commit LSN 500 in epoch 2", slow.Message.ToString());
        var later = new List<string>();
        await foreach (var m in warnings.ReceiveWhileAsync(TimeSpan.FromMilliseconds(300), o => o is Akka.Event.Warning w ? w.Message.ToString()! : null))
            later.Add(m!);
        Assert.DoesNotContain(later, m => m.Contains("Slow commit"));   // the fast commit is not logged, the slow one once
    }

    [Fact]
    public async Task Coordinator_passes_a_flush_on_only_after_everything_handed_to_it_before()
    {
        var clients = Enumerable.Range(0, 40).Select(_ => CreateTestProbe()).ToList();
        var drainer = CreateTestProbe();
        var coordinator = Sys.ActorOf(CommitCoordinator.Props(TimeSpan.FromSeconds(30)));
        coordinator.Tell(new CommitCoordinator.Durable(new Lsn(100), clients.Take(20).Select((c, i) => Waiting(i + 1, i + 1, 1, c.Ref)).ToList()));
        coordinator.Tell(new CommitCoordinator.Abandoned("the writer stopped", clients.Skip(20).Select((c, i) => Waiting(i + 21, i + 21, 1, c.Ref)).ToList()));
        coordinator.Tell(new CommitCoordinator.Flush(drainer.Ref, new Drained(0)));
        await drainer.ExpectMsgAsync<Drained>(Short);
        Assert.All(clients, c => Assert.True(c.HasMessages, "a client was not answered before the flush"));
    }

    [Fact]
    public async Task Every_acknowledged_commit_has_vdl_at_or_above_its_commit_lsn_while_segments_come_and_go()
    {
        var (writer, client) = await StartWriterAsync("writer");
        await client.CreateTableAsync(Kv);

        var acked = new ConcurrentBag<(CommitInfo Info, Lsn VdlAfter)>();
        var statuses = new ConcurrentQueue<WriterStatus>();
        using var stop = new CancellationTokenSource();
        var poller = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                statuses.Enqueue(await client.GetStatusAsync());
                await Task.Delay(20);
            }
        });

        using var churnDone = new CancellationTokenSource();
        var done = new int[4];
        async Task Loop(int loop)
        {
            for (var i = 0; i < 30 || !churnDone.IsCancellationRequested; i++)
            {
                long key = loop * 100_000 + i;
                var info = await InsertAsync(client, key, $"l{loop}-{i}");
                acked.Add((info, (await client.GetStatusAsync()).Vdl));
                await using var tx = client.Begin();
                Assert.True(await tx.UpdateAsync(Kv.Name, key, Value($"l{loop}-{i}-updated")));
                var update = await tx.CommitAsync();
                acked.Add((update, (await client.GetStatusAsync()).Vdl));
                done[loop] = i + 1;
            }
        }

        try
        {
            var loops = Enumerable.Range(0, 4).Select(l => Task.Run(() => Loop(l))).ToArray();
            // Churn while commits run: stop two segments, then blackhole a third: while only 3 segments can acknowledge,
            // VDL must not move; then bring them back one by one.
            await Task.Delay(300);
            await StopSegmentAsync(2);
            await StopSegmentAsync(4);
            await Task.Delay(300);
            await BlackholeAsync(0, on: true);
            await Task.Delay(300);   // acks already on their way settle
            var frozen = await client.GetStatusAsync();
            await Task.Delay(500);
            var stillFrozen = await client.GetStatusAsync();
            Assert.Equal(frozen.Vdl, stillFrozen.Vdl);
            Assert.True(stillFrozen.CommitsInFlight > 0, "the loops should have commits waiting for a quorum");
            await StartSegmentAsync(2);
            await Task.Delay(300);
            await StartSegmentAsync(4);
            await BlackholeAsync(0, on: false);
            await Task.Delay(300);
            churnDone.Cancel();
            await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            churnDone.Cancel();
            stop.Cancel();
        }
        await poller;

        Assert.Equal(done.Sum() * 2, acked.Count);
        Assert.All(done, n => Assert.True(n >= 30, $"a loop finished only {n} iterations"));
        foreach (var (info, vdlAfter) in acked)
        {
            AssertDurable(info);
            Assert.True(vdlAfter.Value >= info.CommitLsn, $"writer VDL {vdlAfter} below acknowledged commit LSN {info.CommitLsn}");
        }
        Assert.Equal(acked.Count, acked.Select(a => a.Info.CommitLsn).Distinct().Count());

        var seen = statuses.ToArray();
        Assert.True(seen.Length > 10, $"only {seen.Length} status samples");
        for (var i = 0; i < seen.Length; i++)
        {
            var s = seen[i];
            Assert.True(s.Vdl <= s.Vcl && s.Vcl <= s.Allocated, $"VDL {s.Vdl} <= VCL {s.Vcl} <= allocated {s.Allocated} violated");
            Assert.True(s.Vdl <= s.Pgs[Pg].QuorumLsn, $"VDL {s.Vdl} above the PG's quorum LSN {s.Pgs[Pg].QuorumLsn}");
            if (i > 0) Assert.True(s.Vdl >= seen[i - 1].Vdl, $"VDL went back from {seen[i - 1].Vdl} to {s.Vdl}");
        }

        var final = await client.GetStatusAsync();
        Assert.True(final.Vdl.Value >= acked.Max(a => a.Info.CommitLsn));
        for (var loop = 0; loop < 4; loop++)
        {
            var last = done[loop] - 1;
            Assert.Equal($"l{loop}-{last}-updated", (await ReadAsync(client, loop * 100_000 + last))!.Fields["v"]);
            Assert.Null(await ReadAsync(client, loop * 100_000 + last + 1));
        }
        await StopWriterAsync(writer);
    }
}
