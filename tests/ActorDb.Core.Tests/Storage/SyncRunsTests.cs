using ActorDb.Core.Storage;

namespace ActorDb.Core.Tests.Storage;

public class SyncRunsTests
{
    private static Lsn L(long v) => new(v);

    [Fact]
    public void A_sync_makes_durable_every_run_it_covers_and_no_more()
    {
        var runs = new SyncRuns();
        runs.Add(2, L(20), fromWriter: true);    // records 1..2
        runs.Add(3, L(50), fromWriter: false);   // records 3..5
        Assert.Equal(5, runs.Appended);
        var (durable, advanced, fromWriter) = runs.Synced(4, chainScl: L(50), durableScl: L(0));   // record 5 not yet durable
        Assert.Equal((L(20), true, true), (durable, advanced, fromWriter));
        Assert.Equal(1, runs.Waiting);
        (durable, advanced, fromWriter) = runs.Synced(5, L(50), durable);
        Assert.Equal((L(50), true, false), (durable, advanced, fromWriter));
        Assert.Equal(0, runs.Waiting);
    }

    [Fact]
    public void The_durable_scl_never_passes_the_chain_reset_by_a_truncation_nor_goes_back()
    {
        var runs = new SyncRuns();
        runs.Add(4, L(40), fromWriter: true);
        // The epoch's truncation reset the chain to 25 while the sync ran: never count past it.
        Assert.Equal((L(25), true, true), runs.Synced(4, chainScl: L(25), durableScl: L(10)));
        runs.Add(1, L(30), fromWriter: true);
        Assert.Equal((L(30), false, true), runs.Synced(5, chainScl: L(50), durableScl: L(30)));
        Assert.Equal((L(30), false, false), runs.Synced(5, chainScl: L(50), durableScl: L(30)));   // nothing left: unchanged
    }

    [Fact]
    public void Forget_drops_the_waiting_runs_and_Reset_restarts_the_count()
    {
        var runs = new SyncRuns();
        runs.Add(3, L(30), true);
        runs.Forget();
        Assert.Equal(0, runs.Waiting);
        Assert.Equal(3, runs.Appended);
        Assert.Equal((L(0), false, false), runs.Synced(3, L(30), L(0)));
        runs.Reset();
        Assert.Equal(0, runs.Appended);
        Assert.Throws<ArgumentOutOfRangeException>(() => runs.Add(0, L(30), true));
    }

    [Theory]
    // fromWriter, advanced, writer epoch, segment epoch, has writer, answer
    [InlineData(true, false, 3, 3, true, SyncAnswer.Ack)]            // the writer's records: acked even at the same SCL
    [InlineData(true, true, 2, 3, true, SyncAnswer.StaleEpoch)]      // fenced since it sent them: never an ack
    [InlineData(false, true, 3, 3, true, SyncAnswer.Ack)]            // peer records moved SCL past a hole the writer waits behind
    [InlineData(false, true, 2, 3, true, SyncAnswer.None)]           // ... but not for a writer of an older epoch
    [InlineData(false, true, 0, 0, false, SyncAnswer.None)]          // no writer yet
    [InlineData(false, false, 3, 3, true, SyncAnswer.None)]          // peer records that did not move SCL
    public void Answer_acks_only_the_writer_of_this_epoch(bool fromWriter, bool advanced, long writerEpoch, long epoch, bool hasWriter, SyncAnswer expected) =>
        Assert.Equal(expected, SyncRuns.Answer(fromWriter, advanced, writerEpoch, epoch, hasWriter));
}
