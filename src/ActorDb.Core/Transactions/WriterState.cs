namespace ActorDb.Core.Transactions;

/// <summary>
/// The writer's life cycle, as typed states with one rule for which moves are legal (<see cref="Transition"/>), in the
/// manner of Akka.NET's <c>Shard.EntityState</c>:
/// <code>
/// Opening ──▶ Serving ──▶ Draining ──▶ Stopped
///    │  ╲        │           │
///    │   ╲───────┼───────────┴──▶ Fenced (a newer epoch took the volume)
///    └──▶ Failed (the volume header cannot be loaded)
/// </code>
/// Opening may also go straight to Draining (a drain asked for before the format MTR is durable), and a second drain
/// restarts a drain's wait (Draining to Draining, with the new deadline). Stopped, Fenced and Failed are final: the writer is never restarted, its supervisor recovers the volume in a new epoch.
/// </summary>
public abstract record WriterState
{
    private WriterState() { }

    /// <summary>The name the writer's status reports (<c>opening</c>, <c>serving</c>, ...).</summary>
    public abstract string Name { get; }

    /// <summary>True when no further transition is legal.</summary>
    public bool IsFinal => this is Stopped or Fenced or Failed;

    /// <summary>Started on a recovered volume: loading the catalog, or formatting a new volume until its MTR is durable.</summary>
    public sealed record Opening : WriterState
    {
        /// <summary>The instance.</summary>
        public static readonly Opening Instance = new();
        /// <inheritdoc />
        public override string Name => "opening";
    }

    /// <summary>Executing statements and committing.</summary>
    public sealed record Serving : WriterState
    {
        /// <summary>The instance.</summary>
        public static readonly Serving Instance = new();
        /// <inheritdoc />
        public override string Name => "serving";
    }

    /// <summary>A clean stop in progress: nothing new accepted, waiting (until <paramref name="Deadline"/>) for the commits
    /// in flight to become durable.</summary>
    public sealed record Draining(DateTime Deadline) : WriterState
    {
        /// <inheritdoc />
        public override string Name => "draining";
    }

    /// <summary>Drained: every request gets an error saying nothing of it was done.</summary>
    public sealed record Stopped : WriterState
    {
        /// <summary>The instance.</summary>
        public static readonly Stopped Instance = new();
        /// <inheritdoc />
        public override string Name => "stopped";
    }

    /// <summary>A segment reported <paramref name="ByEpoch"/>, newer than this writer's: no further commit can be
    /// acknowledged. <paramref name="Reason"/> is the status's failure text.</summary>
    public sealed record Fenced(long ByEpoch, string Reason) : WriterState
    {
        /// <inheritdoc />
        public override string Name => "fenced";
    }

    /// <summary>The writer could not open the volume: <paramref name="Reason"/>.</summary>
    public sealed record Failed(string Reason) : WriterState
    {
        /// <inheritdoc />
        public override string Name => "failed";
    }

    /// <summary>The failure text of a fenced or failed writer, null otherwise.</summary>
    public string? Failure => this switch { Fenced f => f.Reason, Failed f => f.Reason, _ => null };

    /// <summary>Moves to <paramref name="next"/> when the life cycle allows it (see the type's diagram).</summary>
    /// <returns><paramref name="next"/>.</returns>
    /// <exception cref="InvalidOperationException">the move is illegal, naming both states.</exception>
    public WriterState Transition(WriterState next)
    {
        var legal = (this, next) switch
        {
            (Opening, Serving or Draining or Fenced or Failed) => true,
            (Serving, Draining or Fenced) => true,
            (Draining, Draining or Stopped or Fenced) => true,
            _ => false,
        };
        return legal ? next : throw new InvalidOperationException($"the writer cannot go from {Name} to {next.Name}");
    }
}
