using ActorDb.Core.Recovery;

namespace ActorDb.Core.Quorum;

/// <summary>
/// The one definition of a read quorum (design.md, "Quorum and guarantees" and "Recovery"): in each PG, at least
/// <see cref="VolumeGeometry.ReadQuorum"/> (Vr = 3) distinct replicas whose report counts. A segment that starts empty
/// "does not count in any quorum until it has caught up from its peers to the PG's state at the time it joined", so a
/// segment below its join target, or one never opened in a volume that was opened before, is not counted. With
/// Vr + Vw &gt; V such a quorum includes a segment that holds every record that reached a write quorum. Every phase of a
/// recovery (the probe, the fenced reports the plan uses, the epoch installation) counts with these rules.
/// </summary>
public static class QuorumRules
{
    /// <summary>
    /// Whether <paramref name="report"/> counts toward its PG's read quorum: not while it joins below its join target
    /// (<see cref="SegmentReport.JoinTarget"/> above its SCL), and not when it was never opened in an epoch
    /// (<see cref="SegmentReport.OpenedEpoch"/> 0) while <paramref name="volumeOpened"/>: it holds nothing, though it may
    /// be the replacement of a segment that acknowledged records. Its SCL, commit points and annulled ranges still count
    /// as facts (whatever it holds, it holds durably).
    /// </summary>
    /// <param name="report">One segment's report.</param>
    /// <param name="volumeOpened">Some report of the volume has an opened epoch above 0 (<see cref="VolumeOpened"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="report"/> is null.</exception>
    public static bool CountsInReadQuorum(SegmentReport report, bool volumeOpened)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.JoinTarget > report.Scl) return false;
        return !(volumeOpened && report.OpenedEpoch == 0);
    }

    /// <summary>True when some report has an opened epoch above 0: the volume was opened before.</summary>
    public static bool VolumeOpened(IEnumerable<SegmentReport> reports) => reports.Any(r => r.OpenedEpoch > 0);

    /// <summary>The distinct replicas of PG <paramref name="pg"/> whose report counts (<see cref="CountsInReadQuorum"/>),
    /// ascending.</summary>
    public static IReadOnlyList<int> CountingReplicas(int pg, IEnumerable<SegmentReport> reports, bool volumeOpened) =>
        reports.Where(r => r.Pg == pg && CountsInReadQuorum(r, volumeOpened)).Select(r => r.Replica).Distinct().Order().ToList();

    /// <summary>True when <paramref name="countingReplicas"/> distinct counting replicas of one PG are a read quorum.</summary>
    public static bool IsReadQuorum(int countingReplicas) => countingReplicas >= VolumeGeometry.ReadQuorum;

    /// <summary>True when every one of <paramref name="pgCount"/> PGs has a read quorum of reports that count.</summary>
    public static bool HasReadQuorum(int pgCount, IReadOnlyCollection<SegmentReport> reports)
    {
        var opened = VolumeOpened(reports);
        return Enumerable.Range(0, pgCount).All(pg => IsReadQuorum(CountingReplicas(pg, reports, opened).Count));
    }
}
