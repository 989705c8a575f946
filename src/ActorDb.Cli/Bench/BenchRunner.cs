using System.Diagnostics;
using ActorDb.Client;
using HdrHistogram;

namespace ActorDb.Cli.Bench;

/// <summary>Options of a <see cref="BenchRunner"/> run (the command-line flags; the workload itself is a <see cref="WorkloadProperties"/>).</summary>
public sealed record BenchOptions
{
    /// <summary>Concurrent client loops in each phase (<c>--threads</c>); default 1.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Seed of the per-loop random generators (<c>--seed</c>); null draws one (reported in <see cref="BenchResult.Seed"/>).</summary>
    public int? Seed { get; init; }

    /// <summary>Acknowledged-writes log (see <see cref="AckLog"/>); null for none. Appended to if it exists.</summary>
    public string? AckLogPath { get; init; }

    /// <summary>Told of every acknowledged commit that wrote rows (only its first call counts); null for none. Shared by
    /// the runners of one process, so it sees the process's first write commit whichever phase made it.</summary>
    public FirstCommitClock? FirstCommit { get; init; }

    /// <summary>Told of every acknowledged commit, to find pauses in them (a writer failover); null for none.</summary>
    public CommitGapClock? CommitGaps { get; init; }

    /// <summary>Where progress lines (<c>[bench] 12 s: 120345 ops, 10034 ops/s, p99 2100 us</c>) and the first errors go; null for none.</summary>
    public TextWriter? Progress { get; init; }

    /// <summary>Called with each progress sample (in addition to <see cref="Progress"/>).</summary>
    public Action<BenchProgress>? OnProgress { get; init; }

    /// <summary>Interval of progress samples; default 2 s.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Run the load phase (insert the initial rows); default true.</summary>
    public bool Load { get; init; } = true;

    /// <summary>Run the run phase (the operation mix); default true.</summary>
    public bool Run { get; init; } = true;

    /// <summary>Time limit of the run phase (overrides the <c>maxexecutiontime</c> property); null: the property's, if any.</summary>
    public TimeSpan? MaxExecutionTime { get; init; }

    /// <summary>Aborted attempts after which an operation gives up and counts as an error; default 100.</summary>
    public int MaxRetries { get; init; } = 100;

    /// <summary>A phase stops (and the run fails) once this many operations failed while none succeeded; default 100.</summary>
    public int FailFastAfter { get; init; } = 100;
}

/// <summary>One progress sample.</summary>
/// <param name="Phase"><c>load</c> or <c>run</c>.</param>
/// <param name="Elapsed">Time since the phase started.</param>
/// <param name="Operations">Operations completed in the phase so far.</param>
/// <param name="Throughput">Operations per second over the last interval.</param>
/// <param name="P99Us">99th percentile latency (µs) over the last interval.</param>
/// <param name="P50Us">Median latency (µs) over the last interval.</param>
public readonly record struct BenchProgress(string Phase, TimeSpan Elapsed, long Operations, double Throughput, long P99Us, long P50Us = 0);

/// <summary>
/// Drives a workload (YCSB CoreWorkload, sysbench oltp_write_only or bank) against an <see cref="IActorDbClient"/>:
/// creates the table, loads it (one transaction per insert), then runs the operation mix with
/// <see cref="BenchOptions.Threads"/> concurrent client loops, one transaction per operation. Latency is measured per
/// operation type from the first <c>Begin</c> to the commit acknowledgement (retries after aborts included), in
/// microseconds, in HdrHistograms merged across loops.
/// </summary>
/// <example>
/// <code>
/// var workload = WorkloadProperties.Resolve("../shared/workloads/ycsb/workloada", ["recordcount=10000"]);
/// var runner = new BenchRunner(client, workload, new BenchOptions { Threads = 8, Seed = 1, Progress = Console.Out });
/// BenchResult result = await runner.RunAsync(ct);
/// result.WriteReport(Console.Out);
/// </code>
/// </example>
public sealed class BenchRunner
{
    private readonly IActorDbClient _client;
    private readonly WorkloadProperties _workload;
    private readonly BenchOptions _options;
    private readonly TextWriter? _progress;

