namespace ActorDb;

/// <summary>
/// When to log conditions that may repeat many times a second (refusals from one sender, a segment that rejects every
/// batch, a page no copy can serve): each condition, named by a key, is logged once when it starts, then as at most one
/// summary line per <c>summaryEvery</c> with the count since its last line, and once when it ends (no occurrence for
/// <c>endAfter</c>); never once per event. Pure bookkeeping: the caller passes the time (so it is tested without
/// sleeping), calls <see cref="Due"/> from a periodic tick, and writes the lines. Not thread-safe (one actor owns it).
/// </summary>
/// <param name="summaryEvery">The shortest time between two summary lines of one condition.</param>
/// <param name="endAfter">A condition with no occurrence for this long has ended.</param>
public sealed class RepeatedConditions(TimeSpan summaryEvery, TimeSpan endAfter)
{
    /// <summary>The summary period and end time of <see cref="RepeatedConditions()"/>: 10 s (issue 12: "one summary line
    /// with a count at most every 10 s").</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(10);

    /// <summary>Summaries at most every <see cref="DefaultInterval"/>; a condition ends after as long without occurrence.</summary>
    public RepeatedConditions() : this(DefaultInterval, DefaultInterval) { }

    /// <summary>The shortest time between two summary lines of one condition.</summary>
    public TimeSpan SummaryEvery => summaryEvery;

    private sealed class State(DateTime now)
    {
        public long Total = 1;
        public long SinceLine;
        public DateTime Last = now;
        public DateTime LastLine = now;
    }

    private readonly Dictionary<string, State> _open = new();

    /// <summary>The conditions going on now (started and not yet ended).</summary>
    public int Count => _open.Count;

    /// <summary>Whether the condition <paramref name="key"/> is going on.</summary>
    public bool IsActive(string key) => _open.ContainsKey(key);

    /// <summary>Counts one occurrence of <paramref name="key"/> at <paramref name="now"/>; true when it starts the
    /// condition (log it now), false when it is counted for the next summary.</summary>
    public bool Occurred(string key, DateTime now)
    {
        if (_open.TryGetValue(key, out var s))
        {
            s.Total++;
            s.SinceLine++;
            s.Last = now;
            return false;
        }
        _open[key] = new State(now);
        return true;
    }

    /// <summary>What to log at <paramref name="now"/>: a summary of each condition that occurred again since its last
    /// line and whose last line is at least <c>summaryEvery</c> old, and the end of each condition quiet for
    /// <c>endAfter</c> (which is then forgotten: its next occurrence starts it again). Call it periodically.</summary>
    public IReadOnlyList<Line> Due(DateTime now)
    {
        List<Line>? due = null;
        foreach (var (key, s) in _open)
        {
            if (now - s.Last >= endAfter)
                (due ??= new()).Add(new Line(key, true, s.SinceLine, s.Total));
            else if (s.SinceLine > 0 && now - s.LastLine >= summaryEvery)
            {
                (due ??= new()).Add(new Line(key, false, s.SinceLine, s.Total));
                s.SinceLine = 0;
                s.LastLine = now;
            }
        }
        if (due is null) return [];
        foreach (var line in due)
            if (line.Ended) _open.Remove(line.Key);
        return due;
    }

    /// <summary>A line to log.</summary>
    /// <param name="Key">The condition.</param>
    /// <param name="Ended">It ended (quiet for <c>endAfter</c>); otherwise a periodic summary.</param>
    /// <param name="Count">Occurrences since the condition's last line (its start or its last summary).</param>
    /// <param name="Total">Occurrences since the condition started.</param>
    public readonly record struct Line(string Key, bool Ended, long Count, long Total);
}
