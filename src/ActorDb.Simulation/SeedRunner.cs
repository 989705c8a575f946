namespace ActorDb.Simulation;

/// <summary>The result of many seeds: how many ran, the failing ones, and the time it took (wall clock: measured here,
/// outside every run, never read by one).</summary>
public sealed record SeedsResult(long From, int Count, IReadOnlyList<RunResult> Failures, long Events, TimeSpan Elapsed)
{
    /// <summary>Seeds per second of wall time.</summary>
    public double SeedsPerSecond => Count / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>Runs seeds <c>from .. from+count-1</c>, independent of each other, spread over the machine's cores (each run
/// stays on one thread and shares nothing with another, so the parallelism changes no result).</summary>
public static class SeedRunner
{
    /// <summary>Runs the seeds; <paramref name="onFailure"/> sees each failure as it is found (from any thread, serialised).</summary>
    public static SeedsResult Run(long from, int count, int? parallelism = null, Action<RunResult>? onFailure = null)
    {
        var failures = new List<RunResult>();
        long events = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = parallelism ?? Environment.ProcessorCount }, i =>
        {
            var result = Simulation.RunSafely(from + i);
            Interlocked.Add(ref events, result.Events);
            if (result.Passed) return;
            lock (failures)
            {
                failures.Add(result);
                onFailure?.Invoke(result);
            }
        });
        return new SeedsResult(from, count, failures.OrderBy(f => f.Seed).ToList(), events, clock.Elapsed);
    }
}
