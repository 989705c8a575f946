namespace ActorDb.Core.Storage;

/// <summary>
/// The pace and position of a segment's background scrub (Aurora's storage nodes "periodically validate CRC codes on
/// pages" and repair what fails): it reads every written slot of the page store in page order, wraps around at the end
/// of the PG, and never reads more than <see cref="PagesPerSecond"/> on average, with a burst of at most one second's
/// worth after a pause. Pure bookkeeping: the caller passes the time, reads and verifies the slots, and reports each
/// with <see cref="Scrubbed"/>. Not thread-safe (one actor owns it).
/// </summary>
public sealed class Scrubber
{
    private readonly long _firstPageNo;
    private readonly long _pageCount;
    private DateTime _last;
    private double _carry;

    /// <summary>A scrub of pages [<paramref name="firstPageNo"/>, +<paramref name="pageCount"/>) at <paramref name="pagesPerSecond"/>, starting at <paramref name="now"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">a negative first page, a non-positive count, or a negative rate.</exception>
    public Scrubber(long firstPageNo, long pageCount, double pagesPerSecond, DateTime now)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstPageNo);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageCount, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(pagesPerSecond);
        (_firstPageNo, _pageCount, PagesPerSecond, _last) = (firstPageNo, pageCount, pagesPerSecond, now);
        Cursor = firstPageNo;
    }

    /// <summary>Average pages read per second, at most (0: the scrub is off).</summary>
    public double PagesPerSecond { get; }

    /// <summary>The page the scrub reads next (at or above it: holes are skipped).</summary>
    public long Cursor { get; private set; }

    /// <summary>Slots read and verified since the start.</summary>
    public long Pages { get; private set; }

    /// <summary>Bytes of those slots.</summary>
    public long Bytes { get; private set; }

    /// <summary>Whole passes over the PG completed.</summary>
    public long Passes { get; private set; }

    /// <summary>Damaged slots found.</summary>
    public long Damaged { get; private set; }

    /// <summary>How many slots may be read at <paramref name="now"/>: the time since the last call at the rate, plus the
    /// fraction left over before, at most one second's worth. 0 when the scrub is off.</summary>
    public int Budget(DateTime now)
    {
        if (PagesPerSecond <= 0) return 0;
        var elapsed = Math.Max(0, (now - _last).TotalSeconds);
        _last = now;
        _carry = Math.Min(_carry + elapsed * PagesPerSecond, Math.Max(1, PagesPerSecond));
        var pages = (int)Math.Floor(_carry);
        _carry -= pages;
        return pages;
    }

    /// <summary>Gives back <paramref name="pages"/> of a budget not used (the scrub reached a point where it must wait).</summary>
    public void Unused(int pages) => _carry = Math.Min(_carry + Math.Max(0, pages), Math.Max(1, PagesPerSecond));

    /// <summary>Counts slot <paramref name="pageNo"/> (<paramref name="bytes"/> read) as verified; the scrub goes on after it.</summary>
    /// <param name="pageNo">The slot read.</param>
    /// <param name="bytes">Bytes read.</param>
    /// <param name="damaged">Whether it failed verification.</param>
    public void Scrubbed(long pageNo, int bytes, bool damaged)
    {
        Pages++;
        Bytes += bytes;
        if (damaged) Damaged++;
        MoveTo(pageNo + 1);
    }

    /// <summary>Moves the cursor to <paramref name="pageNo"/> (a page skipped, e.g. one being written); past the end of
    /// the PG, or -1 (no written page left), the pass ends and the next starts at the first page.</summary>
    public void MoveTo(long pageNo)
    {
        if (pageNo < 0 || pageNo >= _firstPageNo + _pageCount)
        {
            Passes++;
            Cursor = _firstPageNo;
        }
        else Cursor = Math.Max(pageNo, _firstPageNo);
    }
}

/// <summary>A segment's page-store health for <c>pg show</c> and benchmarks: what its scrub read and verified since the
/// segment opened (slots, bytes, whole passes, damaged slots found) and the repairs (done, in progress).</summary>
/// <param name="ScrubbedPages">Slots read and verified by the scrub.</param>
/// <param name="ScrubbedBytes">Bytes of those slots.</param>
/// <param name="ScrubPasses">Whole passes over the PG.</param>
/// <param name="DamagedFound">Damaged slots found (by the scrub, a read or the materialization).</param>
/// <param name="Repaired">Pages repaired from peers.</param>
/// <param name="Repairing">Pages being repaired now.</param>
public sealed record PageHealth(long ScrubbedPages, long ScrubbedBytes, long ScrubPasses, long DamagedFound, long Repaired, int Repairing);
