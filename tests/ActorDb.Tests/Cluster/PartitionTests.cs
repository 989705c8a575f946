using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Remote;
using Akka.Remote.Transport;
using ActorDb.Client;
using ActorDb.Core.Transactions;
using ActorDb.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace ActorDb.Tests.Cluster;

/// <summary>
/// A real network partition inside one test process: five actor systems (3 storage nodes, 2 writer nodes, each started
/// the way a host application would, <see cref="EmbeddedNode.CreateHost"/>) talk over loopback through Akka.Remote's
/// throttler transport adapter (<c>trttl</c>), which can blackhole a link. The active writer node is cut off from every
/// other node while a client keeps inserting; the split brain resolver must down it, the standby writer must recover
/// the volume in the next epoch, the cut-off writer must acknowledge nothing, and after the partition heals every
/// acknowledged insert must be there with its value.
/// What it does not show: segments rejecting the old epoch. The cut-off writer reaches no segment at all during the
/// partition, and after the heal the others have quarantined it, so none of its redo arrives anywhere to be rejected
/// (epoch fencing at the segment is covered by Scenarios/EpochFencingTests and the SIGSTOP case of ClusterFailoverTests).
/// </summary>
[Collection(ProcessTests.Name)]
public sealed class PartitionTests(ITestOutputHelper output)
{
    private const string Table = "part";

    private sealed record Node(string Name, IHost Host, ActorSystem System)
    {
        public Address Address => Akka.Cluster.Cluster.Get(System).SelfAddress;
        public bool Terminated => System.WhenTerminated.IsCompleted;
    }

    /// <summary>What happened to every insert a set of workers tried.</summary>
    private sealed class Outcomes
    {
        public readonly ConcurrentDictionary<long, string> Acked = new();
        public readonly ConcurrentDictionary<long, string> Ambiguous = new();
        public readonly ConcurrentDictionary<long, string> Aborted = new();
        public readonly ConcurrentDictionary<long, string> Failed = new();   // nothing sent (no writer found), or another error
        public readonly ConcurrentQueue<string> Errors = new();
        public readonly ConcurrentQueue<(long Key, long Epoch, long Ticks)> AckTimes = new();
        /// <summary>Every attempt: when it started and ended (Stopwatch ticks) and how.</summary>
        public readonly ConcurrentQueue<(long Key, long Start, long End, string Outcome)> Attempts = new();

        public string Summary() =>
            $"{Acked.Count} acknowledged, {Ambiguous.Count} ambiguous, {Aborted.Count} aborted, {Failed.Count} failed otherwise";
    }

    /// <summary>Records a node's remoting lifecycle events (disassociations, quarantines) with their time.</summary>
    private sealed class RemotingEvents : ReceiveActor
    {
        public RemotingEvents(ConcurrentQueue<(long Ticks, string Event)> events)
        {
            Receive<RemotingLifecycleEvent>(e => events.Enqueue((Stopwatch.GetTimestamp(), $"{e.GetType().Name}: {e}")));
        }
    }

