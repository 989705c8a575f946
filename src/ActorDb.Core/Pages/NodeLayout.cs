using System.Buffers.Binary;

namespace ActorDb.Core.Pages;

/// <summary>The kind of a B+tree node page, stored in byte 8 of the page.</summary>
public enum NodeType : byte
{
    /// <summary>Not a node (a zeroed or foreign page).</summary>
    None = 0,
    /// <summary>A leaf: cells hold key and value; pages are chained by right-sibling links.</summary>
    Leaf = 1,
    /// <summary>An internal node: cells hold separator key and child page number.</summary>
    Internal = 2,
}

/// <summary>
/// The slotted-page layout of B+tree nodes (Graefe, "Modern B-Tree Techniques", 2011: a slot
/// array of cell offsets growing up from the header, variable-size cells growing down from the end
/// of the page). Read accessors are public for dump tools and tests; mutators are internal to the
/// tree and always go through the tracked <see cref="Page"/> write API.
/// </summary>
/// <remarks>
/// <code>
/// [0, 8)    page LSN (i64, owned by cache/storage, see Page)
/// [8]       node type (u8: 1 leaf, 2 internal)
/// [9]       reserved, 0
/// [10, 12)  key count n (u16)
/// [12, 16)  cell area start (i32): lowest offset of the cell area; page size when it is empty
/// [16, 20)  fragmented bytes (i32): dead bytes inside the cell area (deleted/shrunk cells)
/// [20, 24)  reserved, 0
/// [24, 32)  leaf: right-sibling page number (i64, -1 = none); internal: -1
/// [32, 40)  internal: leftmost child page number (i64; keys &lt; key[0]); leaf: -1
/// [40, 40 + 2n)           slot array: u16 cell offsets, in ascending key order
/// [40 + 2n, cell start)   free gap
/// [cell start, page size) cells, in any order, with dead bytes in between
///
/// leaf cell:     [u16 key length][key][u16 value length][value]
/// internal cell: [u16 key length][key][i64 child page]   (child holds keys &gt;= key, &lt; next key)
/// </code>
/// All integers are little-endian. Invariant: page size - cell start = sum of live cell sizes + fragmented bytes.
/// Free space for an insert = free gap + fragmented bytes; when the gap alone is too small the
/// cell area is compacted (tracked) first.
/// </remarks>
public static class NodeLayout
{
    /// <summary>Offset of the node type byte.</summary>
    public const int TypeOffset = 8;
    /// <summary>Offset of the u16 key count.</summary>
    public const int CountOffset = 10;
    /// <summary>Offset of the i32 cell area start.</summary>
    public const int CellStartOffset = 12;
    /// <summary>Offset of the i32 fragmented byte count.</summary>
    public const int FragmentedOffset = 16;
    /// <summary>Offset of the i64 right-sibling page number (leaves).</summary>
    public const int RightSiblingOffset = 24;
    /// <summary>Offset of the i64 leftmost child page number (internal nodes).</summary>
    public const int LeftmostChildOffset = 32;
    /// <summary>Size of the node header, including the page LSN; the slot array starts here.</summary>
    public const int HeaderSize = 40;
    /// <summary>Bytes per slot-array entry.</summary>
    public const int SlotSize = 2;
    /// <summary>Fixed bytes of a leaf cell besides key and value: two u16 lengths.</summary>
    public const int LeafCellOverhead = 4;
    /// <summary>Fixed bytes of an internal cell besides the key: u16 key length + i64 child.</summary>
    public const int InternalCellOverhead = 10;
    /// <summary>"No page" in sibling/child fields.</summary>
    public const long NoPage = -1;

    // ------------------------------------------------------------------ reads

