using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using ActorDb.Cli.Remote;
using ActorDb.Client;
using ActorDb.Commands;
using ActorDb.Hosting;

namespace ActorDb.Tests.Commands;

/// <summary>A host application's own palette: <c>demo echo -t TEXT</c>.</summary>
internal sealed class DemoPalette : ICommandPalette
{
    public PaletteDefinition Definition { get; } = new("demo", "a host application's palette",
        [new CommandDefinition("echo", "echo a text", [new SwitchDefinition("text", ["-t"], "the text", Required: true)])]);

    public async IAsyncEnumerable<CommandItem> ExecuteAsync(ParsedCommand command, CommandContext context, [EnumeratorCancellation] CancellationToken ct)
    {
        yield return CommandRow.Of(("echo", command.Required("text")), ("node", context.System.Name));
        await Task.CompletedTask;
    }
}

/// <summary>One embedded node with its command host on a free port (port 0), shared by the tests of the class.</summary>
public sealed class CommandHostNode : IAsyncLifetime
{
    private readonly TestDirectory _dir = new();
    public EmbeddedNode Node { get; private set; } = null!;
    public string Target { get; private set; } = "";
    public string AdminTokenFile { get; private set; } = "";

    /// <summary>Runs <c>actordb TARGET --token-file ADMIN words...</c>.</summary>
    public Task<CliResult> Cli(params string[] words) => CliProcess.RunAsync([Target, "--token-file", AdminTokenFile, .. words]);

    public async Task InitializeAsync()
    {
        Node = await EmbeddedNode.StartAsync(
            new ActorDbOptions { DataDir = _dir.Path, Fsync = false, CommandHost = true, Hocon = "actordb.cmd.port = 0" }, "WARNING",
            configure: akka => akka.WithActorDbCommandPalette(_ => new DemoPalette()));
        await Node.Client.CreateTableAsync(new TableSchema("t", [new ColumnDef("id", ColumnType.Int64), new ColumnDef("v", ColumnType.Int64)]));
        await using var tx = Node.Client.Begin();
        await tx.InsertAsync("t", 1L, new Dictionary<string, object?> { ["v"] = 1L });
        await tx.CommitAsync();
        var endpoint = await Node.GetCommandEndpointAsync();
        Assert.NotNull(endpoint);
        Assert.NotEqual(0, endpoint.Port);
        Target = endpoint.ToString();
        AdminTokenFile = endpoint.AdminTokenFile;
        Assert.Equal(Path.Combine(_dir.Path, "cmd-admin.token"), AdminTokenFile);
    }

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        _dir.Dispose();
    }
}

public class CommandHostTests(CommandHostNode fixture) : IClassFixture<CommandHostNode>
{
    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task Cluster_show_lists_the_one_member_in_pbm_rows()
    {
        var r = await fixture.Cli("cluster", "show");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var self = Akka.Cluster.Cluster.Get(fixture.Node.System).SelfAddress;
        Assert.Equal([$"{self} | [storage,writer] | up |", "Count: 1 nodes"], Lines(r.Stdout));
    }

