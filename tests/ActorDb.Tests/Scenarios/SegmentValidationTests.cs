using Akka.Actor;
using ActorDb.Core;
using ActorDb.Core.Redo;
using Xunit.Abstractions;
using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Tests.Scenarios;

/// <summary>
/// Issue 12, item 5: one segment driven directly by a probe (the writer) refuses every record it must never store, as a
/// whole batch, with one error naming PG, replica, epoch and LSN; it does not restart and goes on taking valid redo.
/// </summary>
public class SegmentValidationTests(ITestOutputHelper output) : WriterScenarioBase(output)
{
    private const int Replica = 1;
    private static readonly byte[] Delta = [8, 0, 1, 0, 42];

    private static RedoRecord Record(long lsn, long prev, long page = 10, byte[]? payload = null) =>
        new(new Lsn(lsn), new Lsn(prev), Pg, page, RedoKind.PageDelta, false, 1, 1, payload ?? Delta);

    /// <summary>Fences and opens the segment in epoch 1 with the probe as its writer; returns the segment actor itself.</summary>
    private async Task<(IActorRef Segment, Akka.TestKit.TestProbe Writer)> OpenAsync()
    {
        var writer = CreateTestProbe();
        Router.Tell(new GetSegmentState(Pg, Replica, FenceEpoch: 1), writer.Ref);
        await writer.ExpectMsgAsync<SegmentState>(Short);
        Router.Tell(new OpenEpoch(Pg, Replica, 1, Lsn.Zero, Lsn.Zero, Lsn.Zero), writer.Ref);
        await writer.ExpectMsgAsync<EpochOpened>(Short);
        var segment = await Sys.ActorSelection($"/user/segments/pg-0-{Replica}/segment").ResolveOne(Short);
        return (segment, writer);
    }

