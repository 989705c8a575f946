using System.Globalization;
using HdrHistogram;

namespace ActorDb.Cli.Bench;

/// <summary>The outcome of one operation, as YCSB's status names it in <c>Return=</c> lines.</summary>
public enum OpStatus
{
    /// <summary>Committed as intended.</summary>
    Ok,
    /// <summary>The row the operation needed did not exist; the transaction was rolled back.</summary>
    NotFound,
    /// <summary>An error other than a retryable abort (or retries were exhausted); the transaction was rolled back.</summary>
    Error,
    /// <summary>The commit's outcome is unknown (<c>AmbiguousCommitException</c>, or a fenced commit that may have reached storage).</summary>
    Ambiguous,
}

/// <summary>Latency histogram with exact count, min, max and mean, in microseconds.</summary>
public sealed class LatencyStats
{
    /// <summary>Highest trackable latency: 60 s in microseconds (larger values are clamped).</summary>
    public const long HighestTrackableUs = 60_000_000;

    /// <summary>Significant decimal digits kept by the histograms.</summary>
    public const int SignificantDigits = 3;

    private long _min = long.MaxValue, _max, _sum;

    /// <summary>The HdrHistogram (1 µs .. 60 s, 3 significant digits).</summary>
    public LongHistogram Histogram { get; } = NewHistogram();

    /// <summary>Values recorded.</summary>
    public long Count => Histogram.TotalCount;

    /// <summary>Smallest value recorded (0 when none).</summary>
    public long Min => Count == 0 ? 0 : _min;

    /// <summary>Largest value recorded (exact, before clamping).</summary>
    public long Max => _max;

    /// <summary>Exact mean (0 when none).</summary>
    public double Mean => Count == 0 ? 0 : (double)_sum / Count;

    /// <summary>Value at a percentile (0..100), from the histogram.</summary>
    public long Percentile(double percentile) => Count == 0 ? 0 : Histogram.GetValueAtPercentile(percentile);

    /// <summary>Records a latency in microseconds. Not thread-safe.</summary>
    public void Record(long us)
    {
        if (us < 0) us = 0;
        Histogram.RecordValue(Math.Min(us, HighestTrackableUs));
        if (us < _min) _min = us;
        if (us > _max) _max = us;
        _sum += us;
    }

    /// <summary>Adds every value of <paramref name="other"/>. Not thread-safe.</summary>
    public void Add(LatencyStats other)
    {
        if (other.Count == 0) return;
        Histogram.Add(other.Histogram);
        _min = Math.Min(_min, other._min);
        _max = Math.Max(_max, other._max);
        _sum += other._sum;
    }

    /// <summary>A histogram with this class's range and precision.</summary>
    public static LongHistogram NewHistogram() => new(1, HighestTrackableUs, SignificantDigits);
}

/// <summary>Everything measured for one operation type (READ, UPDATE, TX, ...) in one phase.</summary>
public sealed class OperationStats(string name)
{
    private readonly long[] _returns = new long[Enum.GetValues<OpStatus>().Length];

    /// <summary>YCSB operation name: READ, UPDATE, INSERT, SCAN, READ-MODIFY-WRITE, TX, TRANSFER.</summary>
    public string Name { get; } = name;

    /// <summary>Latencies of successful operations (from the first Begin to the commit acknowledgement, retries included).</summary>
    public LatencyStats Ok { get; } = new();

    /// <summary>Latencies of operations that did not succeed (reported as <c>[NAME-FAILED]</c>).</summary>
    public LatencyStats Failed { get; } = new();

    /// <summary>Aborted attempts (<c>TransactionAbortedException</c> and subclasses) that were retried or gave up.</summary>
    public long Aborts { get; private set; }

    /// <summary>Operations that completed, whatever their status.</summary>
    public long Operations => Ok.Count + Failed.Count;

    /// <summary>Operations that ended with <paramref name="status"/>.</summary>
    public long Returns(OpStatus status) => _returns[(int)status];

    /// <summary>Records one completed operation. Not thread-safe.</summary>
    public void Record(OpStatus status, long latencyUs, int aborts)
    {
        (status == OpStatus.Ok ? Ok : Failed).Record(latencyUs);
        _returns[(int)status]++;
        Aborts += aborts;
    }

