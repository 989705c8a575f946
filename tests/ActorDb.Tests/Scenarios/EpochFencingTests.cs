using Akka.Actor;
using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Core.Redo;
using Xunit.Abstractions;
using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Tests.Scenarios;

/// <summary>Scenario 1: segments refuse requests of an older epoch (design.md, "Fencing").</summary>
public class EpochFencingTests(ITestOutputHelper output) : WriterScenarioBase(output)
{
    private static RedoRecord StrayRecord(Lsn lsn, long epoch) =>
        new(lsn, Lsn.Zero, Pg, 3, RedoKind.PageDelta, false, 77, epoch, new byte[] { 8, 0, 2, 0, 3, 4 });   // a valid delta: 2 bytes at offset 8

    [Fact]
    public async Task Segment_rejects_a_redo_batch_of_an_older_epoch_and_stores_nothing_of_it()
    {
        var (writer, client) = await StartWriterAsync("writer-1");
        await client.CreateTableAsync(Kv);
        AssertDurable(await InsertAsync(client, 1, "one"));
        var status = await client.GetStatusAsync();
        var epoch = status.Epoch;
        Assert.Equal(1, epoch);   // a brand-new volume: epoch 0 -> 1

        // The commit was acknowledged by a write quorum; pg-0-2 may be one of the two still writing it. Wait until it
        // has synced everything, so that its log stays still unless the stray record gets in.
        await AwaitAssertAsync(async () => Assert.Equal(status.Allocated, (await SegmentStatusAsync(2)).Scl), Short, TimeSpan.FromMilliseconds(50));
        var before = await SegmentStatusAsync(2);
        Assert.Equal(epoch, before.Epoch);

        var probe = CreateTestProbe();
        var stray = StrayRecord(status.Allocated + 1000, epoch - 1);
        Router.Tell(new RedoBatch(Pg, 2, epoch - 1, [stray], status.Vdl), probe.Ref);
        var rejected = await probe.ExpectMsgAsync<RedoRejected>(Short);
        Assert.True(rejected.StaleEpoch);
        Assert.Equal((Pg, 2, epoch), (rejected.Pg, rejected.Replica, rejected.SegmentEpoch));
        Assert.Contains($"stale epoch {epoch - 1}", rejected.Reason);
        Assert.Contains($"in epoch {epoch}", rejected.Reason);
        Assert.Contains("pg-0-2", rejected.Reason);
        await probe.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));   // no RedoAck follows

        var after = await SegmentStatusAsync(2);
        Assert.Equal(before.MaxLsn, after.MaxLsn);            // the stray record was not taken
        Assert.Equal(before.BytesWritten, after.BytesWritten);
        Assert.True(after.MaxLsn < stray.Lsn);

        // The writer of the current epoch is unaffected.
        AssertDurable(await InsertAsync(client, 2, "two"));
        Assert.Equal("two", (await ReadAsync(client, 2))!.Fields["v"]);
        await StopWriterAsync(writer);
    }

    [Fact]
    public async Task After_a_second_writer_opens_the_volume_the_previous_epoch_is_refused_by_every_segment()
    {
        var (writer1, client1) = await StartWriterAsync("writer-1");
        await client1.CreateTableAsync(Kv);
        for (var i = 0; i < 10; i++) AssertDurable(await InsertAsync(client1, i, $"v{i}"));
        var epoch1 = (await client1.GetStatusAsync()).Epoch;
        await StopWriterAsync(writer1);

        var (writer2, client2) = await StartWriterAsync("writer-2");
        var status2 = await client2.GetStatusAsync();
        Assert.Equal(epoch1 + 1, status2.Epoch);
        for (var r = 0; r < 6; r++) Assert.Equal(status2.Epoch, (await SegmentStatusAsync(r)).Epoch);

        var probe = CreateTestProbe();
        for (var r = 0; r < 6; r++)
        {
            Router.Tell(new RedoBatch(Pg, r, epoch1, [StrayRecord(status2.Allocated + 500, epoch1)], status2.Vdl), probe.Ref);
            var rejected = await probe.ExpectMsgAsync<RedoRejected>(Short);
            Assert.True(rejected.StaleEpoch, rejected.Reason);
            Assert.Equal((Pg, r, status2.Epoch), (rejected.Pg, rejected.Replica, rejected.SegmentEpoch));
            Assert.Contains($"stale epoch {epoch1}", rejected.Reason);
            Assert.Contains($"is in epoch {status2.Epoch}", rejected.Reason);
        }

        // An old writer cannot re-install its epoch either.
        Router.Tell(new OpenEpoch(Pg, 4, epoch1, status2.Vdl, status2.Vdl, status2.Vdl), probe.Ref);
        var refused = await probe.ExpectMsgAsync<RedoRejected>(Short);
        Assert.True(refused.StaleEpoch);
        Assert.Equal(status2.Epoch, refused.SegmentEpoch);
        Assert.Equal(status2.Epoch, (await SegmentStatusAsync(4)).Epoch);

        // The data of epoch 1 is there, and the new epoch writes.
        for (var i = 0; i < 10; i++) Assert.Equal($"v{i}", (await ReadAsync(client2, i))!.Fields["v"]);
        var info = await InsertAsync(client2, 100, "epoch-2");
        AssertDurable(info);
        Assert.True(info.CommitLsn > status2.Allocated.Value, $"commit LSN {info.CommitLsn} reuses the annulled range (to {status2.Allocated})");
        Assert.Equal("epoch-2", (await ReadAsync(client2, 100))!.Fields["v"]);
        await StopWriterAsync(writer2);
    }

    [Fact]
    public async Task An_old_writer_left_running_is_fenced_and_never_acknowledges_a_commit()
    {
        var (_, oldClient) = await StartWriterAsync("writer-old");
        await oldClient.CreateTableAsync(Kv);
        AssertDurable(await InsertAsync(oldClient, 1, "before"));
        var oldEpoch = (await oldClient.GetStatusAsync()).Epoch;

        // The old writer has an open transaction when the new one takes over.
        var oldTx = oldClient.Begin();
        await oldTx.InsertAsync(Kv.Name, 2L, Value("from-the-old-writer"));

        var (newWriter, newClient) = await StartWriterAsync("writer-new");
        var newEpoch = (await newClient.GetStatusAsync()).Epoch;
        Assert.Equal(oldEpoch + 1, newEpoch);

        var e = await Assert.ThrowsAnyAsync<ActorDbException>(() => oldTx.CommitAsync());
        Assert.True(e is AmbiguousCommitException or StaleEpochException, e.ToString());
        await AwaitAssertAsync(async () =>
        {
            var s = await oldClient.GetStatusAsync();
            Assert.Equal("fenced", s.State);
            Assert.Contains($"epoch {newEpoch}", s.Failure);
        }, Short);
        // Every later request to the old writer fails with a stale-epoch error.
        var later = await Assert.ThrowsAsync<StaleEpochException>(() => InsertAsync(oldClient, 3, "late"));
        Assert.Contains($"fenced by epoch {newEpoch}", later.Message);

        // Nothing of the fenced writer's commit is visible; the new writer sees epoch 1's committed row.
        Assert.Null(await ReadAsync(newClient, 2));
        Assert.Null(await ReadAsync(newClient, 3));
        Assert.Equal("before", (await ReadAsync(newClient, 1))!.Fields["v"]);
        var segments = await Task.WhenAll(Enumerable.Range(0, 6).Select(SegmentStatusAsync));
        var newVdl = (await newClient.GetStatusAsync()).Vdl;
        Assert.All(segments, s => Assert.Equal(newEpoch, s.Epoch));
        Assert.All(segments, s => Assert.True(s.MaxLsn <= newVdl, $"segment {s.Replica} holds LSN {s.MaxLsn} above VDL {newVdl}"));
        AssertDurable(await InsertAsync(newClient, 2, "from-the-new-writer"));
        Assert.Equal("from-the-new-writer", (await ReadAsync(newClient, 2))!.Fields["v"]);
        await StopWriterAsync(newWriter);
    }
}
