namespace ActorDb.Simulation;

/// <summary>A simulated process: something that can crash. Events it owns are dropped once it is down or restarted
/// (a timer or an I/O completion of a dead process never fires in the new one).</summary>
public sealed class SimNode(string address, string az)
{
    /// <summary>The node's address, e.g. <c>storage-3</c>, <c>writer-0</c>.</summary>
    public string Address { get; } = address;
    /// <summary>The node's availability zone, <c>az-a</c>..<c>az-c</c>.</summary>
    public string Az { get; } = az;
    /// <summary>False from a crash until its restart.</summary>
    public bool Up { get; set; } = true;
    /// <summary>Bumped at every restart; events of an older incarnation are dropped.</summary>
    public int Incarnation { get; set; }
    /// <summary>How far this node's clock runs ahead of simulated time (clock jumps only move it forward).</summary>
    public TimeSpan ClockAhead { get; set; }

    /// <summary>The time this node's engines see at simulated time <paramref name="now"/>.</summary>
    public DateTime LocalTime(DateTime now) => now + ClockAhead;

    /// <inheritdoc />
    public override string ToString() => Address;
}

/// <summary>
/// Simulated time: a priority queue of events ordered by (time, sequence), the sequence being the order they were
/// scheduled in, so two events at the same instant run in a reproducible order. One thread; no wall clock.
/// </summary>
public sealed class SimScheduler(SimTrace trace)
{
    /// <summary>The instant simulated time starts at (UTC; any fixed value would do).</summary>
    public static readonly DateTime Origin = new(2030, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private readonly PriorityQueue<Event, (long Ticks, long Seq)> _queue = new();
    private long _seq;

    private sealed record Event(SimNode? Owner, int Incarnation, string Label, Action Run);

    /// <summary>Simulated time now.</summary>
    public DateTime Now { get; private set; } = Origin;

    /// <summary>Events run so far (dropped ones not counted).</summary>
    public long Executed { get; private set; }

    /// <summary>Events waiting.</summary>
    public int Pending => _queue.Count;

    /// <summary>Runs <paramref name="run"/> at <paramref name="at"/> (not before now); when <paramref name="owner"/> is
    /// given, only if it is up and in the same incarnation then. <paramref name="label"/> names it in the trace.</summary>
    public void At(DateTime at, SimNode? owner, string label, Action run)
    {
        if (at < Now) at = Now;
        _queue.Enqueue(new Event(owner, owner?.Incarnation ?? 0, label, run), (at.Ticks, _seq++));
    }

    /// <summary>Runs <paramref name="run"/> after <paramref name="delay"/>.</summary>
    public void After(TimeSpan delay, SimNode? owner, string label, Action run) => At(Now + delay, owner, label, run);

    /// <summary>Runs events up to <paramref name="until"/>, then moves time there; false when <see cref="Executed"/>
    /// reached <paramref name="maxEvents"/> first (time then stays at the last event).</summary>
    public bool RunUntil(DateTime until, long maxEvents)
    {
        while (RunNext(until))
            if (Executed >= maxEvents) return false;
        if (until > Now) Now = until;
        return true;
    }

    /// <summary>Runs the next event; false when none is left or the next is after <paramref name="until"/>.</summary>
    public bool RunNext(DateTime until)
    {
        if (!_queue.TryPeek(out var e, out var key) || key.Ticks > until.Ticks) return false;
        _queue.Dequeue();
        Now = new DateTime(key.Ticks, DateTimeKind.Utc);
        if (e.Owner is { } o && (!o.Up || o.Incarnation != e.Incarnation))
        {
            if (trace.Enabled) trace.Line(Now, $"(dropped: {o} restarted or down) {e.Label}");
            return true;
        }
        if (trace.Enabled) trace.Line(Now, e.Label);
        Executed++;
        e.Run();
        return true;
    }
}

/// <summary>The readable trace of a run (<c>--trace</c>): one line per event, prefixed with simulated milliseconds.
/// Off, it costs one branch per event (labels are built by callers only when <see cref="Enabled"/>).</summary>
public sealed class SimTrace(bool enabled, TextWriter? sink = null)
{
    private readonly List<string> _lines = new();

    /// <summary>Whether lines are kept.</summary>
    public bool Enabled { get; } = enabled;

    /// <summary>The lines so far.</summary>
    public IReadOnlyList<string> Lines => _lines;

    /// <summary>Adds a line at simulated time <paramref name="at"/>.</summary>
    public void Line(DateTime at, string text)
    {
        if (!Enabled) return;
        var line = $"{(at - SimScheduler.Origin).TotalMilliseconds,10:F3} ms  {text}";
        if (sink is not null) sink.WriteLine(line);
        else _lines.Add(line);
    }
}
