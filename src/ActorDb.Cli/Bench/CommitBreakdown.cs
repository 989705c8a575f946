using System.Diagnostics.Metrics;
using System.Globalization;
using ActorDb.Metrics;
using HdrHistogram;

namespace ActorDb.Cli.Bench;

/// <summary>
/// Where the commits' time went during a bench phase: listens (a <see cref="MeterListener"/>) to the node's
/// <c>actordb.commit.duration</c> and <c>actordb.commit.phase.duration</c> while it is alive, keeps each part in an
/// HdrHistogram (µs), and writes them as <c>[COMMIT-PART], AverageLatency(us) / 50th / 99th</c> lines next to the YCSB
/// report. Only this node's instruments are read.
/// </summary>
public sealed class CommitBreakdown : IDisposable
{
    /// <summary>The parts: the writer-side total, then each phase in order (see <see cref="WriterMetrics.Phases"/>).</summary>
    public static readonly IReadOnlyList<string> Parts = ["total", .. WriterMetrics.Phases];

    private readonly MeterListener _listener = new();
    private readonly LongConcurrentHistogram[] _histograms;
    private readonly long[] _sumNanos;   // for the averages

    /// <summary>Starts listening to <paramref name="metrics"/>.</summary>
    public CommitBreakdown(ActorDbMetrics metrics)
    {
        _histograms = Parts.Select(_ => new LongConcurrentHistogram(1, LatencyStats.HighestTrackableUs, LatencyStats.SignificantDigits)).ToArray();
        _sumNanos = new long[Parts.Count];
        var total = metrics.Writer.CommitDuration;
        var phases = metrics.Writer.CommitPhaseDuration;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument, total) || ReferenceEquals(instrument, phases)) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<double>((instrument, seconds, tags, _) =>
        {
            var part = ReferenceEquals(instrument, total) ? 0 : tags.Length > 0 && tags[0].Value is string phase ? IndexOf(phase) : -1;
            if (part < 0) return;
            _histograms[part].RecordValue(Math.Clamp((long)(seconds * 1_000_000), 0, LatencyStats.HighestTrackableUs));
            Interlocked.Add(ref _sumNanos[part], (long)(seconds * 1_000_000_000));
        });
        _listener.Start();
    }

    private static int IndexOf(string phase)
    {
        for (var i = 1; i < Parts.Count; i++)
            if (Parts[i] == phase) return i;
        return -1;
    }

    /// <summary>Commits measured.</summary>
    public long Commits => _histograms[0].TotalCount;

    /// <summary>A part's percentile, µs (0 with no commits).</summary>
    public long Percentile(string part, double percentile)
    {
        var h = _histograms[Parts.ToList().IndexOf(part)];
        return h.TotalCount == 0 ? 0 : h.GetValueAtPercentile(percentile);
    }

    /// <summary>A part's mean, µs (0 with no commits).</summary>
    public double Mean(string part)
    {
        var i = Parts.ToList().IndexOf(part);
        var count = _histograms[i].TotalCount;
        return count == 0 ? 0 : Interlocked.Read(ref _sumNanos[i]) / 1000.0 / count;
    }

    /// <summary>Writes the breakdown: a count line, then average, median and 99th percentile of each part.</summary>
    public void WriteReport(TextWriter w)
    {
        w.WriteLine($"[COMMIT-BREAKDOWN], Commits, {Commits}");
        if (Commits == 0) return;
        foreach (var part in Parts)
        {
            var label = $"[COMMIT-{part.ToUpperInvariant()}]";
            w.WriteLine($"{label}, AverageLatency(us), {Mean(part).ToString("0.##", CultureInfo.InvariantCulture)}");
            w.WriteLine($"{label}, 50thPercentileLatency(us), {Percentile(part, 50)}");
            w.WriteLine($"{label}, 99thPercentileLatency(us), {Percentile(part, 99)}");
        }
    }

    /// <summary>Stops listening.</summary>
    public void Dispose() => _listener.Dispose();
}