    private static async Task<Node> StartNodeAsync(string name, string system, string roles, string? az, string dataDir, int port, string seed,
        string extraHocon = "")
    {
        var hocon = $"""
            actordb.actor-system = {system}
            actordb.roles = [{roles}]
            {(az is null ? "" : $"actordb.az = {az}")}
            akka.remote.dot-netty.tcp.hostname = 127.0.0.1
            akka.remote.dot-netty.tcp.public-hostname = 127.0.0.1
            akka.remote.dot-netty.tcp.port = {port}
            # The throttler adapter: it can blackhole a link (the address protocol becomes akka.trttl.ssl.tcp).
            akka.remote.dot-netty.tcp.applied-adapters = ["trttl"]
            # Mutual TLS as every process of a cluster, under the throttler.
            actordb.security.tls-dir = "{TestCertificates.NodeDir(name)}"
            akka.cluster.seed-nodes = ["{seed}"]
            # A commit whose writer is cut off ends as ambiguous after this, not after the 60 s default.
            actordb.client.ask-timeout = 10s
            # Three storage nodes for six segments: two of the PG per node.
            actordb.segment.share-nodes = on
            {extraHocon}
            """;
        var host = EmbeddedNode.CreateHost(new ActorDbOptions { DataDir = dataDir, Hocon = hocon }, logLevel: "WARNING", stopOnProcessExit: false);
        await host.StartAsync();
        return new Node(name, host, host.Services.GetRequiredService<ActorSystem>());
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: not within {timeout.TotalSeconds:0} s");
            await Task.Delay(50);
        }
    }

    /// <summary>Sets the throttle mode of <paramref name="from"/>'s link to <paramref name="to"/>, both directions.</summary>
    private static async Task ThrottleAsync(Node from, Node to, ThrottleMode mode)
    {
        // RARP is internal in Akka.NET 1.5; the provider of a cluster node is a remote one.
        var provider = (IRemoteActorRefProvider)((ExtendedActorSystem)from.System).Provider;
        var ok = await provider.Transport
            .ManagementCommand(new SetThrottle(to.Address, ThrottleTransportAdapter.Direction.Both, mode))
            .WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(ok, $"{from.Name}: the throttler did not take {mode.GetType().Name} towards {to.Name}");
    }

    private static string Value(long key) => $"v{key}-{Guid.NewGuid():N}";

    /// <summary>One insert in its own transaction (statement and commit in one request); records its outcome.</summary>
    private static async Task InsertAsync(IActorDbClient client, long key, Outcomes outcomes)
    {
        var value = Value(key);
        var start = Stopwatch.GetTimestamp();
        string outcome;
        try
        {
            await using var tx = client.Begin();
            await tx.ExecuteAndCommitAsync(new InsertStatement(Table, key, new Dictionary<string, object?> { ["v"] = value }));
            outcomes.Acked[key] = value;
            outcomes.AckTimes.Enqueue((key, (client as ActorDbClient)?.WriterEpoch ?? 0, Stopwatch.GetTimestamp()));
            outcome = "acked";
        }
        catch (AmbiguousCommitException e) { outcomes.Ambiguous[key] = value; outcome = $"ambiguous: {e.Message}"; }
        catch (StaleEpochException e) when (e.Ambiguous) { outcomes.Ambiguous[key] = value; outcome = $"stale epoch, ambiguous: {e.Message}"; }
        catch (TransactionAbortedException e) { outcomes.Aborted[key] = value; outcome = $"aborted ({e.GetType().Name}): {e.Message}"; }
        catch (Exception e) { outcomes.Failed[key] = value; outcome = $"{e.GetType().Name}: {e.Message}"; }
        outcomes.Attempts.Enqueue((key, start, Stopwatch.GetTimestamp(), outcome));
        if (outcome != "acked") outcomes.Errors.Enqueue($"{key}: {outcome}");
    }

    [Fact(Timeout = 120_000)]
    public async Task A_writer_cut_off_by_a_partition_is_downed_and_acknowledges_nothing_while_the_standby_takes_over()
    {
        using var dir = new TestDirectory();
        var system = "actordb-" + Guid.NewGuid().ToString("N")[..6];
        var seedPort = ProcessTests.FreePort();
        var seed = $"akka.trttl.ssl.tcp://{system}@127.0.0.1:{seedPort}";
        var nodes = new List<Node>();
        var clock = Stopwatch.StartNew();
        void Log(string line) => output.WriteLine($"[{clock.Elapsed.TotalSeconds,6:0.000}s] {line}");
        try
        {
            // Three storage nodes, one per AZ (the first is the seed), then the writer nodes: w1 first, so it is the
            // oldest writer and runs the recovery supervisor singleton; w2 is the standby.
            var s1 = await StartNodeAsync("s1", system, "storage", "az-a", Path.Combine(dir.Path, "s1"), seedPort, seed);
            nodes.Add(s1);
            var storage = new List<Node> { s1 };
            foreach (var (name, az) in new[] { ("s2", "az-b"), ("s3", "az-c") })
            {
                var s = await StartNodeAsync(name, system, "storage", az, Path.Combine(dir.Path, name), 0, seed);
                nodes.Add(s);
                storage.Add(s);
            }
            Assert.Equal("akka.trttl.ssl.tcp", s1.Address.Protocol);
            var s1Cluster = Akka.Cluster.Cluster.Get(s1.System);
            await WaitUntilAsync(() => s1Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == 3, TimeSpan.FromSeconds(20), "3 storage nodes Up");

            // w1's own resolver decides slowly, so that the cut-off writer is still alive, and still believes it serves,
            // when the majority has downed it and the standby has installed the next epoch: the case fencing is for
            // (a minority side that has not noticed yet: a long GC pause, a slow failure detector). With the same stable-after
            // as the others, w1 downs itself (keep-majority: its side has no storage node) before epoch 2 exists. Only
            // w1's side is affected: the majority side's leader decides there.
            var w1 = await StartNodeAsync("w1", system, "writer", null, Path.Combine(dir.Path, "w1"), 0, seed,
                "akka.cluster.split-brain-resolver.stable-after = 10s");
            nodes.Add(w1);
            await WaitUntilAsync(() => s1Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == 4, TimeSpan.FromSeconds(20), "w1 Up");
            var client = await ActorDbClient.ForAsync(s1.System);   // the client: on a storage node, through its supervisor proxy
            await client.WaitUntilServingAsync(TimeSpan.FromSeconds(30));
            var w2 = await StartNodeAsync("w2", system, "writer", null, Path.Combine(dir.Path, "w2"), 0, seed);
            nodes.Add(w2);
            await WaitUntilAsync(() => s1Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == 5, TimeSpan.FromSeconds(20), "w2 Up");
            await client.CreateTableAsync(new TableSchema(Table, [new ColumnDef("id", ColumnType.Int64), new ColumnDef("v", ColumnType.String)]));
            var epoch1 = client.WriterEpoch;
            Log($"cluster up: {string.Join(", ", nodes.Select(n => $"{n.Name}={n.Address}"))}; writer epoch {epoch1}");
            foreach (var s in storage)
                Log($"{s.Name}: segments {string.Join(" ", SegmentFolders(Path.Combine(dir.Path, s.Name)))}");

            // Inserts from 4 concurrent workers through the client on s1, until told to stop.
            var main = new Outcomes();
            long nextKey = 0;
            using var stop = new CancellationTokenSource();
            var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested) await InsertAsync(client, Interlocked.Increment(ref nextKey), main);
            })).ToList();
            await WaitUntilAsync(() => main.Acked.Count >= 100, TimeSpan.FromSeconds(20), "100 inserts acknowledged before the partition");

            // The partition: w1 loses every link, in both directions, on both ends.
            var others = nodes.Where(n => n != w1).ToList();
            // Times below count from the first SetThrottle (cut); applying all of them takes a few ms (cutDone), and a
            // request sent in between may still pass on a link not yet cut.
            var cut = Stopwatch.GetTimestamp();
            var ackedBeforeCut = main.Acked.Count;
            foreach (var n in others)
            {
                await ThrottleAsync(n, w1, Blackhole.Instance);
                await ThrottleAsync(w1, n, Blackhole.Instance);
            }
            var cutDone = Stopwatch.GetTimestamp();
            Log($"partition: w1 blackholed from {string.Join(", ", others.Select(n => n.Name))} after {ackedBeforeCut} acknowledged inserts " +
                $"(8 links set in {Stopwatch.GetElapsedTime(cut, cutDone).TotalMilliseconds:0} ms)");

            // (2) A client on w1's own actor system (its own supervisor proxy, which finds the local supervisor) tries
            // inserts during the whole partition: none may be acknowledged.
            var isolatedClient = await ActorDbClient.ForAsync(w1.System);
            var isolated = new Outcomes();
            long isolatedKey = 1_000_000_000;
            using var stopIsolated = new CancellationTokenSource();
            var isolatedWorkers = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
            {
                while (!stopIsolated.IsCancellationRequested && !w1.Terminated)
                {
                    await InsertAsync(isolatedClient, Interlocked.Increment(ref isolatedKey), isolated);
                    await Task.Delay(20);
                }
            })).ToList();

            var w1Events = new ConcurrentQueue<(long Ticks, string Event)>();
            var recorder = w1.System.ActorOf(Props.Create(() => new RemotingEvents(w1Events)));
            w1.System.EventStream.Subscribe(recorder, typeof(RemotingLifecycleEvent));
            long? w1TerminatedAt = null;
            _ = w1.System.WhenTerminated.ContinueWith(_ => w1TerminatedAt = Stopwatch.GetTimestamp(), TaskScheduler.Default);

            // (1) The majority side downs w1; w2 recovers the volume in the next epoch and commits again.
            var w2Cluster = Akka.Cluster.Cluster.Get(w2.System);
            await WaitUntilAsync(() => !s1Cluster.State.Members.Any(m => m.Address == w1.Address), TimeSpan.FromSeconds(20), "w1 removed on the majority side");
            Log($"w1 removed from s1's view after {Stopwatch.GetElapsedTime(cut).TotalSeconds:0.000} s");
            await WaitUntilAsync(() => main.AckTimes.Any(a => a.Ticks > cut && a.Epoch > epoch1), TimeSpan.FromSeconds(30), "an insert acknowledged by the new writer");
            var firstOnW2 = main.AckTimes.Where(a => a.Ticks > cut && a.Epoch > epoch1).Min(a => a.Ticks);
            var failover = Stopwatch.GetElapsedTime(cut, firstOnW2);
            var status = await client.GetStatusAsync();
            Log($"FAILOVER: blackhole -> first commit acknowledged by the new writer (epoch {client.WriterEpoch}): {failover.TotalMilliseconds:0} ms; writer status {status.State} epoch {status.Epoch}");
            Assert.True(client.WriterEpoch > epoch1, $"the client still talks to epoch {client.WriterEpoch}");
            // Nothing reaches s1 from w1 once the links are cut: no insert is acknowledged between then and the new writer.
            var ackedInTheGap = main.AckTimes.Count(a => a.Ticks > cutDone && a.Ticks < firstOnW2);
            Assert.True(ackedInTheGap == 0, $"{ackedInTheGap} inserts acknowledged after the blackhole and before the new writer served");
            Assert.True(status.Epoch > epoch1, $"the serving writer is in epoch {status.Epoch}, not past {epoch1}");
            Assert.Contains(w2Cluster.State.Members, m => m.Address == w2.Address && m.Status == MemberStatus.Up);
            var history = await client.GetRecoveryHistoryAsync();
            Log($"recoveries: {string.Join("; ", history.Recoveries.Select(r => $"epoch {r.Epoch}: {r.Reason}"))}");

            Assert.True(w1TerminatedAt is null || w1TerminatedAt > firstOnW2,
                "w1 stopped before the new writer served: the test would not show that a live cut-off writer acknowledges nothing");
            Log($"w1 still running when epoch {client.WriterEpoch} served: {!w1.Terminated}; isolated client so far: {isolated.Summary()}");

            // More inserts through w2 while the partition lasts.
            var ackedAtW2 = main.Acked.Count;
            await WaitUntilAsync(() => main.Acked.Count >= ackedAtW2 + 50, TimeSpan.FromSeconds(20), "50 more inserts through the new writer");

            // (3) Heal. w1 was downed: its actor system must terminate, either because it learns of the Down through
            // the healed links or because its own resolver downs it (keep-majority: its side has no storage node). In
            // the runs so far it was always the latter: the majority quarantined w1's UID when it removed it and sends
            // it nothing, and no remoting event (disassociation, quarantine) reached w1 after the heal.
            var healAt = Stopwatch.GetTimestamp();
            Log($"w1 actor system terminated before the heal: {w1.Terminated}; isolated client so far: {isolated.Summary()}");
            foreach (var n in others)
            {
                await ThrottleAsync(n, w1, Unthrottled.Instance);
                if (!w1.Terminated)
                {
                    try { await ThrottleAsync(w1, n, Unthrottled.Instance); }
                    catch (Exception e) when (w1.Terminated) { Log($"w1 terminated while healing: {e.GetType().Name}"); }
                }
            }
            Log("partition healed");
            await w1.System.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(20));
            var terminatedAt = w1TerminatedAt ?? Stopwatch.GetTimestamp();
            Log($"w1 actor system terminated (coordinated shutdown reason: {CoordinatedShutdown.Get(w1.System).ShutdownReason?.GetType().Name ?? "none"}) " +
                $"{Stopwatch.GetElapsedTime(cut, terminatedAt).TotalSeconds:0.000} s after the blackhole, {Stopwatch.GetElapsedTime(healAt, terminatedAt).TotalSeconds:0.000} s after the heal");
            Log($"w1 remoting events after the blackhole: {(w1Events.IsEmpty ? "none" : w1Events.Count.ToString())}");
            foreach (var (ticks, e) in w1Events.Take(20))
                Log($"  w1 remoting, {Stopwatch.GetElapsedTime(cut, ticks).TotalSeconds:0.000} s after the blackhole: {e}");
            stopIsolated.Cancel();
            await Task.WhenAll(isolatedWorkers).WaitAsync(TimeSpan.FromSeconds(30));
            Log($"isolated client on w1: {isolated.Summary()}");
            foreach (var a in isolated.Attempts.OrderBy(a => a.Start).Take(8))
                Log($"  w1 client: key {a.Key} sent {Stopwatch.GetElapsedTime(cut, a.Start).TotalSeconds:0.000} s, ended {Stopwatch.GetElapsedTime(cut, a.End).TotalSeconds:0.000} s after the blackhole: {a.Outcome}");
            Log($"  w1 client: {isolated.Attempts.Count(a => a.End > firstOnW2)} attempts still open when the new writer acknowledged its first commit " +
                $"({failover.TotalSeconds:0.000} s after the blackhole); none acknowledged");
            Assert.True(isolated.Acked.IsEmpty, $"the cut-off writer acknowledged {isolated.Acked.Count} inserts: {string.Join(", ", isolated.Acked.Keys.Take(10))}");
            Assert.True(isolated.Ambiguous.Count + isolated.Aborted.Count + isolated.Failed.Count > 0, "the isolated client tried no insert");

            // Still inserting after the heal, then stop.
            var ackedAtHeal = main.Acked.Count;
            await WaitUntilAsync(() => main.Acked.Count >= ackedAtHeal + 20, TimeSpan.FromSeconds(20), "20 more inserts after the heal");
            stop.Cancel();
            await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(30));
            Log($"client on s1: {main.Summary()}");
            foreach (var e in main.Errors.Take(10)) Log($"  s1 client: {e}");

            // (4) Every row, read through the new writer.
            var rows = new Dictionary<long, string?>();
            long from = long.MinValue;
            while (true)
            {
                IReadOnlyList<Row> chunk;
                await using (var tx = client.Begin())
                {
                    chunk = await tx.ScanAsync(Table, from, 1000);
                    await tx.CommitAsync();
                }
                foreach (var row in chunk) rows[(long)row.Key] = (string?)row.Fields["v"];
                if (chunk.Count < 1000) break;
                from = (long)chunk[^1].Key + 1;
            }
            Assert.True(client.WriterEpoch > epoch1);
            var missing = main.Acked.Where(a => !rows.ContainsKey(a.Key)).Select(a => a.Key).Order().ToList();
            Assert.True(missing.Count == 0, $"{missing.Count} acknowledged inserts missing: {string.Join(", ", missing.Take(10))}");
            var wrong = main.Acked.Where(a => rows[a.Key] != a.Value).Select(a => a.Key).ToList();
            Assert.True(wrong.Count == 0, $"{wrong.Count} acknowledged inserts with another value: {string.Join(", ", wrong.Take(10))}");
            var extra = rows.Keys.Where(k => !main.Acked.ContainsKey(k)).Order().ToList();
            var ambiguousCount = main.Ambiguous.Count + isolated.Ambiguous.Count;
            foreach (var k in extra)
            {
                var a = main.Attempts.Concat(isolated.Attempts).Single(x => x.Key == k);
                Log($"  row {k} of an ambiguous commit, sent {Stopwatch.GetElapsedTime(cut, a.Start).TotalMilliseconds:0.0} ms after the first SetThrottle: {a.Outcome}");
            }
            Log($"scan: {rows.Count} rows = {main.Acked.Count} acknowledged + {extra.Count} from ambiguous commits (of {ambiguousCount} ambiguous)");
            Assert.True(extra.Count <= ambiguousCount, $"{extra.Count} rows beyond the acknowledged inserts, only {ambiguousCount} ambiguous commits");
            foreach (var k in extra)
            {
                var ambiguousValue = main.Ambiguous.TryGetValue(k, out var v1) ? v1 : isolated.Ambiguous.TryGetValue(k, out var v2) ? v2 : null;
                Assert.True(ambiguousValue is not null, $"row {k} exists, but its insert was not ambiguous (acknowledged: no; {(main.Aborted.ContainsKey(k) || isolated.Aborted.ContainsKey(k) ? "aborted" : "failed")})");
                Assert.Equal(ambiguousValue, rows[k]);
            }
            Assert.DoesNotContain(rows.Keys, k => isolated.Aborted.ContainsKey(k) || main.Aborted.ContainsKey(k));
            Log($"time from the blackhole to the first commit on w2: {failover.TotalMilliseconds:0} ms");
        }
        finally
        {
            // Writers first (the standby drains), then storage; whatever is left at once.
            foreach (var n in Enumerable.Reverse(nodes))
            {
                try { await n.Host.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20)); }
                catch (Exception e) { output.WriteLine($"{n.Name}: stop: {e.GetType().Name}: {e.Message}"); }
                n.Host.Dispose();
            }
        }
    }

    private static IEnumerable<string> SegmentFolders(string dataDir) =>
        Directory.Exists(dataDir)
            ? Directory.EnumerateDirectories(dataDir, "*", SearchOption.AllDirectories).Select(Path.GetFileName).OfType<string>()
                .Where(n => n.StartsWith("pg-", StringComparison.Ordinal)).Order()
            : [];
}
