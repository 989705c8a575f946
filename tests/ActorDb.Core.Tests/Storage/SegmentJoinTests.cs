using ActorDb.Core.Redo;
using ActorDb.Core.Storage;

namespace ActorDb.Core.Tests.Storage;

public class SegmentJoinTests
{
    private static Lsn L(long v) => new(v);

    private static RedoRecord Record(long lsn, long prev) => new(L(lsn), L(prev), 0, 0, RedoKind.PageDelta, false, 1, 1, Array.Empty<byte>());

    [Fact]
    public void Hint_is_the_highest_well_formed_backlink_and_skips_what_is_not_validated_yet()
    {
        Assert.Equal(L(30), SegmentJoin.Hint(L(5), [Record(20, 10), null, Record(40, 30), Record(25, 99)]));   // 99 >= 25: malformed
        Assert.Equal(L(50), SegmentJoin.Hint(L(50), [Record(20, 10)]));   // never goes back
        Assert.Equal(L(7), SegmentJoin.Hint(L(7), null));
    }

    [Theory]
    // opened epoch, SCL, max LSN, checkpoint, current target, PG tail, hint, VDL, truncate-to, joining, target
    [InlineData(0, 0, 0, 0, 0, 100, 120, 100, 100, true, 120)]   // empty and never opened: joins at the higher of tail and hint
    [InlineData(0, 0, 0, 0, 0, 100, 50, 100, 100, true, 100)]
    [InlineData(0, 0, 0, 0, 0, 100, 120, 100, 150, true, 100)]   // the hint is annulled: what is left at or below VDL
    [InlineData(0, 0, 0, 0, 0, 0, 0, 0, 0, true, 0)]             // a new PG: joins at nothing (the caller logs no join)
    [InlineData(2, 0, 0, 0, 0, 100, 120, 100, 100, false, 0)]    // opened before: not a joiner
    [InlineData(0, 10, 10, 0, 0, 100, 120, 100, 100, false, 0)]  // holds records: not a joiner
    [InlineData(0, 0, 0, 30, 0, 100, 120, 100, 100, false, 0)]   // has a checkpoint: not a joiner
    [InlineData(3, 40, 40, 0, 90, 80, 0, 80, 95, false, 80)]     // a joiner's target annulled by the next epoch: the PG's tail
    [InlineData(3, 40, 40, 0, 90, 120, 0, 120, 130, false, 90)]  // ... kept when below the annulled range
    public void AtInstall_joins_only_an_empty_never_opened_segment_and_never_targets_an_annulled_lsn(
        long opened, long scl, long maxLsn, long checkpoint, long current, long tail, long hint, long vdl, long truncateTo, bool joining, long target)
    {
        Assert.Equal((joining, L(target)), SegmentJoin.AtInstall(opened, L(scl), L(maxLsn), L(checkpoint), L(current), L(tail), L(hint), L(vdl), L(truncateTo)));
    }
}