    /// <summary>The node type (byte 8).</summary>
    public static NodeType GetNodeType(Page page) => (NodeType)page.ReadByte(TypeOffset);
    /// <summary>The key count.</summary>
    public static int GetCount(Page page) => page.ReadUInt16(CountOffset);
    /// <summary>Lowest offset of the cell area.</summary>
    public static int GetCellStart(Page page) => page.ReadInt32(CellStartOffset);
    /// <summary>Dead bytes inside the cell area.</summary>
    public static int GetFragmented(Page page) => page.ReadInt32(FragmentedOffset);
    /// <summary>Right sibling of a leaf, -1 for none.</summary>
    public static long GetRightSibling(Page page) => page.ReadInt64(RightSiblingOffset);
    /// <summary>Leftmost child of an internal node.</summary>
    public static long GetLeftmostChild(Page page) => page.ReadInt64(LeftmostChildOffset);
    /// <summary>The offset of cell <paramref name="index"/> (its slot entry).</summary>
    public static int GetCellOffset(Page page, int index) => page.ReadUInt16(HeaderSize + index * SlotSize);

    /// <summary>Free bytes usable by an insert: free gap + fragmented bytes.</summary>
    public static int GetFreeSpace(Page page) => GetGap(page) + GetFragmented(page);

    internal static int GetGap(Page page) => GetCellStart(page) - (HeaderSize + GetCount(page) * SlotSize);

    /// <summary>The key of cell <paramref name="index"/>.</summary>
    public static ReadOnlySpan<byte> GetKey(Page page, int index)
    {
        int off = GetCellOffset(page, index);
        return page.Read(off + 2, page.ReadUInt16(off));
    }

    /// <summary>The value of leaf cell <paramref name="index"/>.</summary>
    public static ReadOnlySpan<byte> GetValue(Page page, int index)
    {
        int off = GetCellOffset(page, index);
        int valueLenAt = off + 2 + page.ReadUInt16(off);
        return page.Read(valueLenAt + 2, page.ReadUInt16(valueLenAt));
    }

    /// <summary>The child page of internal cell <paramref name="index"/>.</summary>
    public static long GetChild(Page page, int index)
    {
        int off = GetCellOffset(page, index);
        return page.ReadInt64(off + 2 + page.ReadUInt16(off));
    }

    /// <summary>Child <paramref name="childIndex"/> of an internal node: -1 is the leftmost child, i the child of key i.</summary>
    public static long GetChildAt(Page page, int childIndex) =>
        childIndex < 0 ? GetLeftmostChild(page) : GetChild(page, childIndex);

    /// <summary>Size in bytes of the cell at <paramref name="offset"/> of a node of type <paramref name="type"/>.</summary>
    public static int GetCellSize(Page page, NodeType type, int offset)
    {
        int keyLen = page.ReadUInt16(offset);
        return type == NodeType.Leaf
            ? LeafCellOverhead + keyLen + page.ReadUInt16(offset + 2 + keyLen)
            : InternalCellOverhead + keyLen;
    }

