using ActorDb.Core.Redo;

namespace ActorDb.Core.Storage;

/// <summary>
/// The rules of a segment joining its PG empty (design.md: a new node, a lost disk, a moved shard): it counts in no quorum
/// until its durable SCL reaches the PG's state when it was opened, its join target (<see cref="SegmentMetadata.JoinTarget"/>).
/// </summary>
public static class SegmentJoin
{
    /// <summary>The join hint after a redo batch of an epoch the segment has not installed: the highest backlink of its
    /// records, each a record the PG held when the writer shipped it (at or above anything this segment could have
    /// acknowledged before it lost its data, if it did). Null and malformed records (not validated yet) are skipped.</summary>
    /// <param name="hint">The hint so far (LSN).</param>
    /// <param name="records">The batch's records, as received (may be null, or hold nulls).</param>
    public static Lsn Hint(Lsn hint, IReadOnlyList<RedoRecord?>? records)
    {
        if (records is null) return hint;
        foreach (var r in records)
            if (r is not null && r.PrevLsn > hint && r.PrevLsn < r.Lsn) hint = r.PrevLsn;
        return hint;
    }

    /// <summary>
    /// At an epoch install: whether the segment joins (never opened, and holding nothing: no SCL, no record, no
    /// checkpoint) and its join target: for a joiner the PG's recovered tail or the join hint, whichever is higher;
    /// otherwise the target it had. A target inside the annulled range (<paramref name="vdl"/>, <paramref name="truncateTo"/>]
    /// becomes the PG's tail (what is left at or below VDL).
    /// </summary>
    /// <param name="openedEpoch">The epoch the segment was last opened in (0: never).</param>
    /// <param name="scl">Its SCL (LSN).</param>
    /// <param name="maxLsn">The highest LSN it holds.</param>
    /// <param name="materialized">Its checkpoint (LSN).</param>
    /// <param name="currentTarget">Its join target now (zero: not joining).</param>
    /// <param name="pgTail">The PG's recovered tail in the new epoch.</param>
    /// <param name="hint">The join hint from batches seen before the install (<see cref="Hint"/>).</param>
    /// <param name="vdl">The new epoch's VDL.</param>
    /// <param name="truncateTo">The top of the annulled range (at or below <paramref name="vdl"/>: nothing annulled).</param>
    public static (bool Joining, Lsn Target) AtInstall(long openedEpoch, Lsn scl, Lsn maxLsn, Lsn materialized, Lsn currentTarget,
        Lsn pgTail, Lsn hint, Lsn vdl, Lsn truncateTo)
    {
        var joining = openedEpoch == 0 && scl == Lsn.Zero && maxLsn == Lsn.Zero && materialized == Lsn.Zero;
        var target = joining ? Lsn.Max(pgTail, hint) : currentTarget;
        if (target > vdl && target <= truncateTo) target = pgTail;
        return (joining, target);
    }
}
