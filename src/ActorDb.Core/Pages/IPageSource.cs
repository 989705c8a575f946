namespace ActorDb.Core.Pages;

/// <summary>
/// How a <see cref="BTree"/> reaches pages: the writer's buffer cache in production,
/// <see cref="MemoryPageSource"/> in tests.
/// </summary>
/// <remarks>
/// Contract with <see cref="BTree"/>: every tree operation calls <see cref="GetPage"/> for all the
/// pages it needs BEFORE it calls <see cref="AllocatePage"/>, <see cref="MarkDirty"/> or modifies
/// anything, so an operation that fails with <see cref="PageMissException"/> has changed nothing and
/// is simply retried once the missing page is in the cache.
/// </remarks>
public interface IPageSource
{
    /// <summary>The cached page <paramref name="pageNo"/>.</summary>
    /// <exception cref="PageMissException">the page is not in the cache; the caller fetches it from
    /// storage (at read point VDL) and retries the whole operation.</exception>
    Page GetPage(long pageNo);

    /// <summary>
    /// A new page whose content is all zeroes both here and in storage (a never-written page, or one
    /// whose zeroing was itself logged), with nothing tracked. <paramref name="nearPageNo"/> is a
    /// placement hint (a page of the same tree) so the allocator can keep a tree in one PG.
    /// </summary>
    Page AllocatePage(long nearPageNo);

    /// <summary>
    /// Announces that the current operation is about to modify <paramref name="page"/>; called at least
    /// once per modified page per operation (also for pages just allocated), before the first change,
    /// so the cache can pin, snapshot or collect the page's delta when the operation ends.
    /// </summary>
    void MarkDirty(Page page);
}

/// <summary>
/// Thrown by <see cref="IPageSource.GetPage"/> when the page is not cached. Tree operations throw it
/// only before modifying anything (see <see cref="IPageSource"/>), except <see cref="BTree.Scan"/>,
/// which is read-only and may throw it after following some sibling links.
/// </summary>
public sealed class PageMissException : Exception
{
    /// <summary>Creates the exception for page <paramref name="pageNo"/>.</summary>
    public PageMissException(long pageNo)
        : base($"page {pageNo} is not in the page cache")
    {
        PageNo = pageNo;
    }

    /// <summary>The page that must be fetched before the operation is retried.</summary>
    public long PageNo { get; }
}