    /// <summary>Adds another thread's stats for the same operation. Not thread-safe.</summary>
    public void Add(OperationStats other)
    {
        Ok.Add(other.Ok);
        Failed.Add(other.Failed);
        for (int i = 0; i < _returns.Length; i++) _returns[i] += other._returns[i];
        Aborts += other.Aborts;
    }

    internal static string ReturnName(OpStatus s) => s switch
    {
        OpStatus.Ok => "OK",
        OpStatus.NotFound => "NOT_FOUND",
        OpStatus.Ambiguous => "AMBIGUOUS",
        _ => "ERROR",
    };
}

/// <summary>The measurements of one phase (load or run).</summary>
public sealed class PhaseResult
{
    /// <summary>Creates a phase result.</summary>
    public PhaseResult(string name, TimeSpan runTime, IReadOnlyDictionary<string, OperationStats> operations, long commits,
        long writeCommits, bool stoppedEarly, string? firstError)
    {
        Name = name;
        RunTime = runTime;
        Operations = operations;
        Commits = commits;
        WriteCommits = writeCommits;
        StoppedEarly = stoppedEarly;
        FirstError = firstError;
    }

    /// <summary><c>load</c> or <c>run</c>.</summary>
    public string Name { get; }

    /// <summary>Wall time of the phase.</summary>
    public TimeSpan RunTime { get; }

    /// <summary>Per operation type, in the order they first completed.</summary>
    public IReadOnlyDictionary<string, OperationStats> Operations { get; }

    /// <summary>Operations completed (any status).</summary>
    public long TotalOperations => Operations.Values.Sum(o => o.Operations);

    /// <summary>Operations that succeeded.</summary>
    public long OkOperations => Operations.Values.Sum(o => o.Returns(OpStatus.Ok));

    /// <summary>Operations that did not succeed (including NOT_FOUND and AMBIGUOUS).</summary>
    public long FailedOperations => TotalOperations - OkOperations;

    /// <summary>Aborted attempts over all operation types.</summary>
    public long Aborts => Operations.Values.Sum(o => o.Aborts);

    /// <summary>Commits acknowledged by the database (including commits of read-only transactions).</summary>
    public long Commits { get; }

    /// <summary>Acknowledged commits that changed at least one row (the denominator for bytes or fsyncs per commit).</summary>
    public long WriteCommits { get; }

    /// <summary>Operations per second over <see cref="RunTime"/>.</summary>
    public double Throughput => RunTime.TotalSeconds > 0 ? TotalOperations / RunTime.TotalSeconds : 0;

    /// <summary>True when the phase ended before its operation count (cancellation or maxexecutiontime).</summary>
    public bool StoppedEarly { get; }

    /// <summary>The first error (not a retried abort) seen, for diagnostics.</summary>
    public string? FirstError { get; }

    /// <summary>
    /// Writes the phase in YCSB's format: <c>[overall], RunTime(ms)</c>, <c>[overall], Throughput(ops/sec)</c>, then per
    /// operation <c>Operations</c>, <c>AverageLatency(us)</c>, <c>MinLatency(us)</c>, <c>MaxLatency(us)</c>,
    /// <c>95thPercentileLatency(us)</c>, <c>99thPercentileLatency(us)</c>, <c>Return=...</c> and <c>Aborts</c>, and
    /// the same latency lines for <c>[NAME-FAILED]</c> when some failed.
    /// </summary>
    /// <param name="w">Destination.</param>
    /// <param name="overallLabel">Label of the first two lines (<c>OVERALL</c>).</param>
    /// <param name="opPrefix">Prepended to every operation name (e.g. <c>LOAD-</c>).</param>
    public void WriteReport(TextWriter w, string overallLabel = "OVERALL", string opPrefix = "")
    {
        w.WriteLine($"[{overallLabel}], RunTime(ms), {(long)RunTime.TotalMilliseconds}");
        w.WriteLine($"[{overallLabel}], Throughput(ops/sec), {F(Throughput)}");
        foreach (var op in Operations.Values)
        {
            var name = opPrefix + op.Name;
            WriteLatency(w, name, op.Ok);
            foreach (var s in Enum.GetValues<OpStatus>())
                if (op.Returns(s) > 0 || s == OpStatus.Ok)
                    w.WriteLine($"[{name}], Return={OperationStats.ReturnName(s)}, {op.Returns(s)}");
            w.WriteLine($"[{name}], Aborts, {op.Aborts}");
            if (op.Failed.Count > 0)
                WriteLatency(w, name + "-FAILED", op.Failed);
        }
    }

