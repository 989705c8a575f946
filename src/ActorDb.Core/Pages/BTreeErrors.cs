namespace ActorDb.Core.Pages;

/// <summary>
/// The one place the B+tree's errors are built (<see cref="BTree"/>, <see cref="NodeLayout"/>): arguments the tree
/// refuses (<see cref="ArgumentException"/>: a key or value too long, a page size it cannot use) and pages that are not
/// a sound tree (<see cref="InvalidDataException"/>: what a read or <see cref="BTree.Validate"/> finds on a damaged or
/// foreign page). Every message names the page, and within it the key or cell number and byte offset.
/// </summary>
public static class BTreeErrors
{
    // ---------------------------------------------------------------- arguments

    /// <summary>A page size outside [<paramref name="min"/>, <paramref name="max"/>] bytes.</summary>
    public static ArgumentOutOfRangeException PageSizeOutOfRange(int pageSize, int min, int max, string paramName) =>
        new(paramName, pageSize, $"a B+tree needs pages between {min} and {max} bytes");

    /// <summary>A key over <see cref="BTree.MaxKeyBytes"/> bytes.</summary>
    public static ArgumentException KeyTooLong(int bytes, int maxBytes, string paramName) =>
        new($"key of {bytes} bytes exceeds MaxKeyBytes = {maxBytes}", paramName);

    /// <summary>A value over what a cell of <paramref name="pageSize"/>-byte pages can hold.</summary>
    public static ArgumentException ValueTooLong(int bytes, int maxBytes, int pageSize, string paramName) =>
        new($"value of {bytes} bytes exceeds MaxValueBytes = {maxBytes} for {pageSize}-byte pages", paramName);

    // ---------------------------------------------------------------- the page source

    /// <summary>The page source allocated a page of another size than the tree's.</summary>
    public static InvalidOperationException AllocatedWrongSize() => new("allocated page has the wrong size");

    /// <summary>A node with no room for a cell it was sized to take (a bug: the caller splits first).</summary>
    public static InvalidOperationException NoRoomForCell(long pageNo, int cellBytes) =>
        new($"page {pageNo}: no room for a {cellBytes}-byte cell");

    // ---------------------------------------------------------------- reading nodes

    /// <summary>A descent from the root deeper than the tree's maximum depth (a cycle of child pointers).</summary>
    public static InvalidDataException TooDeep(long rootPageNo, int maxDepth) =>
        new($"tree rooted at page {rootPageNo} is deeper than {maxDepth}");

    /// <summary>A leaf sibling chain that never reaches -1 (a cycle).</summary>
    public static InvalidDataException SiblingChainDoesNotEnd() => new("leaf sibling chain does not end");

    /// <summary>A page of another size than the tree's pages.</summary>
    public static InvalidDataException PageSizeDiffers(long pageNo, int bytes, int treePageBytes) =>
        new($"page {pageNo} has {bytes} bytes, the tree's pages have {treePageBytes}");

    /// <summary>A page whose type byte is not the node type expected (<paramref name="expected"/> null: any B+tree node).</summary>
    public static InvalidDataException NotANode(long pageNo, long rootPageNo, NodeType? expected, byte typeByte) =>
        new($"page {pageNo} (tree rooted at {rootPageNo}) is not a {(expected?.ToString() ?? "B+tree")} node (type byte {typeByte})");

    // ---------------------------------------------------------------- validation: the tree's shape

    /// <summary>The sibling chain reaches <paramref name="reached"/> where the descent found leaf #<paramref name="index"/>.</summary>
    public static InvalidDataException LeafChainOrder(long expectedPageNo, int index, long reached) =>
        new($"leaf chain: expected page {expectedPageNo} as leaf #{index}, the chain reaches {reached}");

    /// <summary>The last leaf links to a page instead of -1.</summary>
    public static InvalidDataException LeafChainEnd(long lastLeaf, long linksTo) =>
        new($"leaf chain: last leaf {lastLeaf} links to {linksTo} instead of -1");