    /// <summary>Creates a runner; nothing happens until <see cref="RunAsync"/>.</summary>
    public BenchRunner(IActorDbClient client, WorkloadProperties workload, BenchOptions? options = null)
    {
        _client = client ?? throw new ArgumentNullException(nameof(client));
        _workload = workload ?? throw new ArgumentNullException(nameof(workload));
        _options = options ?? new BenchOptions();
        _progress = _options.Progress is { } w ? TextWriter.Synchronized(w) : null;
        if (_options.Threads < 1) throw new ArgumentOutOfRangeException(nameof(options), "Threads must be at least 1");
    }

    /// <summary>
    /// Runs the load and/or run phase. Cancelling <paramref name="ct"/> stops a phase from starting new operations;
    /// operations in flight complete, and the partial result is returned (<see cref="PhaseResult.StoppedEarly"/>).
    /// </summary>
    /// <exception cref="WorkloadException">the table could not be created, or every operation of a phase failed.</exception>
    public async Task<BenchResult> RunAsync(CancellationToken ct = default)
    {
        int seed = _options.Seed ?? Random.Shared.Next();
        var workload = BenchWorkload.Create(_workload);
        try
        {
            await _client.CreateTableAsync(workload.Schema, ct);
        }
        catch (ActorDbException e)
        {
            throw new WorkloadException($"cannot create table '{workload.Schema.Name}': {e.Message}", e);
        }

        using var ackLog = _options.AckLogPath is { } path ? new AckLog(path) : null;
        PhaseResult? load = null, run = null;
        if (_options.Load && workload.LoadCount > 0 && !ct.IsCancellationRequested)
            load = await RunPhaseAsync("load", 0, workload.LoadCount, workload.NextLoad, ["INSERT"], seed, null, ackLog, ct);
        if (_options.Run && !ct.IsCancellationRequested)
            run = await RunPhaseAsync("run", 1, workload.OperationCount, workload.NextOperation, workload.OperationNames, seed,
                _options.MaxExecutionTime ?? _workload.MaxExecutionTime, ackLog, ct);
        return new BenchResult(_workload, _options.Threads, seed, load, run);
    }

    private async Task<PhaseResult> RunPhaseAsync(string phase, int phaseIndex, long count, Func<Random, BenchOperation> next,
        IReadOnlyList<string> names, int seed, TimeSpan? timeLimit, AckLog? ackLog, CancellationToken ct)
    {
        var state = new PhaseState(count, _options.FailFastAfter);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (timeLimit is { } limit) stop.CancelAfter(limit);
        var clock = Stopwatch.StartNew();

        using var progressStop = new CancellationTokenSource();
        var progress = _progress != null || _options.OnProgress != null
            ? ProgressLoopAsync(phase, state, clock, progressStop.Token)
            : Task.CompletedTask;

        var loops = new Task<Dictionary<string, OperationStats>>[_options.Threads];
        for (int i = 0; i < loops.Length; i++)
        {
            var rng = new Random(LoopSeed(seed, phaseIndex, i));
            loops[i] = Task.Run(() => ClientLoopAsync(state, next, rng, ackLog, stop.Token));
        }
        var perLoop = await Task.WhenAll(loops);
        clock.Stop();
        await progressStop.CancelAsync();
        await progress;

        var merged = new Dictionary<string, OperationStats>();
        foreach (var name in names.Concat(perLoop.SelectMany(d => d.Keys)).Distinct())
        {
            var total = new OperationStats(name);
            foreach (var d in perLoop)
                if (d.TryGetValue(name, out var s)) total.Add(s);
            if (total.Operations > 0) merged[name] = total;
        }
        var result = new PhaseResult(phase, clock.Elapsed, merged, Interlocked.Read(ref state.Commits), Interlocked.Read(ref state.WriteCommits),
            stoppedEarly: Interlocked.Read(ref state.Completed) < count, state.FirstError);
        if (result.TotalOperations > 0 && result.OkOperations == 0)
            throw new WorkloadException($"{phase} phase: all {result.TotalOperations} operations failed; first error: {state.FirstError}");
        return result;
    }

