using System.Globalization;

namespace ActorDb.Core.Recovery;

/// <summary>How a recovery ended (or that it is still running).</summary>
public enum RecoveryOutcome
{
    /// <summary>Still running.</summary>
    Running,
    /// <summary>The volume opened and the writer serves transactions in the recovery's epoch.</summary>
    Opened,
    /// <summary>The recovery gave up (no read quorum in time, an unreadable catalog, ...); <see cref="RecoveryRecord.Failure"/> says why.</summary>
    Failed,
    /// <summary>A segment already held a newer epoch: another recovery won, this one stopped.</summary>
    Fenced,
    /// <summary>Stopped on purpose before it finished (the node is stopping).</summary>
    Cancelled,
}

/// <summary>One phase of a recovery: its name (read-quorum, plan, install-epoch, open-volume), how long it took,
/// and what it found (who answered, the VDL, ...).</summary>
public sealed record RecoveryPhase(string Name, TimeSpan Duration, string Detail);

/// <summary>
/// One recovery of the volume (design.md, "Recovery"): why it ran, the epoch it installed, the recovered VDL, the
/// annulled range (<see cref="TruncateAfter"/>, <see cref="TruncateTo"/>], each phase with its duration, and how it
/// ended. <see cref="Epoch"/> and the LSNs are zero until the plan phase has run.
/// </summary>
/// <param name="Number">1 for the first recovery this supervisor ran, then 2, ...</param>
/// <param name="Reason">Why it ran: the writer starting, or the writer having failed (with the error).</param>
/// <param name="StartedUtc">When it started.</param>
/// <param name="Epoch">The epoch it installs.</param>
/// <param name="Vdl">The recovered volume durable LSN.</param>
/// <param name="TruncateAfter">The annulled range starts after this LSN (the VDL).</param>
/// <param name="TruncateTo">The annulled range ends at this LSN, inclusive; equal to <paramref name="TruncateAfter"/> or zero when nothing is annulled.</param>
/// <param name="Phases">The phases finished so far, in order.</param>
/// <param name="Total">Time from start to the end (or to now, while running).</param>
/// <param name="Outcome">How it ended.</param>
/// <param name="Failure">Why it failed, for <see cref="RecoveryOutcome.Failed"/>, <see cref="RecoveryOutcome.Fenced"/> and <see cref="RecoveryOutcome.Cancelled"/>.</param>
public sealed record RecoveryRecord(
    int Number, string Reason, DateTime StartedUtc, long Epoch, Lsn Vdl, Lsn TruncateAfter, Lsn TruncateTo,
    IReadOnlyList<RecoveryPhase> Phases, TimeSpan Total, RecoveryOutcome Outcome, string? Failure)
{
    /// <summary>A recovery that has just started.</summary>
    public static RecoveryRecord Start(int number, string reason, DateTime startedUtc) =>
        new(number, reason, startedUtc, 0, Lsn.Zero, Lsn.Zero, Lsn.Zero, [], TimeSpan.Zero, RecoveryOutcome.Running, null);

    /// <summary>This record with one more finished phase.</summary>
    public RecoveryRecord WithPhase(string name, TimeSpan duration, string detail) =>
        this with { Phases = [.. Phases, new RecoveryPhase(name, duration, detail)] };

    /// <summary>This record with the epoch it fences the segments with (before the plan).</summary>
    public RecoveryRecord WithEpoch(long epoch) => this with { Epoch = epoch };

    /// <summary>This record with the plan's epoch, VDL and annulled range.</summary>
    public RecoveryRecord WithPlan(RecoveryPlan plan) =>
        this with { Epoch = plan.Epoch, Vdl = plan.Vdl, TruncateAfter = plan.TruncateAfter, TruncateTo = plan.TruncateTo };

    /// <summary>This record, ended.</summary>
    public RecoveryRecord Finish(RecoveryOutcome outcome, TimeSpan total, string? failure = null) =>
        this with { Outcome = outcome, Total = total, Failure = failure };

    /// <summary>The duration of phase <paramref name="name"/>, or null when it has not run.</summary>
    public TimeSpan? PhaseDuration(string name) => Phases.FirstOrDefault(p => p.Name == name)?.Duration;

    /// <summary>
    /// One line for the log and the operator: <c>Recovery epoch 5: phase read-quorum 12 ms (PG 0: segments
    /// 0,1,2,3,4,5 answered), phase plan 0 ms (VDL 812, truncate (812, 10000812]), ...; total 56 ms</c>, followed by
    /// the outcome when it is not <see cref="RecoveryOutcome.Opened"/>.
    /// </summary>
    public string Summary()
    {
        var line = $"Recovery epoch {Epoch}: {PhasesText()}; total {Ms(Total)} ms";
        return Outcome switch
        {
            RecoveryOutcome.Opened => line,
            RecoveryOutcome.Running => line + " (running)",
            _ => $"{line} ({Outcome.ToString().ToLowerInvariant()}: {Failure})",
        };
    }

    /// <summary>The phases as <c>phase read-quorum 12 ms (PG 0: segments 0,1,2 answered), phase plan 0 ms (...)</c>.</summary>
    public string PhasesText() => Phases.Count == 0
        ? "no phase finished"
        : string.Join(", ", Phases.Select(p => $"phase {p.Name} {Ms(p.Duration)} ms ({p.Detail})"));

    private static string Ms(TimeSpan t) => ((long)Math.Round(t.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// The recoveries a supervisor has run, oldest first, keeping the last <see cref="Capacity"/> (what
/// <c>actordb recovery history</c> shows). Not thread-safe: owned by one actor.
/// </summary>
public sealed class RecoveryHistory
{
    private readonly Queue<RecoveryRecord> _records = new();

    /// <summary>Creates an empty history keeping at most <paramref name="capacity"/> records.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is below 1.</exception>
    public RecoveryHistory(int capacity = 100)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    /// <summary>How many records are kept; older ones are dropped.</summary>
    public int Capacity { get; }

    /// <summary>The records kept, oldest first.</summary>
    public IReadOnlyList<RecoveryRecord> Records => _records.ToArray();

    /// <summary>The most recent record, or null.</summary>
    public RecoveryRecord? Latest { get; private set; }

    /// <summary>Adds a finished recovery.</summary>
    /// <exception cref="ArgumentException">the recovery is still running.</exception>
    public void Add(RecoveryRecord record)
    {
        if (record.Outcome == RecoveryOutcome.Running) throw RecoveryErrors.NotFinished(nameof(record));
        _records.Enqueue(record);
        while (_records.Count > Capacity) _records.Dequeue();
        Latest = record;
    }
}
