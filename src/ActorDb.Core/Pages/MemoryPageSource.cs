namespace ActorDb.Core.Pages;

/// <summary>
/// An in-memory <see cref="IPageSource"/> for tests and tools: a dictionary of pages, a set of page
/// numbers that simulate cache misses, and the set of pages marked dirty since <see cref="ClearDirty"/>.
/// </summary>
/// <remarks>Allocation hands out increasing page numbers from the first page number given to the
/// constructor, skipping numbers already present; the placement hint is ignored. Not thread-safe.</remarks>
public sealed class MemoryPageSource : IPageSource
{
    private readonly Dictionary<long, Page> _pages = new();
    private readonly HashSet<long> _dirty = new();
    private long _next;

    /// <summary>Creates an empty source.</summary>
    /// <param name="pageSize">Size of every page.</param>
    /// <param name="firstPageNo">The first page number <see cref="AllocatePage"/> hands out.</param>
    /// <exception cref="ArgumentOutOfRangeException">page size outside [<see cref="Page.MinSize"/>,
    /// <see cref="Page.MaxSize"/>] or a negative first page number.</exception>
    public MemoryPageSource(int pageSize = 8192, long firstPageNo = 0)
    {
        if (pageSize < Page.MinSize || pageSize > Page.MaxSize)
            throw PageErrors.PageSizeOutOfRange(pageSize, "", nameof(pageSize));
        ArgumentOutOfRangeException.ThrowIfNegative(firstPageNo);
        PageSize = pageSize;
        _next = firstPageNo;
    }

    /// <summary>Size in bytes of every page of this source.</summary>
    public int PageSize { get; }

    /// <summary>Pages whose <see cref="GetPage"/> throws <see cref="PageMissException"/> (simulated misses).</summary>
    public HashSet<long> MissingPages { get; } = new();

    /// <summary>All pages, by page number.</summary>
    public IReadOnlyDictionary<long, Page> Pages => _pages;

    /// <summary>Page numbers passed to <see cref="MarkDirty"/> since the last <see cref="ClearDirty"/>.</summary>
    public IReadOnlyCollection<long> DirtyPages => _dirty;

    /// <summary>Number of <see cref="GetPage"/> calls (including misses).</summary>
    public long GetCount { get; private set; }

    /// <summary>Number of <see cref="AllocatePage"/> calls.</summary>
    public long AllocateCount { get; private set; }

    /// <summary>Number of <see cref="MarkDirty"/> calls.</summary>
    public long MarkDirtyCount { get; private set; }

    /// <inheritdoc />
    /// <exception cref="PageMissException">the page is in <see cref="MissingPages"/>.</exception>
    /// <exception cref="KeyNotFoundException">the page was never allocated or added.</exception>
    public Page GetPage(long pageNo)
    {
        GetCount++;
        if (MissingPages.Contains(pageNo)) throw new PageMissException(pageNo);
        return _pages.TryGetValue(pageNo, out var page)
            ? page
            : throw PageErrors.NeverAllocated(pageNo);
    }

    /// <inheritdoc />
    public Page AllocatePage(long nearPageNo)
    {
        AllocateCount++;
        while (_pages.ContainsKey(_next)) _next++;
        var page = Page.CreateEmpty(_next++, PageSize);
        _pages.Add(page.PageNo, page);
        return page;
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">the page does not belong to this source.</exception>
    public void MarkDirty(Page page)
    {
        ArgumentNullException.ThrowIfNull(page);
        if (!_pages.TryGetValue(page.PageNo, out var own) || !ReferenceEquals(own, page))
            throw PageErrors.NotThisSourcesPage(page.PageNo, nameof(page));
        MarkDirtyCount++;
        _dirty.Add(page.PageNo);
    }

    /// <summary>Adds or replaces a page (e.g. one "fetched from storage").</summary>
    /// <exception cref="ArgumentException">the page size differs from <see cref="PageSize"/>.</exception>
    public void Put(Page page)
    {
        ArgumentNullException.ThrowIfNull(page);
        if (page.Size != PageSize)
            throw PageErrors.PageSizeDiffers(page.PageNo, page.Size, PageSize, nameof(page));
        _pages[page.PageNo] = page;
    }

    /// <summary>Forgets which pages were marked dirty.</summary>
    public void ClearDirty() => _dirty.Clear();
}
