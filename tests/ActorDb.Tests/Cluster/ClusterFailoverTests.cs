using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using ActorDb.Tests.Bench;
using Xunit.Abstractions;

namespace ActorDb.Tests.Cluster;

/// <summary>
/// ActorDb as a real cluster of processes on loopback: a lighthouse, six storage nodes (two per AZ) and two writer
/// nodes, with <c>actordb bench --seeds</c> running a workload from a tenth process while the test kills (kill -9) or
/// freezes (SIGSTOP) nodes. Afterwards <c>actordb dump --seeds</c> must hold every acknowledged write.
/// </summary>
[Collection(ProcessTests.Name)]
public class ClusterFailoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Minute = TimeSpan.FromSeconds(60);

    private static int AckCount(string ackLog) => AckedWrites.CountLines(ackLog);

    private static Task WaitForAcksAsync(string ackLog, int atLeast, TimeSpan timeout, string what) =>
        AckedWrites.WaitForLinesAsync(ackLog, atLeast, timeout, what);

    private static double NowMs() => (DateTime.UtcNow - DateTime.UnixEpoch).TotalMilliseconds;

    /// <summary>Polls the ack log (every 10 ms) until it holds a commit with a commit LSN above <paramref name="lsn"/>, and
    /// returns when it saw it (ms since the epoch): a new writer allocates above the old VDL + LAL, so its first
    /// acknowledged commit shows even when the switch is quicker than the bench's 1 s gap report.</summary>
    private static async Task<double> WaitForAckAboveAsync(string ackLog, long lsn, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        long offset = 0;
        var pending = "";
        while (true)
        {
            if (File.Exists(ackLog))
            {
                using var stream = new FileStream(ackLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                stream.Seek(offset, SeekOrigin.Begin);
                using var reader = new StreamReader(stream);
                var text = pending + await reader.ReadToEndAsync();
                offset = stream.Position;
                var end = text.LastIndexOf('\n');
                pending = end < 0 ? text : text[(end + 1)..];
                if (end >= 0 && text[..end].Split('\n').Any(l => l.Length > 0 && AckedWrites.ParseLine(l, ackLog).CommitLsn > lsn)) return NowMs();
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: no acknowledged commit above LSN {lsn} within {timeout.TotalSeconds:0} s");
            await Task.Delay(10);
        }
    }

    /// <summary>The first commit after a pause, from the bench's <c>[bench] no commit acknowledged for ...</c> line: ms since the epoch.</summary>
    private static double FirstCommitAfterMs(string gapLine) =>
        double.Parse(gapLine[(gapLine.LastIndexOf('(') + 1)..gapLine.IndexOf(" ms since", StringComparison.Ordinal)], CultureInfo.InvariantCulture);

    /// <summary>The processes of one test cluster; disposing kills what is left.</summary>
    private sealed class TestCluster(string seed, string dir, Func<string, string, Dictionary<string, string>> env) : IAsyncDisposable
    {
        public string Seed { get; } = seed;
        public List<CliProcess> Processes { get; } = [];

        public CliProcess StartStorage(int index, string az)
        {
            var node = CliProcess.StartProgram("actordb-node", new Dictionary<string, string>(env("storage", Path.Combine(dir, $"s{index}"))) { ["ACTORDB_AZ"] = az });
            Processes.Add(node);
            return node;
        }

        public CliProcess StartWriter(string name, string logLevel = "WARNING")
        {
            var node = CliProcess.StartProgram("actordb-node", new Dictionary<string, string>(env("writer", Path.Combine(dir, name))) { ["AKKA__LOGLEVEL"] = logLevel });
            Processes.Add(node);
            return node;
        }

        public CliProcess StartBench(params string[] args)
        {
            var bench = CliProcess.StartProgram("actordb", new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" },
                ["bench", .. args, "--seeds", Seed]);
            Processes.Add(bench);
            return bench;
        }

        public void Dump(ITestOutputHelper output)
        {
            foreach (var p in Processes) output.WriteLine($"--- {p.Arguments}\nstdout:\n{p.StdoutTail()}\nstderr:\n{p.StderrTail()}");
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var p in Processes)
            {
                try { p.Resume(); } catch (Exception) { /* not paused, or gone */ }
                await p.KillNineAsync();
            }
            foreach (var p in Processes) p.Dispose();
        }
    }

    /// <summary>Starts a lighthouse, six storage nodes (az-a, az-a, az-b, az-b, az-c, az-c) and a writer node (the
    /// oldest: it runs the writer), then a standby writer node.</summary>
    private async Task<(TestCluster Cluster, List<CliProcess> Storage, CliProcess Active, CliProcess Standby)> StartClusterAsync(
        string dir, string standbyLogLevel = "WARNING")
    {
        var port = ProcessTests.FreePort();
        var system = "actordb-" + Guid.NewGuid().ToString("N")[..6];   // a stray process of another run cannot join
        var seed = $"akka.ssl.tcp://{system}@127.0.0.1:{port}";
        var cluster = new TestCluster(seed, dir, (roles, dataDir) => new()
        {
            ["ACTORSYSTEM"] = system, ["CLUSTER_IP"] = "127.0.0.1", ["CLUSTER_PORT"] = "0", ["CLUSTER_SEEDS"] = seed,
            ["ACTORDB_ROLES"] = roles, ["ACTORDB_DATA_DIR"] = dataDir, ["AKKA__LOGLEVEL"] = "WARNING", ["ACTORDB__CMD__PORT"] = "0",
            // Ten processes share this machine's cores: server GC (a heap and GC thread per core in each) would starve them.
            ["DOTNET_gcServer"] = "0",
        });
        try
        {
            var lighthouse = CliProcess.StartProgram("lighthouse", new Dictionary<string, string>
            {
                ["ACTORSYSTEM"] = system, ["CLUSTER_IP"] = "127.0.0.1", ["CLUSTER_PORT"] = port.ToString(), ["ACTORDB__CMD__PORT"] = "0", ["DOTNET_gcServer"] = "0",
                ["ACTORDB_DATA_DIR"] = Path.Combine(dir, "lighthouse"),   // its command host's token files
            });
            cluster.Processes.Add(lighthouse);
            await lighthouse.WaitForLineAsync(l => l.StartsWith("lighthouse: member Up " + seed), Minute, "the lighthouse Up");
            string[] zones = ["az-a", "az-a", "az-b", "az-b", "az-c", "az-c"];
            var storage = zones.Select((az, i) => cluster.StartStorage(i, az)).ToList();
            foreach (var node in storage) await node.WaitForLineAsync(l => l.StartsWith("actordb-node: started "), Minute, "a storage node's start");
            var active = cluster.StartWriter("w1");
            await active.WaitForLineAsync(l => l.StartsWith("actordb-node: serving"), Minute, "the first writer node serving");
            var standby = cluster.StartWriter("w2", standbyLogLevel);
            await standby.WaitForLineAsync(l => l.StartsWith("actordb-node: serving"), Minute, "the standby writer node serving");
            return (cluster, storage, active, standby);
        }
        catch
        {
            cluster.Dump(output);   // every process's output tail: why the cluster did not come up
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts an insert-only YCSB bench (8 threads) against the cluster, appending to <paramref name="ackLog"/>.</summary>
    private static CliProcess StartInsertBench(TestCluster cluster, string ackLog, int seed) =>
        cluster.StartBench("--workload", Path.Combine(BenchTestPaths.YcsbDir, "workloada"), "-p", "recordcount=200",
            "-p", "operationcount=10000000", "-p", "insertproportion=1", "-p", "readproportion=0", "-p", "updateproportion=0",
            "--threads", "8", "--ack-log", ackLog, "--seed", seed.ToString());

    /// <summary>The bench report's count of ambiguous inserts (0 when it has no such line).</summary>
    private static int AmbiguousInserts(IEnumerable<string> report) =>
        report.Where(l => l.StartsWith("[INSERT], Return=AMBIGUOUS, ")).Select(l => int.Parse(l.Split(", ")[2])).SingleOrDefault();

    /// <summary>Reads <c>usertable</c> through the cluster's writer (<c>actordb dump --seeds</c>) and checks that every
    /// insert in <paramref name="ackLog"/> is there with its exact values, and that no more rows are there than
    /// <paramref name="ambiguous"/> commits can explain. Returns the acknowledged inserts and the unexplained rows.</summary>
    private static async Task<(int Acked, int Unexplained)> AssertEveryAcknowledgedInsertIsThereAsync(TestCluster cluster, string ackLog, int ambiguous)
    {
        var dump = await CliProcess.RunAsync(TimeSpan.FromSeconds(90), "dump", "--seeds", cluster.Seed, "--table", "usertable");
        Assert.True(dump.ExitCode == 0, dump.Stderr);
        var rows = AckedWrites.ReadDump(dump.Stdout);
        var acked = AckedWrites.Replay(AckedWrites.ReadLog(ackLog), "usertable");
        foreach (var (key, fields) in acked)
        {
            Assert.True(rows.TryGetValue(key, out var got), $"acknowledged key {key} is missing");
            Assert.True(fields.Count == got!.Count && fields.All(f => got.TryGetValue(f.Key, out var v) && Equals(v, f.Value)), $"key {key}: values differ");
        }
        var unexplained = rows.Keys.Count(k => !acked.ContainsKey(k));
        Assert.True(unexplained <= ambiguous, $"{unexplained} rows that no acknowledged insert explains, but only {ambiguous} ambiguous commits");
        return (acked.Count, unexplained);
    }

    [Fact]
    public async Task Commits_go_on_without_an_AZ_stall_without_a_write_quorum_resume_when_a_node_returns_and_survive_a_writer_kill()
    {
        var started = Stopwatch.StartNew();
        using var dir = new TestDirectory();
        var (cluster, storage, active, standby) = await StartClusterAsync(dir.Path);
        await using var running = cluster;
        try
        {
            output.WriteLine($"9 processes up after {started.ElapsedMilliseconds} ms");
            var ackLog = Path.Combine(dir.Path, "acks.jsonl");
            var bench = StartInsertBench(cluster, ackLog, seed: 11);
            await bench.WaitForLineAsync(l => l.StartsWith("[bench] client node "), Minute, "the bench connected");
            await WaitForAcksAsync(ackLog, 500, Minute, "before any kill");

            // A whole AZ at once: 4 of 6 segments remain, still a write quorum; the resolver downs both nodes.
            var lighthouse = cluster.Processes[0];
            var address = new List<string>();
            foreach (var node in storage) address.Add((await node.WaitForLineAsync(l => l.StartsWith("actordb-node: started "), Minute, "a start line")).Split(' ')[2]);
            await Task.WhenAll(storage[0].KillNineAsync(), storage[1].KillNineAsync());
            await WaitForAcksAsync(ackLog, AckCount(ackLog) + 300, Minute, "after az-a was killed");
            foreach (var i in new[] { 0, 1 })
                await lighthouse.WaitForLineAsync(l => l.StartsWith($"lighthouse: member Removed {address[i]}"), Minute, $"storage node {i} removed");
            await WaitForAcksAsync(ackLog, AckCount(ackLog) + 300, Minute, "with az-a removed");
            output.WriteLine($"{AckCount(ackLog)} acknowledged writes with az-a down");

            // One more (of the 4 storage members left, so the other 3 are a majority): 3 segments hold everything
            // acknowledged, but no commit can reach 4. (Losing 3 of 6 at once would be a tie for keep-majority, which
            // the side with the lowest address wins: see README, "Running as a cluster".)
            Assert.Equal(137, await storage[2].KillNineAsync());
            await Task.Delay(TimeSpan.FromSeconds(3));   // commits whose 4th ack was already on its way
            var stalledAt = AckCount(ackLog);
            await Task.Delay(TimeSpan.FromSeconds(5));
            Assert.Equal(stalledAt, AckCount(ackLog));
            output.WriteLine($"stalled at {stalledAt} acknowledged writes with 3 storage nodes");
            await lighthouse.WaitForLineAsync(l => l.StartsWith($"lighthouse: member Removed {address[2]}"), Minute, "storage node 2 removed");

            // The node comes back on its disk: a segment is placed on it, and commits resume.
            var returned = cluster.StartStorage(2, "az-b");
            await returned.WaitForLineAsync(l => l.StartsWith("actordb-node: started "), Minute, "the returned storage node's start");
            var returnedAt = Stopwatch.StartNew();
            await WaitForAcksAsync(ackLog, stalledAt + 300, TimeSpan.FromSeconds(90), "after a storage node returned");
            output.WriteLine($"commits resumed {returnedAt.ElapsedMilliseconds} ms after the node's start line");

            // The active writer dies: the standby becomes the oldest writer node and recovers in a new epoch.
            var killedAtMs = NowMs();
            Assert.Equal(137, await active.KillNineAsync());
            var afterWriterKill = AckCount(ackLog);
            var gap = await bench.WaitForLineAsync(l => l.StartsWith("[bench] no commit acknowledged for ") && FirstCommitAfterMs(l) > killedAtMs,
                Minute, "commits resuming on the new writer");
            output.WriteLine($"failover: kill -9 of the writer to the first commit on the new writer {FirstCommitAfterMs(gap) - killedAtMs:0} ms ({gap})");
            await WaitForAcksAsync(ackLog, afterWriterKill + 300, Minute, "after the writer's kill -9");
            Assert.False(standby.HasExited);

            Assert.Equal(0, await bench.TerminateAsync(Minute));
            var report = bench.StdoutLines;
            Assert.Contains(report, l => l.StartsWith("[ACTORDB], WriterChanged, epoch 1 -> 2"));
            var ambiguous = AmbiguousInserts(report);
            Assert.DoesNotContain(report, l => l.StartsWith("[INSERT], Return=ERROR"));

            // Every acknowledged insert is in the table with its exact values, read through the new writer.
            var (acked, unexplained) = await AssertEveryAcknowledgedInsertIsThereAsync(cluster, ackLog, ambiguous);
            // Each phase above waited for its own 300 acknowledgements: all of them were verified.
            Assert.True(acked >= afterWriterKill + 300, $"only {acked} acknowledged inserts verified, {afterWriterKill + 300} were acknowledged");
            output.WriteLine($"{acked} acknowledged inserts verified, {ambiguous} ambiguous ({unexplained} of them committed); total {started.ElapsedMilliseconds} ms");
        }
        catch
        {
            cluster.Dump(output);
            throw;
        }
    }

    /// <summary>Most messages the serving writer node's shard proxy may hold for segments that have no node, as Akka's
    /// "[N] total buffered messages" line counts them: the writer's probes of the one absent segment over this test's
    /// couple of minutes (every resend-after for probe-max-interval, then every probe-max-interval: about 35) and the
    /// recovery's few requests. Redo sent through the region would count in thousands (19,089 in issue 12's run).</summary>
    private const int MaxBufferedForAbsentSegments = 100;

    /// <summary>Issue 12, item 7, as a new user did it by hand: kill -9 a storage node, kill -9 the active writer (the
    /// standby takes over), then restart the storage node on its own disk. The serving writer must not be downed, commits
    /// go on, the returned node gets its segment back, and every acknowledged write is there.</summary>
    [Fact]
    public async Task A_storage_node_that_returns_after_a_writer_failover_costs_the_cluster_nothing_and_gets_its_segment_back()
    {
        var started = Stopwatch.StartNew();
        using var dir = new TestDirectory();
        var (cluster, storage, active, standby) = await StartClusterAsync(dir.Path);
        await using var running = cluster;
        try
        {
            var lighthouse = cluster.Processes[0];
            var ackLog = Path.Combine(dir.Path, "acks.jsonl");
            var bench = StartInsertBench(cluster, ackLog, seed: 17);
            await bench.WaitForLineAsync(l => l.StartsWith("[bench] client node "), Minute, "the bench connected");
            await WaitForAcksAsync(ackLog, 500, Minute, "before any kill");
            string AddressOf(CliProcess p) => p.StdoutLines.First(l => l.StartsWith("actordb-node: started ")).Split(' ')[2];
            var (storageAddress, standbyAddress) = (AddressOf(storage[4]), AddressOf(standby));

            // A storage node dies: five segments remain, commits go on; the resolver downs it.
            Assert.Equal(137, await storage[4].KillNineAsync());
            await lighthouse.WaitForLineAsync(l => l.StartsWith($"lighthouse: member Removed {storageAddress}"), Minute, "the storage node removed");
            await WaitForAcksAsync(ackLog, AckCount(ackLog) + 300, Minute, "with a storage node down");

            // The active writer dies: the standby recovers in epoch 2 with five segments and serves.
            var killedAtMs = NowMs();
            Assert.Equal(137, await active.KillNineAsync());
            await bench.WaitForLineAsync(l => l.StartsWith("[bench] no commit acknowledged for ") && FirstCommitAfterMs(l) > killedAtMs,
                Minute, "commits resuming on the standby");
            await WaitForAcksAsync(ackLog, AckCount(ackLog) + 300, Minute, "on the standby");

            // The storage node comes back on its own disk.
            var returned = cluster.StartStorage(4, "az-c");
            await returned.WaitForLineAsync(l => l.StartsWith("actordb-node: started "), Minute, "the returned storage node's start");
            var returnedAddress = AddressOf(returned);
            await WaitForAcksAsync(ackLog, AckCount(ackLog) + 300, TimeSpan.FromSeconds(90), "after the storage node returned");

            // It gets its segment back: the serving writer's pg show has all six serving, each on a node in its AZ.
            var cmdLine = await standby.WaitForLineAsync(l => l.StartsWith("actordb-node: command host on "), TimeSpan.FromSeconds(5), "the standby's command host");
            var (target, tokenFile) = (cmdLine.Split(' ')[4], cmdLine.Split(' ')[^1].TrimEnd(')'));
            var rows = await CliProcess.WaitForSixServingAsync(target, tokenFile, TimeSpan.FromSeconds(90));
            // Which az-c segment the node held is the coordinator's choice: the node announces it as a role at start.
            var startLine = returned.StdoutLines.First(l => l.StartsWith("actordb-node: started "));
            var held = Regex.Matches(startLine, @"holds-(pg-\d+-\d+)").Select(m => m.Groups[1].Value).ToList();
            Assert.True(held.Count == 1, $"the returned node should announce the one segment on its disk: {startLine}");
            Assert.Equal(returnedAddress, rows.Single(r => r.GetProperty("segment").GetString() == held[0]).GetProperty("node").GetString());
            Assert.Equal(["az-a", "az-a", "az-b", "az-b", "az-c", "az-c"], rows.Select(r => r.GetProperty("az").GetString()));

            // Still the same writer, commits still go on, and nobody was downed after the failover.
            await WaitForAcksAsync(ackLog, AckCount(ackLog) + 300, Minute, "with the segment back");
            Assert.False(standby.HasExited, "the serving writer node stopped");
            Assert.False(returned.HasExited, "the returned storage node stopped");
            Assert.DoesNotContain(lighthouse.StdoutLines, l => l.StartsWith($"lighthouse: member Removed {standbyAddress}") || l.StartsWith($"lighthouse: member Removed {returnedAddress}"));

            // What waited for the absent segment in the serving writer node's shard proxy stayed small.
            var buffered = standby.StdoutLines.Concat(standby.StderrLines)
                .Select(l => Regex.Match(l, @"\[(\d+)\] total buffered messages")).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).DefaultIfEmpty(0).Max();
            output.WriteLine($"most messages buffered for absent segments on the serving writer node: {buffered}");
            Assert.True(buffered <= MaxBufferedForAbsentSegments, $"{buffered} messages buffered in the shard proxy for segments without a node");

            Assert.Equal(0, await bench.TerminateAsync(Minute));
            var report = bench.StdoutLines;
            Assert.Contains(report, l => l.StartsWith("[ACTORDB], WriterChanged, epoch 1 -> 2"));
            Assert.DoesNotContain(report, l => l.StartsWith("[INSERT], Return=ERROR"));
            var ambiguous = AmbiguousInserts(report);
            var (acked, unexplained) = await AssertEveryAcknowledgedInsertIsThereAsync(cluster, ackLog, ambiguous);
            Assert.True(acked >= 1500, $"only {acked} acknowledged inserts");
            output.WriteLine($"{acked} acknowledged inserts verified, {ambiguous} ambiguous ({unexplained} of them committed); total {started.ElapsedMilliseconds} ms");
        }
        catch
        {
            cluster.Dump(output);
            throw;
        }
    }

    [Fact]
    public async Task A_frozen_writer_is_replaced_and_when_it_wakes_up_it_acknowledges_nothing_of_what_the_new_epoch_annulled()
    {
        using var dir = new TestDirectory();
        // The standby logs at INFO: its recovery's plan line gives the range it annulled.
        var (cluster, _, active, standby) = await StartClusterAsync(dir.Path, standbyLogLevel: "INFO");
        await using var running = cluster;
        try
        {
            var ackLog = Path.Combine(dir.Path, "acks.jsonl");
            var bench = cluster.StartBench("--workload", "bank", "-p", "accountcount=200", "-p", "operationcount=10000000",
                "--threads", "8", "--ack-log", ackLog, "--seed", "5");
            await bench.WaitForLineAsync(l => l.StartsWith("[bench] client node "), Minute, "the bench connected");
            await WaitForAcksAsync(ackLog, 800, Minute, "before the freeze");

            // The writer node freezes (a stop-the-world pause, or cut off from everyone): it is downed, and the
            // standby recovers in epoch 2 while the frozen writer still holds its in-flight commits.
            var frozenAtMs = NowMs();
            active.Pause();
            var gap = await bench.WaitForLineAsync(l => l.StartsWith("[bench] no commit acknowledged for ") && FirstCommitAfterMs(l) > frozenAtMs,
                Minute, "commits resuming on the new writer");
            output.WriteLine($"takeover: freeze to the first commit on the new writer {FirstCommitAfterMs(gap) - frozenAtMs:0} ms");
            var plan = await standby.WaitForLineAsync(l => l.Contains("Recovery epoch 2: phase plan"), TimeSpan.FromSeconds(5), "the recovery's plan");
            var m = Regex.Match(plan, @"VDL (\d+), truncate \((\d+), (\d+)\]");
            Assert.True(m.Success, plan);
            long vdl = long.Parse(m.Groups[1].Value), annulledTo = long.Parse(m.Groups[3].Value);
            await WaitForAcksAsync(ackLog, AckCount(ackLog) + 300, Minute, "on the new writer");

            // It wakes up with its queued redo and commits: the segments refuse epoch 1, and the cluster has downed it.
            active.Resume();
            await active.WaitForExitAsync(Minute);
            await WaitForAcksAsync(ackLog, AckCount(ackLog) + 300, Minute, "after the old writer woke up");

            Assert.Equal(0, await bench.TerminateAsync(Minute));
            Assert.Contains("[BANK], Invariant, OK", bench.StdoutLines);
            Assert.Contains(bench.StdoutLines, l => l.StartsWith("[ACTORDB], WriterChanged, epoch 1 -> 2"));

            // No acknowledged commit lies in the range the new epoch annulled: every commit the old writer acknowledged
            // was durable (at or below the recovered VDL), and every later one is the new writer's.
            var acks = AckedWrites.ReadLog(ackLog);
            var inAnnulled = acks.Where(a => a.CommitLsn > vdl && a.CommitLsn <= annulledTo).ToList();
            Assert.True(inAnnulled.Count == 0, $"{inAnnulled.Count} acknowledged commits in the annulled range ({vdl}, {annulledTo}], e.g. LSN {inAnnulled.FirstOrDefault()?.CommitLsn}");
            Assert.Contains(acks, a => a.CommitLsn <= vdl);
            Assert.Contains(acks, a => a.CommitLsn > annulledTo);

            // And the table holds every account with the balance sum unchanged, read through the new writer.
            var dump = await CliProcess.RunAsync(TimeSpan.FromSeconds(90), "dump", "--seeds", cluster.Seed, "--table", "accounts");
            Assert.True(dump.ExitCode == 0, dump.Stderr);
            var rows = AckedWrites.ReadDump(dump.Stdout);
            Assert.Equal(200, rows.Count);
            var initial = (long)AckedWrites.Replay(acks.Where(a => a.Op == "insert"), "accounts").Values.Sum(f => (long)f["balance"]!);
            Assert.Equal(initial, rows.Values.Sum(f => (long)f["balance"]!));
            output.WriteLine($"{acks.Count} acknowledged writes, annulled range ({vdl}, {annulledTo}], balance sum {initial} unchanged");
        }
        catch
        {
            cluster.Dump(output);
            throw;
        }
    }

    [Fact]
    public async Task A_writer_node_that_stops_cleanly_drains_and_hands_over_to_the_standby()
    {
        using var dir = new TestDirectory();
        var (cluster, _, active, standby) = await StartClusterAsync(dir.Path);
        await using var running = cluster;
        try
        {
            var ackLog = Path.Combine(dir.Path, "acks.jsonl");
            var bench = StartInsertBench(cluster, ackLog, seed: 13);
            await bench.WaitForLineAsync(l => l.StartsWith("[bench] client node "), Minute, "the bench connected");
            await WaitForAcksAsync(ackLog, 500, Minute, "before the stop");

            // SIGTERM: the node's coordinated shutdown drains the writer, then leaves; the singleton moves to the standby.
            var stoppedAtMs = NowMs();
            Assert.Equal(0, await active.TerminateAsync(Minute));
            // Epoch 2 allocates above the old VDL + LAL (10,000,000 by default): the first such ack is the standby's.
            var resumedAtMs = await WaitForAckAboveAsync(ackLog, 10_000_000, Minute, "commits resuming on the standby");
            output.WriteLine($"hand-over: SIGTERM to the first commit on the standby {resumedAtMs - stoppedAtMs:0} ms (seen in the ack log)");
            await WaitForAcksAsync(ackLog, AckCount(ackLog) + 300, Minute, "on the new writer");

            Assert.Equal(0, await bench.TerminateAsync(Minute));
            var report = bench.StdoutLines;
            Assert.Contains(report, l => l.StartsWith("[ACTORDB], WriterChanged, epoch 1 -> 2"));
            Assert.DoesNotContain(report, l => l.StartsWith("[INSERT], Return=ERROR"));
            var ambiguous = AmbiguousInserts(report);
            output.WriteLine($"{ambiguous} ambiguous commits across the hand-over");
            await AssertEveryAcknowledgedInsertIsThereAsync(cluster, ackLog, ambiguous);
            Assert.False(standby.HasExited);
        }
        catch
        {
            cluster.Dump(output);
            throw;
        }
    }
}
