using System.Text.Json;
using System.Text.RegularExpressions;
using ActorDb.Cli.Bench;
using ActorDb.Client;

namespace ActorDb.Tests.Bench;

public sealed class BenchRunnerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actordb-bench-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string AckPath(string name = "acks.jsonl") => Path.Combine(_dir, name);

    private static async Task<BenchResult> Run(FakeClient db, WorkloadProperties w, int threads = 3, string? ackLog = null,
        TextWriter? progress = null, int seed = 42, TimeSpan? progressInterval = null, TimeSpan? maxTime = null)
    {
        var runner = new BenchRunner(db, w, new BenchOptions
        {
            Threads = threads,
            Seed = seed,
            AckLogPath = ackLog,
            Progress = progress,
            ProgressInterval = progressInterval ?? TimeSpan.FromSeconds(2),
            MaxExecutionTime = maxTime,
        });
        return await runner.RunAsync();
    }

    public static TheoryData<string> PublicFiles => new(BenchTestPaths.YcsbFiles);

    [Theory]
    [MemberData(nameof(PublicFiles))]
    public async Task Public_workloads_run_end_to_end(string name)
    {
        var db = new FakeClient();
        var w = WorkloadProperties.Resolve(BenchTestPaths.Ycsb(name), ["recordcount=100", "operationcount=200", "maxscanlength=20"]);
        var r = await Run(db, w);
        Assert.Equal(100, r.Load!.TotalOperations);
        Assert.Equal(200, r.Run!.TotalOperations);
        Assert.Equal(200, r.Run.OkOperations);
        Assert.Equal(100 + (r.Run.Operations.TryGetValue("INSERT", out var ins) ? ins.Returns(OpStatus.Ok) : 0),
            db.Snapshot("usertable").Count);
    }

    [Theory]
    [InlineData("uniform", "hashed")]
    [InlineData("zipfian", "ordered")]
    [InlineData("latest", "hashed")]
    [InlineData("hotspot", "ordered")]
    public async Task Request_distributions_and_insert_orders_run(string distribution, string order)
    {
        var db = new FakeClient();
        var w = WorkloadProperties.Parse($"recordcount=80\noperationcount=300\nreadproportion=0.5\nupdateproportion=0.2\n" +
            $"insertproportion=0.2\nscanproportion=0.1\nmaxscanlength=5\nscanlengthdistribution=zipfian\n" +
            $"fieldlengthdistribution=uniform\nwriteallfields=true\nzeropadding=6\n" +
            $"requestdistribution={distribution}\ninsertorder={order}\n", "dist");
        var r = await Run(db, w, threads: 2);
        Assert.Equal(300, r.Run!.OkOperations);
        Assert.Equal(80 + r.Run.Operations["INSERT"].Operations, db.Snapshot("usertable").Count);
        Assert.Equal(r.Load!.OkOperations + r.Run.Operations["INSERT"].Operations + r.Run.Operations["UPDATE"].Operations, r.WriteCommits);
        if (order == "ordered")
            Assert.Contains("user000000", db.Snapshot("usertable").Keys.Cast<string>());
    }

    [Fact]
    public async Task Workload_a_counts_proportions_and_report()
    {
        var db = new FakeClient();
        var w = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workloada"), ["recordcount=200", "operationcount=1000"]);
        var r = await Run(db, w, threads: 4);

        Assert.Equal(200, r.Load!.TotalOperations);
        Assert.Equal(1000, r.Operations);
        Assert.Equal(["READ", "UPDATE"], r.Run!.Operations.Keys);
        Assert.InRange(r.Run.Operations["READ"].Operations, 400, 600);
        Assert.Equal(1000, r.Run.Operations["READ"].Operations + r.Run.Operations["UPDATE"].Operations);
        Assert.Equal(1200, r.Commits);
        Assert.Equal(200, db.Snapshot("usertable").Count);
        Assert.All(db.Snapshot("usertable"), kv => Assert.Matches("^user[0-9]+$", (string)kv.Key));

        var report = r.ToString();
        foreach (var line in new[]
        {
            "[OVERALL], RunTime(ms), ", "[OVERALL], Throughput(ops/sec), ",
            "[READ], Operations, ", "[READ], AverageLatency(us), ", "[READ], MinLatency(us), ", "[READ], MaxLatency(us), ",
            "[READ], 95thPercentileLatency(us), ", "[READ], 99thPercentileLatency(us), ", "[READ], Return=OK, ",
            "[UPDATE], Operations, ", "[UPDATE], Return=OK, ", "[UPDATE], Aborts, 0",
            "[LOAD], RunTime(ms), ", "[LOAD-INSERT], Operations, 200", "[LOAD-INSERT], Return=OK, 200",
        })
            Assert.Contains(line, report);
        Assert.Matches(@"\[READ\], Operations, \d+\n", report.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("FAILED", report);
        var read = r.Run.Operations["READ"].Ok;
        Assert.True(read.Min <= read.Percentile(95) && read.Percentile(95) <= read.Percentile(99));
        Assert.True(read.Mean > 0 && read.Max >= read.Min);
    }

    [Fact]
    public async Task Ack_log_replays_to_the_final_state_of_a_mixed_workload()
    {
        var db = new FakeClient();
        var w = WorkloadProperties.Parse("""
            recordcount=100
            operationcount=600
            readproportion=0.3
            updateproportion=0.25
            insertproportion=0.2
            scanproportion=0.1
            readmodifywriteproportion=0.15
            requestdistribution=latest
            maxscanlength=10
            fieldcount=4
            fieldlength=16
            """, "mixed");
        var ack = AckPath();
        var r = await Run(db, w, threads: 4, ackLog: ack);

        var run = r.Run!;
        Assert.Equal(600, run.TotalOperations);
        Assert.Equal(600, run.OkOperations);
        long writes = 100 + new[] { "UPDATE", "INSERT", "READ-MODIFY-WRITE" }.Sum(n => run.Operations[n].Returns(OpStatus.Ok));
        var lines = ReadAckLog(ack);
        Assert.Equal(writes, lines.Count);
        Assert.Equal(lines.Count, lines.Select(l => l.CommitLsn).Distinct().Count()); // one row per YCSB commit
        Assert.All(lines, l => Assert.True(l.CommitLsn > 0));

        var state = db.Snapshot("usertable");
        Assert.Equal(100 + run.Operations["INSERT"].Operations, state.Count);
        AssertReplayMatches(lines, state);

        // every insert that was never updated afterwards holds exactly the logged values
        var updated = lines.Where(l => l.Op == "update").Select(l => l.Key).ToHashSet();
        var inserts = lines.Where(l => l.Op == "insert" && !updated.Contains(l.Key)).ToList();
        Assert.NotEmpty(inserts);
        foreach (var l in inserts)
            Assert.Equal(l.Fields, state[l.Key]);
        Assert.All(lines.Where(l => l.Op == "insert"), l => Assert.Equal(4, l.Fields.Count));
        Assert.All(lines.Where(l => l.Op == "update"), l => Assert.Single(l.Fields));
    }

    [Fact]
    public async Task Aborts_are_retried_and_reported()
    {
        var db = new FakeClient { AbortEveryNthCommit = 7 };
        var w = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workloada"), ["recordcount=100", "operationcount=400"]);
        var ack = AckPath();
        var r = await Run(db, w, threads: 2, ackLog: ack);
        Assert.Equal(400, r.Run!.TotalOperations);
        Assert.Equal(400, r.Run.OkOperations);
        Assert.Equal(100, r.Load!.OkOperations);
        Assert.Equal(db.Aborts, r.Aborts);
        Assert.True(r.Aborts >= 60, $"aborts {r.Aborts}");
        Assert.Contains($"[UPDATE], Aborts, {r.Run.Operations["UPDATE"].Aborts}", r.ToString());
        AssertReplayMatches(ReadAckLog(ack), db.Snapshot("usertable"));
    }

    [Fact]
    public async Task Other_errors_fail_the_operation_and_the_run_goes_on()
    {
        int gets = 0;
        var db = new FakeClient
        {
            Fault = (stmt, _, _) => stmt == "get" && Interlocked.Increment(ref gets) % 10 == 0 ? new InvalidOperationException("boom") : null,
        };
        var w = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workloadb"), ["recordcount=50", "operationcount=300"]);
        var progress = new StringWriter();
        var r = await Run(db, w, threads: 2, progress: progress);
        var read = r.Run!.Operations["READ"];
        Assert.Equal(300, r.Run.TotalOperations);
        Assert.True(read.Returns(OpStatus.Error) > 0);
        Assert.Equal(read.Returns(OpStatus.Error), read.Failed.Count);
        Assert.Equal(read.Operations, read.Returns(OpStatus.Ok) + read.Returns(OpStatus.Error));
        var report = r.ToString();
        Assert.Contains($"[READ], Return=ERROR, {read.Returns(OpStatus.Error)}", report);
        Assert.Contains($"[READ-FAILED], Operations, {read.Failed.Count}", report);
        Assert.Contains("READ failed: InvalidOperationException: boom", progress.ToString());
        Assert.Contains("boom", r.Run.FirstError);
    }

    [Fact]
    public async Task A_phase_where_everything_fails_throws()
    {
        var db = new FakeClient { Fault = (_, _, _) => new InvalidOperationException("down") };
        var w = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workloada"), ["recordcount=1000", "operationcount=10"]);
        var e = await Assert.ThrowsAsync<WorkloadException>(() => Run(db, w, threads: 2));
        Assert.Contains("load phase: all", e.Message);
        Assert.Contains("down", e.Message);
    }

    [Fact]
    public async Task Missing_rows_are_not_found_not_errors()
    {
        var db = new FakeClient();
        var w = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workloadc"), ["recordcount=20", "operationcount=50"]);
        await Run(db, w); // loads 20 rows
        // a second run on the same table without loading, with a bigger keyspace: reads of keys 20..39 miss
        var w2 = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workloadc"), ["recordcount=40", "operationcount=200", "requestdistribution=uniform"]);
        var r = await new BenchRunner(db, w2, new BenchOptions { Load = false, Seed = 3 }).RunAsync();
        Assert.Null(r.Load);
        var read = r.Run!.Operations["READ"];
        Assert.True(read.Returns(OpStatus.NotFound) > 0);
        Assert.Equal(200, read.Operations);
        Assert.Contains("[READ], Return=NOT_FOUND, ", r.ToString());
    }

    [Fact]
    public async Task Insert_only_workload_file_inserts_operationcount_rows()
    {
        var db = new FakeClient();
        var w = WorkloadProperties.Resolve(Path.Combine(BenchTestPaths.RepoWorkloads(), "ycsb-insert-only"), ["operationcount=300"]);
        var ack = AckPath();
        var r = await Run(db, w, threads: 4, ackLog: ack);
        Assert.Null(r.Load);
        Assert.Equal(300, r.Run!.Operations["INSERT"].Returns(OpStatus.Ok));
        var state = db.Snapshot("usertable");
        Assert.Equal(300, state.Count);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => YcsbUtils.BuildKeyName(i, 1, orderedInserts: true)).Order(), state.Keys.Cast<string>().Order());   // the file inserts in key order
        var lines = ReadAckLog(ack);
        Assert.Equal(300, lines.Count);
        foreach (var l in lines)
            Assert.Equal(l.Fields, state[l.Key]);
    }

    [Fact]
    public async Task Sysbench_write_only_keeps_the_row_count()
    {
        var db = new FakeClient { AbortEveryNthCommit = 11 };
        var w = WorkloadProperties.Resolve("sysbench-write-only", ["table-size=200", "operationcount=300"]);
        var ack = AckPath();
        var r = await Run(db, w, threads: 4, ackLog: ack);
        Assert.Equal(200, r.Load!.OkOperations);
        Assert.Equal(["TX"], r.Run!.Operations.Keys);
        Assert.Equal(300, r.Run.Operations["TX"].Returns(OpStatus.Ok));
        Assert.True(r.Run.Aborts > 0);

        var state = db.Snapshot("sbtest");
        Assert.Equal(200, state.Count);
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), state.Keys.Cast<long>().Order());
        Assert.All(state.Values, row =>
        {
            Assert.Matches(@"^(\d{11}-){9}\d{11}$", (string)row["c"]!);
            Assert.Matches(@"^(\d{11}-){4}\d{11}$", (string)row["pad"]!);
            Assert.IsType<long>(row["k"]);
        });
        var lines = ReadAckLog(ack);
        Assert.Equal(200 + 300 * 4, lines.Count);
        AssertReplayMatches(lines, state);
        Assert.Contains("[TX], Operations, 300", r.ToString());
    }

    [Fact]
    public async Task Bank_keeps_the_sum()
    {
        var db = new FakeClient { AbortEveryNthCommit = 5 };
        var w = WorkloadProperties.Resolve("bank", ["accountcount=50", "operationcount=500"]);
        var ack = AckPath();
        var r = await Run(db, w, threads: 4, ackLog: ack);
        Assert.Equal(500, r.Run!.Operations["TRANSFER"].Returns(OpStatus.Ok));
        Assert.Equal((50L * 1000, 50L), await BenchRunner.BankInvariant(db));

        var lines = ReadAckLog(ack);
        var transfers = lines.Where(l => l.Op == "update").GroupBy(l => l.CommitLsn).ToList();
        Assert.All(transfers, g => Assert.Equal(2, g.Count()));
        Assert.True(transfers.Count > 400);
        Assert.All(lines, l => Assert.True((long)l.Fields["balance"]! >= 0));
        AssertReplayMatches(lines, db.Snapshot("accounts"));
    }

    [Fact]
    public async Task Same_seed_single_thread_is_reproducible()
    {
        async Task<Dictionary<object, Dictionary<string, object?>>> Once()
        {
            var db = new FakeClient();
            var w = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workloada"), ["recordcount=50", "operationcount=200", "fieldlength=8"]);
            await Run(db, w, threads: 1, seed: 1234);
            return db.Snapshot("usertable");
        }
        var a = await Once();
        var b = await Once();
        Assert.Equal(a.Keys.Cast<string>().Order(), b.Keys.Cast<string>().Order());
        foreach (var (k, v) in a)
            Assert.Equal(v, b[k]);
    }

    [Fact]
    public async Task Progress_lines_and_time_limit()
    {
        var db = new FakeClient { CommitDelay = TimeSpan.FromMilliseconds(2) };
        var w = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workloada"), ["recordcount=10", "operationcount=1000000"]);
        var progress = new StringWriter();
        var samples = new List<BenchProgress>();
        var runner = new BenchRunner(db, w, new BenchOptions
        {
            Threads = 2,
            Seed = 1,
            Progress = progress,
            OnProgress = s => { lock (samples) samples.Add(s); },
            ProgressInterval = TimeSpan.FromMilliseconds(100),
            MaxExecutionTime = TimeSpan.FromSeconds(1),
        });
        var r = await runner.RunAsync();
        Assert.True(r.Run!.StoppedEarly);
        Assert.InRange(r.Run.TotalOperations, 1, 999_999);
        Assert.Matches(new Regex(@"^\[bench\] \d+ s: \d+ ops, \d+ ops/s, p99 \d+ us$", RegexOptions.Multiline), progress.ToString());
        Assert.Contains(samples, s => s.Phase == "run" && s.Operations > 0 && s.Throughput > 0 && s.P99Us > 0);
    }

    [Fact]
    public async Task Existing_table_with_other_columns_is_a_clear_error()
    {
        var db = new FakeClient();
        await db.CreateTableAsync(new TableSchema("usertable", [new ColumnDef("key", ColumnType.String)]));
        var w = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workloada"), ["recordcount=10", "operationcount=10"]);
        var e = await Assert.ThrowsAsync<WorkloadException>(() => Run(db, w));
        Assert.Contains("usertable", e.Message);
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    private sealed record AckLine(string Table, string Op, object Key, Dictionary<string, object?> Fields, long CommitLsn);

    private static List<AckLine> ReadAckLog(string path)
    {
        var result = new List<AckLine>();
        foreach (var line in File.ReadAllLines(path))
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            result.Add(new AckLine(
                root.GetProperty("table").GetString()!,
                root.GetProperty("op").GetString()!,
                Value(root.GetProperty("key"))!,
                root.GetProperty("fields").EnumerateObject().ToDictionary(p => p.Name, p => Value(p.Value)),
                root.GetProperty("commitLsn").GetInt64()));
        }
        return result;
    }

    private static object? Value(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Number => e.GetInt64(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Null => null,
        _ => throw new InvalidDataException(e.ToString()),
    };

    /// <summary>Applies the log in commit-LSN order (stable: statement order within a commit) and compares with the database.</summary>
    private static void AssertReplayMatches(List<AckLine> lines, Dictionary<object, Dictionary<string, object?>> state)
    {
        var replay = new Dictionary<object, Dictionary<string, object?>>();
        foreach (var l in lines.OrderBy(l => l.CommitLsn))
        {
            switch (l.Op)
            {
                case "insert":
                    Assert.False(replay.ContainsKey(l.Key), $"insert of existing {l.Key}");
                    replay[l.Key] = new Dictionary<string, object?>(l.Fields);
                    break;
                case "update":
                    foreach (var (f, v) in l.Fields) replay[l.Key][f] = v;
                    break;
                case "delete":
                    Assert.True(replay.Remove(l.Key));
                    break;
                default:
                    Assert.Fail($"op {l.Op}");
                    break;
            }
        }
        Assert.Equal(state.Count, replay.Count);
        foreach (var (k, v) in state)
            Assert.Equal(v, replay[k]);
    }
}
