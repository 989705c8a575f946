using Akka.Actor;
using ActorDb.Core;
using ActorDb.Core.Redo;
using Xunit.Abstractions;
using static ActorDb.Core.Storage.SegmentProtocol;
using static ActorDb.Writer.WriterProtocol;

namespace ActorDb.Tests.Scenarios;

/// <summary>
/// Issue 12, item 6: a condition that repeats is logged once when it starts (then summarised every 10 s and when it
/// ends), never once per event. Each test drives 10,000 events into one actor and counts the log lines they produce.
/// </summary>
public class LogFloodTests(ITestOutputHelper output) : WriterScenarioBase(output)
{
    private const int Flood = 10_000;

    [Fact]
    public async Task Ten_thousand_rejections_from_a_full_segment_give_the_writer_one_warning_line()
    {
        var (supervisor, client) = await StartWriterAsync("writer-1");
        var writer = await WriterOfAsync(supervisor);
        var segment = CreateTestProbe("pg-0-2");
        // What a segment whose disk is full answers to every batch and resend (before: one WARNING line each).
        var rejected = new RedoRejected(Pg, 2, writer.Epoch, "segment pg-0-2: log write failed: No space left on device", StaleEpoch: false,
            Fault: SegmentFault.DiskFull);
        await EventFilter.Warning(contains: "rejected redo").ExpectOneAsync(async () =>
        {
            for (var i = 0; i < Flood; i++) writer.Writer.Tell(rejected, segment.Ref);
            await writer.Writer.Ask<WriterStatus>(GetWriterStatus.Instance, Short);   // all 10,000 handled
        });
        // Another segment is another condition: its own first line.
        await EventFilter.Warning(contains: "Segment pg-0-4 (PG 0) rejected redo").ExpectOneAsync(async () =>
        {
            for (var i = 0; i < 100; i++) writer.Writer.Tell(rejected with { Replica = 4, Reason = "segment pg-0-4: log write failed" }, segment.Ref);
            await writer.Writer.Ask<WriterStatus>(GetWriterStatus.Instance, Short);
        });
        await StopWriterAsync(supervisor);
        _ = client;
    }

    [Fact]
    public async Task Ten_thousand_invalid_batches_are_each_answered_and_logged_once()
    {
        var writer = CreateTestProbe();
        Router.Tell(new GetSegmentState(Pg, 3, FenceEpoch: 1), writer.Ref);
        await writer.ExpectMsgAsync<SegmentState>(Short);
        Router.Tell(new OpenEpoch(Pg, 3, 1, Lsn.Zero, Lsn.Zero, Lsn.Zero), writer.Ref);
        await writer.ExpectMsgAsync<EpochOpened>(Short);
        var segment = await Sys.ActorSelection("/user/segments/pg-0-3/segment").ResolveOne(Short);
        var bad = new RedoBatch(Pg, 3, 1, [new RedoRecord(Lsn.Zero, Lsn.Zero, Pg, 10, RedoKind.PageDelta, false, 1, 1, new byte[] { 8, 0, 1, 0, 42 })], Lsn.Zero);
        await EventFilter.Warning(contains: "refused a redo batch").ExpectOneAsync(async () =>
        {
            for (var i = 0; i < Flood; i++) segment.Tell(bad, writer.Ref);
            for (var i = 0; i < Flood; i++) Assert.False((await writer.ExpectMsgAsync<RedoRejected>(Short)).StaleEpoch);
        });
    }
}
