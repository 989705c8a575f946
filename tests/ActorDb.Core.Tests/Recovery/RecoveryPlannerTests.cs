using ActorDb.Core;
using ActorDb.Core.Recovery;

namespace ActorDb.Core.Tests.Recovery;

public class RecoveryPlannerTests
{
    private static Lsn L(long v) => new(v);

    private static IEnumerable<SegmentReport> Pg(int pg, int count, long scl, long epoch, params CplInfo[] cpls) =>
        Enumerable.Range(0, count).Select(r => new SegmentReport(pg, r, epoch, L(scl), L(scl), cpls));

    [Fact]
    public void New_volume_opens_at_zero_in_epoch_one()
    {
        var plan = RecoveryPlanner.Plan(2, Pg(0, 6, 0, 0).Concat(Pg(1, 6, 0, 0)).ToList(), lal: 100);
        Assert.Equal(1, plan.Epoch);
        Assert.Equal(Lsn.Zero, plan.Vdl);
        Assert.Equal(Lsn.Zero, plan.TruncateTo);   // nothing to fence off
    }

    [Fact]
    public void Vdl_is_the_highest_cpl_complete_in_every_pg()
    {
        // PG0 complete to 5, PG1 complete to 4. CPL 6 needs PG1 up to 6: not complete. CPL 4 is.
        var c4 = new CplInfo(L(4), [L(3), L(4)]);
        var c6 = new CplInfo(L(6), [L(5), L(6)]);
        var reports = Pg(0, 3, 5, 3, c4).Concat(Pg(1, 3, 4, 2, c4)).ToList();
        reports.Add(new SegmentReport(1, 5, 3, L(2), L(6), [c6]));   // holds 6 but with a hole below
        var plan = RecoveryPlanner.Plan(2, reports, lal: 10);
        Assert.Equal(L(4), plan.Vdl);
        Assert.Equal(4, plan.Epoch);
        Assert.Equal([L(3), L(4)], plan.PgTail);
        Assert.Equal(L(14), plan.TruncateTo);
    }

    [Fact]
    public void Fewer_than_a_read_quorum_is_refused_naming_the_pg()
    {
        var reports = Pg(0, 6, 0, 0).Concat(Pg(1, 2, 0, 0)).ToList();
        var e = Assert.Throws<InvalidOperationException>(() => RecoveryPlanner.Plan(2, reports, 10));
        Assert.Contains("PG 1", e.Message);
    }
}
