using ActorDb.Core.Recovery;
using ActorDb.Core.Redo;

namespace ActorDb.Core.Storage;

/// <summary>What a peer can do for a segment that asks it for the records of their PG above the segment's SCL.</summary>
public enum CatchUpAction
{
    /// <summary>Nothing: the peer holds nothing above the asker's SCL.</summary>
    None,
    /// <summary>The peer's log holds the next record of the chain: send records (<c>FetchRedo</c>).</summary>
    FetchRecords,
    /// <summary>The records the asker needs next were garbage-collected below the peer's page-store checkpoint: the asker
    /// must copy the peer's pages as of that checkpoint, then fetch the records above it.</summary>
    CopyPages,
}

/// <summary>
/// The deterministic parts of a segment's catch-up from a peer of its PG (design.md: a segment that starts empty
/// "does not count in any quorum until it has caught up from its peers"): whether records suffice or a page copy is
/// needed, and which pages one bounded copy chunk carries. The actor only does the I/O and the messaging.
/// <para><b>Why a page copy is consistent.</b> The peer serves each page's current materialized image (page LSN in its
/// first 8 bytes); every one is at or above the peer's durable checkpoint <c>C</c> taken when the copy started, since a
/// checkpoint only moves up. The copier records <c>C</c> as its own checkpoint once every chunk is durable, starts its
/// SCL at <c>C</c> (a record of the PG, so the next record's backlink connects) and replays the records above
/// <c>C</c>, skipping a record at or below a page's LSN (ARIES' page-LSN test), exactly as it does after a checkpoint
/// restored from the doublewrite buffer.</para>
/// </summary>
public static class PageCopy
{
    /// <summary>
    /// Decides, at the peer, how it can help a segment whose SCL is <paramref name="askerScl"/>.
    /// </summary>
    /// <param name="askerScl">The asker's SCL: it holds every record of the PG at or below it.</param>
    /// <param name="peerScl">The peer's durable SCL.</param>
    /// <param name="firstLogRecordAbove">The LSN and backlink of the lowest record in the peer's log above
    /// <paramref name="askerScl"/> (annulled records left out), or null when its log holds none.</param>
    /// <param name="peerCheckpoint">The peer's page-store checkpoint (<see cref="SegmentMetadata.Materialized"/>).</param>
    /// <returns><see cref="CatchUpAction.FetchRecords"/> when that record's backlink is at or below the asker's SCL (the
    /// chain connects); otherwise <see cref="CatchUpAction.CopyPages"/> when the peer's checkpoint is above the asker's
    /// SCL (what is missing is in its pages only); otherwise <see cref="CatchUpAction.None"/>.</returns>
    public static CatchUpAction Decide(Lsn askerScl, Lsn peerScl, (Lsn Lsn, Lsn PrevLsn)? firstLogRecordAbove, Lsn peerCheckpoint)
    {
        if (peerScl <= askerScl) return CatchUpAction.None;
        if (firstLogRecordAbove is { } first && first.Lsn > askerScl && first.PrevLsn <= askerScl) return CatchUpAction.FetchRecords;
        return peerCheckpoint > askerScl ? CatchUpAction.CopyPages : CatchUpAction.None;
    }

