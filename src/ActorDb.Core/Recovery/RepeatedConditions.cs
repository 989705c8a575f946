namespace ActorDb.Core.Recovery;

/// <summary>
/// Logs a repeated condition (e.g. refusals of one kind from one sender) when it starts, as a periodic summary with the
/// count, and when it ends, never once per event. Pure bookkeeping: the caller passes the time and writes the lines.
/// Not thread-safe (one actor owns it).
/// </summary>
/// <param name="summaryEvery">How often a condition still occurring is summarised.</param>
/// <param name="endAfter">A condition with no occurrence for this long has ended.</param>
public sealed class RepeatedConditions(TimeSpan summaryEvery, TimeSpan endAfter)
{
    private sealed class State(DateTime now)
    {
        public long Total = 1;
        public long SinceSummary;
        public DateTime Last = now;
        public DateTime LastSummary = now;
    }

    private readonly Dictionary<string, State> _open = new();

    /// <summary>The conditions occurring now.</summary>
    public int Count => _open.Count;

    /// <summary>Counts one occurrence of <paramref name="key"/>; true when it starts the condition (log it now).</summary>
    public bool Occurred(string key, DateTime now)
    {
        if (_open.TryGetValue(key, out var s))
        {
            s.Total++;
            s.SinceSummary++;
            s.Last = now;
            return false;
        }
        _open[key] = new State(now);
        return true;
    }

    /// <summary>What to log now: a summary of each condition that occurred again since its last line and is due
    /// (<c>Ended</c> false, <c>Count</c> the occurrences since that line), and each condition that has ended
    /// (<c>Ended</c> true, <c>Count</c> all its occurrences), which is forgotten.</summary>
    public IReadOnlyList<(string Key, long Count, bool Ended)> Due(DateTime now)
    {
        List<(string, long, bool)>? due = null;
        foreach (var (key, s) in _open.ToList())
        {
            if (now - s.Last >= endAfter)
            {
                _open.Remove(key);
                (due ??= new()).Add((key, s.Total, true));
            }
            else if (s.SinceSummary > 0 && now - s.LastSummary >= summaryEvery)
            {
                (due ??= new()).Add((key, s.SinceSummary, false));
                s.SinceSummary = 0;
                s.LastSummary = now;
            }
        }
        return due ?? (IReadOnlyList<(string, long, bool)>)[];
    }
}
