using ActorDb.Core.Quorum;

namespace ActorDb.Core.Recovery;

/// <summary>A commit record a segment holds within its complete chain: its LSN (a CPL) and, per PG, the LSN of that
/// PG's latest record at or below it.</summary>
public sealed record CplInfo(Lsn Lsn, IReadOnlyList<Lsn> PgTail);

/// <summary>What one segment reports when a writer opens the volume.</summary>
/// <param name="Pg">Its protection group.</param>
/// <param name="Replica">Its replica number, 0..5.</param>
/// <param name="Epoch">The highest epoch it has accepted.</param>
/// <param name="Scl">Its segment complete LSN.</param>
/// <param name="MaxLsn">The highest LSN it holds (complete chain or not).</param>
/// <param name="Cpls">Its most recent commit records at or below <paramref name="Scl"/>, any order.</param>
/// <param name="Annulled">The LSN ranges earlier recoveries annulled on it (null: none).</param>
/// <param name="OpenedEpoch">The last epoch a recovery opened on it (0: never; a segment that joins a volume opened
/// before it holds nothing); null when not reported (counted as opened).</param>
/// <param name="JoinTarget">While it joins its PG empty, the PG's state when it joined
/// (<see cref="Storage.SegmentMetadata.JoinTarget"/>); Lsn.Zero otherwise.</param>
public sealed record SegmentReport(int Pg, int Replica, long Epoch, Lsn Scl, Lsn MaxLsn, IReadOnlyList<CplInfo> Cpls,
    IReadOnlyList<Storage.AnnulledRange>? Annulled = null, long? OpenedEpoch = null, Lsn JoinTarget = default);

/// <summary>The outcome of planning: the epoch to install, the recovered VDL, the range to annul, and each PG's
/// latest record at or below VDL (the backlinks of the first new records).</summary>
public sealed record RecoveryPlan(long Epoch, Lsn Vdl, Lsn TruncateAfter, Lsn TruncateTo, IReadOnlyList<Lsn> PgTail);

/// <summary>
/// Computes how to open a volume from a read quorum of segment reports per PG (Aurora, SIGMOD 2017 §4.3 and SIGMOD
/// 2018 §2.3): the new epoch is above every epoch seen (or the one the reporters were fenced with); per PG the complete
/// point is the highest SCL among its reporting segments: with Vr + Vw &gt; V any record that reached a write quorum
/// is in some reporter's chain, and it stays found when another segment that held it lost its tail (a disk that cut
/// a torn or damaged tail). The point may be held by fewer than 4 segments; the others fetch the records from their
/// peers (segment catch-up) before the PG takes a write quorum again. The VDL is the highest CPL whose per-PG tails are all within those points
/// and that no reporter has annulled; the range (VDL, max(VDL + LAL, highest LSN seen)] is annulled (nothing for a
/// brand-new volume), and new LSNs are allocated above it.
/// </summary>
public static class RecoveryPlanner
{
    /// <summary>Plans the opening of a volume with <paramref name="pgCount"/> PGs.</summary>
    /// <exception cref="InvalidOperationException">a segment reports an epoch above <paramref name="epoch"/>; a PG has fewer than <see cref="VolumeGeometry.ReadQuorum"/> reports
    /// (names the PG and who answered; counted by <see cref="QuorumRules.CountsInReadQuorum"/>), or segments hold records but no commit point is complete.</exception>
    /// <param name="pgCount">PGs of the volume.</param>
    /// <param name="reports">Segment reports, at least a read quorum per PG.</param>
    /// <param name="lal">The LSN allocation limit the old writer ran with (records).</param>
    /// <param name="epoch">The epoch the reporters were fenced with before they reported; null: one above every epoch seen.</param>
    public static RecoveryPlan Plan(int pgCount, IReadOnlyList<SegmentReport> reports, long lal, long? epoch = null)
    {
        var complete = new Lsn[pgCount];
        var maxSeen = Lsn.Zero;
        var volumeOpened = QuorumRules.VolumeOpened(reports);
        for (var pg = 0; pg < pgCount; pg++)
        {
            var mine = reports.Where(r => r.Pg == pg).ToList();
            var counting = QuorumRules.CountingReplicas(pg, mine, volumeOpened);
            if (!QuorumRules.IsReadQuorum(counting.Count))
                throw RecoveryErrors.NoReadQuorum(pg, counting, mine.Select(r => r.Replica).ToList());
            var scls = mine.GroupBy(r => r.Replica).Select(g => g.Max(r => r.Scl)).OrderByDescending(l => l).ToList();
            complete[pg] = scls[0];
        }
        var seenEpoch = 0L;
        foreach (var r in reports)
        {
            seenEpoch = Math.Max(seenEpoch, r.Epoch);
            maxSeen = Lsn.Max(maxSeen, r.MaxLsn);
        }
        if (epoch is { } fenced && seenEpoch > fenced)
            throw RecoveryErrors.NewerEpochSeen(seenEpoch, fenced);
        var annulled = reports.SelectMany(r => r.Annulled ?? []).Distinct().ToList();

        CplInfo? best = null;
        foreach (var cpl in reports.SelectMany(r => r.Cpls))
        {
            if (best is not null && cpl.Lsn <= best.Lsn) continue;
            if (cpl.PgTail.Count != pgCount || annulled.Any(a => a.Contains(cpl.Lsn))) continue;
            var ok = true;
            for (var pg = 0; pg < pgCount && ok; pg++) ok = cpl.PgTail[pg] <= complete[pg];
            if (ok) best = cpl;
        }

        if (best is null && complete.Any(c => c > Lsn.Zero))
            throw RecoveryErrors.NoCompleteCommitPoint(complete);

        var vdl = best?.Lsn ?? Lsn.Zero;
        var tail = best?.PgTail.ToArray() ?? new Lsn[pgCount];
        // A brand-new volume (no epoch ever installed, nothing written anywhere) has no old writer to fence off.
        var newEpoch = epoch ?? Epochs.Next(seenEpoch);
        // A brand-new volume (no epoch before this one, nothing written anywhere) has no old writer to fence off.
        var truncateTo = newEpoch == 1 && maxSeen == Lsn.Zero ? Lsn.Zero : Lsn.Max(vdl + lal, maxSeen);
        return new RecoveryPlan(newEpoch, vdl, vdl, truncateTo, tail);
    }
}