    /// <summary>Sends <paramref name="records"/> and expects the batch refused as a whole, naming the segment, its epoch and
    /// <paramref name="badLsn"/>; then checks that nothing moved and that the same actor instance still serves.</summary>
    private async Task<RedoRejected> ExpectRefusedAsync(IActorRef segment, Akka.TestKit.TestProbe writer, RedoRecord[] records, long badLsn, Lsn sclBefore)
    {
        segment.Tell(new RedoBatch(Pg, Replica, 1, records, Lsn.Zero), writer.Ref);
        var rejected = await writer.ExpectMsgAsync<RedoRejected>(Short);
        Assert.False(rejected.StaleEpoch);
        Assert.False(rejected.Refused);
        Assert.Equal((Pg, Replica, 1L), (rejected.Pg, rejected.Replica, rejected.SegmentEpoch));
        Assert.Contains($"segment pg-0-{Replica} (PG 0, replica {Replica}, epoch 1) refused a redo batch of {records.Length} record(s) from {writer.Ref.Path}", rejected.Reason);
        Assert.Contains($"none stored: invalid record LSN {badLsn}", rejected.Reason);
        await writer.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));   // no ack of any part of the batch
        var status = await SegmentStatusAsync(Replica);
        Assert.Equal(sclBefore, status.Scl);
        Assert.Null(status.Failure);
        // The actor did not restart: it is the same incarnation, and it still takes valid redo.
        Assert.Equal(segment, await Sys.ActorSelection($"/user/segments/pg-0-{Replica}/segment").ResolveOne(Short));
        return rejected;
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(long.MinValue)]
    public async Task An_lsn_of_zero_or_below_refuses_the_whole_batch_and_the_segment_goes_on(long badLsn)
    {
        var (segment, writer) = await OpenAsync();
        // A valid record before the bad one and one after it: none of the three is stored.
        await ExpectRefusedAsync(segment, writer, [Record(1, 0), Record(badLsn, 0), Record(2, 1)], badLsn, Lsn.Zero);

        segment.Tell(new RedoBatch(Pg, Replica, 1, [Record(1, 0), Record(2, 1)], Lsn.Zero), writer.Ref);
        Assert.Equal(new Lsn(2), (await writer.ExpectMsgAsync<RedoAck>(Short)).Scl);
    }

    [Fact]
    public async Task A_record_held_above_a_hole_keeps_its_content_a_different_one_is_refused_an_identical_resend_is_reacked()
    {
        var (segment, writer) = await OpenAsync();
        segment.Tell(new RedoBatch(Pg, Replica, 1, [Record(1, 0)], Lsn.Zero), writer.Ref);
        Assert.Equal(new Lsn(1), (await writer.ExpectMsgAsync<RedoAck>(Short)).Scl);
        // LSN 5 (backlink 3) is held above the hole (1, 3].
        segment.Tell(new RedoBatch(Pg, Replica, 1, [Record(5, 3)], Lsn.Zero), writer.Ref);
        Assert.Equal(new Lsn(1), (await writer.ExpectMsgAsync<RedoAck>(Short)).Scl);

        // Another record under LSN 5, one that would connect (backlink 1): refused, SCL does not count past it.
        var rejected = await ExpectRefusedAsync(segment, writer, [Record(5, 1, page: 11)], 5, new Lsn(1));
        Assert.Contains("holds another record under this LSN (backlink 3", rejected.Reason);
        // Same LSN and backlink, other bytes: refused too.
        await ExpectRefusedAsync(segment, writer, [Record(5, 3, payload: [8, 0, 1, 0, 43])], 5, new Lsn(1));

        // The hole is filled and the held record counts: one LSN, one content.
        segment.Tell(new RedoBatch(Pg, Replica, 1, [Record(3, 1), Record(5, 3)], Lsn.Zero), writer.Ref);
        Assert.Equal(new Lsn(5), (await writer.ExpectMsgAsync<RedoAck>(Short)).Scl);
        // An identical resend of a durable record is re-acknowledged; a different one is refused.
        segment.Tell(new RedoBatch(Pg, Replica, 1, [Record(5, 3, payload: [.. Delta])], Lsn.Zero), writer.Ref);
        Assert.Equal(new Lsn(5), (await writer.ExpectMsgAsync<RedoAck>(Short)).Scl);
        await ExpectRefusedAsync(segment, writer, [Record(5, 1)], 5, new Lsn(5));
    }

    [Fact]
    public async Task A_record_far_above_the_lsn_ceiling_is_refused()
    {
        var (segment, writer) = await OpenAsync();
        segment.Tell(new RedoBatch(Pg, Replica, 1, [Record(1, 0), Record(2, 1)], new Lsn(2)), writer.Ref);
        Assert.Equal(new Lsn(2), (await writer.ExpectMsgAsync<RedoAck>(Short)).Scl);

        // SCL + 10^9 whose backlink is SCL: no writer under the LAL (10^7 by default) allocates it.
        var far = 2 + 1_000_000_000L;
        var rejected = await ExpectRefusedAsync(segment, writer, [Record(far, 2)], far, new Lsn(2));
        Assert.Contains($"above the LSN ceiling {2 + Settings.Writer.Lal}", rejected.Reason);

        // Just at the ceiling (VDL 2 + LAL) is a record a writer may allocate.
        segment.Tell(new RedoBatch(Pg, Replica, 1, [Record(2 + Settings.Writer.Lal, 2)], new Lsn(2)), writer.Ref);
        Assert.Equal(new Lsn(2 + Settings.Writer.Lal), (await writer.ExpectMsgAsync<RedoAck>(Short)).Scl);
    }

    [Fact]
    public async Task A_page_outside_the_pg_is_refused_and_the_page_reads_afterwards()
    {
        var (segment, writer) = await OpenAsync();
        var outside = Settings.Geometry.PagesPerPg;   // the first page of PG 1
        var rejected = await ExpectRefusedAsync(segment, writer, [Record(1, 0, page: outside)], 1, Lsn.Zero);
        Assert.Contains($"page {outside} is outside PG 0", rejected.Reason);

        segment.Tell(new RedoBatch(Pg, Replica, 1, [Record(1, 0, page: 10)], new Lsn(1)), writer.Ref);
        Assert.Equal(new Lsn(1), (await writer.ExpectMsgAsync<RedoAck>(Short)).Scl);
        segment.Tell(new ReadPage(Pg, Replica, 10, new Lsn(1), new Lsn(1)), writer.Ref);
        var image = await writer.ExpectMsgAsync<PageImage>(Short);
        Assert.Equal((new Lsn(1), (byte)42), (image.PageLsn, image.Image![8]));
    }

    [Theory]
    [InlineData(new byte[] { 8, 0, 4, 0, 1 })]           // truncated: 4 bytes announced, 1 present
    [InlineData(new byte[] { 0, 0, 1, 0, 42 })]          // overlaps the page LSN header
    [InlineData(new byte[] { 0xFF, 0x1F, 2, 0, 1, 2 })]  // ends past the 8 KiB page
    public async Task A_delta_that_cannot_be_applied_is_refused_and_the_page_still_reads(byte[] delta)
    {
        var (segment, writer) = await OpenAsync();
        var rejected = await ExpectRefusedAsync(segment, writer, [Record(1, 0), Record(2, 1, payload: delta)], 2, Lsn.Zero);
        Assert.Contains("the delta of page 10 cannot be applied", rejected.Reason);

        segment.Tell(new RedoBatch(Pg, Replica, 1, [Record(1, 0)], new Lsn(1)), writer.Ref);
        Assert.Equal(new Lsn(1), (await writer.ExpectMsgAsync<RedoAck>(Short)).Scl);
        segment.Tell(new ReadPage(Pg, Replica, 10, new Lsn(1), new Lsn(1)), writer.Ref);
        Assert.Equal(new Lsn(1), (await writer.ExpectMsgAsync<PageImage>(Short)).PageLsn);
    }

    [Fact]
    public async Task Invalid_records_from_a_peer_are_dropped_whole_and_logged_once()
    {
        var (segment, writer) = await OpenAsync();
        var peer = CreateTestProbe("peer");
        await EventFilter.Warning(contains: "refused peer records").ExpectOneAsync(async () =>
        {
            for (var i = 0; i < 20; i++)
                segment.Tell(new PeerRedo(Pg, 3, [Record(1, 0), Record(2, 1, page: -5)], null, new Lsn(2)), peer.Ref);
            await SegmentStatusAsync(Replica);   // all 20 handled
        });
        Assert.Equal(Lsn.Zero, (await SegmentStatusAsync(Replica)).Scl);
        // Records above the SCL the peer reports are refused too (a peer sends only what it holds durably).
        await EventFilter.Warning(contains: "refused peer records").ExpectAsync(0, async () =>
        {
            segment.Tell(new PeerRedo(Pg, 3, [Record(1, 0), Record(2, 1)], null, new Lsn(1)), peer.Ref);
            await SegmentStatusAsync(Replica);
        });
        Assert.Equal(Lsn.Zero, (await SegmentStatusAsync(Replica)).Scl);

        // Valid peer records are taken.
        segment.Tell(new PeerRedo(Pg, 3, [Record(1, 0), Record(2, 1)], null, new Lsn(2)), peer.Ref);
        await AwaitAssertAsync(async () => Assert.Equal(new Lsn(2), (await SegmentStatusAsync(Replica)).Scl), Short);
        _ = writer;
    }
}
