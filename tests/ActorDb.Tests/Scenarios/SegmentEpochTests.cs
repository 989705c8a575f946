using Akka.Actor;
using ActorDb.Core;
using ActorDb.Core.Redo;
using Xunit.Abstractions;
using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Tests.Scenarios;

/// <summary>One segment driven directly (a probe plays the writers) across an epoch change.</summary>
public class SegmentEpochTests(ITestOutputHelper output) : WriterScenarioBase(output)
{
    private static RedoRecord Record(long lsn, long prev, long epoch) =>
        new(new Lsn(lsn), new Lsn(prev), Pg, 10 + lsn, RedoKind.PageDelta, false, 1, epoch, new byte[] { 8, 0, 1, 0, 42 });   // a valid delta: 1 byte at offset 8

    [Fact]
    public async Task Records_annulled_by_a_new_epoch_are_never_acknowledged_in_it_even_when_their_fsync_was_in_flight()
    {
        var writer = CreateTestProbe();
        Router.Tell(new GetSegmentState(Pg, 1, FenceEpoch: 1), writer.Ref);   // a segment opens only the epoch its sender fenced
        await writer.ExpectMsgAsync<SegmentState>(Short);
        Router.Tell(new OpenEpoch(Pg, 1, 1, Lsn.Zero, Lsn.Zero, Lsn.Zero), writer.Ref);
        Assert.Equal(new EpochOpened(Pg, 1, 1, Lsn.Zero), await writer.ExpectMsgAsync<EpochOpened>(Short));

        // The old writer's batch and the new writer's fence and epoch (annulling (0, 1000]) arrive back to back (told straight to
        // the segment, so both are in its mailbox before it takes the first): the batch's fsync is still running, or its
        // completion not yet processed, when the epoch is installed.
        var segment = await Sys.ActorSelection("/user/segments/pg-0-1/segment").ResolveOne(Short);
        segment.Tell(new RedoBatch(Pg, 1, 1, [Record(1, 0, 1), Record(2, 1, 1), Record(3, 2, 1)], Lsn.Zero), writer.Ref);
        segment.Tell(new GetSegmentState(Pg, 1, FenceEpoch: 2), writer.Ref);
        segment.Tell(new OpenEpoch(Pg, 1, 2, Lsn.Zero, new Lsn(1000), Lsn.Zero), writer.Ref);

        var replies = new List<object>();
        await foreach (var m in writer.ReceiveWhileAsync<object>(TimeSpan.FromMilliseconds(1500), o => o)) replies.Add(m);
        var opened = Assert.Single(replies.OfType<EpochOpened>());
        Assert.Equal((2L, Lsn.Zero), (opened.Epoch, opened.Scl));
        var ackedInNewEpoch = replies.OfType<RedoAck>().Where(a => a.Epoch == 2 && a.Scl > Lsn.Zero).ToList();
        Assert.True(ackedInNewEpoch.Count == 0,
            $"the segment acknowledged annulled records in epoch 2: {string.Join(", ", ackedInNewEpoch)} (all replies: {string.Join(", ", replies)})");

        var status = await SegmentStatusAsync(1);
        Assert.Equal(2, status.Epoch);
        Assert.Equal(Lsn.Zero, status.Scl);   // everything above VDL 0 is annulled
    }

    [Fact]
    public async Task After_a_fence_the_old_writer_gets_a_stale_epoch_answer_not_an_ack_for_records_whose_fsync_was_in_flight()
    {
        var writer = CreateTestProbe();
        Router.Tell(new GetSegmentState(Pg, 1, FenceEpoch: 1), writer.Ref);   // a segment opens only the epoch its sender fenced
        await writer.ExpectMsgAsync<SegmentState>(Short);
        Router.Tell(new OpenEpoch(Pg, 1, 1, Lsn.Zero, Lsn.Zero, Lsn.Zero), writer.Ref);
        await writer.ExpectMsgAsync<EpochOpened>(Short);

        // The old writer's batch, then a new recovery's fence, back to back in the segment's mailbox.
        var recovery = CreateTestProbe();
        var segment = await Sys.ActorSelection("/user/segments/pg-0-1/segment").ResolveOne(Short);
        segment.Tell(new RedoBatch(Pg, 1, 1, [Record(1, 0, 1), Record(2, 1, 1), Record(3, 2, 1)], Lsn.Zero), writer.Ref);
        segment.Tell(new GetSegmentState(Pg, 1, FenceEpoch: 2), recovery.Ref);
        var fenced = await recovery.ExpectMsgAsync<SegmentState>(Short);
        Assert.Equal(2, fenced.Report.Epoch);

        var replies = new List<object>();
        await foreach (var m in writer.ReceiveWhileAsync<object>(TimeSpan.FromMilliseconds(1000), o => o)) replies.Add(m);
        // An ack is allowed only for what was durable before the fence, i.e. what the fenced report already counts.
        Assert.All(replies.OfType<RedoAck>(), a => Assert.True(a.Epoch == 1 && a.Scl <= fenced.Report.Scl, $"acknowledged after the fence: {a}"));
        if (fenced.Report.Scl < new Lsn(3))
        {
            var rejected = Assert.Single(replies.OfType<RedoRejected>());
            Assert.True(rejected.StaleEpoch);
            Assert.Equal(2, rejected.SegmentEpoch);
        }
        var status = await SegmentStatusAsync(1);
        Assert.Equal((2L, 1L), (status.Epoch, status.OpenedEpoch));

        // Redo of the new epoch waits for its OpenEpoch (the truncation comes first).
        segment.Tell(new RedoBatch(Pg, 1, 2, [Record(5000, 3, 2)], Lsn.Zero), writer.Ref);
        var notYet = await writer.ExpectMsgAsync<RedoRejected>(Short);
        Assert.False(notYet.StaleEpoch);
        Assert.Equal(1, notYet.SegmentEpoch);
    }
}