    /// <summary>
    /// Binary search: the index of the first key &gt;= <paramref name="key"/> (n when all are smaller),
    /// and whether that key equals <paramref name="key"/>. Keys compare as unsigned bytes, lexicographically.
    /// </summary>
    public static int LowerBound(Page page, ReadOnlySpan<byte> key, out bool found)
    {
        int lo = 0, hi = GetCount(page);
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (GetKey(page, mid).SequenceCompareTo(key) < 0) lo = mid + 1;
            else hi = mid;
        }
        found = lo < GetCount(page) && GetKey(page, lo).SequenceEqual(key);
        return lo;
    }

    /// <summary>
    /// For an internal node: the child index to descend to for <paramref name="key"/>: the index of
    /// the last key &lt;= <paramref name="key"/>, or -1 (leftmost child) when every key is greater.
    /// </summary>
    public static int ChildIndexFor(Page page, ReadOnlySpan<byte> key)
    {
        int i = LowerBound(page, key, out bool found);
        return found ? i : i - 1;
    }

    // ------------------------------------------------------------------ cells

    internal static byte[] MakeLeafCell(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var cell = new byte[LeafCellOverhead + key.Length + value.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(cell, (ushort)key.Length);
        key.CopyTo(cell.AsSpan(2));
        BinaryPrimitives.WriteUInt16LittleEndian(cell.AsSpan(2 + key.Length), (ushort)value.Length);
        value.CopyTo(cell.AsSpan(4 + key.Length));
        return cell;
    }

    internal static byte[] MakeInternalCell(ReadOnlySpan<byte> key, long child)
    {
        var cell = new byte[InternalCellOverhead + key.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(cell, (ushort)key.Length);
        key.CopyTo(cell.AsSpan(2));
        BinaryPrimitives.WriteInt64LittleEndian(cell.AsSpan(2 + key.Length), child);
        return cell;
    }

    internal static ReadOnlySpan<byte> CellKey(byte[] cell) =>
        cell.AsSpan(2, BinaryPrimitives.ReadUInt16LittleEndian(cell));

    internal static long CellChild(byte[] cell) =>
        BinaryPrimitives.ReadInt64LittleEndian(cell.AsSpan(cell.Length - 8));

    internal static void SetCellChild(byte[] cell, long child) =>
        BinaryPrimitives.WriteInt64LittleEndian(cell.AsSpan(cell.Length - 8), child);

    /// <summary>Copies of all cells of the node, in key order.</summary>
    internal static List<byte[]> ReadCells(Page page)
    {
        var type = GetNodeType(page);
        int n = GetCount(page);
        var cells = new List<byte[]>(n + 1);
        for (int i = 0; i < n; i++)
        {
            int off = GetCellOffset(page, i);
            cells.Add(page.Read(off, GetCellSize(page, type, off)).ToArray());
        }
        return cells;
    }

    // ------------------------------------------------------------------ mutations (all tracked)

    /// <summary>
    /// Writes a complete node: header, slots and cells[from, to) packed at the end of the page.
    /// Bytes between the slot array and the cells are left as they are (they are free space).
    /// </summary>
    internal static void Rewrite(Page page, NodeType type, long rightSibling, long leftmostChild,
        List<byte[]> cells, int from, int to)
    {
        int n = to - from;
        page.WriteByte(TypeOffset, (byte)type);
        page.WriteByte(TypeOffset + 1, 0);
        page.WriteUInt16(CountOffset, (ushort)n);
        int pos = page.Size;
        for (int i = from; i < to; i++)
        {
            pos -= cells[i].Length;
            page.WriteBytes(pos, cells[i]);
            page.WriteUInt16(HeaderSize + (i - from) * SlotSize, (ushort)pos);
        }
        page.WriteInt32(CellStartOffset, pos);
        page.WriteInt32(FragmentedOffset, 0);
        page.WriteInt32(FragmentedOffset + 4, 0);
        page.WriteInt64(RightSiblingOffset, rightSibling);
        page.WriteInt64(LeftmostChildOffset, leftmostChild);
    }

    /// <summary>Whether a cell of <paramref name="cellSize"/> bytes can be inserted (maybe after compaction).</summary>
    internal static bool CanInsert(Page page, int cellSize) => GetFreeSpace(page) >= cellSize + SlotSize;

    /// <summary>Whether cell <paramref name="index"/> can be replaced by one of <paramref name="cellSize"/> bytes.</summary>
    internal static bool CanReplace(Page page, int index, int cellSize)
    {
        int oldSize = GetCellSize(page, GetNodeType(page), GetCellOffset(page, index));
        return cellSize <= oldSize || GetFreeSpace(page) + oldSize >= cellSize;
    }

    /// <summary>Inserts <paramref name="cell"/> at slot <paramref name="index"/>; caller checked <see cref="CanInsert"/>.</summary>
    internal static void InsertCell(Page page, int index, ReadOnlySpan<byte> cell)
    {
        if (GetGap(page) < cell.Length + SlotSize) Compact(page);
        int n = GetCount(page);
        int cellStart = GetCellStart(page) - cell.Length;
        if (cellStart < HeaderSize + (n + 1) * SlotSize)
            throw BTreeErrors.NoRoomForCell(page.PageNo, cell.Length);
        page.WriteBytes(cellStart, cell);
        int slot = HeaderSize + index * SlotSize;
        if (index < n) page.Move(slot, slot + SlotSize, (n - index) * SlotSize);
        page.WriteUInt16(slot, (ushort)cellStart);
        page.WriteUInt16(CountOffset, (ushort)(n + 1));
        page.WriteInt32(CellStartOffset, cellStart);
    }

    /// <summary>Removes cell <paramref name="index"/>; its bytes become free (fragmented unless at the cell start).</summary>
    internal static void RemoveCell(Page page, int index)
    {
        int n = GetCount(page);
        int off = GetCellOffset(page, index);
        int size = GetCellSize(page, GetNodeType(page), off);
        if (off == GetCellStart(page)) page.WriteInt32(CellStartOffset, off + size);
        else page.WriteInt32(FragmentedOffset, GetFragmented(page) + size);
        int slot = HeaderSize + index * SlotSize;
        if (index < n - 1) page.Move(slot + SlotSize, slot, (n - 1 - index) * SlotSize);
        page.WriteUInt16(CountOffset, (ushort)(n - 1));
    }

    /// <summary>Replaces cell <paramref name="index"/> (same key); caller checked <see cref="CanReplace"/>.</summary>
    internal static void ReplaceCell(Page page, int index, ReadOnlySpan<byte> cell)
    {
        int off = GetCellOffset(page, index);
        int oldSize = GetCellSize(page, GetNodeType(page), off);
        if (cell.Length <= oldSize)
        {
            // In place; a shrunk cell leaves dead bytes at its tail.
            page.WriteBytes(off, cell);
            if (cell.Length < oldSize)
                page.WriteInt32(FragmentedOffset, GetFragmented(page) + oldSize - cell.Length);
            return;
        }
        RemoveCell(page, index);
        InsertCell(page, index, cell);
    }

    /// <summary>Drops cells [keep, n): the count shrinks and their bytes become fragmented.</summary>
    internal static void Truncate(Page page, int keep)
    {
        var type = GetNodeType(page);
        int n = GetCount(page);
        int dead = 0;
        for (int i = keep; i < n; i++) dead += GetCellSize(page, type, GetCellOffset(page, i));
        page.WriteUInt16(CountOffset, (ushort)keep);
        page.WriteInt32(FragmentedOffset, GetFragmented(page) + dead);
    }

    /// <summary>Sets a leaf's right sibling.</summary>
    internal static void SetRightSibling(Page page, long pageNo) => page.WriteInt64(RightSiblingOffset, pageNo);

    /// <summary>
    /// Packs the live cells against the end of the page so that all free space is one gap and the
    /// fragmented count is 0. Cells are moved in descending offset order, so cells already packed at
    /// the end do not move and the delta covers only the part of the cell area that shifted.
    /// </summary>
    internal static void Compact(Page page)
    {
        var type = GetNodeType(page);
        int n = GetCount(page);
        Span<int> order = n <= 256 ? stackalloc int[n] : new int[n];
        Span<int> offsets = n <= 256 ? stackalloc int[n] : new int[n];
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
            offsets[i] = GetCellOffset(page, i);
        }
        // Sort slot indexes by cell offset, descending (insertion sort over a few hundred at most).
        for (int i = 1; i < n; i++)
        {
            int cur = order[i], j = i - 1;
            while (j >= 0 && offsets[order[j]] < offsets[cur]) { order[j + 1] = order[j]; j--; }
            order[j + 1] = cur;
        }
        int pos = page.Size;
        for (int k = 0; k < n; k++)
        {
            int slotIndex = order[k];
            int off = offsets[slotIndex];
            int size = GetCellSize(page, type, off);
            pos -= size;
            if (pos != off)
            {
                // pos > off: moving towards the end never overwrites a cell not yet moved (all lower).
                page.Move(off, pos, size);
                page.WriteUInt16(HeaderSize + slotIndex * SlotSize, (ushort)pos);
            }
        }
        page.WriteInt32(CellStartOffset, pos);
        page.WriteInt32(FragmentedOffset, 0);
    }
}
