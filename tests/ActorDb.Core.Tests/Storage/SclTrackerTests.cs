using ActorDb.Core.Storage;
using CsCheck;

namespace ActorDb.Core.Tests.Storage;

public class SclTrackerTests
{
    /// <summary>A PG's chain: strictly increasing LSNs with random gaps (the PG sees only some LSNs).</summary>
    private static readonly Gen<long[]> GenChain =
        Gen.Long[1, 20].Array[1, 60].Select(gaps =>
        {
            var lsns = new long[gaps.Length];
            long l = 0;
            for (int i = 0; i < gaps.Length; i++) lsns[i] = l += gaps[i];
            return lsns;
        });

    /// <summary>The chain, plus a delivery order: a random permutation with some elements delivered twice.</summary>
    private static readonly Gen<(long[] Chain, int[] Order)> GenDelivery =
        from chain in GenChain
        from dupes in Gen.Int[0, chain.Length - 1].Array[0, 10]
        from order in Gen.Shuffle(Enumerable.Range(0, chain.Length).Concat(dupes).ToArray())
        select (chain, order);

    [Fact]
    public void Scl_is_the_longest_connected_prefix_at_every_step()
    {
        GenDelivery.Sample(d =>
        {
            var tracker = new SclTracker();
            var received = new bool[d.Chain.Length];
            long max = 0;
            foreach (int i in d.Order)
            {
                long lsn = d.Chain[i], prev = i == 0 ? 0 : d.Chain[i - 1];
                bool isNew = !received[i];
                Assert.Equal(isNew, tracker.Add(new Lsn(lsn), new Lsn(prev)));
                received[i] = true;
                max = Math.Max(max, lsn);

                int k = 0;
                while (k < received.Length && received[k]) k++;
                long expected = k == 0 ? 0 : d.Chain[k - 1];
                Assert.Equal(new Lsn(expected), tracker.Scl);
                Assert.Equal(new Lsn(max), tracker.MaxLsn);
                int above = received.Skip(k).Count(x => x);
                Assert.Equal(above > 0, tracker.HasHoles);
                Assert.Equal(above, tracker.PendingCount);

                // Holes: one per held record above the SCL whose predecessor is missing.
                var holes = tracker.Holes();
                var expectedHoles = new List<SclHole>();
                for (int j = k + 1; j < received.Length; j++)
                {
                    if (!received[j] || received[j - 1]) continue;
                    int h = j - 1;
                    while (h >= 0 && !received[h]) h--;
                    expectedHoles.Add(new SclHole(new Lsn(h < 0 ? 0 : d.Chain[h]), new Lsn(d.Chain[j - 1]), new Lsn(d.Chain[j])));
                }
                Assert.Equal(expectedHoles, holes);
            }
            Assert.Equal(new Lsn(d.Chain[^1]), tracker.Scl);
            Assert.False(tracker.HasHoles);
            Assert.Empty(tracker.Holes());
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void In_order_chain_advances_one_record_at_a_time()
    {
        var t = new SclTracker();
        Assert.True(t.Add(new Lsn(3), Lsn.Zero));
        Assert.True(t.Add(new Lsn(7), new Lsn(3)));
        Assert.False(t.Add(new Lsn(7), new Lsn(3)));
        Assert.False(t.Add(new Lsn(3), Lsn.Zero));
        Assert.Equal(new Lsn(7), t.Scl);
        Assert.True(t.Add(new Lsn(20), new Lsn(12)));
        Assert.Equal(new Lsn(7), t.Scl);
        Assert.Equal(new Lsn(20), t.MaxLsn);
        Assert.Equal([new SclHole(new Lsn(7), new Lsn(12), new Lsn(20))], t.Holes());
        Assert.True(t.Add(new Lsn(12), new Lsn(7)));
        Assert.Equal(new Lsn(20), t.Scl);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Add(new Lsn(5), new Lsn(5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Add(new Lsn(5), new Lsn(-1)));
    }

    [Fact]
    public void Starting_point_off_the_chain_connects_the_first_new_record()
    {
        // After truncation at VDL 100 the segment is complete through 100; the PG's last record <= 100 was 93.
        var t = new SclTracker(new Lsn(100));
        Assert.False(t.Add(new Lsn(93), new Lsn(80)));     // at or below the SCL: already held
        Assert.True(t.Add(new Lsn(260), new Lsn(250)));
        Assert.Equal(new Lsn(100), t.Scl);
        Assert.True(t.Add(new Lsn(250), new Lsn(93)));     // backlink below the start point connects
        Assert.Equal(new Lsn(260), t.Scl);
        Assert.False(t.HasHoles);
    }

    [Fact]
    public void Annulled_range_is_ignored_and_pulls_scl_back()
    {
        var t = new SclTracker();
        t.Add(new Lsn(10), Lsn.Zero);
        t.Add(new Lsn(20), new Lsn(10));
        t.Add(new Lsn(30), new Lsn(20));   // allocated by the old writer above VDL 25
        t.Add(new Lsn(45), new Lsn(40));   // held above a gap, also annulled
        Assert.Equal(new Lsn(30), t.Scl);

        t.Annul(new Lsn(25), new Lsn(75), epoch: 2);
        Assert.Equal(new Lsn(25), t.Scl);
        Assert.Equal(new Lsn(25), t.MaxLsn);
        Assert.False(t.HasHoles);
        Assert.True(t.IsAnnulled(new Lsn(40)));
        Assert.False(t.Add(new Lsn(40), new Lsn(30)));     // late arrival of an annulled record
        Assert.Equal(new Lsn(25), t.Scl);

        Assert.True(t.Add(new Lsn(80), new Lsn(20)));      // the new writer's first record of this PG
        Assert.Equal(new Lsn(80), t.Scl);
        Assert.Throws<InvalidOperationException>(() => t.Annul(new Lsn(25), new Lsn(79), 3));

        var restarted = new SclTracker(new Lsn(25), t.AnnulledRanges);
        Assert.False(restarted.Add(new Lsn(30), new Lsn(20)));
        Assert.True(restarted.Add(new Lsn(80), new Lsn(20)));
        Assert.Equal(new Lsn(80), restarted.Scl);
    }

    [Fact]
    public void Large_reverse_delivery_is_fast()
    {
        var t = new SclTracker();
        const int n = 200_000;
        for (long i = n; i >= 1; i--) t.Add(new Lsn(2 * i), new Lsn(2 * (i - 1)));
        Assert.Equal(new Lsn(2 * n), t.Scl);
        Assert.False(t.HasHoles);
    }
}
