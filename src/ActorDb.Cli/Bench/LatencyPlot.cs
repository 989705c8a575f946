using HdrHistogram;
using ScottPlot;

namespace ActorDb.Cli.Bench;

/// <summary>
/// <c>bench --plot FILE.png</c>: one image with three charts drawn by ScottPlot: the run phase's latency over time (p50
/// and p99 of each 1-second interval), its latency histogram (every operation, up to the 99.9th percentile), and the
/// commit-time breakdown (median and 99th percentile of each part).
/// </summary>
public static class LatencyPlot
{
    /// <summary>Writes the image to <paramref name="path"/> (1200 x 1500 px).</summary>
    /// <param name="path">The PNG file.</param>
    /// <param name="title">What ran (workload, threads, fsync).</param>
    /// <param name="samples">The run phase's progress samples (one per interval).</param>
    /// <param name="run">The run phase's results (its latency histograms).</param>
    /// <param name="breakdown">The commit-time breakdown of the same phase.</param>
    public static void Write(string path, string title, IReadOnlyList<BenchProgress> samples, PhaseResult run, CommitBreakdown breakdown)
    {
        var multiplot = new Multiplot();
        multiplot.Reset(Timeline(title, samples));   // a new Multiplot holds one empty plot: start from ours instead
        multiplot.AddPlot(Histogram(run));
        multiplot.AddPlot(Breakdown(breakdown));
        multiplot.SavePng(path, 1200, 1500);
    }

    private static Plot Timeline(string title, IReadOnlyList<BenchProgress> samples)
    {
        var plot = new Plot();
        var xs = samples.Select(s => s.Elapsed.TotalSeconds).ToArray();
        if (xs.Length > 0)
        {
            var p50 = plot.Add.Scatter(xs, samples.Select(s => s.P50Us / 1000.0).ToArray());
            p50.LegendText = "p50";
            var p99 = plot.Add.Scatter(xs, samples.Select(s => s.P99Us / 1000.0).ToArray());
            p99.LegendText = "p99";
            plot.ShowLegend();
        }
        plot.Title($"Latency over time: {title}");
        plot.XLabel("seconds since the run phase started");
        plot.YLabel("latency per 1 s interval (ms)");
        plot.Axes.SetLimitsY(0, Math.Max(0.1, samples.Count == 0 ? 1 : samples.Max(s => s.P99Us) / 1000.0 * 1.1));
        return plot;
    }

    private static Plot Histogram(PhaseResult run)
    {
        var all = LatencyStats.NewHistogram();
        foreach (var op in run.Operations.Values) all.Add(op.Ok.Histogram);
        var plot = new Plot();
        plot.Title($"Latency histogram: {all.TotalCount} operations (up to the 99.9th percentile)");
        plot.XLabel("latency (ms)");
        plot.YLabel("operations");
        if (all.TotalCount == 0) return plot;
        const int bins = 80;
        var top = Math.Max(1, all.GetValueAtPercentile(99.9));
        var width = top / (double)bins;
        var counts = new double[bins];
        foreach (var v in all.RecordedValues())
        {
            var bin = (int)(v.ValueIteratedTo / width);
            if (bin < bins) counts[bin] += v.CountAddedInThisIterationStep;
        }
        var positions = Enumerable.Range(0, bins).Select(i => (i + 0.5) * width / 1000.0).ToArray();
        var bars = plot.Add.Bars(positions, counts);
        foreach (var bar in bars.Bars)
        {
            bar.Size = width / 1000.0;
            bar.LineWidth = 0;
        }
        plot.Axes.Margins(bottom: 0);
        return plot;
    }

    private static Plot Breakdown(CommitBreakdown breakdown)
    {
        var plot = new Plot();
        plot.Title($"Commit-time breakdown: {breakdown.Commits} commits (writer side)");
        plot.YLabel("µs");
        var parts = CommitBreakdown.Parts;
        var medians = plot.Add.Bars(Enumerable.Range(0, parts.Count).Select(i => i * 3.0).ToArray(),
            parts.Select(p => (double)breakdown.Percentile(p, 50)).ToArray());
        medians.LegendText = "median";
        var p99 = plot.Add.Bars(Enumerable.Range(0, parts.Count).Select(i => i * 3.0 + 1).ToArray(),
            parts.Select(p => (double)breakdown.Percentile(p, 99)).ToArray());
        p99.LegendText = "p99";
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, parts.Count).Select(i => i * 3.0 + 0.5).ToArray(), parts.ToArray());
        plot.Axes.Margins(bottom: 0);
        plot.ShowLegend();
        return plot;
    }
}
