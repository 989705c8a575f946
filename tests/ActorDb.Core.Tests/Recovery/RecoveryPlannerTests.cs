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
    public void A_commit_on_four_segments_is_recovered_even_when_one_of_them_lost_its_tail()
    {
        // CPL 50 was acknowledged on replicas 0..3; replica 2 then lost its tail (a cut, damaged log end): it reports 40.
        // Only 0, 1 and 3 still hold 50, fewer than a write quorum, but the commit was acknowledged and must survive.
        var c40 = new CplInfo(L(40), [L(40)]);
        var c50 = new CplInfo(L(50), [L(50)]);
        var reports = new List<SegmentReport>
        {
            new(0, 0, 1, L(50), L(50), [c40, c50]), new(0, 1, 1, L(50), L(50), [c40, c50]),
            new(0, 2, 1, L(40), L(40), [c40]), new(0, 3, 1, L(50), L(50), [c40, c50]),
            new(0, 4, 1, L(40), L(40), [c40]), new(0, 5, 1, L(40), L(40), [c40]),
        };
        Assert.Equal(L(50), RecoveryPlanner.Plan(1, reports, lal: 100).Vdl);
        // Any read quorum that includes one holder finds it.
        Assert.Equal(L(50), RecoveryPlanner.Plan(1, [reports[2], reports[4], reports[0]], lal: 100).Vdl);
    }

    [Fact]
    public void A_commit_point_inside_a_range_an_earlier_recovery_annulled_is_never_recovered()
    {
        // Three segments hold CPL 20 (written by the old writer, above the VDL 10 of a recovery that annulled (10, 110]
        // on the other three and crashed): 20 must not come back.
        var c10 = new CplInfo(L(10), [L(10)]);
        var c20 = new CplInfo(L(20), [L(20)]);
        var annulled = new[] { new ActorDb.Core.Storage.AnnulledRange(L(10), L(110), 2) };
        var reports = Enumerable.Range(0, 3).Select(r => new SegmentReport(0, r, 3, L(20), L(20), [c10, c20]))
            .Concat(Enumerable.Range(3, 3).Select(r => new SegmentReport(0, r, 3, L(10), L(10), [c10], annulled)))
            .ToList();
        // With only these three reporters the complete point alone would allow 20.
        var plan = RecoveryPlanner.Plan(1, reports.Take(3).Append(reports[3]).ToList(), lal: 100, epoch: 3);
        Assert.Equal(L(10), plan.Vdl);
        Assert.Equal(3, plan.Epoch);
    }

    [Fact]
    public void A_reporter_in_an_epoch_above_the_fence_means_another_recovery_won()
    {
        var reports = Pg(0, 3, 5, 3).Append(new SegmentReport(0, 4, 4, L(5), L(5), [])).ToList();
        var e = Assert.Throws<InvalidOperationException>(() => RecoveryPlanner.Plan(1, reports, lal: 10, epoch: 3));
        Assert.Contains("epoch 4", e.Message);
    }

    [Fact]
    public void Fewer_than_a_read_quorum_is_refused_naming_the_pg()
    {
        var reports = Pg(0, 6, 0, 0).Concat(Pg(1, 2, 0, 0)).ToList();
        var e = Assert.Throws<InvalidOperationException>(() => RecoveryPlanner.Plan(2, reports, 10));
        Assert.Contains("PG 1", e.Message);
    }
}
