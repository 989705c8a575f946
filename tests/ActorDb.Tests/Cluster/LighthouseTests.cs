using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ActorDb.Tests.Cluster;

/// <summary>The lighthouse and a node as separate processes on loopback, configured only through the environment.</summary>
public class LighthouseTests(ITestOutputHelper output)
{
    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    [Fact]
    public async Task A_writer_storage_node_joins_the_lighthouse_through_its_seeds_and_both_stop_cleanly()
    {
        var started = Stopwatch.StartNew();
        using var dir = new TestDirectory();
        var port = FreePort();
        var system = "actordb-" + Guid.NewGuid().ToString("N")[..6];   // a stray process of another run cannot join
        var seed = $"akka.tcp://{system}@127.0.0.1:{port}";

        using var lighthouse = CliProcess.StartProgram("lighthouse",
            new Dictionary<string, string> { ["ACTORSYSTEM"] = system, ["CLUSTER_IP"] = "127.0.0.1", ["CLUSTER_PORT"] = port.ToString() });
        await lighthouse.WaitForLineAsync(l => l == $"lighthouse: member Up {seed} [lighthouse]", TimeSpan.FromSeconds(15), "the lighthouse Up");

        using var node = CliProcess.StartProgram("actordb-node", new Dictionary<string, string>
        {
            ["ACTORSYSTEM"] = system,
            ["CLUSTER_IP"] = "127.0.0.1",
            ["CLUSTER_PORT"] = "0",
            ["CLUSTER_SEEDS"] = seed,
            ["ACTORDB_ROLES"] = "writer,storage",
            ["ACTORDB_AZ"] = "az-a",
            ["ACTORDB_DATA_DIR"] = Path.Combine(dir.Path, "data"),
            ["ACTORDB__SEGMENT__FSYNC"] = "off",
            ["AKKA__LOGLEVEL"] = "WARNING",
        });
        var startLine = await node.WaitForLineAsync(l => l.StartsWith("actordb-node: started "), TimeSpan.FromSeconds(15), "the node's start line");
        var address = startLine.Split(' ')[2];
        Assert.StartsWith($"akka.tcp://{system}@127.0.0.1:", address);
        Assert.Contains("roles [writer,storage,az-a]", startLine);
        Assert.Contains($"(seeds {seed})", startLine);
        await node.WaitForLineAsync(l => l.StartsWith("actordb-node: serving"), TimeSpan.FromSeconds(20), "serving");

        // The lighthouse (the leader: lowest address or first up) saw the node reach Up, with its roles and AZ.
        await lighthouse.WaitForLineAsync(l => l == $"lighthouse: member Up {address} [az-a,storage,writer]", TimeSpan.FromSeconds(10), "the node Up at the lighthouse");
        output.WriteLine($"node serving and Up after {started.ElapsedMilliseconds} ms");

        Assert.Equal(0, await node.TerminateAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("actordb-node: stopping", node.StdoutLines);
        // It left the cluster rather than vanished: the lighthouse saw it go through Exiting to Removed.
        await lighthouse.WaitForLineAsync(l => l.StartsWith($"lighthouse: member Removed {address}"), TimeSpan.FromSeconds(10), "the node Removed");
        Assert.Equal(0, await lighthouse.TerminateAsync(TimeSpan.FromSeconds(15)));
        Assert.DoesNotContain(node.StderrLines, l => l.Contains("ERROR", StringComparison.Ordinal));
        output.WriteLine($"total {started.ElapsedMilliseconds} ms");
    }

    [Theory]
    [InlineData("ACTORDB_AZ", "az-q", "actordb-node: ACTORDB_AZ: 'az-q' is not an availability zone")]
    [InlineData("CLUSTER_PORT", "abc", "actordb-node: CLUSTER_PORT: 'abc' is not a port number")]
    [InlineData("ACTORDB__WRITER__LOCK_TIMEOUTT", "2s", "actordb-node: actordb.writer.lock-timeoutt: unknown setting")]
    [InlineData("ACTORDB_ROLES", "storage", "actordb-node: actordb.az: a storage node of a cluster needs its availability zone")]
    public async Task A_wrong_setting_stops_the_node_at_start_with_one_line_naming_it(string name, string value, string expected)
    {
        using var dir = new TestDirectory();
        using var node = CliProcess.StartProgram("actordb-node", new Dictionary<string, string>
        {
            ["CLUSTER_SEEDS"] = "akka.tcp://actordb@127.0.0.1:1",
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
}
