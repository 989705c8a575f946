using ActorDb.Core;
using ActorDb.Core.Quorum;
using CsCheck;

namespace ActorDb.Core.Tests.Quorum;

public class QuorumTrackerTests
{
    [Fact]
    public void Commit_is_durable_only_after_the_fourth_ack()
    {
        var t = new QuorumTracker(pgCount: 1, Lsn.Zero);
        t.RecordAllocated(0, new Lsn(1));
        t.RecordAllocated(0, new Lsn(2));
        t.MarkCpl(new Lsn(2));
        for (var replica = 0; replica < 3; replica++)
        {
            Assert.False(t.OnAck(0, replica, new Lsn(2)));
            Assert.Equal(Lsn.Zero, t.Vdl);
        }
        Assert.True(t.OnAck(0, 3, new Lsn(2)));
        Assert.Equal(new Lsn(2), t.Vdl);
    }

    [Fact]
    public void Vdl_waits_for_a_slower_pg_holding_an_earlier_record()
    {
        var t = new QuorumTracker(pgCount: 2, Lsn.Zero);
        t.RecordAllocated(0, new Lsn(1));
        t.MarkCpl(new Lsn(1));
        t.RecordAllocated(1, new Lsn(2));
        t.MarkCpl(new Lsn(2));
        for (var r = 0; r < 4; r++) t.OnAck(1, r, new Lsn(2)); // PG 1 durable, PG 0 not yet
        Assert.Equal(Lsn.Zero, t.Vcl);
        Assert.Equal(Lsn.Zero, t.Vdl);
        for (var r = 0; r < 4; r++) t.OnAck(0, r, new Lsn(1));
        Assert.Equal(new Lsn(2), t.Vcl);
        Assert.Equal(new Lsn(2), t.Vdl);
    }

    [Fact]
    public void Vdl_stops_at_the_last_cpl_not_inside_an_mtr()
    {
        var t = new QuorumTracker(pgCount: 2, Lsn.Zero);
        t.RecordAllocated(0, new Lsn(1));
        t.MarkCpl(new Lsn(1));
        t.RecordAllocated(0, new Lsn(2));   // MTR 2..3 spans PG 0 and PG 1
        t.RecordAllocated(1, new Lsn(3));
        t.MarkCpl(new Lsn(3));
        for (var r = 0; r < 4; r++) t.OnAck(0, r, new Lsn(2));
        Assert.Equal(new Lsn(2), t.Vcl);
        Assert.Equal(new Lsn(1), t.Vdl);
    }

    /// <summary>
    /// Random MTRs over random PGs; segments receive their PG's records in order but each may stall or die at any
    /// point; acks arrive in random order. After every ack, against a reference count of real deliveries:
    /// VDL never goes backwards, is always a CPL (or the start), and every record at or below it is held by
    /// at least 4 segments of its PG.
    /// </summary>
    [Fact]
    public void Vdl_never_passes_a_record_without_a_write_quorum_never_splits_an_mtr_never_regresses()
    {
        var gen =
            from pgCount in Gen.Int[1, 4]
            from mtrs in Gen.Int[0, pgCount - 1].Array[1, 5].Array[1, 40]
            from steps in Gen.Int[0, 1_000_000].Array[50, 400]
            from dead in Gen.Bool.Array[pgCount * 6]
            select (pgCount, mtrs, steps, dead);

        gen.Sample(c =>
        {
            var (pgCount, mtrs, steps, dead) = c;
            var tracker = new QuorumTracker(pgCount, Lsn.Zero);
            var perPg = Enumerable.Range(0, pgCount).Select(_ => new List<long>()).ToArray();
            var cpls = new HashSet<long> { 0 };
            var records = new List<(long lsn, int pg)>();
            var delivered = new int[pgCount, 6];   // prefix of perPg[pg] held by each replica
            long next = 1;
            var mtrIndex = 0;
            var prevVdl = Lsn.Zero;

            foreach (var step in steps)
            {
                if (mtrIndex < mtrs.Length && (step % 3 == 0 || records.Count == 0))
                {
                    foreach (var pg in mtrs[mtrIndex])
                    {
                        tracker.RecordAllocated(pg, new Lsn(next));
                        perPg[pg].Add(next);
                        records.Add((next, pg));
                        next++;
                    }
                    tracker.MarkCpl(new Lsn(next - 1));
                    cpls.Add(next - 1);
                    mtrIndex++;
                    continue;
                }

                var pgPick = step / 7 % pgCount;
                var replica = step / 31 % 6;
                // A "dead" replica stops receiving after its first couple of records: a lost segment.
                var limit = dead[pgPick * 6 + replica] ? Math.Min(2, perPg[pgPick].Count) : perPg[pgPick].Count;
                var d = Math.Min(limit, delivered[pgPick, replica] + 1 + step / 101 % 3);
                if (d > delivered[pgPick, replica]) delivered[pgPick, replica] = d;
                var scl = delivered[pgPick, replica] == 0 ? Lsn.Zero : new Lsn(perPg[pgPick][delivered[pgPick, replica] - 1]);
                tracker.OnAck(pgPick, replica, scl);

                var vdl = tracker.Vdl;
                Assert.True(vdl >= prevVdl, $"VDL went backwards: {prevVdl} -> {vdl}");
                Assert.Contains(vdl.Value, cpls);
                foreach (var (lsn, pg) in records)
                {
                    if (lsn > vdl.Value) break;
                    var index = perPg[pg].IndexOf(lsn);
                    var holders = 0;
                    for (var r = 0; r < 6; r++) if (delivered[pg, r] > index) holders++;
                    Assert.True(holders >= 4, $"VDL {vdl} passes LSN {lsn} of PG {pg} held by only {holders} segments");
                }
                prevVdl = vdl;
            }
        }, iter: 300);
    }

    [Fact]
    public void Allocating_out_of_order_is_refused()
    {
        var t = new QuorumTracker(1, new Lsn(10));
        Assert.Throws<ArgumentException>(() => t.RecordAllocated(0, new Lsn(10)));
    }
}
