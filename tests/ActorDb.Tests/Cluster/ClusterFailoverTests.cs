using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ActorDb.Tests.Bench;
using Xunit.Abstractions;

namespace ActorDb.Tests.Cluster;

/// <summary>
/// ActorDb as a real cluster of processes on loopback: a lighthouse, six storage nodes (two per AZ) and two writer
/// nodes, with <c>actordb bench --seeds</c> running an insert-only workload from a seventh process. While it runs, the
/// test kills -9 a storage node (commits go on) and then the active writer node (the standby's recovery takes over and
/// the bench follows it). Afterwards <c>actordb dump --seeds</c> must hold every acknowledged insert with its exact
/// values; the only other rows allowed are the commits the bench reported ambiguous.
/// </summary>
public class ClusterFailoverTests(ITestOutputHelper output)
{
    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static async Task WaitForAcksAsync(string ackLog, int atLeast, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var lines = File.Exists(ackLog) ? File.ReadAllLines(ackLog).Length : 0;
            if (lines >= atLeast) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: {lines} acknowledged writes after {timeout.TotalSeconds:0} s, wanted {atLeast}");
            await Task.Delay(100);
        }
    }

    private static int AckCount(string ackLog) => File.Exists(ackLog) ? File.ReadAllLines(ackLog).Length : 0;

    [Fact]
    public async Task Commits_go_on_after_a_storage_node_and_then_the_active_writer_are_killed_and_every_acknowledged_insert_survives()
    {
        var started = Stopwatch.StartNew();
        using var dir = new TestDirectory();
        var port = FreePort();
        var system = "actordb-" + Guid.NewGuid().ToString("N")[..6];
        var seed = $"akka.tcp://{system}@127.0.0.1:{port}";
        Dictionary<string, string> Env(string roles, string dataDir) => new()
        {
            ["ACTORSYSTEM"] = system, ["CLUSTER_IP"] = "127.0.0.1", ["CLUSTER_PORT"] = "0", ["CLUSTER_SEEDS"] = seed,
            ["ACTORDB_ROLES"] = roles, ["ACTORDB_DATA_DIR"] = dataDir, ["AKKA__LOGLEVEL"] = "WARNING", ["ACTORDB__CMD__PORT"] = "0",
            // Ten processes share this machine's cores: server GC (a heap and GC thread per core in each) would starve them.
            ["DOTNET_gcServer"] = "0",
        };
        var processes = new List<CliProcess>();
        try
        {
            var lighthouse = CliProcess.StartProgram("lighthouse",
                new Dictionary<string, string> { ["ACTORSYSTEM"] = system, ["CLUSTER_IP"] = "127.0.0.1", ["CLUSTER_PORT"] = port.ToString(), ["ACTORDB__CMD__PORT"] = "0", ["DOTNET_gcServer"] = "0" });
            processes.Add(lighthouse);
            await lighthouse.WaitForLineAsync(l => l.StartsWith("lighthouse: member Up " + seed), TimeSpan.FromSeconds(20), "the lighthouse Up");

            string[] zones = ["az-a", "az-a", "az-b", "az-b", "az-c", "az-c"];
            var storage = zones.Select((az, i) => CliProcess.StartProgram("actordb-node",
                new Dictionary<string, string>(Env("storage", Path.Combine(dir.Path, $"s{i}"))) { ["ACTORDB_AZ"] = az })).ToList();
            processes.AddRange(storage);
            foreach (var node in storage) await node.WaitForLineAsync(l => l.StartsWith("actordb-node: started "), TimeSpan.FromSeconds(30), "a storage node's start");

            // The first writer node is the oldest: it runs the writer; the second is the standby.
            var active = CliProcess.StartProgram("actordb-node", Env("writer", Path.Combine(dir.Path, "w1")));
            processes.Add(active);
            await active.WaitForLineAsync(l => l.StartsWith("actordb-node: serving"), TimeSpan.FromSeconds(60), "the first writer node serving");
            var standby = CliProcess.StartProgram("actordb-node", Env("writer", Path.Combine(dir.Path, "w2")));
            processes.Add(standby);
            await standby.WaitForLineAsync(l => l.StartsWith("actordb-node: serving"), TimeSpan.FromSeconds(60), "the standby writer node serving");
            output.WriteLine($"9 processes up after {started.ElapsedMilliseconds} ms");

            var ackLog = Path.Combine(dir.Path, "acks.jsonl");
            var workload = Path.Combine(BenchTestPaths.YcsbDir, "workloada");
            var bench = CliProcess.StartProgram("actordb", new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" }, "bench", "--workload", workload, "-p", "recordcount=200", "-p", "operationcount=10000000",
                "-p", "insertproportion=1", "-p", "readproportion=0", "-p", "updateproportion=0", "--threads", "8",
                "--seeds", seed, "--ack-log", ackLog, "--seed", "11");
            processes.Add(bench);
            await bench.WaitForLineAsync(l => l.StartsWith("[bench] client node "), TimeSpan.FromSeconds(60), "the bench connected");
            await WaitForAcksAsync(ackLog, 500, TimeSpan.FromSeconds(60), "before any kill");

            // A storage node dies: 5 of 6 segments remain, a write quorum of 4 is still there.
            Assert.Equal(137, await storage[0].KillNineAsync());
            var afterStorageKill = AckCount(ackLog);
            await WaitForAcksAsync(ackLog, afterStorageKill + 500, TimeSpan.FromSeconds(60), "after the storage node's kill -9");
            output.WriteLine($"{AckCount(ackLog) - afterStorageKill} commits after the storage node's kill");

            // The active writer dies: the standby becomes the oldest writer node and recovers in a new epoch.
            var killedAtMs = (DateTime.UtcNow - DateTime.UnixEpoch).TotalMilliseconds;
            Assert.Equal(137, await active.KillNineAsync());
            var afterWriterKill = AckCount(ackLog);
            var gap = await bench.WaitForLineAsync(l => l.StartsWith("[bench] no commit acknowledged for "), TimeSpan.FromSeconds(60), "commits resuming on the new writer");
            var firstAfterMs = double.Parse(gap[(gap.LastIndexOf('(') + 1)..gap.IndexOf(" ms since", StringComparison.Ordinal)], CultureInfo.InvariantCulture);
            output.WriteLine($"failover: kill -9 of the writer to the first commit on the new writer {firstAfterMs - killedAtMs:0} ms ({gap})");
            Assert.True(firstAfterMs > killedAtMs, gap);
            await WaitForAcksAsync(ackLog, afterWriterKill + 500, TimeSpan.FromSeconds(60), "after the writer's kill -9");

            Assert.Equal(0, await bench.TerminateAsync(TimeSpan.FromSeconds(60)));
            var report = bench.StdoutLines;
            Assert.Contains(report, l => l.StartsWith("[ACTORDB], WriterChanged, epoch 1 -> 2"));
            var ambiguous = report.Where(l => l.StartsWith("[INSERT], Return=AMBIGUOUS, ")).Select(l => int.Parse(l.Split(", ")[2])).SingleOrDefault();
            Assert.DoesNotContain(report, l => l.StartsWith("[INSERT], Return=ERROR"));

            // Every acknowledged insert is in the table with its exact values, read through the new writer.
            var dump = await CliProcess.RunAsync(TimeSpan.FromSeconds(90), "dump", "--seeds", seed, "--table", "usertable");
            Assert.True(dump.ExitCode == 0, dump.Stderr);
            var rows = AckedWrites.ReadDump(dump.Stdout);
            var acked = AckedWrites.Replay(AckedWrites.ReadLog(ackLog), "usertable");
            Assert.True(acked.Count >= 1500, $"only {acked.Count} acknowledged inserts");   // 500 before the kills and after each
            foreach (var (key, fields) in acked)
            {
                Assert.True(rows.TryGetValue(key, out var got), $"acknowledged key {key} is missing");
                Assert.True(fields.Count == got!.Count && fields.All(f => got.TryGetValue(f.Key, out var v) && Equals(v, f.Value)), $"key {key}: values differ");
            }
            var unexplained = rows.Keys.Count(k => !acked.ContainsKey(k));
            Assert.True(unexplained <= ambiguous, $"{unexplained} rows that no acknowledged insert explains, but only {ambiguous} ambiguous commits");
            output.WriteLine($"{acked.Count} acknowledged inserts verified, {ambiguous} ambiguous ({unexplained} of them committed); total {started.ElapsedMilliseconds} ms");
        }
        catch
        {
            foreach (var p in processes) output.WriteLine($"--- {p.Arguments}\nstdout:\n{p.StdoutTail()}\nstderr:\n{p.StderrTail()}");
            throw;
        }
        finally
        {
            foreach (var p in processes) await p.KillNineAsync();
            foreach (var p in processes) p.Dispose();
        }
    }
}
