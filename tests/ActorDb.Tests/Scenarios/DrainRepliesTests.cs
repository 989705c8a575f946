using ActorDb.Client;
using ActorDb.Core.Transactions;
using Akka.Actor;
using Xunit.Abstractions;
using static ActorDb.Writer.WriterProtocol;

namespace ActorDb.Tests.Scenarios;

/// <summary>A writer that drains and is stopped at once (a hand-over, a node's shutdown) answers every commit it
/// accepted: its Drained passes through the commit coordinator, after every reply handed to it. Slow-commit logging at
/// 1 ms keeps the coordinator busy, so replies queue there. (Found by an adversarial review: before, replies still queued
/// in the coordinator were dropped when the writer stopped.)</summary>
public class DrainRepliesTests(ITestOutputHelper output) : WriterScenarioBase(output, "actordb.writer.slow-commit-threshold = 1ms")
{
    [Fact]
    public async Task A_drained_writer_stopped_right_away_has_answered_every_commit_it_accepted()
    {
        var (supervisor, client) = await StartWriterAsync("writer");
        await client.CreateTableAsync(Kv);
        var writer = (await WriterOfAsync(supervisor)).Writer;
        const int n = 2000;
        var probe = CreateTestProbe();
        Faults.Hold("batches", (m, _) => m is ActorDb.Core.Storage.SegmentProtocol.RedoBatch { Replica: >= 2 });
        for (var i = 0; i < n; i++)
            writer.Tell(new ExecuteStatement(0, new InsertStatement(Kv.Name, (long)i, Value("v" + i)), Commit: true), probe.Ref);
        await AwaitConditionAsync(async () => (await client.GetStatusAsync()).CommitsInFlight == n, Short);   // all waiting for a quorum
        var released = ReleaseAsync("batches");           // VDL advances: one Durable per advance to the coordinator
        var drained = await supervisor.Ask<Drained>(Drain.Instance, Short);
        await released;
        await KillAsync(supervisor);                      // stops the writer and its coordinator
        var replies = 0;
        var durable = 0;
        while (await probe.ReceiveOneAsync(TimeSpan.FromSeconds(2)) is { } m)
        {
            replies++;
            if (m is StatementReply { Error: null }) durable++;
        }
        Output!.WriteLine($"drained with {drained.CommitsNotDurable} not durable; {replies} replies, {durable} durable");
        Assert.Equal(n, replies);
        Assert.Equal(n - drained.CommitsNotDurable, durable);
    }
}
