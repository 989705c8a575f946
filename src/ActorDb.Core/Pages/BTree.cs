using static ActorDb.Core.Pages.NodeLayout;

namespace ActorDb.Core.Pages;

/// <summary>
/// A B+tree of byte-string keys and values over slotted pages (<see cref="NodeLayout"/>) reached
/// through an <see cref="IPageSource"/>. Keys compare as unsigned bytes, lexicographically
/// (<see cref="MemoryExtensions.SequenceCompareTo{T}(ReadOnlySpan{T}, ReadOnlySpan{T})"/>); use
/// <see cref="KeyEncoding"/> for order-preserving encodings of numbers and strings.
/// </summary>
/// <remarks>
/// <para><b>Fixed root.</b> The root page number never changes, so a table is identified forever by
/// its root page number: when the root splits, its content moves into two newly allocated children
/// and the root becomes an internal node over them (Graefe, "Modern B-Tree Techniques", 2011).</para>
/// <para><b>Read-before-write contract.</b> Every mutating operation first descends from the root,
/// collecting the path (all its <see cref="IPageSource.GetPage"/> calls happen here), then plans any
/// splits from the collected pages alone, then allocates the new pages, calls
/// <see cref="IPageSource.MarkDirty"/> for every page it will modify, and only then modifies them.
/// Splits cascade only up the collected path; a leaf split links the new right leaf to the old right
/// sibling without reading it. So an operation that throws <see cref="PageMissException"/> has
/// modified, allocated and marked nothing and can be retried after the page is loaded. (Should
/// <see cref="IPageSource.AllocatePage"/> itself throw, nothing is modified either, but pages it
/// already handed out to this operation stay allocated and unused.)
/// <see cref="Scan"/> is read-only and may throw <see cref="PageMissException"/> mid-scan after
/// following sibling links; retry it (or resume from the last key returned).</para>
/// <para><b>Deletes do not rebalance.</b> A delete only removes the cell from its leaf: leaves may
/// become underfull or empty and stay linked in the sibling chain; separators in internal nodes stay
/// valid (they still bound the subtrees). Lookups and scans are correct (scans skip empty leaves);
/// space is reused by later inserts into the same key range. No page is ever freed.</para>
/// <para><b>Splits.</b> Leaf splits divide the bytes evenly, except that an insert past the last key
/// of the rightmost leaf moves only the new entry right (sequential loads fill leaves completely).
/// The separator posted to the parent is the shortest prefix of the right half's first key that is
/// greater than the left half's last key (suffix truncation, Graefe 2011). The left half stays
/// in place: its moved cells are dropped from the slot array and become fragmented space.</para>
/// <para><b>Size limits.</b> Keys up to <see cref="MaxKeyBytes"/> bytes and values up to
/// <see cref="MaxValueBytesFor"/>(page size) bytes, so that at least four maximal entries fit in a leaf, which
/// guarantees that every split produces two halves that fit.</para>
/// <para>Not thread-safe: the writer serializes operations on a tree (or latches pages above this class).</para>
/// </remarks>
public sealed class BTree
{
    /// <summary>Largest key, in bytes.</summary>
    public const int MaxKeyBytes = 512;
    /// <summary>Smallest supported page size.</summary>
    public const int MinPageSize = 4096;
    /// <summary>Guard against corrupt pages forming cycles.</summary>
    private const int MaxDepth = 32;

    private readonly IPageSource _source;
    // Learned from the root page on first access (0 = not yet); every node must have this size.
    private int _pageSize;

