using ActorDb.Core.Redo;
using ActorDb.Core.Storage;

namespace ActorDb.Core.Tests.Storage;

public class HeldRecordsTests
{
    private static readonly VolumeGeometry Geometry = new(8192, 1, 1024);

    private static Lsn L(long v) => new(v);

    /// <summary>A commit record of PG 0 (valid for <see cref="RedoValidation"/>): LSN, backlink, transaction.</summary>
    private static RedoRecord Commit(long lsn, long prev, long txn = 1) =>
        new(L(lsn), L(prev), 0, -1, RedoKind.Commit, true, txn, 1, new CommitPayload(txn, []).Encode());

    private static long[] Lsns(HeldRecords held) => held.All.Select(r => r.Lsn.Value).ToArray();

    [Fact]
    public void Appends_in_order_and_a_resend_filling_a_hole_goes_in_lsn_order()
    {
        var held = new HeldRecords(rememberedCpls: 10);
        held.Add(Commit(10, 0));
        held.Add(Commit(30, 20));   // 20 is a hole
        held.Add(Commit(40, 30));
        held.Add(Commit(20, 10));   // the hole filled
        Assert.Equal([10L, 20, 30, 40], Lsns(held));
        Assert.Equal(4, held.Backlog);
        Assert.Same(held.All[1], held.Find(L(20)));
        Assert.Null(held.Find(L(25)));
    }

    [Fact]
    public void Materializes_from_the_front_and_a_late_record_is_inserted_among_the_unapplied_only()
    {
        var held = new HeldRecords(10);
        held.Add(Commit(10, 0));
        held.Add(Commit(30, 20));
        Assert.Equal(10, held.NextToApply!.Lsn.Value);
        held.MarkApplied();
        held.Add(Commit(20, 10));
        Assert.Equal([10L, 20, 30], Lsns(held));
        Assert.Equal(1, held.Applied);
        Assert.Equal(2, held.Backlog);
        held.MarkApplied();
        held.MarkApplied();
        Assert.Null(held.NextToApply);
        Assert.Throws<InvalidOperationException>(() => held.MarkApplied());
        held.Compact();
        Assert.Empty(held.All);
        Assert.Equal(0, held.Applied);
    }

    [Fact]
    public void A_different_record_under_a_held_lsn_is_refused_and_an_identical_resend_is_not()
    {
        var held = new HeldRecords(10);
        held.Add(Commit(10, 0, txn: 7));
        var ceiling = L(1000);
        Assert.Null(RedoValidation.CheckBatch([Commit(10, 0, txn: 7)], 0, Geometry, ceiling, held.Find));
        var problem = RedoValidation.CheckBatch([Commit(10, 0, txn: 8)], 0, Geometry, ceiling, held.Find);
        Assert.NotNull(problem);
        Assert.Contains("record LSN 10", problem);
        Assert.Contains("one LSN has one content", problem);
    }

    [Fact]
    public void Annul_drops_the_truncated_range_and_the_commit_records_above_the_vdl()
    {
        var held = new HeldRecords(10);
        foreach (var (lsn, prev) in new[] { (10L, 0L), (20L, 10L), (30L, 20L), (40L, 30L), (50L, 40L) }) held.Add(Commit(lsn, prev));
        held.MarkApplied();   // 10 materialized: compacted by the truncation
        held.Annul(vdl: L(20), truncateTo: L(40));
        Assert.Equal([20L, 50], Lsns(held));
        Assert.Equal(0, held.Applied);
        Assert.Equal([10L, 20], held.Cpls.Select(c => c.Lsn.Value).ToArray());   // 50 is above the VDL: forgotten for reports
    }

    [Fact]
    public void DropUpTo_removes_every_record_and_commit_record_at_or_below_a_copy_point()
    {
        var held = new HeldRecords(10);
        foreach (var (lsn, prev) in new[] { (10L, 0L), (20L, 10L), (30L, 20L) }) held.Add(Commit(lsn, prev));
        held.DropUpTo(L(20));
        Assert.Equal([30L], Lsns(held));
        Assert.Equal([30L], held.Cpls.Select(c => c.Lsn.Value).ToArray());
    }

    [Fact]
    public void Keeps_only_the_last_remembered_commit_records()
    {
        var held = new HeldRecords(rememberedCpls: 2);
        for (var i = 1; i <= 5; i++) held.Add(Commit(i * 10, (i - 1) * 10));
        Assert.Equal([40L, 50], held.Cpls.Select(c => c.Lsn.Value).ToArray());
        Assert.Equal(5, held.Count);
        held.Clear();
        Assert.Empty(held.Cpls);
        Assert.Empty(held.All);
    }
}
