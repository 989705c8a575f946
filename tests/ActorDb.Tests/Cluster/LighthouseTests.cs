using System.Diagnostics;
using Xunit.Abstractions;

namespace ActorDb.Tests.Cluster;

/// <summary>The lighthouse and a node as separate processes on loopback, configured only through the environment.</summary>
[Collection(ProcessTests.Name)]
public class LighthouseTests(ITestOutputHelper output)
{
    /// <summary>The environment of a lighthouse of actor system <paramref name="system"/> on 127.0.0.1:<paramref name="port"/>,
    /// its command host's token files in <paramref name="dataDir"/>.</summary>
    private static Dictionary<string, string> LighthouseEnv(string system, int port, string dataDir) => new()
    {
        ["ACTORSYSTEM"] = system, ["CLUSTER_IP"] = "127.0.0.1", ["CLUSTER_PORT"] = port.ToString(), ["ACTORDB__CMD__PORT"] = "0",
        // The lighthouse keeps its command host's token files in its data directory (and nothing else).
        ["ACTORDB_DATA_DIR"] = dataDir,
    };

    /// <summary>The environment of an actordb-node joining <paramref name="seed"/> with <paramref name="roles"/> (a storage
    /// node adds its ACTORDB_AZ). These clusters have fewer than 6 storage nodes, so segments share nodes.</summary>
    private static Dictionary<string, string> NodeEnv(string system, string seed, string roles, string dataDir) => new()
    {
        ["ACTORSYSTEM"] = system, ["CLUSTER_IP"] = "127.0.0.1", ["CLUSTER_PORT"] = "0", ["CLUSTER_SEEDS"] = seed,
        ["ACTORDB_ROLES"] = roles, ["ACTORDB_DATA_DIR"] = dataDir, ["ACTORDB__SEGMENT__FSYNC"] = "off", ["AKKA__LOGLEVEL"] = "WARNING",
        ["ACTORDB__CMD__PORT"] = "0",   // the command host is on in actordb-node: never collide on 9110
        ["ACTORDB__SEGMENT__SHARE_NODES"] = "on",
    };

    [Fact]
    public async Task A_writer_storage_node_joins_the_lighthouse_through_its_seeds_and_both_stop_cleanly()
    {
        var started = Stopwatch.StartNew();
        using var dir = new TestDirectory();
        var port = ProcessTests.FreePort();
        var system = "actordb-" + Guid.NewGuid().ToString("N")[..6];   // a stray process of another run cannot join
        var seed = $"akka.ssl.tcp://{system}@127.0.0.1:{port}";

        using var lighthouse = CliProcess.StartProgram("lighthouse", LighthouseEnv(system, port, Path.Combine(dir.Path, "lighthouse")));
        await lighthouse.WaitForLineAsync(l => l == $"lighthouse: member Up {seed} [lighthouse]", TimeSpan.FromSeconds(15), "the lighthouse Up");

        using var node = CliProcess.StartProgram("actordb-node",
            new Dictionary<string, string>(NodeEnv(system, seed, "writer,storage", Path.Combine(dir.Path, "data"))) { ["ACTORDB_AZ"] = "az-a" });
        var startLine = await node.WaitForLineAsync(l => l.StartsWith("actordb-node: started "), TimeSpan.FromSeconds(15), "the node's start line");
        var address = startLine.Split(' ')[2];
        Assert.StartsWith($"akka.ssl.tcp://{system}@127.0.0.1:", address);
        Assert.Contains("roles [writer,storage,voter,az-a]", startLine);
        Assert.Contains($"(seeds {seed})", startLine);
        await node.WaitForLineAsync(l => l.StartsWith("actordb-node: serving"), TimeSpan.FromSeconds(20), "serving");

        // The lighthouse (the leader: lowest address or first up) saw the node reach Up, with its roles and AZ.
        await lighthouse.WaitForLineAsync(l => l == $"lighthouse: member Up {address} [az-a,storage,voter,writer]", TimeSpan.FromSeconds(10), "the node Up at the lighthouse");
        output.WriteLine($"node serving and Up after {started.ElapsedMilliseconds} ms");

        // The lighthouse's command host serves the cluster palettes (and no ActorDb palette: it runs no volume).
        var lighthouseLine = await lighthouse.WaitForLineAsync(l => l.StartsWith("lighthouse: command host on "), TimeSpan.FromSeconds(5), "the lighthouse's command host");
        var lighthouseCmd = CommandTarget(lighthouseLine);
        var show = await CliProcess.RunAsync(lighthouseCmd, "--token-file", TokenFile(lighthouseLine), "cluster", "show");
        Assert.True(show.ExitCode == 0, show.Stderr);
        Assert.Equal([$"{seed} | [lighthouse] | up |", $"{address} | [az-a,storage,voter,writer] | up |", "Count: 2 nodes"],
            show.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).OrderBy(l => l.StartsWith("Count") ? 1 : 0).ThenBy(l => l.Contains("[lighthouse]") ? 0 : 1));
        Assert.Equal(2, (await CliProcess.RunAsync(lighthouseCmd, "--token-file", TokenFile(lighthouseLine), "volume", "status")).ExitCode);

