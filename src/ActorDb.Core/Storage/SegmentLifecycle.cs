namespace ActorDb.Core.Storage;

/// <summary>
/// Where a storage segment is in its life: <see cref="Opening"/> until its files open, then <see cref="Serving"/>;
/// <see cref="Faulted"/> by a storage error (it retries in place and serves again once its files reopen),
/// <see cref="Failed"/> by any other error (it acknowledges nothing more until restarted), <see cref="Stopping"/> while
/// the last sync of a graceful stop runs. Moves only by <see cref="Transition"/>, which refuses a move the segment never
/// makes.
/// <para>What is not here, and why: a page copy and a catch-up run while the segment serves (each is its own nullable
/// record in the segment); being fenced is the durable epoch above the opened one in <see cref="SegmentMetadata"/>, never
/// a separate flag.</para>
/// </summary>
public abstract record SegmentLifecycle
{
    private SegmentLifecycle() { }

    /// <summary>The files are not open yet, or the last open failed (<paramref name="Reason"/> says why; null before the
    /// first try): it holds nothing it can serve.</summary>
    public sealed record Opening(string? Reason) : SegmentLifecycle;

    /// <summary>Open and taking records.</summary>
    public sealed record Serving : SegmentLifecycle
    {
        /// <summary>The one instance.</summary>
        public static readonly Serving Instance = new();
    }

    /// <summary>Asked to stop while records wait for their sync: it takes no more and stops once they are acknowledged.</summary>
    public sealed record Stopping : SegmentLifecycle
    {
        /// <summary>The one instance.</summary>
        public static readonly Stopping Instance = new();
    }

    /// <summary>A write, sync, checkpoint or reopen failed with a storage error of <paramref name="Kind"/>
    /// (<see cref="StorageFailureKind.DiskFull"/> or <see cref="StorageFailureKind.IoError"/>): it takes no records and
    /// retries in place; <paramref name="Reason"/> is the text its rejections carry.</summary>
    public sealed record Faulted(StorageFailureKind Kind, string Reason) : SegmentLifecycle;

    /// <summary>Failed with an error that is not a storage error: it acknowledges nothing more until restarted (unless a
    /// storage fault follows, whose reopen reads everything from disk again).</summary>
    public sealed record Failed(string Reason) : SegmentLifecycle;

    /// <summary>Why the segment cannot take records in this state (the text of its rejections), or null when it can or is
    /// only stopping.</summary>
    public string? Failure => this switch
    {
        Opening o => o.Reason,
        Faulted f => f.Reason,
        Failed f => f.Reason,
        _ => null,
    };

    /// <summary>Faulted or failed: a failure is recorded (<see cref="Failure"/> is its text).</summary>
    public bool HasFailed => this is Faulted or Failed;

    /// <summary>The next state, <paramref name="next"/>, when the segment makes that move; the legal moves are
    /// Opening → Opening | Serving; Serving → Stopping | Faulted | Failed; Stopping → Faulted | Failed;
    /// Faulted → Faulted | Serving; Failed → Faulted.</summary>
    /// <exception cref="InvalidOperationException">a move the segment never makes (names both states).</exception>
    public SegmentLifecycle Transition(SegmentLifecycle next) => (this, next) switch
    {
        (Opening, Opening or Serving) => next,
        (Serving, Stopping or Faulted or Failed) => next,
        (Stopping, Faulted or Failed) => next,
        (Faulted, Faulted or Serving) => next,
        (Failed, Faulted) => next,
        _ => throw new InvalidOperationException($"segment lifecycle: no move from {Name} to {next.Name}"),
    };

    /// <summary>The state's name for logs and errors.</summary>
    public string Name => GetType().Name;
}
