using ActorDb.Core.Pages;
using ActorDb.Core.Redo;

namespace ActorDb.Core.Storage;

/// <summary>
/// The rules a segment checks on every redo record before it stores it (from its writer or from a peer), so that
/// impossible input never reaches its log: a positive LSN with a backlink in <c>[0, LSN)</c>; the segment's own PG; a
/// page inside the PG (a commit record changes no page: page -1) with a payload that decodes (a page delta whose
/// entries lie inside the page, a commit payload); an LSN no higher than the LSN ceiling
/// (<see cref="LsnCeiling"/>); and never a second content for an LSN the segment holds (<see cref="SameContent"/>).
/// Pure: the segment actor calls it for a whole batch first and stores the batch only when every record passes.
/// </summary>
public static class RedoValidation
{
    /// <summary>
    /// The highest LSN a record may carry when the writer's VDL is known to be at least <paramref name="knownVdl"/>
    /// and the segment holds the annulled ranges <paramref name="annulled"/>: <c>max(knownVdl, highest annulled upper
    /// bound) + lal</c>.
    /// <para>Why: the writer never allocates an LSN above <c>max(VDL, allocation floor) + LAL</c> (design.md, LAL; the
    /// transaction engine's <c>WouldPassLal</c>), and after a recovery its allocation floor is the top of the range that
    /// recovery annulled, which every segment opened in that epoch holds in its metadata. VDL only grows, so the VDL a
    /// batch carries (the writer's VDL when it sent the batch) or any VDL the segment saw before is at least the VDL at
    /// the time the record was allocated. A record above the ceiling was allocated by no writer that obeys the LAL: a
    /// record with LSN SCL + 10^9 is refused while the LAL is below 10^9 - SCL + VDL.</para>
    /// </summary>
    /// <param name="knownVdl">The highest writer VDL the segment knows of (LSN), including the one of the batch.</param>
    /// <param name="annulled">The segment's annulled ranges (recoveries' truncations).</param>
    /// <param name="lal">The LSN allocation limit, <c>actordb.writer.lal</c> (LSNs, at least 1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lal"/> is below 1.</exception>
    public static Lsn LsnCeiling(Lsn knownVdl, IEnumerable<AnnulledRange> annulled, long lal)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(lal, 1);
        var floor = knownVdl;
        foreach (var r in annulled) floor = Lsn.Max(floor, r.ToInclusive);
        return floor.Value > long.MaxValue - lal ? Lsn.MaxValue : floor + lal;
    }

    /// <summary>
    /// Checks one record on its own (everything that can be checked without the segment's other records).
    /// </summary>
    /// <param name="record">The record to check (null is an error too).</param>
    /// <param name="pg">The segment's protection group.</param>
    /// <param name="geometry">The volume's geometry: page size and the PG's page range.</param>
    /// <param name="ceiling">The highest LSN allowed (<see cref="LsnCeiling"/>).</param>
    /// <returns>Null when the record is valid; otherwise what is wrong with it, naming its LSN (no segment or sender:
    /// the caller adds those, see <see cref="Refusal"/>).</returns>
    public static string? Check(RedoRecord? record, int pg, VolumeGeometry geometry, Lsn ceiling)
    {
        if (record is null) return "a null record";
        var lsn = record.Lsn;
        if (lsn.Value <= 0) return $"record LSN {lsn}: an LSN must be above 0";
        if (record.PrevLsn.Value < 0 || record.PrevLsn >= lsn)
            return $"record LSN {lsn}: backlink {record.PrevLsn} is not in [0, {lsn})";
        if (record.Pg != pg) return $"record LSN {lsn}: it belongs to PG {record.Pg}, not PG {pg}";
        if (lsn > ceiling)
            return $"record LSN {lsn} (backlink {record.PrevLsn}): above the LSN ceiling {ceiling} (known VDL or truncation point + LAL): no writer allocates it";
        if (record.Epoch < 0) return $"record LSN {lsn}: negative epoch {record.Epoch}";
        switch (record.Kind)
        {
            case RedoKind.PageDelta:
                var first = geometry.FirstPageOf(pg);
                if (record.PageNo < first || record.PageNo >= first + geometry.PagesPerPg)
                    return $"record LSN {lsn}: page {record.PageNo} is outside PG {pg} (pages {first}..{first + geometry.PagesPerPg - 1})";
                try
                {
                    PageDelta.Validate(record.Payload.Span, geometry.PageSize);
                }
                catch (FormatException e)
                {
                    return $"record LSN {lsn}: the delta of page {record.PageNo} cannot be applied: {e.Message}";
                }
                return null;
            case RedoKind.Commit:
                if (record.PageNo != -1) return $"record LSN {lsn}: a commit record changes no page, but names page {record.PageNo}";
                try
                {
                    CommitPayload.Decode(record.Payload.Span);
                }
                catch (FormatException e)
                {
                    return $"record LSN {lsn}: its commit payload does not decode: {e.Message}";
                }
                return null;
            default:
                return $"record LSN {lsn}: unknown kind {(byte)record.Kind}";
        }
    }

    /// <summary>
    /// Checks a whole batch before any of it is stored: each record (<see cref="Check"/>), and that no LSN comes with a
    /// second content, neither against a record the segment holds (<paramref name="held"/>) nor within the batch.
    /// </summary>
    /// <param name="records">The batch, in any order (null is an error).</param>
    /// <param name="pg">The segment's protection group.</param>
    /// <param name="geometry">The volume's geometry.</param>
    /// <param name="ceiling">The highest LSN allowed (<see cref="LsnCeiling"/>).</param>
    /// <param name="held">The record the segment holds under an LSN, or null when it holds none it can compare.</param>
    /// <returns>Null when every record is valid; otherwise the first problem found (see <see cref="Check"/>).</returns>
    public static string? CheckBatch(IReadOnlyList<RedoRecord?>? records, int pg, VolumeGeometry geometry, Lsn ceiling, Func<Lsn, RedoRecord?> held)
    {
        if (records is null) return "a batch with no record array";
        Dictionary<long, RedoRecord>? seen = records.Count > 1 ? new(records.Count) : null;
        foreach (var record in records)
        {
            if (Check(record, pg, geometry, ceiling) is { } problem) return problem;
            if (held(record!.Lsn) is { } h && !SameContent(h, record)) return Conflict(h, record);
            if (seen is null) continue;
            if (seen.TryGetValue(record.Lsn.Value, out var earlier))
            {
                if (!SameContent(earlier, record)) return Conflict(earlier, record);
            }
            else seen.Add(record.Lsn.Value, record);
        }
        return null;
    }

    /// <summary>
    /// True when <paramref name="a"/> and <paramref name="b"/> are the same record: every field and the payload bytes
    /// equal. An identical resend of a record the segment holds is a duplicate (re-acknowledged); a different record
    /// under the LSN of a held one is refused (one LSN, one content).
    /// </summary>
    /// <exception cref="ArgumentNullException">either is null.</exception>
    public static bool SameContent(RedoRecord a, RedoRecord b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return a.Lsn == b.Lsn && a.PrevLsn == b.PrevLsn && a.Pg == b.Pg && a.PageNo == b.PageNo && a.Kind == b.Kind
            && a.IsCpl == b.IsCpl && a.TxnId == b.TxnId && a.Epoch == b.Epoch && a.Payload.Span.SequenceEqual(b.Payload.Span);
    }

    /// <summary>The reason for a record whose LSN the segment already holds with another content.</summary>
    public static string Conflict(RedoRecord held, RedoRecord other) =>
        $"record LSN {other.Lsn}: the segment holds another record under this LSN (backlink {held.PrevLsn}, page {held.PageNo}, txn {held.TxnId}; " +
        $"this one: backlink {other.PrevLsn}, page {other.PageNo}, txn {other.TxnId}); one LSN has one content";

    /// <summary>
    /// The one error text for a refused batch: segment <c>pg-{pg}-{replica}</c>, its epoch, the sender, the number of
    /// records and the first invalid one (<paramref name="problem"/>, from <see cref="Check"/> or <see cref="Conflict"/>).
    /// </summary>
    public static string Refusal(int pg, int replica, long epoch, string what, string sender, int records, string problem) =>
        $"segment pg-{pg}-{replica} (PG {pg}, replica {replica}, epoch {epoch}) refused {what} of {records} record(s) from {sender}, " +
        $"none stored: invalid {problem}";
}