        Assert.Equal(0, await node.TerminateAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("actordb-node: stopping", node.StdoutLines);
        // It left the cluster rather than vanished: the lighthouse saw it go through Exiting to Removed.
        await lighthouse.WaitForLineAsync(l => l.StartsWith($"lighthouse: member Removed {address}"), TimeSpan.FromSeconds(10), "the node Removed");
        Assert.Equal(0, await lighthouse.TerminateAsync(TimeSpan.FromSeconds(15)));
        Assert.DoesNotContain(node.StderrLines, l => l.Contains("ERROR", StringComparison.Ordinal));
        output.WriteLine($"total {started.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Segments_run_only_on_the_storage_node_and_a_writer_only_node_reaches_them_through_its_proxy()
    {
        var started = Stopwatch.StartNew();
        using var dir = new TestDirectory();
        var port = ProcessTests.FreePort();
        var system = "actordb-" + Guid.NewGuid().ToString("N")[..6];
        var seed = $"akka.ssl.tcp://{system}@127.0.0.1:{port}";
        Dictionary<string, string> Env(string roles, string dataDir) => NodeEnv(system, seed, roles, dataDir);
        var storageDir = Path.Combine(dir.Path, "storage");
        var writerDir = Path.Combine(dir.Path, "writer");

        using var lighthouse = CliProcess.StartProgram("lighthouse", LighthouseEnv(system, port, Path.Combine(dir.Path, "lighthouse")));
        await lighthouse.WaitForLineAsync(l => l == $"lighthouse: member Up {seed} [lighthouse]", TimeSpan.FromSeconds(15), "the lighthouse Up");
        using var storage = CliProcess.StartProgram("actordb-node", new Dictionary<string, string>(Env("storage", storageDir)) { ["ACTORDB_AZ"] = "az-b" });
        using var writer = CliProcess.StartProgram("actordb-node", Env("writer", writerDir));

        var storageAddress = (await storage.WaitForLineAsync(l => l.StartsWith("actordb-node: started "), TimeSpan.FromSeconds(15), "the storage node's start")).Split(' ')[2];
        var writerAddress = (await writer.WaitForLineAsync(l => l.StartsWith("actordb-node: started "), TimeSpan.FromSeconds(15), "the writer node's start")).Split(' ')[2];
        await lighthouse.WaitForLineAsync(l => l == $"lighthouse: member Up {storageAddress} [az-b,storage,voter]", TimeSpan.FromSeconds(15), "the storage node Up");
        await lighthouse.WaitForLineAsync(l => l == $"lighthouse: member Up {writerAddress} [voter,writer]", TimeSpan.FromSeconds(15), "the writer node Up");
        // Recovery ran on the writer node against the six segments on the storage node.
        Assert.Equal("actordb-node: serving (writer only: segments on the storage nodes); Ctrl+C to stop",
            await writer.WaitForLineAsync(l => l.StartsWith("actordb-node: serving"), TimeSpan.FromSeconds(30), "the writer serving"));
        output.WriteLine($"writer serving after {started.ElapsedMilliseconds} ms");

        // The writer-only node's command host sees the six segments, through its proxy, on the storage node.
        var writerLine = await writer.WaitForLineAsync(l => l.StartsWith("actordb-node: command host on "), TimeSpan.FromSeconds(5), "the writer's command host");
        var (pg, rows) = await CliProcess.PgShowAsync(CommandTarget(writerLine), TokenFile(writerLine));
        Assert.True(pg.ExitCode == 0, pg.Stderr);
        Assert.Equal(6, rows.Count);
        Assert.All(rows, r => Assert.Equal(storageAddress, r.GetProperty("node").GetString()));
        Assert.All(rows, r => Assert.Equal("az-b", r.GetProperty("az").GetString()));   // the AZ of the node that hosts it
        Assert.All(rows, r => Assert.Equal("serving", r.GetProperty("state").GetString()));

        Assert.Equal(0, await writer.TerminateAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(0, await storage.TerminateAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(0, await lighthouse.TerminateAsync(TimeSpan.FromSeconds(15)));
        Assert.DoesNotContain(storage.StdoutLines, l => l.StartsWith("actordb-node: serving"));   // no writer there
        var segments = Directory.GetDirectories(storageDir, "pg-0-*", SearchOption.AllDirectories).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(["pg-0-0", "pg-0-1", "pg-0-2", "pg-0-3", "pg-0-4", "pg-0-5"], segments);
        Assert.False(Directory.Exists(writerDir) && Directory.EnumerateFileSystemEntries(writerDir).Any(f => !Path.GetFileName(f).StartsWith("cmd-")),
            "the writer-only node wrote data (beyond its command host's token files)");
        output.WriteLine($"total {started.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Three_storage_nodes_in_three_azs_take_two_segments_each_and_the_degraded_placement_is_logged()
    {
        using var dir = new TestDirectory();
        var port = ProcessTests.FreePort();
        var system = "actordb-" + Guid.NewGuid().ToString("N")[..6];
        var seed = $"akka.ssl.tcp://{system}@127.0.0.1:{port}";
        Dictionary<string, string> Env(string roles, string dataDir) => NodeEnv(system, seed, roles, dataDir);
        using var lighthouse = CliProcess.StartProgram("lighthouse", LighthouseEnv(system, port, Path.Combine(dir.Path, "lighthouse")));
        await lighthouse.WaitForLineAsync(l => l == $"lighthouse: member Up {seed} [lighthouse]", TimeSpan.FromSeconds(15), "the lighthouse Up");
        var zones = new[] { "az-a", "az-b", "az-c" };
        var storage = zones.Select(az => CliProcess.StartProgram("actordb-node",
            new Dictionary<string, string>(Env("storage", Path.Combine(dir.Path, az))) { ["ACTORDB_AZ"] = az })).ToList();
        try
        {
            foreach (var (node, az) in storage.Zip(zones))
            {
                var address = (await node.WaitForLineAsync(l => l.StartsWith("actordb-node: started "), TimeSpan.FromSeconds(15), $"the {az} node's start")).Split(' ')[2];
                await lighthouse.WaitForLineAsync(l => l == $"lighthouse: member Up {address} [{az},storage,voter]", TimeSpan.FromSeconds(15), $"the {az} node Up");
            }
            // Up is not yet registered: placement sees only the regions the coordinator knows, so wait until all three
            // storage nodes' segment regions are registered (a node's region associates with the coordinator's node over
            // TLS after it is Up) before the writer's recovery makes the segments start.
            var cmdLine = await storage[0].WaitForLineAsync(l => l.StartsWith("actordb-node: command host on "), TimeSpan.FromSeconds(15), "a storage node's command host");
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (true)
            {
                var stats = await CliProcess.RunAsync(CommandTarget(cmdLine), "--token-file", TokenFile(cmdLine), "cluster-sharding", "region-stats", "-r", "segment");
                if (stats.ExitCode == 0 && stats.Stdout.Split('\n').Count(l => l.Contains("storage")) == 3) break;
                Assert.True(DateTime.UtcNow < deadline, $"three segment regions not registered within 30 s:\n{stats.Stdout}{stats.Stderr}");
                await Task.Delay(200);
            }
            using var writer = CliProcess.StartProgram("actordb-node", Env("writer", Path.Combine(dir.Path, "writer")));
            await writer.WaitForLineAsync(l => l.StartsWith("actordb-node: serving"), TimeSpan.FromSeconds(30), "the writer serving");
            // The writer serves on a write quorum (4 segments); the other two are placed when first reached (the writer
            // probes a segment that has no node yet). Wait until all six are serving before reading the placement.
            var writerCmd = await writer.WaitForLineAsync(l => l.StartsWith("actordb-node: command host on "), TimeSpan.FromSeconds(15), "the writer's command host");
            await CliProcess.WaitForSixServingAsync(CommandTarget(writerCmd), TokenFile(writerCmd), TimeSpan.FromSeconds(60));
            Assert.Equal(0, await writer.TerminateAsync(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            foreach (var node in storage) await node.TerminateAsync(TimeSpan.FromSeconds(20));
        }
        await lighthouse.TerminateAsync(TimeSpan.FromSeconds(15));

        // Six segments over three nodes: two each, so no node holds three of the PG (a write quorum of 4 survives any one
        // node). The coordinator (on one storage node) says the placement is degraded.
        var perNode = zones.ToDictionary(az => az, az => Directory.GetDirectories(Path.Combine(dir.Path, az), "pg-0-*", SearchOption.AllDirectories).Select(Path.GetFileName).Order().ToList());
        foreach (var (az, segments) in perNode) output.WriteLine($"{az}: {string.Join(", ", segments)}");
        Assert.All(perNode.Values, segments => Assert.Equal(2, segments.Count));
        Assert.Equal(["pg-0-0", "pg-0-1", "pg-0-2", "pg-0-3", "pg-0-4", "pg-0-5"], perNode.Values.SelectMany(s => s).Order().ToList());
        Assert.Contains(storage.SelectMany(n => n.StderrLines.Concat(n.StdoutLines)), l => l.Contains("Degraded segment placement", StringComparison.Ordinal));
        foreach (var node in storage) node.Dispose();
    }

    [Theory]
    [InlineData("ACTORDB_AZ", "az-q", "actordb-node: ACTORDB_AZ: 'az-q' is not an availability zone")]
    [InlineData("CLUSTER_PORT", "abc", "actordb-node: CLUSTER_PORT: 'abc' is not a port number")]
    [InlineData("ACTORDB__WRITER__LOCK_TIMEOUTT", "2s", "actordb-node: actordb.writer.lock-timeoutt: unknown setting")]
    [InlineData("ACTORDB_ROLES", "storage", "actordb-node: actordb.az: a storage node of a cluster needs its availability zone")]
    [InlineData("CLUSTER_SEEDS", "akka.tcp://actordb@127.0.0.1:1", "actordb-node: akka.cluster.seed-nodes: 'akka.tcp://actordb@127.0.0.1:1' is a plain-TCP address, but this process links over TLS: write akka.ssl.tcp://actordb@127.0.0.1:1")]
    [InlineData("ACTORDB__SECURITY__TLS_DIR", "/nonexistent-tls", "actordb-node: actordb.security.ca-file: cannot read '/nonexistent-tls/ca.crt'")]
    [InlineData("ACTORDB__SECURITY__INSECURE", "off", "actordb-node: actordb.security: a process of a cluster (with seeds) links to its peers over mutual TLS and needs the cluster's certificates")]
    public async Task A_wrong_setting_stops_the_node_at_start_with_one_line_naming_it(string name, string value, string expected)
    {
        using var dir = new TestDirectory();
        using var node = CliProcess.StartProgram("actordb-node", new Dictionary<string, string>
        {
            ["CLUSTER_SEEDS"] = "akka.ssl.tcp://actordb@127.0.0.1:1",
            ["ACTORDB_DATA_DIR"] = dir.Path,
            [name] = value,
        });
        var result = await node.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(expected, line);
    }

    [Fact]
    public async Task A_lighthouse_on_port_0_is_refused()
    {
        using var lighthouse = CliProcess.StartProgram("lighthouse", new Dictionary<string, string> { ["CLUSTER_PORT"] = "0" });
        var result = await lighthouse.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("lighthouse: akka.remote.dot-netty.tcp.port = 0: a lighthouse needs a fixed port", result.Stderr.Trim());
    }

    /// <summary>HOST:PORT from a line <c>...: command host on 127.0.0.1:PORT (actordb 127.0.0.1:PORT)</c>.</summary>
    private static string CommandTarget(string line) => line.Split(' ')[4];

    /// <summary>The admin token file from a line <c>...: command host on 127.0.0.1:PORT (actordb 127.0.0.1:PORT --token-file FILE)</c>.</summary>
    private static string TokenFile(string line) => line.Split(' ')[^1].TrimEnd(')');
}
