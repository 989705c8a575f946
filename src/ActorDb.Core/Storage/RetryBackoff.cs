namespace ActorDb.Core.Storage;

/// <summary>
/// Exponential back-off of a segment's retries after a storage fault: the first wait is <see cref="Initial"/>, each next one
/// twice the last, never above <see cref="Max"/>; <see cref="Reset"/> after a success. Pure bookkeeping; not thread-safe.
/// </summary>
public sealed class RetryBackoff
{
    private TimeSpan _next;

    /// <summary>Creates it.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="initial"/> is not positive or <paramref name="max"/> is below it.</exception>
    public RetryBackoff(TimeSpan initial, TimeSpan max)
    {
        if (initial <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(initial), initial, "the first retry wait must be positive");
        if (max < initial) throw new ArgumentOutOfRangeException(nameof(max), max, $"the longest retry wait must be at least the first, {initial}");
        Initial = initial;
        Max = max;
        _next = initial;
    }

    /// <summary>The first wait.</summary>
    public TimeSpan Initial { get; }

    /// <summary>The longest wait.</summary>
    public TimeSpan Max { get; }

    /// <summary>Retries taken since the last <see cref="Reset"/>.</summary>
    public int Attempts { get; private set; }

    /// <summary>The wait before the next retry (and doubles the one after it, up to <see cref="Max"/>).</summary>
    public TimeSpan Next()
    {
        var wait = _next;
        _next = _next >= Max / 2 ? Max : _next * 2;
        Attempts++;
        return wait;
    }

    /// <summary>Back to <see cref="Initial"/> after a success.</summary>
    public void Reset()
    {
        _next = Initial;
        Attempts = 0;
    }
}
