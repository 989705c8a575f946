namespace ActorDb.Core.Storage;

/// <summary>
/// The retries of an operation that keeps failing (a segment's open): the delay before each retry doubles from
/// <c>min</c> to <c>max</c>, and the failures are logged when they start, as one summary at most every
/// <c>summaryEvery</c> with the count since the last line, and when they end (never once per attempt). Pure bookkeeping:
/// the caller passes the time, schedules the retry and writes the lines. Not thread-safe (one actor owns it).
/// </summary>
public sealed class RetryBackoff
{
    private readonly TimeSpan _min;
    private readonly TimeSpan _max;
    private readonly TimeSpan _summaryEvery;
    private DateTime _lastLine;
    private long _sinceLine;

    /// <summary>A back-off from <paramref name="min"/> doubling to <paramref name="max"/>, summarised every <paramref name="summaryEvery"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="min"/> not positive, <paramref name="max"/> below it, or a non-positive summary interval.</exception>
    public RetryBackoff(TimeSpan min, TimeSpan max, TimeSpan summaryEvery)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(min, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, min);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(summaryEvery, TimeSpan.Zero);
        (_min, _max, _summaryEvery) = (min, max, summaryEvery);
    }

    /// <summary>Failures in a row (0: not failing).</summary>
    public long Failures { get; private set; }

    /// <summary>When the first failure of this run happened (UTC; meaningless while <see cref="Failures"/> is 0).</summary>
    public DateTime FailingSince { get; private set; }

    /// <summary>The delay before retry number <paramref name="failures"/> (1 after the first failure): min x 2^(failures-1), at most max.</summary>
    public static TimeSpan Delay(long failures, TimeSpan min, TimeSpan max)
    {
        if (failures <= 1) return min;
        var shift = (int)Math.Min(failures - 1, 30);
        var ticks = min.Ticks << shift;
        return ticks <= 0 || ticks > max.Ticks ? max : TimeSpan.FromTicks(ticks);
    }

    /// <summary>Counts one failure at <paramref name="now"/>.</summary>
    /// <returns>The delay before the next attempt, and what to log: <see cref="RetryLine.Started"/> for the first
    /// failure, <see cref="RetryLine.Summary"/> when a summary is due (<paramref name="sinceLastLine"/> failures since the
    /// previous line), else <see cref="RetryLine.None"/>.</returns>
    public (TimeSpan Delay, RetryLine Line) Failed(DateTime now, out long sinceLastLine)
    {
        Failures++;
        _sinceLine++;
        var line = RetryLine.None;
        if (Failures == 1)
        {
            FailingSince = now;
            line = RetryLine.Started;
        }
        else if (now - _lastLine >= _summaryEvery) line = RetryLine.Summary;
        sinceLastLine = _sinceLine;
        if (line != RetryLine.None)
        {
            _lastLine = now;
            _sinceLine = 0;
        }
        return (Delay(Failures, _min, _max), line);
    }

    /// <summary>The operation succeeded: returns the failures it took (0: it had not failed, log nothing) and resets.</summary>
    public long Succeeded()
    {
        var failures = Failures;
        Failures = 0;
        _sinceLine = 0;
        return failures;
    }
}

/// <summary>What a <see cref="RetryBackoff"/> failure asks its owner to log.</summary>
public enum RetryLine
{
    /// <summary>Nothing (counted into the next summary).</summary>
    None,
    /// <summary>The first failure: the condition starts (log it with the error).</summary>
    Started,
    /// <summary>A summary of the failures since the previous line is due.</summary>
    Summary,
}
