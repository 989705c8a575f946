using System.Diagnostics;
using System.Numerics;

namespace ActorDb.Core.Metrics;

/// <summary>
/// Latencies of the last minute, for percentiles: 60 one-second slots, each a log-linear histogram of microseconds
/// (16 sub-buckets per power of two: a percentile is within about 3% of the true value; below 16 µs exact). Many
/// threads record at once without a lock and without allocating: a measurement is one <see cref="Interlocked"/>
/// increment, plus, for the first one of a new second, the clearing of that second's slot (it last held the second a
/// minute earlier). The price of having no lock: a measurement recorded at the very moment its slot turns over may be
/// lost or counted in the neighbouring second. <see cref="Summarize"/> allocates and is meant for status queries.
/// Timestamps are <see cref="Stopwatch"/> timestamps, passed in so that the window can be tested without a clock.
/// </summary>
public sealed class LatencyWindow
{
    /// <summary>How many one-second slots the window holds: the percentiles cover this many seconds.</summary>
    public const int Seconds = 60;

    private const int SubBucketBits = 4;
    private const int SubBuckets = 1 << SubBucketBits;
    private const int MaxExponent = 40;   // values are capped at 2^40 µs (about 12 days)
    internal const int Buckets = SubBuckets + (MaxExponent - SubBucketBits) * SubBuckets;

    private readonly long[] _stamps = new long[Seconds];        // second + 1 each slot holds (0: never used)
    private readonly long[] _counts = new long[Seconds * Buckets];

    /// <summary>Records a latency of <paramref name="micros"/> microseconds measured at <paramref name="timestamp"/>.
    /// Thread-safe, lock-free, allocation-free.</summary>
    public void Record(long timestamp, long micros)
    {
        var second = SecondOf(timestamp);
        var slot = (int)(second % Seconds);
        var stamp = Volatile.Read(ref _stamps[slot]);
        if (stamp != second)
        {
            if (stamp > second) return;   // a minute or more older than the slot's second: outside any window
            if (Interlocked.CompareExchange(ref _stamps[slot], second, stamp) == stamp)
                Array.Clear(_counts, slot * Buckets, Buckets);
        }
        Interlocked.Increment(ref _counts[slot * Buckets + BucketOf(micros)]);
    }

    /// <summary>The count, median and 99th percentile of the latencies recorded in the <see cref="Seconds"/> seconds up
    /// to and including the one of <paramref name="now"/>.</summary>
    public LatencySummary Summarize(long now)
    {
        var current = SecondOf(now);
        var merged = new long[Buckets];
        long total = 0;
        for (var slot = 0; slot < Seconds; slot++)
        {
            var stamp = Volatile.Read(ref _stamps[slot]);
            if (stamp > current || stamp <= current - Seconds || stamp == 0) continue;
            for (var b = 0; b < Buckets; b++)
            {
                var c = Volatile.Read(ref _counts[slot * Buckets + b]);
                merged[b] += c;
                total += c;
            }
        }
        return total == 0
            ? new LatencySummary(0, null, null)
            : new LatencySummary(total, Percentile(merged, total, 0.50) / 1000.0, Percentile(merged, total, 0.99) / 1000.0);
    }

    private static long SecondOf(long timestamp) => Math.Max(0, timestamp) / Stopwatch.Frequency + 1;

    /// <summary>The bucket of a value: exact below <see cref="SubBuckets"/>, then <see cref="SubBuckets"/> per power of two.</summary>
    internal static int BucketOf(long micros)
    {
        var v = (ulong)Math.Clamp(micros, 0, (1L << MaxExponent) - 1);
        if (v < SubBuckets) return (int)v;
        var exponent = BitOperations.Log2(v);
        var sub = (int)(v >> (exponent - SubBucketBits)) & (SubBuckets - 1);
        return SubBuckets + (exponent - SubBucketBits) * SubBuckets + sub;
    }

    /// <summary>The value a bucket stands for: its midpoint (its value when exact).</summary>
    internal static double ValueOf(int bucket)
    {
        if (bucket < SubBuckets) return bucket;
        var shift = (bucket - SubBuckets) / SubBuckets;
        var sub = (bucket - SubBuckets) % SubBuckets;
        var lower = (long)(SubBuckets + sub) << shift;
        return lower + ((1L << shift) - 1) / 2.0;
    }

    private static double Percentile(long[] counts, long total, double quantile)
    {
        var rank = Math.Max(1, (long)Math.Ceiling(quantile * total));
        long seen = 0;
        for (var b = 0; b < counts.Length; b++)
        {
            seen += counts[b];
            if (seen >= rank) return ValueOf(b);
        }
        return ValueOf(counts.Length - 1);
    }
}

/// <summary>Latencies over a window: how many, and their median and 99th percentile in milliseconds (null when none).</summary>
public sealed record LatencySummary(long Count, double? P50Ms, double? P99Ms);