    private async Task<Dictionary<string, OperationStats>> ClientLoopAsync(PhaseState state, Func<Random, BenchOperation> next,
        Random rng, AckLog? ackLog, CancellationToken stop)
    {
        var stats = new Dictionary<string, OperationStats>();
        var writes = new List<AckWrite>();
        while (!stop.IsCancellationRequested && !state.FailedFast && Interlocked.Increment(ref state.Claimed) <= state.Count)
        {
            var op = next(rng);
            long start = Stopwatch.GetTimestamp();
            long end;
            int aborts = 0;
            OpStatus status;
            while (true)
            {
                writes.Clear();
                var attempt = await AttemptAsync(op, writes, rng, state);
                end = Stopwatch.GetTimestamp(); // latency ends at the commit acknowledgement, before any logging
                if (attempt.Status is { } s)
                {
                    status = s;
                    if (s == OpStatus.Ok)
                    {
                        Interlocked.Increment(ref state.Commits);
                        _options.CommitGaps?.Acknowledged(DateTime.UtcNow);
                        if (writes.Count > 0)
                        {
                            _options.FirstCommit?.Acknowledged();
                            Interlocked.Increment(ref state.WriteCommits);
                            ackLog?.Append(writes, attempt.CommitLsn);
                        }
                    }
                    break;
                }
                if (++aborts > _options.MaxRetries)
                {
                    status = OpStatus.Error;
                    state.NoteError(op.Name, $"gave up after {aborts} aborted attempts: {attempt.Error}", _progress);
                    break;
                }
                await BackoffAsync(aborts, rng);
            }
            long us = (long)Stopwatch.GetElapsedTime(start, end).TotalMicroseconds;
            op.Completed(status);
            if (!stats.TryGetValue(op.Name, out var os)) stats[op.Name] = os = new OperationStats(op.Name);
            os.Record(status, us, aborts);
            state.Interval.RecordValue(Math.Clamp(us, 1, LatencyStats.HighestTrackableUs));
            Interlocked.Increment(ref state.Completed);
            if (status == OpStatus.Ok) Interlocked.Increment(ref state.Ok);
            else if (status != OpStatus.NotFound) state.NoteFailure();
        }
        return stats;
    }

    /// <summary>One attempt: Status null means a retryable abort.</summary>
    private async Task<(OpStatus? Status, long CommitLsn, string? Error)> AttemptAsync(BenchOperation op, List<AckWrite> writes,
        Random rng, PhaseState state)
    {
        ITransaction? tx = null;
        try
        {
            tx = _client.Begin();
            op.Committed = null;
            var status = await op.ExecuteAsync(tx, writes, rng);
            if (status != OpStatus.Ok)
            {
                if (op.Committed is null) await tx.RollbackAsync();
                return (status, 0, null);
            }
            var info = op.Committed ?? await tx.CommitAsync();
            return (OpStatus.Ok, info.CommitLsn, null);
        }
        catch (StaleEpochException e) when (e.Ambiguous)
        {
            state.NoteError(op.Name, $"ambiguous commit: {e.Message}", _progress);
            return (OpStatus.Ambiguous, 0, e.Message);
        }
        catch (TransactionAbortedException e)
        {
            return (null, 0, $"{e.GetType().Name}: {e.Message}");
        }
        catch (AmbiguousCommitException e)
        {
            state.NoteError(op.Name, $"ambiguous commit: {e.Message}", _progress);
            return (OpStatus.Ambiguous, 0, e.Message);
        }
        catch (Exception e)
        {
            state.NoteError(op.Name, $"{e.GetType().Name}: {e.Message}", _progress);
            return (OpStatus.Error, 0, e.Message);
        }
        finally
        {
            if (tx != null)
            {
                try { await tx.DisposeAsync(); }
                catch (Exception) { /* the outcome is already decided; a failing rollback changes nothing */ }
            }
        }
    }

