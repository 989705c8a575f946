namespace ActorDb.Core.Recovery;

/// <summary>The names of a recovery's phases as its <see cref="RecoveryRecord"/>, its log lines and the
/// <c>actordb.recovery.phase.duration</c> metric carry them (design.md, "Recovery").</summary>
public static class RecoveryPhaseNames
{
    /// <summary>Every segment is probed, fenced at the new epoch and reports its state.</summary>
    public const string ReadQuorum = "read-quorum";
    /// <summary><see cref="RecoveryPlanner"/> computes epoch, VDL and truncation.</summary>
    public const string Plan = "plan";
    /// <summary>The epoch and its truncation are installed on the segments.</summary>
    public const string InstallEpoch = "install-epoch";
    /// <summary>The volume header is read and the writer opens the volume.</summary>
    public const string OpenVolume = "open-volume";
}

/// <summary>Where a <see cref="RecoveryProcess"/> is. Moves only as <see cref="RecoverySteps.CanMove"/> allows.</summary>
public enum RecoveryStep
{
    /// <summary>No recovery has started yet.</summary>
    Idle,
    /// <summary>Asking every segment for its epoch (no fence yet).</summary>
    Probing,
    /// <summary>Fencing every segment at the epoch above all probed ones and collecting the reports the plan uses.</summary>
    Fencing,
    /// <summary>Planned; installing the epoch with its truncation until a read quorum of every PG has it.</summary>
    Installing,
    /// <summary>Reading the volume header (page 0) at VDL from a segment of PG 0.</summary>
    ReadingHeader,
    /// <summary>The writer was started and opens the volume.</summary>
    OpeningVolume,
    /// <summary>The recovery ended (opened, failed, fenced or cancelled); the next one may start.</summary>
    Ended,
}

/// <summary>The rules over <see cref="RecoveryStep"/>: which moves are legal and which phase each step belongs to.</summary>
public static class RecoverySteps
{
    /// <summary>Whether a recovery may move from <paramref name="from"/> to <paramref name="to"/>: Idle or Ended to
    /// Probing (a recovery starts), then Probing, Fencing, Installing, ReadingHeader (skipped by a new volume, VDL 0),
    /// OpeningVolume in order; any running step to Ended.</summary>
    public static bool CanMove(RecoveryStep from, RecoveryStep to) => (from, to) switch
    {
        (RecoveryStep.Idle or RecoveryStep.Ended, RecoveryStep.Probing) => true,
        (RecoveryStep.Probing, RecoveryStep.Fencing) => true,
        (RecoveryStep.Fencing, RecoveryStep.Installing) => true,
        (RecoveryStep.Installing, RecoveryStep.ReadingHeader or RecoveryStep.OpeningVolume) => true,
        (RecoveryStep.ReadingHeader, RecoveryStep.OpeningVolume) => true,
        (not (RecoveryStep.Idle or RecoveryStep.Ended), RecoveryStep.Ended) => true,
        _ => false,
    };

    /// <summary>Checks and makes the move.</summary>
    /// <exception cref="InvalidOperationException">the move is not legal (names both steps).</exception>
    public static RecoveryStep Transition(RecoveryStep from, RecoveryStep to) =>
        CanMove(from, to) ? to : throw RecoveryErrors.IllegalStep(from, to);

    /// <summary>The phase (<see cref="RecoveryPhaseNames"/>) a running step belongs to.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is Idle or Ended: no phase runs.</exception>
    public static string PhaseName(RecoveryStep step) => step switch
    {
        RecoveryStep.Probing or RecoveryStep.Fencing => RecoveryPhaseNames.ReadQuorum,
        RecoveryStep.Installing => RecoveryPhaseNames.InstallEpoch,
        RecoveryStep.ReadingHeader or RecoveryStep.OpeningVolume => RecoveryPhaseNames.OpenVolume,
        _ => throw new ArgumentOutOfRangeException(nameof(step), step, "no phase runs in this step"),
    };
}

/// <summary>The recovery supervisor's state as <c>WriterStatus.State</c> shows it (<see cref="SupervisorStates.Name"/>).</summary>
public enum SupervisorState
{
    /// <summary>A recovery runs, or waits to start after the writer failed.</summary>
    Recovering,
    /// <summary>The writer serves transactions.</summary>
    Serving,
    /// <summary>The recovery gave up.</summary>
    Failed,
    /// <summary>A newer epoch took the volume over; this supervisor starts no new writer.</summary>
    Fenced,
    /// <summary>The writer drains (the node stops or hands the writer over).</summary>
    Stopping,
    /// <summary>Stopped: no writer.</summary>
    Stopped,
}

/// <summary>The rules over <see cref="SupervisorState"/>.</summary>
public static class SupervisorStates
{
    /// <summary>The state's name as clients and the CLI read it: recovering, serving, failed, fenced, stopping, stopped.</summary>
    public static string Name(this SupervisorState state) => state switch
    {
        SupervisorState.Recovering => "recovering",
        SupervisorState.Serving => "serving",
        SupervisorState.Failed => "failed",
        SupervisorState.Fenced => "fenced",
        SupervisorState.Stopping => "stopping",
        SupervisorState.Stopped => "stopped",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    /// <summary>Whether the supervisor may move from <paramref name="from"/> to <paramref name="to"/>: a recovery
    /// (again) after the writer failed, serving once it opened, failed, fenced or stopped while recovering, stopping,
    /// fenced or recovering again while serving, stopped once drained.</summary>
    public static bool CanMove(SupervisorState from, SupervisorState to) => (from, to) switch
    {
        (SupervisorState.Recovering, _) => to is not SupervisorState.Stopping,
        (SupervisorState.Serving, SupervisorState.Stopping or SupervisorState.Recovering or SupervisorState.Fenced) => true,
        (SupervisorState.Stopping, SupervisorState.Stopped) => true,
        _ => false,
    };

    /// <summary>Checks and makes the move.</summary>
    /// <exception cref="InvalidOperationException">the move is not legal (names both states).</exception>
    public static SupervisorState Transition(SupervisorState from, SupervisorState to) =>
        CanMove(from, to) ? to : throw RecoveryErrors.IllegalState(from, to);
}
