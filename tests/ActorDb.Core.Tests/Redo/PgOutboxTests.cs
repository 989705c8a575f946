using ActorDb.Core.Redo;

namespace ActorDb.Core.Tests.Redo;

public class PgOutboxTests
{
    private static RedoRecord Record(long lsn) => new(new Lsn(lsn), new Lsn(lsn - 1), 0, 1, RedoKind.PageDelta, false, 1, 1, new byte[10]);

    [Fact]
    public void Lag_time_is_when_the_oldest_record_a_segment_lacks_was_shipped()
    {
        var outbox = new PgOutbox(0, maxRetainedBytes: 1 << 20);
        outbox.Add(Record(1)); outbox.Add(Record(2));
        outbox.TakeBatch(now: 100);                     // LSN 1-2 shipped at 100
        outbox.Add(Record(3));
        outbox.TakeBatch(now: 250);                     // LSN 3 shipped at 250
        Assert.Equal(100, outbox.ShippedAt(Lsn.Zero));   // lacks 1..3: since the first batch
        Assert.Equal(100, outbox.ShippedAt(new Lsn(1))); // lacks 2 (in the first batch)
        Assert.Equal(250, outbox.ShippedAt(new Lsn(2))); // lacks 3 only
        Assert.Null(outbox.ShippedAt(new Lsn(3)));       // holds everything shipped
        Assert.Empty(outbox.TakeBatch(now: 300));        // an empty batch records no time
        Assert.Null(outbox.ShippedAt(new Lsn(3)));
    }
}