    [Fact]
    public async Task Volume_status_as_json_carries_the_writers_vdl()
    {
        var writer = await fixture.Node.Client.GetStatusAsync();
        var r = await fixture.Cli("volume", "status", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var line = Assert.Single(Lines(r.Stdout));
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        Assert.Equal("serving", root.GetProperty("state").GetString());
        Assert.True(writer.Vdl.Value > 0);
        Assert.Equal(writer.Vdl.Value, root.GetProperty("vdl").GetInt64());   // the node is idle: nothing moves it
        Assert.Equal(writer.Epoch, root.GetProperty("epoch").GetInt64());
        Assert.Equal(0, root.GetProperty("redo-backlog").GetInt64());   // idle: every allocated LSN is durable
        Assert.Equal(writer.Lal, root.GetProperty("lal-headroom").GetInt64());
        Assert.Equal("no", root.GetProperty("recovery").GetString());
    }

    [Fact]
    public async Task Volume_status_shows_the_commit_latency_percentiles_of_the_last_minute()
    {
        for (var i = 0; i < 5; i++)
        {
            await using var tx = fixture.Node.Client.Begin();
            await tx.InsertAsync("t", 1000L + i, new Dictionary<string, object?> { ["v"] = (long)i });
            await tx.CommitAsync();
        }
        // Each coordinator records its commit after replying: wait until the writer's window holds all five.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while ((await fixture.Node.Client.GetStatusAsync()).CommitLatency is not { Count: >= 5 } && DateTime.UtcNow < deadline)
            await Task.Delay(20);

        var r = await fixture.Cli("volume", "status", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(Assert.Single(Lines(r.Stdout)));
        var root = json.RootElement;
        Assert.True(root.GetProperty("commits-last-min").GetInt64() >= 5, r.Stdout);
        Assert.Equal(JsonValueKind.Number, root.GetProperty("commit-p50-ms").ValueKind);
        Assert.Equal(JsonValueKind.Number, root.GetProperty("commit-p99-ms").ValueKind);
        var (p50, p99) = (root.GetProperty("commit-p50-ms").GetDouble(), root.GetProperty("commit-p99-ms").GetDouble());
        Assert.True(p50 > 0 && p50 <= p99, r.Stdout);

        var text = await fixture.Cli("volume", "status");
        Assert.True(text.ExitCode == 0, text.Stderr);
        Assert.Matches(@"(?m)^commit-p99-ms\s+\| \d+(\.\d+)?$", text.Stdout);
    }

    [Fact]
    public async Task Metrics_reads_the_nodes_instruments()
    {
        var writer = await fixture.Node.Client.GetStatusAsync();
        var r = await fixture.Cli("metrics", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var rows = Lines(r.Stdout).Where(l => l.Contains("\"instrument\"")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        JsonElement Row(string instrument, string tags = "") =>
            Assert.Single(rows, e => e.GetProperty("instrument").GetString() == instrument && e.GetProperty("tags").GetString() == tags);

        // Gauges: the writer's own values (the node is idle).
        Assert.Equal(writer.Vdl.Value, Row("actordb.volume.vdl").GetProperty("value").GetInt64());
        Assert.Equal(writer.Allocated.Value, Row("actordb.volume.allocated_lsn").GetProperty("value").GetInt64());
        Assert.Equal("gauge", Row("actordb.volume.vdl").GetProperty("kind").GetString());
        // Histograms: measured since the node started (the fixture committed before the test).
        var commits = Row("actordb.commit.duration");
        Assert.Equal("histogram", commits.GetProperty("kind").GetString());
        Assert.True(commits.GetProperty("count").GetInt64() >= 1, commits.ToString());
        Assert.True(commits.GetProperty("value").GetDouble() > 0, commits.ToString());
        for (var replica = 0; replica < 6; replica++)
            Assert.True(Row("actordb.segment.fsync.duration", $"actordb.pg=0,actordb.segment=pg-0-{replica}").GetProperty("count").GetInt64() > 0);
        // Counters: redo on the network is six copies of every batch.
        var network = Row("actordb.redo.bytes", "layer=network");
        Assert.Equal("counter", network.GetProperty("kind").GetString());
        Assert.Equal(6 * Row("actordb.redo.batch.size").GetProperty("value").GetInt64(), network.GetProperty("value").GetInt64());
    }

    [Fact]
    public async Task Pg_list_and_show_see_six_serving_segments()
    {
        var r = await fixture.Cli("pg", "list");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = Lines(r.Stdout);
        Assert.Equal("pg | quorum-lsn | serving | catching-up | unreachable | no-node | fenced | failed | max-lag", lines[0]);
        Assert.StartsWith("0 | ", lines[1]);
        Assert.EndsWith("| 6/6 | 0 | 0 | 0 | 0 | 0 | 0", lines[1]);
        Assert.Equal("Count: 1 PGs", lines[^1]);

        var show = await fixture.Cli("pg", "show", "-g", "0", "--json");
        Assert.True(show.ExitCode == 0, show.Stderr);
        var vdl = (await fixture.Node.Client.GetStatusAsync()).Vdl.Value;
        var segments = Lines(show.Stdout).Where(l => l.Contains("\"segment\"")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(6, segments.Count);
        Assert.All(segments, s =>
        {
            Assert.Equal("serving", s.GetProperty("state").GetString());
            Assert.True(s.GetProperty("scl").GetInt64() >= vdl);
            Assert.True(s.GetProperty("bytes-on-disk").GetInt64() > 0);
            Assert.True(s.GetProperty("lag-ms").GetInt64() >= 0);   // a number: how long it lags the writer, in ms
        });
        Assert.Equal(["az-a", "az-a", "az-b", "az-b", "az-c", "az-c"], segments.Select(s => s.GetProperty("az").GetString()));
    }

    [Fact]
    public async Task An_unknown_command_is_one_line_and_exit_code_2()
    {
        var r = await fixture.Cli("frobnicate");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.Stdout);
        var error = Assert.Single(Lines(r.Stderr));
        Assert.StartsWith("actordb: unknown command 'frobnicate' (known: cluster, cluster-sharding, demo, metrics, pg, recovery, volume, writer", error);
    }

    [Fact]
    public async Task An_unreachable_port_is_one_line_and_a_non_zero_exit()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();   // nothing listens there now
        var r = await CliProcess.RunAsync($"127.0.0.1:{port}", "cluster", "show");
        Assert.Equal(1, r.ExitCode);
        var error = Assert.Single(Lines(r.Stderr));
        Assert.StartsWith($"actordb: cannot connect to 127.0.0.1:{port}: ", error);
    }

    [Fact]
    public async Task A_host_applications_palette_is_served_and_listed()
    {
        var r = await fixture.Cli("demo", "echo", "-t", "hello");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal([$"hello | {fixture.Node.System.Name}"], Lines(r.Stdout));
        var help = await fixture.Cli("help");
        Assert.Contains("  demo echo -t TEXT  -- echo a text (admin)", Lines(help.Stdout));   // not declared read-only
    }

    [Fact]
    public async Task Cluster_tail_streams_until_cancelled_and_the_repl_completes_from_the_palettes()
    {
        var (host, port) = (fixture.Target.Split(':')[0], int.Parse(fixture.Target.Split(':')[1]));
        await using var client = await CommandClient.ConnectAsync(host, port, TimeSpan.FromSeconds(5), CancellationToken.None);
        await client.AuthenticateAsync(File.ReadAllText(fixture.AdminTokenFile).Trim(), CancellationToken.None);
        var palettes = (await client.DescribeAsync(CancellationToken.None)).Palettes;
        Assert.Equal(["down", "down-unreachable"], CommandCompleter.Complete("cluster do", palettes));
        Assert.Equal(["region-stats", "regions"], CommandCompleter.Complete("cluster-sharding reg", palettes));

        using var cancel = new CancellationTokenSource();
        var rows = new List<CommandRow>();
        var end = await client.RunAsync(["cluster", "tail"], item =>
        {
            if (item is not CommandRow row) return;
            rows.Add(row);
            if ((string?)row["event"] == "member-up") cancel.Cancel();   // as Ctrl+C does

        }, cancel.Token).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(new CommandEnd(0, null), end);
        Assert.Contains(rows, r => (string?)r["event"] == "member-up" && (string?)r["address"] == Akka.Cluster.Cluster.Get(fixture.Node.System).SelfAddress.ToString());

        // The connection serves the next command after a cancelled one.
        var next = await client.RunAsync(["cluster-sharding", "locate", "-r", "segment", "-e", "pg-0-3"], item => rows.Add((CommandRow)item), CancellationToken.None);
        Assert.Equal(0, next.Exit);
        Assert.Equal("pg-0-3", rows[^1]["entity"]);
        Assert.NotEqual("not running", rows[^1]["running"]);
    }
}

public class RedoBacklogTests
{
    private static global::ActorDb.Writer.WriterProtocol.WriterStatus Status(long allocated, long vdl, global::ActorDb.Core.Recovery.RecoveryRecord? recovery) =>
        new("serving", 2, new global::ActorDb.Core.Lsn(allocated), new global::ActorDb.Core.Lsn(vdl), new global::ActorDb.Core.Lsn(vdl), 10_000_000, 0, 0, 0, 0, 0, 0, 0, 0, 0, [], null, recovery);

    [Fact]
    public void The_backlog_after_a_recovery_does_not_count_the_annulled_range()
    {
        var opened = global::ActorDb.Core.Recovery.RecoveryRecord.Start(1, "start", DateTime.UtcNow)
            .WithPlan(new global::ActorDb.Core.Recovery.RecoveryPlan(2, new global::ActorDb.Core.Lsn(2), new global::ActorDb.Core.Lsn(2), new global::ActorDb.Core.Lsn(10_000_002), []))
            .Finish(global::ActorDb.Core.Recovery.RecoveryOutcome.Opened, TimeSpan.FromMilliseconds(5));
        Assert.Equal(0, global::ActorDb.Commands.Palettes.ActorDbStatus.Backlog(Status(10_000_002, 2, opened)));     // idle right after recovery
        Assert.Equal(3, global::ActorDb.Commands.Palettes.ActorDbStatus.Backlog(Status(10_000_005, 2, opened)));     // 3 records in flight
        Assert.Equal(4, global::ActorDb.Commands.Palettes.ActorDbStatus.Backlog(Status(10_000_009, 10_000_005, opened)));
        Assert.Equal(7, global::ActorDb.Commands.Palettes.ActorDbStatus.Backlog(Status(9, 2, null)));               // a new volume: allocated - VDL
    }
}
