using ActorDb.Cli.Bench;

namespace ActorDb.Tests.Bench;

public class GeneratorTests
{
    /// <summary>The reference FNV-1 64 of YCSB's Utils.fnvhash64, written independently with unsigned arithmetic.</summary>
    private static long ReferenceFnv(long val)
    {
        ulong h = 14695981039346656037UL;
        for (int i = 0; i < 8; i++)
        {
            h ^= (ulong)(val & 0xff);
            val >>= 8;
            h *= 1099511628211UL;
        }
        long s = (long)h;
        return s < 0 && s != long.MinValue ? -s : s;
    }

    [Fact]
    public void Hashed_key_names_match_ycsb()
    {
        // values printed by YCSB's buildKeyName for key numbers 0, 1, 2
        Assert.Equal("user6284781860667377211", YcsbUtils.BuildKeyName(0, 1, orderedInserts: false));
        Assert.Equal("user8517097267634966620", YcsbUtils.BuildKeyName(1, 1, orderedInserts: false));
        Assert.Equal("user1820151046732198393", YcsbUtils.BuildKeyName(2, 1, orderedInserts: false));
        for (long k = 0; k < 2000; k += 7)
            Assert.Equal(ReferenceFnv(k), YcsbUtils.FnvHash64(k));
        Assert.Equal(ReferenceFnv(-1), YcsbUtils.FnvHash64(-1));
    }

    [Fact]
    public void Ordered_key_names_are_zero_padded()
    {
        Assert.Equal("user00042", YcsbUtils.BuildKeyName(42, 5, orderedInserts: true));
        Assert.Equal("user123456", YcsbUtils.BuildKeyName(123456, 3, orderedInserts: true));
        Assert.Equal("user0006284781860667377211", YcsbUtils.BuildKeyName(0, 22, orderedInserts: false));
    }

    [Fact]
    public void Zipfian_head_matches_theory()
    {
        const int n = 1000, samples = 200_000;
        var gen = new ZipfianGenerator(n);
        var rng = new Random(7);
        var counts = new int[n];
        for (int i = 0; i < samples; i++)
        {
            long v = gen.Next(rng);
            Assert.InRange(v, 0, n - 1);
            counts[v]++;
        }
        double zetan = ZipfianGenerator.ZetaStatic(0, n, ZipfianGenerator.ZipfianConstant, 0);
        Assert.Equal(zetan, gen.Zetan, 9);
        double p0 = 1 / zetan, p1 = Math.Pow(0.5, 0.99) / zetan;
        Assert.InRange(counts[0] / (double)samples, p0 * 0.95, p0 * 1.05);
        Assert.InRange(counts[1] / (double)samples, p1 * 0.95, p1 * 1.05);
        Assert.True(counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[500]);
    }

    [Fact]
    public void Zipfian_extends_zeta_incrementally()
    {
        var gen = new ZipfianGenerator(1000);
        var rng = new Random(1);
        for (int i = 0; i < 1000; i++)
            Assert.InRange(gen.NextLong(rng, 1500), 0, 1500);
        Assert.Equal(ZipfianGenerator.ZetaStatic(0, 1500, 0.99, 0), gen.Zetan, 9);
    }

    [Fact]
    public void Zipfian_with_min_and_max_stays_in_range()
    {
        var gen = new ZipfianGenerator(1, 100);
        var rng = new Random(3);
        var counts = new int[101];
        for (int i = 0; i < 20000; i++) counts[gen.Next(rng)]++;
        Assert.Equal(0, counts[0]);
        Assert.Equal(1, Enumerable.Range(1, 100).MaxBy(i => counts[i]));
    }

    [Fact]
    public void Scrambled_zipfian_stays_in_range_and_is_skewed()
    {
        var gen = new ScrambledZipfianGenerator(100, 199);
        var rng = new Random(11);
        var counts = new int[100];
        for (int i = 0; i < 50_000; i++)
        {
            long v = gen.Next(rng);
            Assert.InRange(v, 100, 199);
            counts[v - 100]++;
        }
        // uniform would give each value ~1%; the hottest value gets at least the zipfian head (1/26.47 = 3.8%)
        Assert.True(counts.Max() > 50_000 * 0.03, $"max share {counts.Max() / 50_000.0}");
        Assert.True(counts.Count(c => c > 0) > 90);
        Assert.Equal(149.5, gen.Mean);
    }

