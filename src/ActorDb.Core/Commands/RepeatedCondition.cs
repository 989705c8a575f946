namespace ActorDb.Core.Commands;

/// <summary>
/// When to log a condition that may repeat many times a second (connections refused, clients disconnected): once when
/// it starts, then at most one summary per <c>interval</c> with the count since the last line, and once when it ends
/// (an interval passes with no occurrence). Pure: the caller passes the time and logs what it is told. Not thread-safe.
/// </summary>
/// <param name="interval">The summary period, and the quiet time after which the condition has ended.</param>
public sealed class RepeatedCondition(TimeSpan interval)
{
    private bool _active;
    private long _sinceLine, _total;
    private DateTime _lastLine, _lastSeen;

    /// <summary>Whether the condition is going on (started and not yet ended).</summary>
    public bool Active => _active;

    /// <summary>Records one occurrence at <paramref name="now"/>. True when it starts the condition: log it.</summary>
    public bool Occurred(DateTime now)
    {
        _lastSeen = now;
        _total++;
        if (_active)
        {
            _sinceLine++;
            return false;
        }
        (_active, _sinceLine, _lastLine, _total) = (true, 0, now, 1);
        return true;
    }

    /// <summary>Called periodically (at least once per interval). Returns what to log at <paramref name="now"/>: a
    /// summary (<see cref="Report.Summary"/>, with the occurrences since the last line), the end (<see cref="Report.Ended"/>,
    /// with the total of the episode), or null.</summary>
    public Report? Tick(DateTime now)
    {
        if (!_active || now - _lastLine < interval) return null;
        if (now - _lastSeen >= interval)
        {
            _active = false;
            return new Report(true, _sinceLine, _total);
        }
        if (_sinceLine == 0) return null;
        var report = new Report(false, _sinceLine, _total);
        (_sinceLine, _lastLine) = (0, now);
        return report;
    }

    /// <summary>A line to log.</summary>
    /// <param name="Ended">The condition ended (no occurrence for an interval); else a periodic summary.</param>
    /// <param name="Count">Occurrences since the last line logged.</param>
    /// <param name="Total">Occurrences since the condition started.</param>
    public sealed record Report(bool Ended, long Count, long Total)
    {
        /// <summary>A summary.</summary>
        public bool Summary => !Ended;
    }
}