    /// <summary>Pages one chunk carries: as many whole pages as fit in <paramref name="maxChunkBytes"/>, at least one.</summary>
    /// <param name="pageSize">Bytes per page.</param>
    /// <param name="maxChunkBytes">Most image bytes per message (e.g. 1 MiB; a network frame must hold it).</param>
    /// <exception cref="ArgumentOutOfRangeException">a non-positive argument.</exception>
    public static int PagesPerChunk(int pageSize, int maxChunkBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxChunkBytes, 1);
        return Math.Max(1, maxChunkBytes / pageSize);
    }

    /// <summary>
    /// Plans the chunk that starts at <paramref name="fromPageNo"/>: the lowest page numbers at or above it that the
    /// peer holds, in its page store or only in memory (materialized since its last checkpoint), at most
    /// <paramref name="maxPages"/> of them, ascending and without duplicates.
    /// </summary>
    /// <param name="fromPageNo">The first page number the chunk may hold.</param>
    /// <param name="maxPages">Most pages in the chunk (<see cref="PagesPerChunk"/>).</param>
    /// <param name="nextStoredPage">The lowest page number at or above its argument written in the page store, or -1
    /// (<see cref="PageStore.NextWrittenPage"/>).</param>
    /// <param name="memoryPages">Page numbers materialized in memory and not (yet) in the page store, in any order.</param>
    /// <returns>The pages, and the page number the next chunk starts at (-1: this is the last chunk).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxPages"/> is not positive.</exception>
    public static (long[] Pages, long NextPageNo) PlanChunk(long fromPageNo, int maxPages, Func<long, long> nextStoredPage, IEnumerable<long> memoryPages)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPages, 1);
        ArgumentNullException.ThrowIfNull(nextStoredPage);
        ArgumentNullException.ThrowIfNull(memoryPages);
        var memory = memoryPages.Where(p => p >= fromPageNo).Distinct().Order().ToArray();
        var pages = new List<long>(Math.Min(maxPages, 1024));
        var m = 0;
        var stored = nextStoredPage(fromPageNo);
        while (pages.Count < maxPages)
        {
            long next;
            if (stored < 0 && m == memory.Length) return (pages.ToArray(), -1);
            if (stored < 0 || (m < memory.Length && memory[m] <= stored)) next = memory[m];
            else next = stored;
            pages.Add(next);
            while (m < memory.Length && memory[m] <= next) m++;
            if (stored >= 0 && stored <= next) stored = nextStoredPage(next + 1);
        }
        var more = stored >= 0 || m < memory.Length;
        return (pages.ToArray(), more ? pages[^1] + 1 : -1);
    }

    /// <summary>Rate of a transfer in MB/s (10^6 bytes per second); 0 for a zero or negative duration.</summary>
    /// <param name="bytes">Bytes moved.</param>
    /// <param name="elapsed">Wall time it took.</param>
    public static double MegabytesPerSecond(long bytes, TimeSpan elapsed) =>
        elapsed <= TimeSpan.Zero ? 0 : bytes / 1e6 / elapsed.TotalSeconds;

    /// <summary>Annulled ranges as a flat array for a message: <c>[from, to, epoch]</c> per range.</summary>
    public static long[] Flatten(IReadOnlyList<AnnulledRange> ranges)
    {
        ArgumentNullException.ThrowIfNull(ranges);
        var flat = new long[ranges.Count * 3];
        for (var i = 0; i < ranges.Count; i++)
            (flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]) = (ranges[i].FromExclusive.Value, ranges[i].ToInclusive.Value, ranges[i].Epoch);
        return flat;
    }

    /// <summary>The inverse of <see cref="Flatten"/>.</summary>
    /// <exception cref="ArgumentException">the length is not a multiple of 3, or a range is invalid.</exception>
    public static AnnulledRange[] Unflatten(long[] flat)
    {
        ArgumentNullException.ThrowIfNull(flat);
        if (flat.Length % 3 != 0) throw new ArgumentException($"{flat.Length} values are not whole (from, to, epoch) triples", nameof(flat));
        var ranges = new AnnulledRange[flat.Length / 3];
        for (var i = 0; i < ranges.Length; i++) ranges[i] = new AnnulledRange(new Lsn(flat[3 * i]), new Lsn(flat[3 * i + 1]), flat[3 * i + 2]);
        return ranges;
    }

    /// <summary>A commit point for a message (<paramref name="cpl"/> null: LSN 0, no tails), and back.</summary>
    public static (long Lsn, long[] Tails) Flatten(CplInfo? cpl) =>
        cpl is null ? (0, []) : (cpl.Lsn.Value, cpl.PgTail.Select(t => t.Value).ToArray());

    /// <summary>The inverse of <see cref="Flatten(CplInfo?)"/>: null for LSN 0.</summary>
    public static CplInfo? Unflatten(long lsn, long[] tails) =>
        lsn == 0 ? null : new CplInfo(new Lsn(lsn), (tails ?? []).Select(t => new Lsn(t)).ToArray());
}

/// <summary>
/// A segment's catch-up as operators see it (<c>pg show</c>) and as its start/finish log lines report it: from which
/// peer, since when, from which SCL to which target (the PG's state when the catch-up began), and what was copied.
/// Immutable; the segment replaces it as the catch-up moves on.
/// </summary>
/// <param name="Epoch">The epoch the catch-up runs in.</param>
/// <param name="Peer">The replica (0..5) it copies from or fetches records from.</param>
/// <param name="StartedUtc">When it began (UTC).</param>
/// <param name="StartScl">The segment's SCL when it began.</param>
/// <param name="Target">The LSN it must reach: the highest the PG was known to hold when it began (VDL, records held
/// above a hole, a peer's SCL). It counts in no quorum for an LSN above its SCL, and serves no read above it.</param>
/// <param name="CopyPoint">The peer checkpoint the page copy is taken at (Lsn.Zero: records only, no page copy).</param>
/// <param name="PagesCopied">Pages copied from the peer and made durable.</param>
/// <param name="PageBytes">Page image bytes copied (pages x page size).</param>
/// <param name="RecordsFetched">Redo records fetched from peers.</param>
/// <param name="RecordBytes">Bytes of those records (fixed part and payload).</param>
public sealed record CatchUpProgress(long Epoch, int Peer, DateTime StartedUtc, Lsn StartScl, Lsn Target, Lsn CopyPoint,
    long PagesCopied, long PageBytes, long RecordsFetched, long RecordBytes)
{
    /// <summary>Everything copied so far, bytes.</summary>
    public long Bytes => PageBytes + RecordBytes;

    /// <summary>True when an SCL of <paramref name="scl"/> reaches the target.</summary>
    public bool IsDone(Lsn scl) => scl >= Target;

    /// <summary>Average rate since the start, MB/s (10^6 bytes per second), at <paramref name="nowUtc"/>.</summary>
    public double MegabytesPerSecond(DateTime nowUtc) => PageCopy.MegabytesPerSecond(Bytes, nowUtc - StartedUtc);

    /// <summary>One line for <c>pg show</c>, e.g.
    /// <c>from pg-0-0: page copy at 81234, 512 pages 4.0 MiB + 120 records 0.1 MiB; SCL 81234 of 90210; 35.2 MB/s</c>.</summary>
    /// <param name="pg">The PG, for the peer's name.</param>
    /// <param name="scl">The segment's SCL now.</param>
    /// <param name="nowUtc">Now, for the rate.</param>
    public string Describe(int pg, Lsn scl, DateTime nowUtc) =>
        $"from pg-{pg}-{Peer}: " + (CopyPoint > Lsn.Zero ? $"page copy at {CopyPoint.Value}, {PagesCopied} pages {PageBytes / 1048576.0:0.0} MiB + " : "")
        + $"{RecordsFetched} records {RecordBytes / 1048576.0:0.0} MiB; SCL {scl.Value} of {Target.Value}; {MegabytesPerSecond(nowUtc):0.0} MB/s";
}
