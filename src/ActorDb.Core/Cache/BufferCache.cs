using ActorDb.Core.Pages;

namespace ActorDb.Core.Cache;

/// <summary>
/// The writer's bounded buffer cache of pages, and the <see cref="IPageSource"/> its B+trees run on. A page not in the
/// cache raises <see cref="PageMissException"/>; the writer reads it from a segment at read point VDL and
/// <see cref="Install"/>s it. Least-recently-used pages are evicted once the cache holds more than its capacity, but
/// only pages whose page LSN is at or below VDL (design: "a dirty page may be evicted only when its page LSN &lt;= VDL",
/// Aurora 2017 §4.2.3) and never the catalog page or a page of the mini-transaction under way.
/// </summary>
public sealed class BufferCache : IPageSource
{
    private readonly Dictionary<long, LinkedListNode<Page>> _pages = new();
    private readonly Dictionary<long, int> _pinned = new();   // page -> pin count
    private readonly LinkedList<Page> _lru = new();   // most recent first
    private readonly List<Page> _mtrPages = new();
    private readonly HashSet<long> _mtrPageNos = new();
    private readonly int _pageSize;
    private Func<long>? _allocator;

    /// <summary>Creates a cache of at most <paramref name="capacityPages"/> evictable pages of <paramref name="pageSize"/> bytes.</summary>
    public BufferCache(int pageSize, int capacityPages)
    {
        if (capacityPages < 16) throw new ArgumentOutOfRangeException(nameof(capacityPages), "the buffer cache needs at least 16 pages");
        _pageSize = pageSize;
        Capacity = capacityPages;
    }

    /// <summary>Maximum pages kept when pages can be evicted.</summary>
    public int Capacity { get; }
    /// <summary>Pages held now.</summary>
    public int Count => _pages.Count;
    /// <summary>Page misses so far.</summary>
    public long Misses { get; private set; }
    /// <summary>Pages evicted so far.</summary>
    public long Evictions { get; private set; }

    /// <summary>Sets the page-number allocator used by <see cref="AllocatePage"/> (the catalog's).</summary>
    public void SetAllocator(Func<long> allocator) => _allocator = allocator;

    /// <summary>True when the page is cached.</summary>
    public bool Contains(long pageNo) => _pages.ContainsKey(pageNo);

    /// <inheritdoc />
    public Page GetPage(long pageNo)
    {
        if (!_pages.TryGetValue(pageNo, out var node))
        {
            Misses++;
            throw new PageMissException(pageNo);
        }
        if (node != _lru.First)
        {
            _lru.Remove(node);
            _lru.AddFirst(node);
        }
        return node.Value;
    }

    /// <inheritdoc />
    public Page AllocatePage(long nearPageNo)
    {
        var allocator = _allocator ?? throw new InvalidOperationException("no page allocator set");
        var page = Page.CreateEmpty(allocator(), _pageSize);
        Add(page);
        MarkDirty(page);
        return page;
    }

    /// <inheritdoc />
    public void MarkDirty(Page page)
    {
        if (_mtrPageNos.Add(page.PageNo)) _mtrPages.Add(page);
    }

    /// <summary>Adds a page that was created outside the allocator (the catalog page of a new volume).</summary>
    public void Add(Page page)
    {
        if (_pages.ContainsKey(page.PageNo)) throw new InvalidOperationException($"page {page.PageNo} is already cached");
        _pages[page.PageNo] = _lru.AddFirst(page);
    }

    /// <summary>Installs a page image read from storage (a no-op when the page is cached already: the cache's copy is
    /// never older than storage's).</summary>
    public void Install(long pageNo, byte[] image)
    {
        if (_pages.ContainsKey(pageNo)) return;
        Add(Page.FromImage(pageNo, image));
    }

    /// <summary>Pages marked dirty since the last <see cref="TakeMtrPages"/>, in first-touch order; starts a new MTR.</summary>
    public IReadOnlyList<Page> TakeMtrPages()
    {
        var pages = _mtrPages.ToArray();
        _mtrPages.Clear();
        _mtrPageNos.Clear();
        return pages;
    }

    /// <summary>Keeps <paramref name="pageNo"/> (cached now or installed later) from eviction until a matching
    /// <see cref="Unpin"/>; pins nest. The cache may exceed its capacity by the pinned pages.</summary>
    public void Pin(long pageNo) => _pinned[pageNo] = _pinned.GetValueOrDefault(pageNo) + 1;

    /// <summary>Releases one <see cref="Pin"/> of <paramref name="pageNo"/>.</summary>
    /// <exception cref="InvalidOperationException">the page is not pinned.</exception>
    public void Unpin(long pageNo)
    {
        if (!_pinned.TryGetValue(pageNo, out var n)) throw new InvalidOperationException($"page {pageNo} is not pinned");
        if (n == 1) _pinned.Remove(pageNo); else _pinned[pageNo] = n - 1;
    }

    /// <summary>Pages pinned now.</summary>
    public int PinnedCount => _pinned.Count;

    /// <summary>Evicts least-recently-used pages with page LSN &lt;= <paramref name="vdl"/> until the cache is within capacity.</summary>
    public void EvictDurable(Lsn vdl, long pinnedPageNo)
    {
        var node = _lru.Last;
        while (_pages.Count > Capacity && node != null)
        {
            var prev = node.Previous;
            var page = node.Value;
            if (page.PageNo != pinnedPageNo && page.PageLsn <= vdl && !_mtrPageNos.Contains(page.PageNo) && !_pinned.ContainsKey(page.PageNo))
            {
                _lru.Remove(node);
                _pages.Remove(page.PageNo);
                Evictions++;
            }
            node = prev;
        }
    }
}