    /// <summary>Deterministic seed of client loop <paramref name="loop"/> of a phase (SplitMix64 finaliser; stable across processes).</summary>
    internal static int LoopSeed(int seed, int phase, int loop)
    {
        ulong z = unchecked((ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (ulong)phase * 0xBF58476D1CE4E5B9UL + (ulong)loop * 0x94D049BB133111EBUL + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)(z ^ (z >> 31));
    }

    private static async Task BackoffAsync(int aborts, Random rng)
    {
        if (aborts <= 1)
            await Task.Yield();
        else
            await Task.Delay(rng.Next(0, Math.Min(1 << Math.Min(aborts, 6), 50) + 1));
    }

    private async Task ProgressLoopAsync(string phase, PhaseState state, Stopwatch clock, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(_options.ProgressInterval);
        HistogramBase? interval = null;
        long lastOps = 0;
        var lastTime = TimeSpan.Zero;
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                interval = state.Interval.GetIntervalHistogram(interval);
                var now = clock.Elapsed;
                long ops = Interlocked.Read(ref state.Completed);
                double secs = (now - lastTime).TotalSeconds;
                var sample = new BenchProgress(phase, now, ops, secs > 0 ? (ops - lastOps) / secs : 0,
                    interval.TotalCount > 0 ? interval.GetValueAtPercentile(99) : 0,
                    interval.TotalCount > 0 ? interval.GetValueAtPercentile(50) : 0);
                (lastOps, lastTime) = (ops, now);
                _options.OnProgress?.Invoke(sample);
                _progress?.WriteLine(FormatProgress(sample));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Formats a sample: <c>[bench] 12 s: 120345 ops, 10034 ops/s, p99 2100 us</c> (with <c> [load]</c> appended in the load phase).</summary>
    public static string FormatProgress(BenchProgress p) =>
        $"[bench] {(long)p.Elapsed.TotalSeconds} s: {p.Operations} ops, {p.Throughput:0} ops/s, p99 {p.P99Us} us" +
        (p.Phase == "load" ? " [load]" : "");

    /// <summary>
    /// The bank invariant: the sum of all balances and the number of accounts, read in one serializable transaction
    /// (a full scan of <paramref name="table"/> in pages; retried when aborted).
    /// </summary>
    public static async Task<(long sum, long count)> BankInvariant(IActorDbClient client, string table = "accounts",
        CancellationToken ct = default)
    {
        const int page = 1000;
        for (int attempt = 0; ; attempt++)
        {
            await using var tx = client.Begin();
            try
            {
                long sum = 0, count = 0;
                long from = long.MinValue;
                while (true)
                {
                    var rows = await tx.ScanAsync(table, from, page, ct);
                    foreach (var r in rows)
                    {
                        sum += r.Fields.TryGetValue("balance", out var v) && v is long l ? l : 0;
                        count++;
                    }
                    if (rows.Count < page) break;
                    long last = (long)rows[^1].Key;
                    if (last == long.MaxValue) break;
                    from = last + 1;
                }
                await tx.CommitAsync(ct);
                return (sum, count);
            }
            catch (TransactionAbortedException) when (attempt < 100)
            {
                await Task.Delay(Math.Min(10 * (attempt + 1), 200), ct);
            }
        }
    }

    private sealed class PhaseState(long count, int failFastAfter)
    {
        public readonly long Count = count;
        public long Claimed, Completed, Ok, Failed, Commits, WriteCommits;
        public volatile bool FailedFast;
        public string? FirstError;
        private int _reported;

        /// <summary>Latencies of all operations, for the progress lines.</summary>
        public readonly Recorder Interval = new(1, LatencyStats.HighestTrackableUs, LatencyStats.SignificantDigits,
            (id, lo, hi, digits) => new LongConcurrentHistogram(id, lo, hi, digits));

        public void NoteFailure()
        {
            if (Interlocked.Increment(ref Failed) >= failFastAfter && Interlocked.Read(ref Ok) == 0)
                FailedFast = true;
        }

        public void NoteError(string op, string message, TextWriter? progress)
        {
            Interlocked.CompareExchange(ref FirstError, $"{op}: {message}", null);
            if (progress != null && Interlocked.Increment(ref _reported) <= 5)
                progress.WriteLine($"[bench] {op} failed: {message}");
        }
    }
}
