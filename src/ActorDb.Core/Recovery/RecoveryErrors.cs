namespace ActorDb.Core.Recovery;

/// <summary>
/// The errors of the recovery subsystem, in one place (the planner's, the process's and the state machines'), each one
/// line naming the PG, epoch, step or state at fault. An out-of-range epoch has its own type
/// (<see cref="EpochOutOfRangeException"/>).
/// </summary>
public static class RecoveryErrors
{
    /// <summary>Too few segments of <paramref name="pg"/> that count answered: no read quorum to plan from.</summary>
    /// <param name="pg">The PG.</param>
    /// <param name="counting">The replicas that count.</param>
    /// <param name="answered">Every replica that answered (those not counting are joining).</param>
    public static InvalidOperationException NoReadQuorum(int pg, IReadOnlyCollection<int> counting, IReadOnlyCollection<int> answered) => new(
        $"PG {pg}: only {counting.Count} segment(s) that count answered ({string.Join(", ", counting)}"
        + (counting.Count < answered.Count ? $"; joining, not counted: {string.Join(", ", answered.Except(counting))}" : "")
        + $"); recovery needs a read quorum of {VolumeGeometry.ReadQuorum}");

    /// <summary>A segment is in an epoch above the one this recovery fenced with: another recovery took over.</summary>
    public static InvalidOperationException NewerEpochSeen(long seenEpoch, long fencedEpoch) =>
        new($"a segment reports epoch {seenEpoch}, above this recovery's epoch {fencedEpoch}: another recovery took the volume over");

    /// <summary>Segments hold records yet no commit point is complete in every PG.</summary>
    /// <param name="complete">The complete point of each PG.</param>
    public static InvalidOperationException NoCompleteCommitPoint(IEnumerable<Lsn> complete) =>
        new($"segments hold records (complete points {string.Join(", ", complete)}) but no commit point is complete in every PG");

    /// <summary>A recovery was started while one runs.</summary>
    public static InvalidOperationException AlreadyRunning(int recovery, RecoveryStep step) =>
        new($"recovery {recovery} runs already (step {step})");

    /// <summary>A recovery asked to move between two steps that do not follow each other.</summary>
    public static InvalidOperationException IllegalStep(RecoveryStep from, RecoveryStep to) =>
        new($"a recovery cannot move from step {from} to step {to}");

    /// <summary>The recovery supervisor asked to move between two states that do not follow each other.</summary>
    public static InvalidOperationException IllegalState(SupervisorState from, SupervisorState to) =>
        new($"the recovery supervisor cannot move from {from.Name()} to {to.Name()}");

    /// <summary>A running recovery handed to the history, which keeps finished ones only.</summary>
    public static ArgumentException NotFinished(string paramName) => new("a running recovery is not history yet", paramName);
}