    /// <summary>
    /// Opens the tree whose root is page <paramref name="rootPageNo"/> (see <see cref="Format"/>). Reads
    /// nothing: the page size is learned from the root page on first access.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">the root page number is negative.</exception>
    public BTree(IPageSource source, long rootPageNo)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegative(rootPageNo);
        _source = source;
        RootPageNo = rootPageNo;
    }

    /// <summary>The root page number: fixed for the life of the tree.</summary>
    public long RootPageNo { get; }

    /// <summary>
    /// Largest value for <paramref name="pageSize"/>: four leaf entries with a maximal key must fit
    /// after the header, each costing slot + cell = 2 + 4 + key + value bytes:
    /// <c>(pageSize - 40) / 4 - 6 - MaxKeyBytes</c>; 1520 for 8 KiB pages, 496 for 4 KiB.
    /// </summary>
    public static int MaxValueBytesFor(int pageSize)
    {
        CheckPageSize(pageSize);
        return (pageSize - HeaderSize) / 4 - SlotSize - LeafCellOverhead - MaxKeyBytes;
    }

    private static void CheckPageSize(int pageSize)
    {
        if (pageSize < MinPageSize || pageSize > Page.MaxSize)
            throw BTreeErrors.PageSizeOutOfRange(pageSize, MinPageSize, Page.MaxSize, nameof(pageSize));
    }

    /// <summary>
    /// Initializes page <paramref name="rootPageNo"/> (already allocated in <paramref name="source"/>)
    /// as an empty leaf root (tracked: the formatting travels as a delta like any change).
    /// </summary>
    /// <exception cref="PageMissException">the page is not cached (nothing was modified).</exception>
    /// <exception cref="ArgumentOutOfRangeException">the page size is outside
    /// [<see cref="MinPageSize"/>, <see cref="Page.MaxSize"/>] (nothing was modified).</exception>
    public static void Format(IPageSource source, long rootPageNo)
    {
        ArgumentNullException.ThrowIfNull(source);
        var root = source.GetPage(rootPageNo);
        CheckPageSize(root.Size);
        source.MarkDirty(root);
        Rewrite(root, NodeType.Leaf, NoPage, NoPage, new List<byte[]>(), 0, 0);
    }

    /// <summary>Allocates a page near <paramref name="nearPageNo"/>, formats it as an empty tree and opens it.</summary>
    public static BTree Create(IPageSource source, long nearPageNo)
    {
        ArgumentNullException.ThrowIfNull(source);
        var root = source.AllocatePage(nearPageNo);
        Format(source, root.PageNo);
        return new BTree(source, root.PageNo);
    }

    // ================================================================== reads

    /// <summary>The value stored under <paramref name="key"/>, or null.</summary>
    /// <exception cref="PageMissException">a page on the path is not cached.</exception>
    /// <exception cref="InvalidDataException">a page on the path is not a B+tree node.</exception>
    public byte[]? Get(ReadOnlySpan<byte> key)
    {
        if (key.Length > MaxKeyBytes) return null;
        var leaf = DescendToLeaf(key);
        int i = LowerBound(leaf, key, out bool found);
        return found ? GetValue(leaf, i).ToArray() : null;
    }

    /// <summary>True when <paramref name="key"/> is present.</summary>
    /// <exception cref="PageMissException">a page on the path is not cached.</exception>
    public bool ContainsKey(ReadOnlySpan<byte> key)
    {
        if (key.Length > MaxKeyBytes) return false;
        LowerBound(DescendToLeaf(key), key, out bool found);
        return found;
    }

    /// <summary>
    /// Up to <paramref name="maxCount"/> entries with key &gt;= <paramref name="fromKey"/>, in key order,
    /// following leaf right-sibling links (empty leaves are skipped). An empty
    /// <paramref name="fromKey"/> starts at the smallest key.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxCount"/> is negative.</exception>
    /// <exception cref="PageMissException">a page is not cached; may happen mid-scan after sibling links
    /// were followed (harmless: the scan is read-only; retry, or resume after the last key seen).</exception>
    public List<(byte[] Key, byte[] Value)> Scan(ReadOnlySpan<byte> fromKey, int maxCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxCount);
        var result = new List<(byte[] Key, byte[] Value)>(Math.Min(maxCount, 256));
        if (maxCount == 0) return result;
        var leaf = DescendToLeaf(fromKey);
        int i = LowerBound(leaf, fromKey, out _);
        int hops = 0;
        while (true)
        {
            int n = GetCount(leaf);
            for (; i < n; i++)
            {
                result.Add((GetKey(leaf, i).ToArray(), GetValue(leaf, i).ToArray()));
                if (result.Count == maxCount) return result;
            }
            long next = GetRightSibling(leaf);
            if (next == NoPage) return result;
            if (++hops > 1 << 30) throw BTreeErrors.SiblingChainDoesNotEnd();
            leaf = ReadNode(next, NodeType.Leaf);
            i = 0;
        }
    }

    /// <summary>Number of entries (walks every leaf; for tests and tools).</summary>
    /// <exception cref="PageMissException">a page is not cached.</exception>
    public long Count()
    {
        var node = ReadNode(RootPageNo, null);
        for (int depth = 0; GetNodeType(node) == NodeType.Internal; depth++)
        {
            if (depth >= MaxDepth) throw BTreeErrors.TooDeep(RootPageNo, MaxDepth);
            node = ReadNode(GetLeftmostChild(node), null);
        }
        long count = 0;
        while (true)
        {
            count += GetCount(node);
            long next = GetRightSibling(node);
            if (next == NoPage) return count;
            node = ReadNode(next, NodeType.Leaf);
        }
    }

    /// <summary>Height of the tree: 1 when the root is a leaf.</summary>
    /// <exception cref="PageMissException">a page is not cached.</exception>
    public int Height()
    {
        var node = ReadNode(RootPageNo, null);
        int height = 1;
        while (GetNodeType(node) == NodeType.Internal)
        {
            if (height > MaxDepth) throw BTreeErrors.TooDeep(RootPageNo, MaxDepth);
            node = ReadNode(GetLeftmostChild(node), null);
            height++;
        }
        return height;
    }

    // ================================================================== writes

    /// <summary>Inserts a new entry; returns false (and changes nothing) when the key exists.</summary>
    /// <exception cref="ArgumentException">the key exceeds <see cref="MaxKeyBytes"/> or the value
    /// exceeds <see cref="MaxValueBytesFor"/> the page size (nothing was modified).</exception>
    /// <exception cref="PageMissException">a page on the path is not cached (nothing was modified).</exception>
    public bool Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        CheckKeySize(key);
        var path = DescendForWrite(key);
        CheckValueSize(value);
        int i = LowerBound(path.Leaf, key, out bool found);
        if (found) return false;
        ApplyLeafChange(path, i, LeafOp.Insert, MakeLeafCell(key, value));
        return true;
    }

    /// <summary>Replaces the value of an existing entry (the size may change); returns false when the key is missing.</summary>
    /// <exception cref="ArgumentException">the key exceeds <see cref="MaxKeyBytes"/> or the value
    /// exceeds <see cref="MaxValueBytesFor"/> the page size (nothing was modified).</exception>
    /// <exception cref="PageMissException">a page on the path is not cached (nothing was modified).</exception>
    public bool Update(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        CheckKeySize(key);
        var path = DescendForWrite(key);
        CheckValueSize(value);
        int i = LowerBound(path.Leaf, key, out bool found);
        if (!found) return false;
        ApplyLeafChange(path, i, LeafOp.Replace, MakeLeafCell(key, value));
        return true;
    }

    /// <summary>Inserts or replaces; returns true when the key was inserted, false when it was updated.</summary>
    /// <exception cref="ArgumentException">the key exceeds <see cref="MaxKeyBytes"/> or the value
    /// exceeds <see cref="MaxValueBytesFor"/> the page size (nothing was modified).</exception>
    /// <exception cref="PageMissException">a page on the path is not cached (nothing was modified).</exception>
    public bool Upsert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        CheckKeySize(key);
        var path = DescendForWrite(key);
        CheckValueSize(value);
        int i = LowerBound(path.Leaf, key, out bool found);
        ApplyLeafChange(path, i, found ? LeafOp.Replace : LeafOp.Insert, MakeLeafCell(key, value));
        return !found;
    }

    /// <summary>
    /// Removes an entry; returns false when the key is missing. Never merges or rebalances: the leaf
    /// may become underfull or empty (see the class remarks).
    /// </summary>
    /// <exception cref="PageMissException">a page on the path is not cached (nothing was modified).</exception>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        if (key.Length > MaxKeyBytes) return false;
        var path = DescendForWrite(key);
        int i = LowerBound(path.Leaf, key, out bool found);
        if (!found) return false;
        _source.MarkDirty(path.Leaf);
        RemoveCell(path.Leaf, i);
        return true;
    }

    private static void CheckKeySize(ReadOnlySpan<byte> key)
    {
        if (key.Length > MaxKeyBytes)
            throw BTreeErrors.KeyTooLong(key.Length, MaxKeyBytes, nameof(key));
    }

    /// <summary>Called after the root was read (the page size is known); before any modification.</summary>
    private void CheckValueSize(ReadOnlySpan<byte> value)
    {
        int max = MaxValueBytesFor(_pageSize);
        if (value.Length > max)
            throw BTreeErrors.ValueTooLong(value.Length, max, _pageSize, nameof(value));
    }

    // ================================================================== descent

    /// <summary>Root-to-leaf path: Pages[d] is the node at depth d; ChildIndexes[d] the child taken from it.</summary>
    private sealed class PathInfo
    {
        public readonly List<Page> Pages = new(4);
        public readonly List<int> ChildIndexes = new(4);
        public Page Leaf => Pages[^1];
        public int LeafDepth => Pages.Count - 1;
    }

    private Page ReadNode(long pageNo, NodeType? expected)
    {
        var page = _source.GetPage(pageNo);
        if (_pageSize == 0)
        {
            CheckPageSize(page.Size);
            _pageSize = page.Size;
        }
        else if (page.Size != _pageSize)
            throw BTreeErrors.PageSizeDiffers(pageNo, page.Size, _pageSize);
        var type = GetNodeType(page);
        if (type is not (NodeType.Leaf or NodeType.Internal) || (expected is { } e && type != e))
            throw BTreeErrors.NotANode(pageNo, RootPageNo, expected, (byte)type);
        return page;
    }

    private Page DescendToLeaf(ReadOnlySpan<byte> key)
    {
        var node = ReadNode(RootPageNo, null);
        for (int depth = 0; GetNodeType(node) == NodeType.Internal; depth++)
        {
            if (depth >= MaxDepth) throw BTreeErrors.TooDeep(RootPageNo, MaxDepth);
            node = ReadNode(GetChildAt(node, ChildIndexFor(node, key)), null);
        }
        return node;
    }

    private PathInfo DescendForWrite(ReadOnlySpan<byte> key)
    {
        var path = new PathInfo();
        var node = ReadNode(RootPageNo, null);
        path.Pages.Add(node);
        while (GetNodeType(node) == NodeType.Internal)
        {
            if (path.Pages.Count > MaxDepth) throw BTreeErrors.TooDeep(RootPageNo, MaxDepth);
            int ci = ChildIndexFor(node, key);
            path.ChildIndexes.Add(ci);
            node = ReadNode(GetChildAt(node, ci), null);
            path.Pages.Add(node);
        }
        return path;
    }

    // ================================================================== structure modification

    private enum LeafOp { Insert, Replace }

    /// <summary>One planned node split: the node's cells with the change applied, and where to cut.</summary>
    private sealed class SplitPlan
    {
        public required int Depth;
        public required Page Page;
        public required bool IsLeaf;
        /// <summary>All cells after the change; leaf: left = [0, Cut), right = [Cut, n);
        /// internal: left = [0, Cut), Cells[Cut] goes up, right = [Cut + 1, n).</summary>
        public required List<byte[]> Cells;
        public required int Cut;
        /// <summary>Where the change landed in Cells and whether it added a cell (else replaced one).</summary>
        public required int ChangeIndex;
        public required bool ChangeAdds;
        /// <summary>The internal cell posted to the parent; its child is set once the right page exists.</summary>
        public required byte[] UpCell;
        public Page? Left;
        public Page? Right;
    }

    private void ApplyLeafChange(PathInfo path, int index, LeafOp op, byte[] cell)
    {
        var leaf = path.Leaf;
        bool fits = op == LeafOp.Insert ? CanInsert(leaf, cell.Length) : CanReplace(leaf, index, cell.Length);
        if (fits)
        {
            _source.MarkDirty(leaf);
            if (op == LeafOp.Insert) InsertCell(leaf, index, cell);
            else ReplaceCell(leaf, index, cell);
            return;
        }

        // ---- plan (reads only pages already on the path) ----
        var plans = new List<SplitPlan>();
        var cells = ReadCells(leaf);
        if (op == LeafOp.Insert) cells.Insert(index, cell);
        else cells[index] = cell;
        int cut = op == LeafOp.Insert && index == cells.Count - 1 && GetRightSibling(leaf) == NoPage
            ? cells.Count - 1                 // append to the rightmost leaf: only the new entry moves right
            : ChooseCut(cells, isLeaf: true);
        var separator = ShortestSeparator(CellKey(cells[cut - 1]), CellKey(cells[cut]));
        plans.Add(new SplitPlan
        {
            Depth = path.LeafDepth, Page = leaf, IsLeaf = true, Cells = cells, Cut = cut,
            ChangeIndex = index, ChangeAdds = op == LeafOp.Insert, UpCell = MakeInternalCell(separator, NoPage),
        });

        Page? finalParent = null;
        int finalIndex = -1;
        byte[] upCell = plans[0].UpCell;
        for (int depth = path.LeafDepth - 1; depth >= 0; depth--)
        {
            var node = path.Pages[depth];
            int insertAt = path.ChildIndexes[depth] + 1;
            if (CanInsert(node, upCell.Length))
            {
                finalParent = node;
                finalIndex = insertAt;
                break;
            }
            var icells = ReadCells(node);
            icells.Insert(insertAt, upCell);
            bool rightmost = insertAt == icells.Count - 1 && IsRightmost(path, depth);
            int icut = rightmost ? icells.Count - 2 : ChooseCut(icells, isLeaf: false);
            var plan = new SplitPlan
            {
                Depth = depth, Page = node, IsLeaf = false, Cells = icells, Cut = icut,
                ChangeIndex = insertAt, ChangeAdds = true, UpCell = MakeInternalCell(CellKey(icells[icut]), NoPage),
            };
            plans.Add(plan);
            upCell = plan.UpCell;
        }

        // ---- allocate (after every read) ----
        foreach (var plan in plans)
        {
            if (plan.Depth == 0)
            {
                plan.Left = _source.AllocatePage(plan.Page.PageNo);
                plan.Right = _source.AllocatePage(plan.Left.PageNo);
            }
            else
            {
                plan.Left = plan.Page;
                plan.Right = _source.AllocatePage(plan.Page.PageNo);
            }
            if (plan.Right.Size != _pageSize || plan.Left.Size != _pageSize)
                throw BTreeErrors.AllocatedWrongSize();
            // The separator posted to the parent points at the new right page. The same byte[] sits in
            // the parent's plan.Cells (when the parent splits too), so it is set before anything runs.
            SetCellChild(plan.UpCell, plan.Right.PageNo);
        }

        // ---- mark dirty (before the first modification) ----
        foreach (var plan in plans)
        {
            _source.MarkDirty(plan.Page);
            if (plan.Depth == 0) _source.MarkDirty(plan.Left!);
            _source.MarkDirty(plan.Right!);
        }
        if (finalParent is not null) _source.MarkDirty(finalParent);

        // ---- modify, bottom-up ----
        foreach (var plan in plans) ExecuteSplit(plan);
        if (finalParent is not null) InsertCell(finalParent, finalIndex, upCell);
    }

    private static bool IsRightmost(PathInfo path, int depth)
    {
        for (int d = 0; d < depth; d++)
            if (path.ChildIndexes[d] != GetCount(path.Pages[d]) - 1) return false;
        return true;
    }

    private static void ExecuteSplit(SplitPlan plan)
    {
        var page = plan.Page;
        var cells = plan.Cells;
        int n = cells.Count, cut = plan.Cut;
        var left = plan.Left!;
        var right = plan.Right!;

        if (plan.IsLeaf)
        {
            long oldRight = GetRightSibling(page);
            Rewrite(right, NodeType.Leaf, oldRight, NoPage, cells, cut, n);
            if (plan.Depth == 0)
            {
                Rewrite(left, NodeType.Leaf, right.PageNo, NoPage, cells, 0, cut);
                Rewrite(page, NodeType.Internal, NoPage, left.PageNo, new List<byte[]> { plan.UpCell }, 0, 1);
            }
            else
            {
                ShrinkInPlace(plan, keepCount: cut);
                SetRightSibling(page, right.PageNo);
            }
        }
        else
        {
            long rightLeftmost = CellChild(cells[cut]);
            Rewrite(right, NodeType.Internal, NoPage, rightLeftmost, cells, cut + 1, n);
            if (plan.Depth == 0)
            {
                Rewrite(left, NodeType.Internal, NoPage, GetLeftmostChild(page), cells, 0, cut);
                Rewrite(page, NodeType.Internal, NoPage, left.PageNo, new List<byte[]> { plan.UpCell }, 0, 1);
            }
            else
            {
                ShrinkInPlace(plan, keepCount: cut);
            }
        }
    }

    /// <summary>
    /// Turns the page (still holding its cells before the change) into the left half, cells[0, keep):
    /// drop the cells that moved right, then apply the change if it landed in the left half.
    /// </summary>
    private static void ShrinkInPlace(SplitPlan plan, int keepCount)
    {
        var page = plan.Page;
        int ci = plan.ChangeIndex;
        if (ci < keepCount)
        {
            // Original cells [0, keep - 1) stay before the insert, or [0, keep) around a replace.
            Truncate(page, plan.ChangeAdds ? keepCount - 1 : keepCount);
            if (plan.ChangeAdds) InsertCell(page, ci, plan.Cells[ci]);
            else ReplaceCell(page, ci, plan.Cells[ci]);
        }
        else
        {
            // The change lies in the right half: original cells [0, keep) are exactly the left half.
            Truncate(page, keepCount);
        }
    }

    /// <summary>
    /// Cut point that balances bytes (cell + slot). Leaf: left = [0, cut), right = [cut, n), 1 &lt;= cut &lt;= n - 1.
    /// Internal: cells[cut] moves up, 1 &lt;= cut &lt;= n - 2. With every entry at most a quarter of the
    /// page body, both halves fit.
    /// </summary>
    private static int ChooseCut(List<byte[]> cells, bool isLeaf)
    {
        int n = cells.Count;
        long total = 0;
        foreach (var c in cells) total += c.Length + SlotSize;
        long acc = 0;
        int cut = n - 1;
        for (int i = 0; i < n; i++)
        {
            acc += cells[i].Length + SlotSize;
            if (acc * 2 >= total) { cut = isLeaf ? i + 1 : i; break; }
        }
        int max = isLeaf ? n - 1 : n - 2;
        return Math.Clamp(cut, 1, max);
    }

    /// <summary>
    /// The shortest prefix of <paramref name="rightFirst"/> that is greater than <paramref name="leftLast"/>
    /// (requires leftLast &lt; rightFirst); it separates the halves: leftLast &lt; s &lt;= rightFirst.
    /// </summary>
    internal static byte[] ShortestSeparator(ReadOnlySpan<byte> leftLast, ReadOnlySpan<byte> rightFirst)
    {
        int common = leftLast.CommonPrefixLength(rightFirst);
        return rightFirst[..Math.Min(common + 1, rightFirst.Length)].ToArray();
    }

    // ================================================================== validation

    /// <summary>
    /// Checks the whole tree (for tests and tools): node types and page layout (slots, cells and
    /// fragmented-byte accounting), strictly increasing keys within each node, every key inside the
    /// bounds set by the separators above it (low &lt;= key &lt; high), all leaves at the same depth,
    /// no page reached twice, and a leaf sibling chain that visits exactly the leaves in key order and
    /// ends with -1.
    /// </summary>
    /// <exception cref="InvalidDataException">an invariant is broken; the message names the page.</exception>
    /// <exception cref="PageMissException">a page is not cached.</exception>
    public void Validate()
    {
        var leaves = new List<long>();
        var seen = new HashSet<long>();
        int leafDepth = -1;
        ValidateNode(RootPageNo, 0, null, null, leaves, seen, ref leafDepth);

        // Sibling chain = leaves in order.
        long current = leaves[0];
        for (int i = 0; i < leaves.Count; i++)
        {
            if (current != leaves[i])
                throw BTreeErrors.LeafChainOrder(leaves[i], i, current);
            current = GetRightSibling(_source.GetPage(current));
        }
        if (current != NoPage)
            throw BTreeErrors.LeafChainEnd(leaves[^1], current);

        // Keys across leaves strictly increase (bounds imply it; checked again cheaply here).
        byte[]? prev = null;
        foreach (long leafNo in leaves)
        {
            var leaf = _source.GetPage(leafNo);
            int n = GetCount(leaf);
            if (n == 0) continue;
            if (prev is not null && GetKey(leaf, 0).SequenceCompareTo(prev) <= 0)
                throw BTreeErrors.LeafKeysOverlap(leafNo);
            prev = GetKey(leaf, n - 1).ToArray();
        }
    }

    private void ValidateNode(long pageNo, int depth, byte[]? low, byte[]? high, List<long> leaves,
        HashSet<long> seen, ref int leafDepth)
    {
        if (depth > MaxDepth) throw BTreeErrors.DeeperThan(MaxDepth, pageNo);
        if (!seen.Add(pageNo)) throw BTreeErrors.ReachableTwice(pageNo);
        var page = ReadNode(pageNo, null);
        var type = GetNodeType(page);
        ValidateLayout(page, type);
        int n = GetCount(page);
        for (int i = 0; i < n; i++)
        {
            var key = GetKey(page, i);
            if (key.Length > MaxKeyBytes) throw BTreeErrors.StoredKeyTooLong(pageNo, i, key.Length);
            if (i > 0 && GetKey(page, i - 1).SequenceCompareTo(key) >= 0)
                throw BTreeErrors.KeysNotIncreasing(pageNo, i);
            if (low is not null && key.SequenceCompareTo(low) < 0)
                throw BTreeErrors.KeyBelowLowerSeparator(pageNo, i);
            if (high is not null && key.SequenceCompareTo(high) >= 0)
                throw BTreeErrors.KeyNotBelowUpperSeparator(pageNo, i);
        }
        if (type == NodeType.Leaf)
        {
            if (GetLeftmostChild(page) != NoPage) throw BTreeErrors.LeafHasChild(pageNo);
            if (leafDepth < 0) leafDepth = depth;
            else if (leafDepth != depth)
                throw BTreeErrors.LeafDepth(pageNo, depth, leafDepth);
            leaves.Add(pageNo);
            return;
        }
        if (GetRightSibling(page) != NoPage) throw BTreeErrors.InternalHasSibling(pageNo);
        if (n == 0) throw BTreeErrors.InternalWithoutKeys(pageNo);
        // Copy the keys: children are validated recursively and the page could be evicted in a real cache.
        var keys = new byte[n][];
        var children = new long[n + 1];
        children[0] = GetLeftmostChild(page);
        for (int i = 0; i < n; i++)
        {
            keys[i] = GetKey(page, i).ToArray();
            children[i + 1] = GetChild(page, i);
        }
        for (int c = 0; c <= n; c++)
        {
            var childLow = c == 0 ? low : keys[c - 1];
            var childHigh = c == n ? high : keys[c];
            ValidateNode(children[c], depth + 1, childLow, childHigh, leaves, seen, ref leafDepth);
        }
    }

    private static void ValidateLayout(Page page, NodeType type)
    {
        int n = GetCount(page);
        int cellStart = GetCellStart(page);
        int frag = GetFragmented(page);
        int slotEnd = HeaderSize + n * SlotSize;
        if (cellStart < slotEnd || cellStart > page.Size)
            throw BTreeErrors.CellStartOutOfRange(page.PageNo, cellStart, slotEnd, page.Size);
        if (frag < 0) throw BTreeErrors.NegativeFragmented(page.PageNo, frag);
        var spans = new (int Start, int End)[n];
        long live = 0;
        for (int i = 0; i < n; i++)
        {
            int off = GetCellOffset(page, i);
            if (off < cellStart || off > page.Size - 4)
                throw BTreeErrors.CellOutsideArea(page.PageNo, i, off, cellStart, page.Size);
            int keyLen = page.ReadUInt16(off);
            int fixedEnd = off + 2 + keyLen + (type == NodeType.Leaf ? 2 : 8);
            if (fixedEnd > page.Size) throw BTreeErrors.CellPastPage(page.PageNo, i, off);
            int size = GetCellSize(page, type, off);
            if (off + size > page.Size) throw BTreeErrors.CellPastPage(page.PageNo, i, off);
            spans[i] = (off, off + size);
            live += size;
        }
        Array.Sort(spans);
        for (int i = 1; i < n; i++)
            if (spans[i].Start < spans[i - 1].End)
                throw BTreeErrors.CellsOverlap(page.PageNo, spans[i - 1].Start, spans[i].Start);
        if (live + frag != page.Size - cellStart)
            throw BTreeErrors.CellAreaAccounting(page.PageNo, page.Size - cellStart, live, frag);
    }
}
