using ActorDb.Core;
using ActorDb.Core.Recovery;

namespace ActorDb.Core.Tests.Recovery;

public class RecoveryHistoryTests
{
    private static readonly DateTime Start = new(2026, 11, 29, 10, 0, 0, DateTimeKind.Utc);

    private static RecoveryRecord Opened(int number, long epoch) =>
        RecoveryRecord.Start(number, "the writer is starting", Start)
            .WithPhase("read-quorum", TimeSpan.FromMilliseconds(12.4), "PG 0: segments 0,1,2,3,4,5 answered")
            .WithPlan(new RecoveryPlan(epoch, new Lsn(812), new Lsn(812), new Lsn(10_000_812), [new Lsn(810)]))
            .WithPhase("plan", TimeSpan.FromMilliseconds(0.2), "VDL 812, truncate (812, 10000812]")
            .WithPhase("install-epoch", TimeSpan.FromMilliseconds(35), "PG 0: segments 0,1,2 installed")
            .WithPhase("open-volume", TimeSpan.FromMilliseconds(8.6), "catalog read from pg-0-1, 2 tables")
            .Finish(RecoveryOutcome.Opened, TimeSpan.FromMilliseconds(57));

    [Fact]
    public void A_record_summarises_its_phases_in_order_with_whole_milliseconds()
    {
        var record = Opened(1, 5);
        Assert.Equal((5L, new Lsn(812), new Lsn(812), new Lsn(10_000_812)), (record.Epoch, record.Vdl, record.TruncateAfter, record.TruncateTo));
        Assert.Equal(
            "Recovery epoch 5: phase read-quorum 12 ms (PG 0: segments 0,1,2,3,4,5 answered), phase plan 0 ms (VDL 812, truncate (812, 10000812]), " +
            "phase install-epoch 35 ms (PG 0: segments 0,1,2 installed), phase open-volume 9 ms (catalog read from pg-0-1, 2 tables); total 57 ms",
            record.Summary());
        Assert.Equal(TimeSpan.FromMilliseconds(35), record.PhaseDuration("install-epoch"));
        Assert.Null(record.PhaseDuration("undo"));
    }

    [Fact]
    public void A_summary_names_an_outcome_other_than_opened_with_its_reason()
    {
        var failed = RecoveryRecord.Start(2, "the writer of epoch 5 failed: boom", Start)
            .WithPhase("read-quorum", TimeSpan.FromSeconds(60), "PG 0: segments 0,1 answered")
            .Finish(RecoveryOutcome.Failed, TimeSpan.FromSeconds(60), "no read quorum of segments within 00:01:00: missing pg-0-2");
        Assert.Equal("Recovery epoch 0: phase read-quorum 60000 ms (PG 0: segments 0,1 answered); total 60000 ms " +
                     "(failed: no read quorum of segments within 00:01:00: missing pg-0-2)", failed.Summary());
        Assert.EndsWith("no phase finished; total 0 ms (running)", RecoveryRecord.Start(3, "start", Start).Summary());
    }

    [Fact]
    public void The_history_keeps_the_latest_records_oldest_first_and_refuses_a_running_one()
    {
        var history = new RecoveryHistory(capacity: 2);
        Assert.Null(history.Latest);
        Assert.Empty(history.Records);
        Assert.Throws<ArgumentException>(() => history.Add(RecoveryRecord.Start(1, "start", Start)));

        history.Add(Opened(1, 1));
        history.Add(Opened(2, 2));
        history.Add(Opened(3, 3));
        Assert.Equal([2, 3], history.Records.Select(r => r.Number));
        Assert.Equal(3, history.Latest!.Epoch);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RecoveryHistory(0));
    }
}