    /// <summary>A leaf whose first key is not above the previous leaf's last key.</summary>
    public static InvalidDataException LeafKeysOverlap(long leafNo) =>
        new($"leaf {leafNo}: first key not greater than the previous leaf's last key");

    /// <summary>A node deeper than the tree's maximum depth, found by validation.</summary>
    public static InvalidDataException DeeperThan(int maxDepth, long pageNo) => new($"tree deeper than {maxDepth} at page {pageNo}");

    /// <summary>A page reached by two child pointers.</summary>
    public static InvalidDataException ReachableTwice(long pageNo) => new($"page {pageNo} is reachable twice");

    /// <summary>Leaves at different depths.</summary>
    public static InvalidDataException LeafDepth(long pageNo, int depth, int leafDepth) =>
        new($"leaf {pageNo} at depth {depth}, other leaves at depth {leafDepth}");

    /// <summary>A leaf whose leftmost-child field is set.</summary>
    public static InvalidDataException LeafHasChild(long pageNo) => new($"leaf {pageNo}: leftmost child field is not -1");

    /// <summary>An internal node whose right-sibling field is set.</summary>
    public static InvalidDataException InternalHasSibling(long pageNo) => new($"internal node {pageNo}: right-sibling field is not -1");

    /// <summary>An internal node without keys.</summary>
    public static InvalidDataException InternalWithoutKeys(long pageNo) => new($"internal node {pageNo} has no keys");

    // ---------------------------------------------------------------- validation: keys

    /// <summary>A stored key over <see cref="BTree.MaxKeyBytes"/>.</summary>
    public static InvalidDataException StoredKeyTooLong(long pageNo, int index, int bytes) =>
        new($"page {pageNo}: key #{index} has {bytes} bytes");

    /// <summary>Keys #<paramref name="index"/>-1 and #<paramref name="index"/> out of order or equal.</summary>
    public static InvalidDataException KeysNotIncreasing(long pageNo, int index) =>
        new($"page {pageNo}: keys #{index - 1} and #{index} are not strictly increasing");

    /// <summary>A key below the separator that leads to its node.</summary>
    public static InvalidDataException KeyBelowLowerSeparator(long pageNo, int index) =>
        new($"page {pageNo}: key #{index} is below its lower separator");

    /// <summary>A key at or above the separator after its node.</summary>
    public static InvalidDataException KeyNotBelowUpperSeparator(long pageNo, int index) =>
        new($"page {pageNo}: key #{index} is not below its upper separator");

    // ---------------------------------------------------------------- validation: a node's layout

    /// <summary>The cell area's start outside [end of the slots, page size].</summary>
    public static InvalidDataException CellStartOutOfRange(long pageNo, int cellStart, int slotEnd, int pageSize) =>
        new($"page {pageNo}: cell start {cellStart} outside [{slotEnd}, {pageSize}]");

    /// <summary>A negative count of fragmented bytes.</summary>
    public static InvalidDataException NegativeFragmented(long pageNo, int fragmented) =>
        new($"page {pageNo}: negative fragmented count {fragmented}");

    /// <summary>A cell offset outside the cell area.</summary>
    public static InvalidDataException CellOutsideArea(long pageNo, int index, int offset, int cellStart, int pageSize) =>
        new($"page {pageNo}: cell #{index} at {offset} outside the cell area [{cellStart}, {pageSize})");

    /// <summary>A cell that ends past the page.</summary>
    public static InvalidDataException CellPastPage(long pageNo, int index, int offset) =>
        new($"page {pageNo}: cell #{index} at {offset} runs past the page");

    /// <summary>Two cells that overlap.</summary>
    public static InvalidDataException CellsOverlap(long pageNo, int firstStart, int secondStart) =>
        new($"page {pageNo}: cells at {firstStart} and {secondStart} overlap");

    /// <summary>Live and fragmented bytes that do not add up to the cell area.</summary>
    public static InvalidDataException CellAreaAccounting(long pageNo, int areaBytes, long liveBytes, int fragmentedBytes) =>
        new($"page {pageNo}: cell area {areaBytes} B != live {liveBytes} B + fragmented {fragmentedBytes} B");
}