    private static void WriteLatency(TextWriter w, string name, LatencyStats s)
    {
        w.WriteLine($"[{name}], Operations, {s.Count}");
        w.WriteLine($"[{name}], AverageLatency(us), {F(s.Mean)}");
        w.WriteLine($"[{name}], MinLatency(us), {s.Min}");
        w.WriteLine($"[{name}], MaxLatency(us), {s.Max}");
        w.WriteLine($"[{name}], 50thPercentileLatency(us), {s.Percentile(50)}");
        w.WriteLine($"[{name}], 95thPercentileLatency(us), {s.Percentile(95)}");
        w.WriteLine($"[{name}], 99thPercentileLatency(us), {s.Percentile(99)}");
    }

    internal static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}

/// <summary>The result of <see cref="BenchRunner.RunAsync"/>: the load and run phases that were executed.</summary>
public sealed class BenchResult
{
    /// <summary>Creates a result.</summary>
    public BenchResult(WorkloadProperties workload, int threads, int seed, PhaseResult? load, PhaseResult? run)
    {
        Workload = workload;
        Threads = threads;
        Seed = seed;
        Load = load;
        Run = run;
    }

    /// <summary>The workload that ran.</summary>
    public WorkloadProperties Workload { get; }

    /// <summary>Client loops per phase.</summary>
    public int Threads { get; }

    /// <summary>The seed in force (the one given, or the one drawn when none was).</summary>
    public int Seed { get; }

    /// <summary>The load phase, when it ran.</summary>
    public PhaseResult? Load { get; }

    /// <summary>The run phase, when it ran.</summary>
    public PhaseResult? Run { get; }

    /// <summary>Acknowledged commits of both phases.</summary>
    public long Commits => (Load?.Commits ?? 0) + (Run?.Commits ?? 0);

    /// <summary>Acknowledged commits of both phases that changed at least one row.</summary>
    public long WriteCommits => (Load?.WriteCommits ?? 0) + (Run?.WriteCommits ?? 0);

    /// <summary>Aborted attempts of both phases.</summary>
    public long Aborts => (Load?.Aborts ?? 0) + (Run?.Aborts ?? 0);

    /// <summary>Operations of the run phase (0 when it did not run).</summary>
    public long Operations => Run?.TotalOperations ?? 0;

    /// <summary>Run phase wall time.</summary>
    public TimeSpan RunTime => Run?.RunTime ?? TimeSpan.Zero;

    /// <summary>Run phase throughput (ops/s).</summary>
    public double Throughput => Run?.Throughput ?? 0;

    /// <summary>
    /// The YCSB-style report: the load phase as <c>[LOAD], RunTime(ms)</c> / <c>[LOAD], Throughput(ops/sec)</c> and
    /// <c>[LOAD-INSERT], ...</c>, then the run phase as <c>[OVERALL], ...</c> and <c>[READ], ...</c> etc.
    /// (When only the load phase ran, it is reported as <c>[OVERALL]</c>/<c>[INSERT]</c>, as YCSB's load does.)
    /// ActorDb's own lines (commits, VDL, bytes and fsyncs per commit) are appended by the caller.
    /// </summary>
    public void WriteReport(TextWriter w)
    {
        if (Load != null && Run != null)
            Load.WriteReport(w, "LOAD", "LOAD-");
        else
            Load?.WriteReport(w);
        Run?.WriteReport(w);
    }

    /// <summary>The report as a string.</summary>
    public override string ToString()
    {
        var sw = new StringWriter();
        WriteReport(sw);
        return sw.ToString();
    }
}
