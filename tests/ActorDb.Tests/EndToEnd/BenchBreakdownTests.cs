using System.Globalization;
using ActorDb.Cli;
using ActorDb.Cli.Bench;
using ActorDb.Hosting;
using ActorDb.Tests.Bench;

namespace ActorDb.Tests.EndToEnd;

/// <summary><c>actordb bench</c>'s commit-time breakdown and <c>--plot</c>, through the CLI's code path on an embedded node.</summary>
public class BenchBreakdownTests
{
    [Fact]
    public async Task Bench_reports_the_breakdown_of_every_commit_of_the_run_and_plots_it()
    {
        using var dir = new TestDirectory();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var workload = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workloada"),
            ["insertproportion=1", "readproportion=0", "updateproportion=0", "recordcount=50", "operationcount=300"]);
        var plot = Path.Combine(dir.Path, "latency.png");
        var report = new StringWriter();
        await using (var node = await EmbeddedNode.StartAsync(new ActorDbOptions { DataDir = Path.Combine(dir.Path, "data") }, "WARNING", ct: cts.Token))
        {
            var exit = await BenchCommand.RunAsync(node, workload, 4, 7, null, fsync: true, report, cts.Token, plotPath: plot);
            Assert.True(exit == 0, $"bench exit code {exit}:\n{report}");
        }
        var text = report.ToString();

        // The run phase's 300 inserts, not the 50 of the load phase.
        Assert.Contains("[ACTORDB], Commits, 300", text);
        Assert.Contains("[COMMIT-BREAKDOWN], Commits, 300", text);
        foreach (var part in CommitBreakdown.Parts)
        {
            var label = $"[COMMIT-{part.ToUpperInvariant()}]";
            var median = Value(text, label, "50thPercentileLatency(us)");
            var p99 = Value(text, label, "99thPercentileLatency(us)");
            Assert.True(p99 >= median, $"{label}: p99 {p99} below the median {median}");
            Assert.True(Value(text, label, "AverageLatency(us)") >= 0);
        }
        // The parts' averages add up to the total's (every commit has every part: the client is in this process).
        var sum = CommitBreakdown.Parts.Skip(1).Sum(p => Value(text, $"[COMMIT-{p.ToUpperInvariant()}]", "AverageLatency(us)"));
        var total = Value(text, "[COMMIT-TOTAL]", "AverageLatency(us)");
        Assert.InRange(sum, total - 0.1, total + 0.1);   // the report rounds each average to 0.01 µs

        Assert.Contains($"[bench] plot written to {plot}", text);
        var png = await File.ReadAllBytesAsync(plot);
        Assert.True(png.Length > 10_000, $"plot of {png.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }

    private static double Value(string report, string label, string metric)
    {
        var prefix = $"{label}, {metric}, ";
        var line = Assert.Single(report.Split('\n'), l => l.StartsWith(prefix, StringComparison.Ordinal));
        return double.Parse(line[prefix.Length..].Trim(), CultureInfo.InvariantCulture);
    }
}
