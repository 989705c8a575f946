namespace ActorDb.Cli.Bench;

/// <summary>
/// Watches the acknowledged commits of a run for pauses: a commit acknowledged more than <see cref="Threshold"/> after
/// the one before it ends a gap, which is reported at once (a line with both UTC times) and kept if it is the longest.
/// While a workload keeps commits flowing, a writer failover shows as one gap from the last commit of the old writer to
/// the first of the new one: its upper bound on the time from the writer's failure to the first commit after it.
/// Thread-safe.
/// </summary>
/// <param name="onGap">Told of each gap: its length (ms), the last commit before it and the first after it (UTC).</param>
/// <param name="threshold">Shortest pause reported; default 1 s.</param>
public sealed class CommitGapClock(Action<double, DateTime, DateTime>? onGap = null, TimeSpan? threshold = null)
{
    private readonly Lock _lock = new();
    private DateTime? _last;

    /// <summary>Shortest pause between two acknowledged commits that counts as a gap.</summary>
    public TimeSpan Threshold { get; } = threshold ?? TimeSpan.FromSeconds(1);

    /// <summary>The longest gap so far, ms (0: none above <see cref="Threshold"/>).</summary>
    public double LongestMs { get; private set; }

    /// <summary>How many gaps there were.</summary>
    public int Gaps { get; private set; }

    /// <summary>Forgets the last commit, so a pause the caller made on purpose (between a load and a run phase) is
    /// not a gap.</summary>
    public void Restart()
    {
        lock (_lock) _last = null;
    }

    /// <summary>Records a commit acknowledged at <paramref name="utcNow"/>.</summary>
    public void Acknowledged(DateTime utcNow)
    {
        DateTime before;
        lock (_lock)
        {
            var last = _last;
            if (last is null || utcNow > last) _last = utcNow;
            if (last is null || utcNow - last.Value <= Threshold) return;
            before = last.Value;
            var ms = (utcNow - before).TotalMilliseconds;
            Gaps++;
            if (ms > LongestMs) LongestMs = ms;
        }
        onGap?.Invoke((utcNow - before).TotalMilliseconds, before, utcNow);
    }
}
