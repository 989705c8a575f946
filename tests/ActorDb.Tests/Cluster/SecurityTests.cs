using ActorDb.Core.Storage;
using System.Diagnostics;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Remote.Transport.DotNetty;
using ActorDb.Core;
using ActorDb.Core.Redo;
using ActorDb.Storage;
using ActorDb.Tests.Bench;
using Xunit.Abstractions;

namespace ActorDb.Tests.Cluster;

/// <summary>
/// A cluster of real processes over mutual TLS (a lighthouse and one writer+storage node, a bench as a certified client)
/// against strangers that know the actor system name and every port: one without TLS, one with a certificate of another
/// CA. Neither can associate, so neither joins, fences a segment or sends redo; the volume keeps serving, and after a
/// restart of the node every acknowledged insert is there (a fence at <c>long.MaxValue</c> that had been persisted would
/// make that recovery fail).
/// </summary>
[Collection(ProcessTests.Name)]
public class SecurityTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Minute = TimeSpan.FromSeconds(60);

    private static int AckCount(string ackLog) => AckedWrites.CountLines(ackLog);

    private static Task WaitForAcksAsync(string ackLog, int atLeast, TimeSpan timeout, string what) =>
        AckedWrites.WaitForLinesAsync(ackLog, atLeast, timeout, what);

    /// <summary>An actor system in this process that is not part of the cluster: plain TCP, or TLS with
    /// <paramref name="certificate"/> (it accepts any peer: it is the attacker). ActorDb's serializer is bound, so it can
    /// speak the segment protocol.</summary>
    private static ActorSystem Stranger(string system, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate)
    {
        var config = ConfigurationFactory.ParseString($"""
            akka.loglevel = WARNING
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp.hostname = 127.0.0.1
            akka.remote.dot-netty.tcp.port = 0
            akka.remote.dot-netty.tcp.enable-ssl = {(certificate is null ? "off" : "on")}
            """).WithFallback(ActorDbSettings.DefaultConfig());
        var setup = BootstrapSetup.Create().WithConfig(config);
        return certificate is null
            ? ActorSystem.Create(system, setup)
            : ActorSystem.Create(system, ActorSystemSetup.Create(setup, new DotNettySslSetup(certificate, suppressValidation: true, requireMutualAuthentication: true)));
    }

    [Fact]
    public async Task A_process_without_the_clusters_certificate_cannot_join_fence_a_segment_or_send_redo_and_the_volume_keeps_serving()
    {
        var started = Stopwatch.StartNew();
        using var dir = new TestDirectory();
        var port = ProcessTests.FreePort();
        var system = "actordb-" + Guid.NewGuid().ToString("N")[..6];
        var seed = $"akka.ssl.tcp://{system}@127.0.0.1:{port}";
        var dataDir = Path.Combine(dir.Path, "node");
        Dictionary<string, string> NodeEnv() => new()
        {
            ["ACTORSYSTEM"] = system, ["CLUSTER_IP"] = "127.0.0.1", ["CLUSTER_PORT"] = "0", ["CLUSTER_SEEDS"] = seed,
            ["ACTORDB_ROLES"] = "writer,storage", ["ACTORDB_AZ"] = "az-a", ["ACTORDB_DATA_DIR"] = dataDir, ["AKKA__LOGLEVEL"] = "WARNING",
            ["ACTORDB__CMD__ENABLED"] = "off", ["ACTORDB__SEGMENT__SHARE_NODES"] = "on", ["DOTNET_gcServer"] = "0",
            ["ACTORDB__SECURITY__TLS_DIR"] = TestCertificates.NodeDir("security-node"),
        };
        var processes = new List<CliProcess>();
        var strangers = new List<ActorSystem>();
        try
        {
            var lighthouse = CliProcess.StartProgram("lighthouse", new Dictionary<string, string>
            {
                ["ACTORSYSTEM"] = system, ["CLUSTER_IP"] = "127.0.0.1", ["CLUSTER_PORT"] = port.ToString(), ["ACTORDB__CMD__ENABLED"] = "off",
                ["DOTNET_gcServer"] = "0",
            });
            processes.Add(lighthouse);
            await lighthouse.WaitForLineAsync(l => l.StartsWith("lighthouse: member Up " + seed), Minute, "the lighthouse Up");
            var node = CliProcess.StartProgram("actordb-node", NodeEnv());
            processes.Add(node);
            var nodeAddress = (await node.WaitForLineAsync(l => l.StartsWith("actordb-node: started "), Minute, "the node's start")).Split(' ')[2];
            await node.WaitForLineAsync(l => l.StartsWith("actordb-node: serving"), Minute, "the node serving");

            var ackLog = Path.Combine(dir.Path, "acks.jsonl");
            var bench = CliProcess.StartProgram("actordb", new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" },
                "bench", "--workload", Path.Combine(BenchTestPaths.YcsbDir, "workloada"), "-p", "recordcount=100", "-p", "operationcount=10000000",
                "-p", "insertproportion=1", "-p", "readproportion=0", "-p", "updateproportion=0", "--threads", "4", "--ack-log", ackLog,
                "--seeds", seed, "--tls-dir", TestCertificates.NodeDir("security-bench"));
            processes.Add(bench);
            await WaitForAcksAsync(ackLog, 200, Minute, "before the strangers");
            output.WriteLine($"cluster up and committing after {started.ElapsedMilliseconds} ms");

            // The strangers: one speaks plain TCP, one TLS with a certificate of a CA of its own (same subject layout).
            var now = DateTimeOffset.UtcNow;
            using var otherCa = ActorDb.Security.ClusterCertificates.CreateAuthority("ActorDb test CA", now, TimeSpan.FromDays(1));
            using var forged = ActorDb.Security.ClusterCertificates.Issue(otherCa, "security-node", ["127.0.0.1"], now, TimeSpan.FromDays(1));
            var plain = Stranger(system, null);
            var tls = Stranger(system, forged);
            strangers.Add(plain);
            strangers.Add(tls);

            // 1. Join: the plain one at the lighthouse's port as if it spoke TCP, the TLS one at its real address.
            Akka.Cluster.Cluster.Get(plain).Join(Address.Parse($"akka.tcp://{system}@127.0.0.1:{port}"));
            Akka.Cluster.Cluster.Get(tls).Join(Address.Parse(seed));
            // 2. Fence every segment at long.MaxValue and send redo in epoch 1, straight to the node's shard region.
            var region = tls.ActorSelection($"{nodeAddress}/system/sharding/segment");
            var plainRegion = plain.ActorSelection($"akka.tcp://{system}@{nodeAddress[(nodeAddress.IndexOf('@') + 1)..]}/system/sharding/segment");
            var record = new RedoRecord(new Lsn(1_000_000_000), new Lsn(0), 0, -1, RedoKind.Commit, IsCpl: true, TxnId: 1, Epoch: 1, ReadOnlyMemory<byte>.Empty);
            for (var r = 0; r < 6; r++)
            {
                region.Tell(new SegmentProtocol.GetSegmentState(0, r, long.MaxValue));
                region.Tell(new SegmentProtocol.RedoBatch(0, r, 1, [record], new Lsn(1_000_000_000)));
                plainRegion.Tell(new SegmentProtocol.GetSegmentState(0, r, long.MaxValue));
            }
            // Nothing answers: not even an Identify reaches the region.
            var identified = await region.Ask<ActorIdentity>(new Identify("probe"), TimeSpan.FromSeconds(8)).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null);
            Assert.True(identified?.Subject is null, $"the stranger reached {identified?.Subject}");
            foreach (var s in strangers)
                Assert.NotEqual(MemberStatus.Up, Akka.Cluster.Cluster.Get(s).SelfMember.Status);
            Assert.DoesNotContain(lighthouse.StdoutLines, l => strangers.Any(s => l.Contains(Akka.Cluster.Cluster.Get(s).SelfAddress.ToString())));

            // The volume kept serving: more commits after the attempts, and the refusals were logged by the nodes.
            var before = AckCount(ackLog);
            await WaitForAcksAsync(ackLog, before + 200, Minute, "after the strangers");
            Assert.Contains(node.StderrLines.Concat(lighthouse.StdoutLines).Concat(lighthouse.StderrLines), l => l.Contains("ActorDb TLS: refused peer"));
            foreach (var s in strangers) await s.Terminate();
            strangers.Clear();

            // Stop the bench and restart the node on its disk: the recovery works (no fence at long.MaxValue was
            // persisted) and every acknowledged insert is there.
            Assert.Equal(0, await bench.TerminateAsync(Minute));
            var report = bench.StdoutLines;
            Assert.Contains(report, l => l == "[ACTORDB], Epoch, 1");
            Assert.Equal(0, await node.TerminateAsync(Minute));
            var restarted = CliProcess.StartProgram("actordb-node", NodeEnv());
            processes.Add(restarted);
            await restarted.WaitForLineAsync(l => l.StartsWith("actordb-node: serving"), Minute, "the restarted node serving");
            var dump = await CliProcess.RunAsync(TimeSpan.FromSeconds(90), "dump", "--seeds", seed, "--table", "usertable");
            Assert.True(dump.ExitCode == 0, dump.Stderr);
            var rows = AckedWrites.ReadDump(dump.Stdout);
            var acked = AckedWrites.Replay(AckedWrites.ReadLog(ackLog), "usertable");
            foreach (var (key, fields) in acked)
                Assert.True(rows.TryGetValue(key, out var got) && got.Count == fields.Count, $"acknowledged key {key} is missing after the restart");
            output.WriteLine($"{acked.Count} acknowledged inserts present after the restart; total {started.ElapsedMilliseconds} ms");
        }
        catch
        {
            foreach (var p in processes) output.WriteLine($"--- {p.Arguments}\nstdout:\n{p.StdoutTail()}\nstderr:\n{p.StderrTail()}");
            throw;
        }
        finally
        {
            foreach (var s in strangers) await s.Terminate();
            foreach (var p in processes)
            {
                await p.KillNineAsync();
                p.Dispose();
            }
        }
    }
}
