using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ActorDb.Client;
using ActorDb.Core.Transactions;
using ActorDb.Hosting;
using ActorDb.Metrics;
using ActorDb.Writer;
using Akka.Configuration;

namespace ActorDb.Tests.EndToEnd;

/// <summary>The instruments of an embedded node report what the node did: measured through a MeterListener (what any
/// exporter sees), and scraped from the Prometheus endpoint over HTTP.</summary>
public class MetricsTests
{
    private static readonly TableSchema Kv = new("kv", [new ColumnDef("id", ColumnType.Int64), new ColumnDef("v", ColumnType.String)]);
    private const int Commits = 12;

    private static async Task CommitRowsAsync(IActorDbClient db, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await using var tx = db.Begin();
            var fields = new Dictionary<string, object?> { ["v"] = $"value-{i}" };
            if (i % 2 == 0)
            {
                await tx.InsertAsync("kv", (long)i, fields);
                await tx.CommitAsync();
            }
            else await tx.ExecuteAndCommitAsync(new InsertStatement("kv", (long)i, fields));   // the statement-with-commit path
        }
    }

    [Fact]
    public async Task Instruments_report_the_commits_made_the_writers_lsns_and_the_segments_fsyncs()
    {
        using var dir = new TestDirectory();
        await using var node = await EmbeddedNode.StartAsync(new ActorDbOptions { DataDir = dir.Path }, "WARNING");
        await node.Client.CreateTableAsync(Kv);
        using var capture = new MetricsCapture(node.Metrics);   // from here on: the commits below only
        var before = await node.Client.GetStatusAsync();

        await CommitRowsAsync(node.Client, Commits);
        // A read-only transaction commits nothing durable and is not a commit in the histogram.
        await using (var tx = node.Client.Begin())
        {
            Assert.NotNull(await tx.GetAsync("kv", 0L));
            await tx.CommitAsync();
        }
        var after = await node.Client.GetStatusAsync();
        Assert.Equal(Commits, after.Commits - before.Commits);

        // Commit latency: one measurement per durable commit, and the phases account for all of it.
        var totals = capture.Of("actordb.commit.duration");
        Assert.Equal(Commits, totals.Count);
        Assert.All(totals, m => Assert.True(m.Value > 0));
        double phaseSum = 0;
        foreach (var phase in WriterMetrics.Phases)
        {
            var measured = capture.Of("actordb.commit.phase.duration", WriterMetrics.PhaseTag, phase);
            Assert.True(measured.Count == Commits, $"phase {phase}: {measured.Count} measurements, {Commits} commits");
            Assert.All(measured, m => Assert.True(m.Value >= 0));
            phaseSum += measured.Sum(m => m.Value);
        }
        Assert.Equal(totals.Sum(m => m.Value), phaseSum, 6);

        // Redo batches and bytes: what the writer counted in its status over the same commits.
        var batches = capture.Of("actordb.redo.batch.records");
        Assert.Equal(after.Batches - before.Batches, batches.Count);
        Assert.Equal(after.RedoRecords - before.RedoRecords, (long)batches.Sum(m => m.Value));
        Assert.Equal(after.RedoBytesShipped - before.RedoBytesShipped,
            (long)capture.Of("actordb.redo.bytes", RedoMetrics.LayerTag, RedoMetrics.Network).Sum(m => m.Value));
        Assert.Equal(6 * (long)capture.Of("actordb.redo.batch.size").Sum(m => m.Value),
            (long)capture.Of("actordb.redo.bytes", RedoMetrics.LayerTag, RedoMetrics.Network).Sum(m => m.Value));
        Assert.True(capture.Of("actordb.redo.bytes", RedoMetrics.LayerTag, RedoMetrics.SegmentLog).Sum(m => m.Value) > 0);

        // Segment fsyncs: every segment synced, tagged with its PG and id.
        var fsyncs = capture.Of("actordb.segment.fsync.duration");
        Assert.NotEmpty(fsyncs);
        Assert.All(fsyncs, m => Assert.Equal(0, m.Tags[WriterMetrics.PgTag]));
        Assert.Equal(Enumerable.Range(0, 6).Select(r => $"pg-0-{r}"),
            fsyncs.Select(m => (string)m.Tags[WriterMetrics.SegmentTag]!).Distinct().Order());

        // Gauges: the writer's own numbers, read from what it published, once the 5th and 6th acks are in too.
        var status = await QuiescentStatusAsync(node.Client);
        Assert.Equal(status.Vdl.Value, Single(capture.Observe("actordb.volume.vdl")));
        Assert.Equal(status.Vcl.Value, Single(capture.Observe("actordb.volume.vcl")));
        Assert.Equal(status.Allocated.Value, Single(capture.Observe("actordb.volume.allocated_lsn")));
        Assert.Equal(status.Epoch, Single(capture.Observe("actordb.volume.epoch")));
        Assert.Equal(status.Allocated.Value - status.Vdl.Value, Single(capture.Observe("actordb.redo.backlog")));
        Assert.Equal(status.Lal - (status.Allocated.Value - status.Vdl.Value), Single(capture.Observe("actordb.redo.headroom")));
        var lag = capture.Observe("actordb.segment.lag");
        Assert.Equal(6, lag.Count);
        Assert.All(lag, m => Assert.True(m.Value >= 0));
        // Idle, with all six segments up: each has acknowledged everything the writer sent.
        var scls = status.Pgs[0].Scl;
        foreach (var m in lag)
        {
            var replica = int.Parse(((string)m.Tags[WriterMetrics.SegmentTag]!)["pg-0-".Length..], CultureInfo.InvariantCulture);
            Assert.Equal(Math.Max(0, status.Allocated.Value - scls[replica].Value), (long)m.Value);
        }
    }

    /// <summary>The writer's status once every segment has acknowledged everything allocated (no commit is running).</summary>
    private static async Task<WriterProtocol.WriterStatus> QuiescentStatusAsync(ActorDbClient client)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var status = await client.GetStatusAsync();
            if (status.Pgs.All(pg => pg.Scl.All(scl => scl == status.Allocated)) || DateTime.UtcNow > deadline) return status;
            await Task.Delay(20);
        }
    }

    private static long Single(IReadOnlyList<MetricsCapture.Measured> measured) => (long)Assert.Single(measured).Value;

    [Fact]
    public async Task The_prometheus_endpoint_serves_the_instruments_with_the_writers_values()
    {
        using var dir = new TestDirectory();
        var port = FreeLoopbackPort();
        await using var node = await EmbeddedNode.StartAsync(new ActorDbOptions { DataDir = dir.Path, PrometheusPort = port }, "WARNING");
        Assert.Equal(port, node.Settings.Metrics.PrometheusPort);
        await node.Client.CreateTableAsync(Kv);
        await CommitRowsAsync(node.Client, 3);
        var status = await node.Client.GetStatusAsync();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");

        // Names as exported: dots become underscores, the unit is a suffix ("s" -> _seconds), counters end in _total.
        Assert.Equal(3, Value(text, "actordb_commit_duration_seconds_count"));
        foreach (var name in new[]
                 {
                     "actordb_commit_phase_duration_seconds_count", "actordb_segment_fsync_duration_seconds_count",
                     "actordb_redo_batch_records_count", "actordb_redo_batch_size_bytes_count", "actordb_redo_bytes_total",
                     "actordb_redo_backlog", "actordb_redo_headroom", "actordb_segment_lag", "actordb_volume_vcl",
                     "actordb_volume_allocated_lsn", "actordb_volume_epoch",
                     "actordb_recovery_phase_duration_seconds_count",   // the node's start-up recovery
                 })
            Assert.True(Lines(text, name).Any(), $"{name} is not on the endpoint:\n{text}");
        Assert.Equal(status.Vdl.Value, Value(text, "actordb_volume_vdl"));
        Assert.Equal(status.Allocated.Value, Value(text, "actordb_volume_allocated_lsn"));
    }

    [Fact]
    public async Task The_prometheus_endpoint_is_off_by_default_and_closed_when_the_node_stops()
    {
        Assert.Equal(0, ActorDbSettings.Create(ConfigurationFactory.Empty).Metrics.PrometheusPort);
        Assert.Equal("127.0.0.1", ActorDbSettings.Create(ConfigurationFactory.Empty).Metrics.PrometheusHost);

        using var dir = new TestDirectory();
        var port = FreeLoopbackPort();
        await (await EmbeddedNode.StartAsync(new ActorDbOptions { DataDir = dir.Path, PrometheusPort = port }, "WARNING")).DisposeAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync($"http://127.0.0.1:{port}/metrics"));
    }

    [Theory]
    [InlineData("actordb.metrics.prometheus-port = 70000", "actordb.metrics.prometheus-port = 70000: must be 0 (off) or a TCP port")]
    [InlineData("actordb.metrics.prometheus-port = -1", "actordb.metrics.prometheus-port = -1")]
    [InlineData("actordb.metrics.prometheus-host = \"\"", "actordb.metrics.prometheus-host")]
    [InlineData("actordb.metrics.prometheus-prot = 9464", "actordb.metrics.prometheus-prot: unknown setting")]
    public void Bad_metrics_settings_are_refused_by_name(string hocon, string message)
    {
        var e = Assert.Throws<ConfigurationException>(() => ActorDbSettings.Create(ConfigurationFactory.ParseString(hocon)));
        Assert.Contains(message, e.Message);
    }

    private static int FreeLoopbackPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>The sample lines of <paramref name="name"/> (exactly that metric name, any labels).</summary>
    private static IEnumerable<string> Lines(string text, string name) =>
        text.Split('\n').Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal));

    /// <summary>The value of the single sample of <paramref name="name"/>.</summary>
    private static long Value(string text, string name)
    {
        var line = Assert.Single(Lines(text, name));
        var afterLabels = line.Contains('}') ? line[(line.LastIndexOf('}') + 1)..] : line[name.Length..];
        return (long)double.Parse(afterLabels.Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }
}
