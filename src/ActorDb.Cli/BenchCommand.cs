using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ActorDb.Cli.Bench;
using ActorDb.Client;
using ActorDb.Hosting;

namespace ActorDb.Cli;

/// <summary><c>actordb bench</c>: runs a workload on an embedded node and prints a YCSB-style report plus ActorDb's own lines.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var workload = new Option<string>("--workload", "-w")
        {
            Description = "a YCSB core-workload property file, or a built-in workload: sysbench-write-only, bank",
            Required = true,
        };
        var props = new Option<string[]>("-p")
        {
            Description = "override a workload property: -p name=value (repeatable)",
            AllowMultipleArgumentsPerToken = false,
        };
        var threads = new Option<int>("--threads", "-t") { Description = "concurrent client sessions", DefaultValueFactory = _ => 1 };
        var dataDir = CommonOptions.DataDir();
        var ackLog = new Option<string?>("--ack-log") { Description = "append one JSON line per acknowledged write to FILE (written after the acknowledgement)" };
        var seed = new Option<int?>("--seed") { Description = "random seed (default: random)" };
        var noFsync = new Option<bool>("--unsafe-no-fsync") { Description = "segments skip fdatasync: NOT durable, for measuring the CPU/messaging ceiling only" };
        var logLevel = CommonOptions.LogLevel();
        var config = CommonOptions.Config();
        var pgCount = new Option<int?>("--pg-count") { Description = "protection groups of a NEW volume (actordb.volume.pg-count)" };
        var skipLoad = new Option<bool>("--skip-load")
        {
            Description = "run only the run phase, on the table an earlier bench left in --data-dir (its rows are kept; a missing " +
                          "data directory or table is an error). A YCSB run that inserts after an earlier one: -p recordcount=N " +
                          "-p insertstart=N, N above every key number inserted so far (run-phase inserts start at key number " +
                          "recordcount; insertcount is then 0). A read/update mix on N loaded rows: -p recordcount=N. Bank prints " +
                          "[BANK], AccountsBefore / BalanceSumBefore before the run",
        };

        var seeds = CommonOptions.Seeds();
        var tlsDir = CommonOptions.TlsDir();
        var plot = new Option<string?>("--plot")
        {
            Description = "write FILE.png: the run phase's latency over time (p50, p99 per second) and its latency histogram",
        };

        var command = new Command("bench", "run a workload on the embedded default node and report throughput and latency")
        {
            workload, props, threads, dataDir, ackLog, seed, noFsync, logLevel, pgCount, config, skipLoad, plot, seeds, tlsDir,
        };
        command.SetAction(async (parse, ct) =>
        {
            TextWriter? firstCommitOut = null;   // stdout, once reserved below
            // Read first: the clock measures from the process's start, as the operating system recorded it.
            var firstCommit = FirstCommitClock.ForCurrentProcess(ms =>
                firstCommitOut?.WriteLine($"[bench] first commit acknowledged {ms:0} ms after process start"));
            var threadCount = parse.GetValue(threads);
            if (threadCount < 1) return CommonOptions.Error("bench", $"--threads must be at least 1, got {threadCount}");
            WorkloadProperties w;
            try
            {
                w = WorkloadProperties.Resolve(parse.GetValue(workload)!, parse.GetValue(props) ?? []);
            }
            catch (Exception e) when (e is WorkloadException or IOException)
            {
                return CommonOptions.Error("bench", e.Message);
            }
            var fsync = !parse.GetValue(noFsync);   // a --config file may turn fsync off too: the report says which
            string? clusterHocon = null;
            if (parse.GetValue(seeds) is { } seedList)
            {
                foreach (var (given, name) in new[] { (parse.GetValue(dataDir) is not null, "--data-dir"), (!fsync, "--unsafe-no-fsync"), (parse.GetValue(pgCount) is not null, "--pg-count") })
                    if (given) return CommonOptions.Error("bench", $"{name} cannot be used with --seeds: the cluster's storage nodes own the volume and its settings");
                try { clusterHocon = CommonOptions.ClientNodeHocon(seedList, parse.GetValue(tlsDir)); }
                catch (Exception e) when (e is FormatException or ArgumentException or EnvironmentConfigException) { return CommonOptions.Error("bench", e.Message); }
            }
            var stdout = CommonOptions.ReserveStdout();
            firstCommitOut = stdout;   // Console's writer: synchronized and flushed on every line, so a harness sees it at once
            ThreadPool.GetMinThreads(out var minWorkers, out var minIo);
            ThreadPool.SetMinThreads(Math.Max(minWorkers, Environment.ProcessorCount * 2), minIo);
            try
            {
                var options = new ActorDbOptions
                {
                    DataDir = parse.GetValue(dataDir), Fsync = fsync ? null : false, PgCount = parse.GetValue(pgCount),
                    Hocon = clusterHocon is null ? CommonOptions.ReadConfig(parse.GetValue(config)) : CommonOptions.ReadConfig(parse.GetValue(config)) + "\n" + clusterHocon,
                };
                // Ctrl+C / SIGTERM stop the run: no new operations start, the report covers what ran, and the node is
                // stopped cleanly by the dispose below (not by the signal, which would stop it under the workload).
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
                using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(
                    System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
                using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
                    System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
                ct = stop.Token;
                if (clusterHocon is null && parse.GetValue(skipLoad) && ActorDbSettings.Create(options.ToConfig()).DataDir is var existing && !Directory.Exists(existing))
                    return CommonOptions.Error("bench", $"--skip-load: data directory '{Path.GetFullPath(existing)}' does not exist (run without --skip-load first)");
                var nodeStart = Stopwatch.StartNew();
                await using var node = await EmbeddedNode.StartAsync(options, parse.GetValue(logLevel)!, ct: ct, stopOnProcessExit: false);
                nodeStart.Stop();
                stdout.WriteLine($"[bench] node started in {nodeStart.Elapsed.TotalMilliseconds:0} ms (volume open, writer serving)");
                if (clusterHocon is not null)
                {
                    stdout.WriteLine($"[bench] client node {Akka.Cluster.Cluster.Get(node.System).SelfAddress} of the cluster at {parse.GetValue(seeds)}, writer epoch {node.Client.WriterEpoch}");
                    return await RunAsync(node, w, threadCount, parse.GetValue(seed), parse.GetValue(ackLog), fsync: null, stdout, ct,
                        parse.GetValue(skipLoad), firstCommit, nodeStart.Elapsed, parse.GetValue(plot));
                }
                fsync = node.Settings.Segment.Fsync;
                if (!fsync) stdout.WriteLine("[bench] WARNING: fsync is OFF (--unsafe-no-fsync or actordb.segment.fsync = off): acknowledged commits are NOT durable");
                stdout.WriteLine($"[bench] data directory {Path.GetFullPath(node.Settings.DataDir)}");
                return await RunAsync(node, w, threadCount, parse.GetValue(seed), parse.GetValue(ackLog), fsync, stdout, ct,
                    parse.GetValue(skipLoad), firstCommit, nodeStart.Elapsed, parse.GetValue(plot));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ActorDbException or WorkloadException or Akka.Configuration.ConfigurationException)
            {
                return CommonOptions.Error("bench", e.Message);
            }
        });
        return command;
    }

    /// <summary>Runs the load phase (unless <paramref name="skipLoad"/>), then the run phase, and writes the report with
    /// ActorDb's lines for the run phase.</summary>
    /// <param name="skipLoad">Run only the run phase, on the table as an earlier run left it (<c>--skip-load</c>); the
    /// table must exist. Bank then prints <c>[BANK], AccountsBefore</c> / <c>BalanceSumBefore</c> first.</param>
    /// <param name="firstCommit">Told of acknowledged write commits; its reading is reported as
    /// <c>[ACTORDB], StartToFirstCommit(ms)</c>. Null: no such line.</param>
    /// <param name="nodeStart">How long <see cref="EmbeddedNode.StartAsync"/> took, reported as <c>[ACTORDB], NodeStart(ms)</c>; null: no such line.</param>
    /// <param name="plotPath"><c>--plot</c>: a PNG to draw the run phase's latency over time and latency histogram in.</param>
    /// <param name="fsync">The segments' fsync setting, for the report; null for a client node of a cluster (set on the
    /// storage nodes, not known here).</param>
    public static async Task<int> RunAsync(EmbeddedNode node, WorkloadProperties workload, int threads, int? seed, string? ackLog, bool? fsync, TextWriter output, CancellationToken ct,
        bool skipLoad = false, FirstCommitClock? firstCommit = null, TimeSpan? nodeStart = null, string? plotPath = null)
    {
        var seedValue = seed ?? Random.Shared.Next();
        var gaps = new CommitGapClock((ms, before, after) => output.WriteLine(
            $"[bench] no commit acknowledged for {ms:0} ms: last before at {before:HH:mm:ss.fff}, first after at {after:HH:mm:ss.fff} UTC " +
            $"({after.Subtract(DateTime.UnixEpoch).TotalMilliseconds:0} ms since the epoch)"));
        var common = new BenchOptions { Threads = threads, Seed = seedValue, AckLogPath = ackLog, Progress = output, FirstCommit = firstCommit, CommitGaps = gaps };
        var fsyncText = fsync switch { true => "on", false => "OFF", null => "as the storage nodes set it" };
        output.WriteLine($"[bench] workload {workload.Kind}, {threads} threads, seed {seedValue}, fsync {fsyncText}{(skipLoad ? ", load skipped" : "")}");
        if (skipLoad)
        {
            await RequireTableAsync(node, workload, ct);
            if (workload.Kind == WorkloadKind.Bank)
            {
                // Before the run, so a harness that kills the process mid-run still sees the state it found.
                var (sumBefore, countBefore) = await BenchRunner.BankInvariant(node.Client, workload.Table, ct);
                output.WriteLine($"[BANK], AccountsBefore, {countBefore}");
                output.WriteLine($"[BANK], BalanceSumBefore, {sumBefore}");
            }
        }
        else
        {
            await RefuseNonEmptyTableAsync(node, workload, ct);
        }
        var load = skipLoad
            ? new BenchResult(workload, threads, seedValue, null, null)
            : await new BenchRunner(node.Client, workload, common with { Run = false }).RunAsync(ct);
        var before = await Snapshot.TakeAsync(node);
        gaps.Restart();
        var samples = new List<BenchProgress>();
        var runOptions = common with { Load = false };
        if (plotPath is not null)
            runOptions = runOptions with { ProgressInterval = TimeSpan.FromSeconds(1), OnProgress = p => { if (p.Phase == "run") samples.Add(p); } };
        // Listens to the commits of the run phase only; disposing stops the listening, the numbers stay.
        var breakdown = new CommitBreakdown(node.Metrics);
        var gcBefore = (Gen0: GC.CollectionCount(0), Gen1: GC.CollectionCount(1), Gen2: GC.CollectionCount(2), Pause: GC.GetTotalPauseDuration());
        BenchResult run;
        try { run = await new BenchRunner(node.Client, workload, runOptions).RunAsync(ct); }
        finally { breakdown.Dispose(); }
        var gcAfter = (Gen0: GC.CollectionCount(0), Gen1: GC.CollectionCount(1), Gen2: GC.CollectionCount(2), Pause: GC.GetTotalPauseDuration());
        var after = await Snapshot.TakeAsync(node);
        if (after.Epoch != before.Epoch)
        {
            // A failover (or a writer restart) during the run: the new writer counts from its start.
            output.WriteLine($"[ACTORDB], WriterChanged, epoch {before.Epoch} -> {after.Epoch}: the writer's counters below cover epoch {after.Epoch} only");
            before = before with { Commits = 0, RedoBytes = 0, RedoBytesShipped = 0, RedoRecords = 0, Batches = 0, WriterBusyMicros = 0 };
        }

        if (load.Load is not null) load.Load.WriteReport(output, "LOAD", "LOAD-");
        run.Run?.WriteReport(output);
        var commits = after.Commits - before.Commits;
        double PerCommit(long v) => commits == 0 ? 0 : (double)v / commits;
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        output.WriteLine($"[ACTORDB], Fsync, {fsync switch { true => "on", false => "OFF (not durable)", null => "set on the storage nodes" }}");
        if (nodeStart is { } started) output.WriteLine($"[ACTORDB], NodeStart(ms), {started.TotalMilliseconds:0}");
        if (firstCommit?.MillisecondsAfterStart is { } firstMs) output.WriteLine($"[ACTORDB], StartToFirstCommit(ms), {firstMs:0}");
        output.WriteLine($"[ACTORDB], Commits, {commits}");
        output.WriteLine($"[ACTORDB], CommitGaps, {gaps.Gaps}");
        output.WriteLine($"[ACTORDB], LongestCommitGap(ms), {gaps.LongestMs:0}");
        output.WriteLine($"[ACTORDB], FinalVDL, {after.Vdl}");
        output.WriteLine($"[ACTORDB], Epoch, {after.Epoch}");
        output.WriteLine($"[ACTORDB], RedoBytesPerCommit, {F(PerCommit(after.RedoBytes - before.RedoBytes))}");
        output.WriteLine($"[ACTORDB], RedoBytesShippedPerCommit, {F(PerCommit(after.RedoBytesShipped - before.RedoBytesShipped))}");
        output.WriteLine($"[ACTORDB], RedoRecordsPerCommit, {F(PerCommit(after.RedoRecords - before.RedoRecords))}");
        output.WriteLine($"[ACTORDB], SegmentLogBytesPerCommit, {F(PerCommit(after.SegmentBytes - before.SegmentBytes))}");
        output.WriteLine($"[ACTORDB], SegmentFsyncsPerCommit, {F(PerCommit(after.Fsyncs - before.Fsyncs))}");
        output.WriteLine($"[ACTORDB], RedoBatches, {after.Batches - before.Batches}");
        output.WriteLine($"[ACTORDB], BatchToWriteQuorumAvg(us), {after.BatchQuorumMicros}");
        // Busy time over a run too short to measure (e.g. no operations) would read as thousands of percent.
        var runMicros = run.Run?.RunTime.TotalMicroseconds ?? 0;
        output.WriteLine($"[ACTORDB], WriterBusy(%), {(runMicros < 100_000 ? "n/a" : F(100.0 * (after.WriterBusyMicros - before.WriterBusyMicros) / runMicros))}");
        output.WriteLine($"[ACTORDB], SegmentSyncAvg(us), {F(after.Syncs == before.Syncs ? 0 : (double)(after.SyncMicros - before.SyncMicros) / (after.Syncs - before.Syncs))}");
        output.WriteLine($"[ACTORDB], PeakWorkingSet(MB), {Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024)}");
        // This process's garbage collections during the run phase (with --seeds: the client's, not the nodes').
        output.WriteLine($"[ACTORDB], GcCollections(gen0/gen1/gen2), {gcAfter.Gen0 - gcBefore.Gen0}/{gcAfter.Gen1 - gcBefore.Gen1}/{gcAfter.Gen2 - gcBefore.Gen2}");
        output.WriteLine($"[ACTORDB], GcPause(ms), {F((gcAfter.Pause - gcBefore.Pause).TotalMilliseconds)}");
        breakdown.WriteReport(output);
        var plotFailed = false;
        if (plotPath is not null && run.Run is { } measured)
        {
            try
            {
                LatencyPlot.Write(plotPath, $"{workload.Kind}, {threads} threads, fsync {fsyncText}", samples, measured, breakdown);
                output.WriteLine($"[bench] plot written to {Path.GetFullPath(plotPath)}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or TypeInitializationException or DllNotFoundException)
            {
                Console.Error.WriteLine($"actordb bench: --plot {plotPath}: not written: {e.Message}");
                plotFailed = true;
            }
        }
        if (ct.IsCancellationRequested) output.WriteLine("[bench] stopped early (Ctrl+C / SIGTERM): the report covers the operations that ran");
        if (workload.Kind == WorkloadKind.Bank)
        {
            var (sum, count) = await BenchRunner.BankInvariant(node.Client, workload.Table, CancellationToken.None);
            var expected = workload.AccountCount * workload.InitialBalance;
            output.WriteLine($"[BANK], Accounts, {count}");
            output.WriteLine($"[BANK], BalanceSum, {sum}");
            output.WriteLine($"[BANK], ExpectedSum, {expected}");
            if (sum != expected || count != workload.AccountCount)
            {
                output.WriteLine($"[BANK], Invariant, VIOLATED");
                return 2;
            }
            output.WriteLine($"[BANK], Invariant, OK");
        }
        var failed = (run.Run?.FailedOperations ?? 0) + (load.Load?.FailedOperations ?? 0);
        return (failed > 0 && (run.Run?.OkOperations ?? 0) == 0) || plotFailed ? 1 : 0;
    }

    /// <summary>Where the volume is, for messages: the embedded node's data directory, or the cluster's storage nodes.</summary>
    private static string VolumeName(EmbeddedNode node) =>
        ActorDbNodeSettings.Create(node.System.Settings.Config).IsClient
            ? "the cluster's volume (its storage nodes)"
            : $"data directory {Path.GetFullPath(node.Settings.DataDir)}";

    /// <summary><c>--skip-load</c> runs on the table an earlier run left: without it there is nothing to continue.</summary>
    private static async Task RequireTableAsync(EmbeddedNode node, WorkloadProperties workload, CancellationToken ct)
    {
        if (await node.Client.GetTableAsync(workload.Table, ct) is null)
            throw new WorkloadException(
                $"--skip-load: table '{workload.Table}' does not exist in {VolumeName(node)}; " +
                "run the bench once without --skip-load to create and load it");
    }

    /// <summary>A benchmark loads its table from scratch: on a table that already has rows it would only collide with
    /// them, so it stops at once with what to do instead.</summary>
    private static async Task RefuseNonEmptyTableAsync(EmbeddedNode node, WorkloadProperties workload, CancellationToken ct)
    {
        var schema = await node.Client.GetTableAsync(workload.Table, ct);
        if (schema is null) return;
        await using var tx = node.Client.Begin();
        object from = schema.Key.Type == ActorDb.Client.ColumnType.Int64 ? long.MinValue : "";
        var rows = await tx.ScanAsync(workload.Table, from, 1, ct);
        await tx.CommitAsync(ct);
        if (rows.Count > 0)
            throw new WorkloadException(
                $"table '{workload.Table}' in {VolumeName(node)} already has rows from an earlier run; " +
                "delete that directory or pass another --data-dir (dump shows what is there)");
    }

    private sealed record Snapshot(long Commits, long Vdl, long Epoch, long RedoBytes, long RedoBytesShipped, long RedoRecords, long Batches, long SegmentBytes, long Fsyncs, long SyncMicros, long Syncs, long BatchQuorumMicros, long WriterBusyMicros)
    {
        public static async Task<Snapshot> TakeAsync(EmbeddedNode node)
        {
            var w = await node.Client.GetStatusAsync();
            var segments = await node.GetSegmentStatusesAsync(TimeSpan.FromSeconds(10));
            return new Snapshot(w.Commits, w.Vdl.Value, w.Epoch, w.RedoBytes, w.RedoBytesShipped, w.RedoRecords, w.Batches,
                segments.Sum(s => s.BytesWritten), segments.Sum(s => s.Fsyncs), segments.Sum(s => s.SyncMicros), segments.Sum(s => s.Syncs), w.AvgBatchQuorumMicros, w.BusyMicros);
        }
    }
}
