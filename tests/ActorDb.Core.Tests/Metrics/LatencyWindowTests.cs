using System.Diagnostics;
using ActorDb.Core.Metrics;
using CsCheck;

namespace ActorDb.Core.Tests.Metrics;

public class LatencyWindowTests
{
    /// <summary>A bucket's midpoint is within half its width of any value in it, and a width is at most 1/16 of its
    /// lower bound.</summary>
    private const double Error = 1 / 32.0;

    private static long At(double seconds) => (long)(seconds * Stopwatch.Frequency);

    [Fact]
    public void An_empty_window_has_no_percentiles()
    {
        var w = new LatencyWindow();
        Assert.Equal(new LatencySummary(0, null, null), w.Summarize(At(100)));
    }

    [Fact]
    public void Percentiles_are_the_median_and_99th_of_what_was_recorded()
    {
        var w = new LatencyWindow();
        // 1..100 ms, one each, spread over ten seconds.
        for (var i = 1; i <= 100; i++) w.Record(At(100 + i / 10.0), i * 1000L);
        var s = w.Summarize(At(111));
        Assert.Equal(100, s.Count);
        Assert.InRange(s.P50Ms!.Value, 50 * (1 - Error), 50 * (1 + Error));
        Assert.InRange(s.P99Ms!.Value, 99 * (1 - Error), 99 * (1 + Error));
    }

    [Fact]
    public void Small_values_are_exact()
    {
        var w = new LatencyWindow();
        for (var i = 0; i < 10; i++) w.Record(At(5), 7);
        w.Record(At(5), 12);
        var s = w.Summarize(At(5));
        Assert.Equal(0.007, s.P50Ms);
        Assert.Equal(0.012, s.P99Ms);
    }

    [Fact]
    public void Only_the_last_minute_counts()
    {
        var w = new LatencyWindow();
        w.Record(At(10.5), 100_000);          // 100 ms at second 10
        w.Record(At(40.5), 1_000);            // 1 ms at second 40
        Assert.Equal(2, w.Summarize(At(69.9)).Count);     // seconds 10..69: both
        var later = w.Summarize(At(70.1));                 // seconds 11..70: second 10 is out
        Assert.Equal(1, later.Count);
        Assert.InRange(later.P99Ms!.Value, 1.0 * (1 - Error), 1.0 * (1 + Error));
        Assert.Equal(0, w.Summarize(At(100.5)).Count);    // seconds 41..100: nothing
    }

    [Fact]
    public void A_slot_reused_a_minute_later_forgets_its_old_second()
    {
        var w = new LatencyWindow();
        for (var i = 0; i < 50; i++) w.Record(At(3.2), 500_000);   // second 3
        w.Record(At(63.2), 2_000);                                 // second 63: the same slot
        var s = w.Summarize(At(63.5));
        Assert.Equal(1, s.Count);
        Assert.InRange(s.P50Ms!.Value, 2.0 * (1 - Error), 2.0 * (1 + Error));
        // A record a minute too late for its slot (now held by a newer second) is dropped, not counted there.
        w.Record(At(3.9), 500_000);
        Assert.Equal(1, w.Summarize(At(63.5)).Count);
    }

    [Fact]
    public void Percentiles_are_within_a_32nd_of_the_exact_ones()
    {
        Gen.Long[1, 60_000_000].Array[1, 500].Sample(values =>
        {
            var w = new LatencyWindow();
            foreach (var v in values) w.Record(At(30), v);
            var sorted = values.Order().ToArray();
            double Exact(double q) => sorted[Math.Max(1, (int)Math.Ceiling(q * sorted.Length)) - 1] / 1000.0;
            var s = w.Summarize(At(30));
            Assert.Equal(values.Length, s.Count);
            Assert.InRange(s.P50Ms!.Value, Exact(0.5) * (1 - Error), Exact(0.5) * (1 + Error));
            Assert.InRange(s.P99Ms!.Value, Exact(0.99) * (1 - Error), Exact(0.99) * (1 + Error));
        });
    }

    [Fact]
    public void Concurrent_records_within_one_second_are_all_counted()
    {
        var w = new LatencyWindow();
        w.Record(At(7.1), 1000);   // the slot turns over here (a record racing the turn-over may be lost: documented)
        Parallel.For(0, 4, _ =>
        {
            for (var i = 0; i < 10_000; i++) w.Record(At(7.5), 1000 + i % 100);
        });
        Assert.Equal(40_001, w.Summarize(At(7.5)).Count);
    }
}
