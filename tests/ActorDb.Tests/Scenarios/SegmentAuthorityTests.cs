using Akka.Actor;
using ActorDb.Core;
using ActorDb.Core.Recovery;
using ActorDb.Core.Redo;
using ActorDb.Core.Storage;
using ActorDb.Storage;
using Xunit.Abstractions;
using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Tests.Scenarios;

/// <summary>
/// Issue 11, item 2 (regressions): no message makes the volume unrecoverable. An epoch above the bound is refused before
/// anything is persisted; an OpenEpoch its sender did not fence is refused; a recovery over a segment at the bound fails
/// with the bound's error instead of overflowing. (The sender-node rules across nodes: <c>ForeignSenderClusterTests</c>.)
/// </summary>
public class SegmentAuthorityTests(ITestOutputHelper output) : WriterScenarioBase(output)
{
    /// <summary>The segment actor itself (behind the test router's relay), so that it sees the test's probe as the sender.</summary>
    private async Task<IActorRef> SegmentAsync(int replica)
    {
        await SegmentStatusAsync(replica);   // the router starts its segments on first use
        return await Sys.ActorSelection($"/user/segments/pg-0-{replica}/segment").ResolveOne(Short);
    }

    private byte[] MetaBytes(int replica) => File.ReadAllBytes(Path.Combine(SegmentActor.DirectoryOf(DataDir, Pg, replica), SegmentMetadata.FileName));

    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(Epochs.Max + 1)]
    [InlineData(-7L)]
    public async Task A_fence_above_the_bound_is_refused_nothing_is_persisted_and_the_next_recovery_works(long fenceEpoch)
    {
        var (writer, client) = await StartWriterAsync("writer-1");
        await client.CreateTableAsync(Kv);
        AssertDurable(await InsertAsync(client, 1, "one"));
        var epoch = (await client.GetStatusAsync()).Epoch;
        var before = Enumerable.Range(0, 6).Select(MetaBytes).ToList();

        // The attack: six fences at long.MaxValue, one per segment.
        var rogue = CreateTestProbe("rogue");
        for (var r = 0; r < 6; r++)
        {
            (await SegmentAsync(r)).Tell(new GetSegmentState(Pg, r, fenceEpoch), rogue.Ref);
            var refused = await rogue.ExpectMsgAsync<RedoRejected>(Short);
            Assert.True(refused.Refused, refused.Reason);
            Assert.False(refused.StaleEpoch);
            Assert.Equal((Pg, r, epoch), (refused.Pg, refused.Replica, refused.SegmentEpoch));
            Assert.Contains($"segment pg-0-{r} (PG 0, replica {r}) refused a fence of epoch {fenceEpoch} from ", refused.Reason);
            Assert.Contains($"from {rogue.Ref.Path}: ", refused.Reason);   // names the sender
            Assert.Contains($"outside 1..{Epochs.Max}", refused.Reason);
        }
        for (var r = 0; r < 6; r++)
        {
            Assert.Equal(before[r], MetaBytes(r));   // nothing persisted
            Assert.Equal(epoch, (await SegmentStatusAsync(r)).Epoch);
        }

        // The volume keeps serving, and a later recovery opens it one epoch up.
        AssertDurable(await InsertAsync(client, 2, "two"));
        await StopWriterAsync(writer);
        var (writer2, client2) = await StartWriterAsync("writer-2");
        Assert.Equal(epoch + 1, (await client2.GetStatusAsync()).Epoch);
        Assert.Equal("one", (await ReadAsync(client2, 1))!.Fields["v"]);
        Assert.Equal("two", (await ReadAsync(client2, 2))!.Fields["v"]);
        await StopWriterAsync(writer2);
    }

    [Fact]
    public async Task Repeated_refusals_of_one_kind_from_one_node_are_logged_once_and_each_is_answered()
    {
        var rogue = CreateTestProbe("rogue");
        var segment = await SegmentAsync(2);
        await EventFilter.Warning(contains: "refused a fence of epoch").ExpectOneAsync(async () =>
        {
            for (var i = 0; i < 20; i++)
            {
                segment.Tell(new GetSegmentState(Pg, 2, long.MaxValue - i), rogue.Ref);
                Assert.True((await rogue.ExpectMsgAsync<RedoRejected>(Short)).Refused);
            }
        });
        // Another kind of refusal is another condition: logged once in its turn.
        await EventFilter.Warning(contains: "refused an OpenEpoch of epoch 77").ExpectOneAsync(async () =>
        {
            for (var i = 0; i < 5; i++)
            {
                segment.Tell(new OpenEpoch(Pg, 2, 77, Lsn.Zero, Lsn.Zero, Lsn.Zero), rogue.Ref);
                Assert.True((await rogue.ExpectMsgAsync<RedoRejected>(Short)).Refused);
            }
        });
    }

    [Fact]
    public async Task A_recovery_over_segments_fenced_at_the_bound_fails_naming_the_bound_instead_of_overflowing()
    {
        // The bound itself is a valid epoch: a fence there is taken (by a writer node) and persisted. No epoch follows
        // it, so the next recovery must fail with one clear error, not compute max + 1 = long.MinValue.
        var recovery = CreateTestProbe();
        for (var r = 0; r < 6; r++)
        {
            Router.Tell(new GetSegmentState(Pg, r, Epochs.Max), recovery.Ref);
            Assert.Equal(Epochs.Max, (await recovery.ExpectMsgAsync<SegmentState>(Short)).Report.Epoch);
        }
        var (supervisor, _) = StartSupervisor("writer-at-bound");
        var history = await AwaitFailedRecoveryAsync(supervisor);
        Assert.Contains($"reports epoch {Epochs.Max}", history.Failure);
        Assert.Contains("at or above the bound 4611686018427387904", history.Failure);
        await KillAsync(supervisor);
    }

    private async Task<RecoveryRecord> AwaitFailedRecoveryAsync(IActorRef supervisor)
    {
        RecoveryRecord? failed = null;
        await AwaitAssertAsync(async () =>
        {
            var reply = await supervisor.Ask<Recovery.RecoveryProtocol.RecoveryHistoryReply>(Recovery.RecoveryProtocol.GetRecoveryHistory.Instance, Short);
            failed = reply.Recoveries.LastOrDefault(r => r.Outcome == RecoveryOutcome.Failed);
            Assert.NotNull(failed);
        }, Short, TimeSpan.FromMilliseconds(100));
        return failed!;
    }

    [Fact]
    public async Task A_rogue_OpenEpoch_a_thousand_epochs_up_is_refused_and_the_writer_keeps_committing()
    {
        var (writer, client) = await StartWriterAsync("writer-1");
        await client.CreateTableAsync(Kv);
        AssertDurable(await InsertAsync(client, 1, "one"));
        var status = await client.GetStatusAsync();
        var before = Enumerable.Range(0, 6).Select(MetaBytes).ToList();

        // Before the fix any sender's OpenEpoch(e + 1000) was installed without a fence, and the real writer then got
        // "stale epoch" from every segment. Its truncation would also have annulled everything above VDL 0.
        var rogue = CreateTestProbe("rogue");
        for (var r = 0; r < 6; r++)
        {
            (await SegmentAsync(r)).Tell(new OpenEpoch(Pg, r, status.Epoch + 1000, Lsn.Zero, new Lsn(1_000_000), Lsn.Zero), rogue.Ref);
            var refused = await rogue.ExpectMsgAsync<RedoRejected>(Short);
            Assert.True(refused.Refused, refused.Reason);
            Assert.Contains($"refused an OpenEpoch of epoch {status.Epoch + 1000} from {rogue.Ref.Path}: ", refused.Reason);
            Assert.Contains($"the segment is in epoch {status.Epoch}: epoch {status.Epoch + 1000} must be fenced", refused.Reason);
        }
        await rogue.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));   // no EpochOpened follows
        for (var r = 0; r < 6; r++)
        {
            Assert.Equal(before[r], MetaBytes(r));
            var s = await SegmentStatusAsync(r);
            Assert.Equal((status.Epoch, status.Epoch), (s.Epoch, s.OpenedEpoch));
        }
        for (var i = 2; i <= 20; i++) AssertDurable(await InsertAsync(client, i, $"v{i}"));
        Assert.Equal("one", (await ReadAsync(client, 1))!.Fields["v"]);
        Assert.Equal(status.Epoch, (await client.GetStatusAsync()).Epoch);
        await StopWriterAsync(writer);
    }

    [Fact]
    public async Task A_segment_that_restarted_after_its_fence_is_opened_by_the_fencing_recovery_fencing_it_again()
    {
        // The owner of an epoch is kept in memory only: a restart between fence and open loses it, and the OpenEpoch alone
        // is refused. The supervisor's install phase and the writer send the fence again first, so recovery completes.
        var recovery = CreateTestProbe();
        Router.Tell(new GetSegmentState(Pg, 3, FenceEpoch: 4), recovery.Ref);
        Assert.Equal(4, (await recovery.ExpectMsgAsync<SegmentState>(Short)).Report.Epoch);
        await StopSegmentAsync(3);
        await StartSegmentAsync(3);
        Router.Tell(new OpenEpoch(Pg, 3, 4, Lsn.Zero, Lsn.Zero, Lsn.Zero), recovery.Ref);
        var refused = await recovery.ExpectMsgAsync<RedoRejected>(Short);
        Assert.True(refused.Refused);
        Assert.Contains("restarted since it was fenced at epoch 4", refused.Reason);
        Assert.Equal((4L, 0L), ((await SegmentStatusAsync(3)).Epoch, (await SegmentStatusAsync(3)).OpenedEpoch));

        Router.Tell(new GetSegmentState(Pg, 3, FenceEpoch: 4), recovery.Ref);
        await recovery.ExpectMsgAsync<SegmentState>(Short);
        Router.Tell(new OpenEpoch(Pg, 3, 4, Lsn.Zero, Lsn.Zero, Lsn.Zero), recovery.Ref);
        Assert.Equal(4, (await recovery.ExpectMsgAsync<EpochOpened>(Short)).Epoch);
    }

    [Fact]
    public async Task A_segment_down_during_a_recovery_is_fenced_and_opened_by_the_writer_and_counts_again()
    {
        var (writer1, client1) = await StartWriterAsync("writer-1");
        await client1.CreateTableAsync(Kv);
        AssertDurable(await InsertAsync(client1, 1, "one"));
        await StopWriterAsync(writer1);

        // pg-0-5 misses the next recovery entirely (blackholed): it is still in the old epoch, never fenced at the new one.
        await BlackholeAsync(5, true);
        var (writer2, client2) = await StartWriterAsync("writer-2");
        var epoch = (await client2.GetStatusAsync()).Epoch;
        var segment5 = await Sys.ActorSelection("/user/segments/pg-0-5/segment").ResolveOne(Short);   // running since writer-1
        var missed = await segment5.Ask<SegmentStatus>(new GetSegmentStatus(Pg, 5), Short);              // past the blackhole
        Assert.True(missed.Epoch < epoch, $"pg-0-5 is in epoch {missed.Epoch}");
        await BlackholeAsync(5, false);

        // The writer's next batches are answered "not installed"; it fences the segment at its epoch, then opens it.
        for (var i = 2; i <= 10; i++) AssertDurable(await InsertAsync(client2, i, $"v{i}"));
        await AwaitAssertAsync(async () =>
        {
            var s = await SegmentStatusAsync(5);
            Assert.Equal((epoch, epoch), (s.Epoch, s.OpenedEpoch));
        }, Short, TimeSpan.FromMilliseconds(100));
        await StopWriterAsync(writer2);
    }
}