    [Fact]
    public void Latest_favours_recent_inserts_and_never_exceeds_the_acknowledged()
    {
        var basis = new AcknowledgedCounterGenerator(1000);
        var gen = new SkewedLatestGenerator(basis);
        var rng = new Random(5);
        var counts = new Dictionary<long, int>();
        for (int i = 0; i < 50_000; i++)
        {
            long v = gen.Next(rng);
            Assert.InRange(v, 0, 999);
            counts[v] = counts.GetValueOrDefault(v) + 1;
        }
        Assert.Equal(999, counts.MaxBy(kv => kv.Value).Key);
        Assert.True(counts.Where(kv => kv.Key >= 990).Sum(kv => kv.Value) > 50_000 * 0.3);

        for (int i = 0; i < 10; i++) basis.Acknowledge(basis.Next());
        Assert.Equal(1009, basis.LastValue);
        counts.Clear();
        for (int i = 0; i < 20_000; i++)
        {
            long v = gen.Next(rng);
            Assert.InRange(v, 0, 1009);
            counts[v] = counts.GetValueOrDefault(v) + 1;
        }
        Assert.Equal(1009, counts.MaxBy(kv => kv.Value).Key);
    }

    [Fact]
    public void Acknowledged_counter_advances_only_over_contiguous_acks()
    {
        var c = new AcknowledgedCounterGenerator(10);
        Assert.Equal(9, c.LastValue);
        long a = c.Next(), b = c.Next(), d = c.Next();
        Assert.Equal((10L, 11L, 12L), (a, b, d));
        c.Acknowledge(b);
        Assert.Equal(9, c.LastValue);
        c.Acknowledge(a);
        Assert.Equal(11, c.LastValue);
        c.Acknowledge(d);
        Assert.Equal(12, c.LastValue);
    }

    [Fact]
    public void Acknowledged_counter_is_thread_safe()
    {
        var c = new AcknowledgedCounterGenerator(0);
        Parallel.For(0, 4, _ =>
        {
            for (int i = 0; i < 10_000; i++) c.Acknowledge(c.Next());
        });
        Assert.Equal(39_999, c.LastValue);
    }

    [Fact]
    public void Uniform_and_hotspot()
    {
        var rng = new Random(2);
        var u = new UniformLongGenerator(5, 9);
        var seen = new HashSet<long>();
        for (int i = 0; i < 1000; i++) seen.Add(u.Next(rng));
        Assert.Equal([5, 6, 7, 8, 9], seen.Order());

        var h = new HotspotIntegerGenerator(0, 999, 0.2, 0.8);
        int hot = 0;
        for (int i = 0; i < 20_000; i++)
        {
            long v = h.Next(rng);
            Assert.InRange(v, 0, 999);
            if (v < 200) hot++;
        }
        Assert.InRange(hot / 20_000.0, 0.77, 0.83);
    }

    [Fact]
    public void Discrete_generator_follows_weights()
    {
        var d = new DiscreteGenerator<string>().Add(0.5, "READ").Add(0, "NEVER").Add(0.25, "UPDATE").Add(0.25, "INSERT");
        var rng = new Random(9);
        var counts = new Dictionary<string, int>();
        for (int i = 0; i < 40_000; i++)
        {
            var v = d.Next(rng);
            counts[v] = counts.GetValueOrDefault(v) + 1;
        }
        Assert.False(counts.ContainsKey("NEVER"));
        Assert.InRange(counts["READ"] / 40_000.0, 0.48, 0.52);
        Assert.InRange(counts["UPDATE"] / 40_000.0, 0.23, 0.27);
    }

    [Fact]
    public void Random_values_are_printable_and_reproducible()
    {
        var s = YcsbUtils.RandomPrintable(new Random(4), 1000);
        Assert.Equal(1000, s.Length);
        Assert.All(s, ch => Assert.InRange(ch, ' ', '~'));
        Assert.Equal(s, YcsbUtils.RandomPrintable(new Random(4), 1000));
        Assert.True(s.Distinct().Count() > 50);
        Assert.Equal("", YcsbUtils.RandomPrintable(new Random(4), 0));
        Assert.Equal(7, YcsbUtils.RandomPrintable(new Random(4), 7).Length);
    }
}
