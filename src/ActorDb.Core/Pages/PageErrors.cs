namespace ActorDb.Core.Pages;

/// <summary>
/// The one place the page layer's errors are built (<see cref="Page"/>, <see cref="PageDelta"/>,
/// <see cref="KeyEncoding"/>, <see cref="MemoryPageSource"/>): arguments out of a page's bounds (sizes and offsets in
/// bytes) and page-delta bytes that do not decode (<see cref="FormatException"/>, naming the entry's byte position,
/// offset and length). The B+tree's own are in <see cref="BTreeErrors"/>.
/// </summary>
public static class PageErrors
{
    // ---------------------------------------------------------------- pages

    /// <summary>A page size outside [<see cref="Page.MinSize"/>, <see cref="Page.MaxSize"/>] (<paramref name="unit"/>:
    /// <c>" bytes"</c> or empty, as each caller's message has it).</summary>
    public static ArgumentOutOfRangeException PageSizeOutOfRange(int size, string unit, string paramName) =>
        new(paramName, size, $"page size must be between {Page.MinSize} and {Page.MaxSize}{unit}");

    /// <summary>A page image whose length is outside [<see cref="Page.MinSize"/>, <see cref="Page.MaxSize"/>] bytes.</summary>
    public static ArgumentOutOfRangeException ImageSizeOutOfRange(int length, string paramName) =>
        new(paramName, length, $"page image must be between {Page.MinSize} and {Page.MaxSize} bytes");

    /// <summary>A negative page number.</summary>
    public static ArgumentOutOfRangeException NegativePageNo(long pageNo, string paramName) =>
        new(paramName, pageNo, "page number must not be negative");

    /// <summary>A source range of a move that is not inside the page.</summary>
    public static ArgumentOutOfRangeException SourceRangeOutside(int offset, int length, int pageSize, string paramName) =>
        new(paramName, offset, $"source range [{offset}, {offset}+{length}) lies outside the {pageSize}-byte page");

    /// <summary>A negative length.</summary>
    public static ArgumentOutOfRangeException NegativeLength(int length, string paramName) =>
        new(paramName, length, "length must not be negative");

    /// <summary>A tracked write into the page LSN header.</summary>
    public static ArgumentOutOfRangeException WriteIntoLsnHeader(int offset, string paramName) =>
        new(paramName, offset, $"tracked writes may not touch the {Page.LsnSize}-byte page LSN header (use PageLsn)");

    /// <summary>A range that ends past the page.</summary>
    public static ArgumentOutOfRangeException RangePastPage(int offset, int length, int pageSize, string paramName) =>
        new(paramName, offset, $"range [{offset}, {offset}+{length}) ends past the {pageSize}-byte page");

    // ---------------------------------------------------------------- page sources

    /// <summary>A page number the source never allocated.</summary>
    public static KeyNotFoundException NeverAllocated(long pageNo) => new($"page {pageNo} was never allocated");

    /// <summary>A page object the source did not hand out.</summary>
    public static ArgumentException NotThisSourcesPage(long pageNo, string paramName) =>
        new($"page {pageNo} does not belong to this page source", paramName);

    /// <summary>A page of another size than the source's.</summary>
    public static ArgumentException PageSizeDiffers(long pageNo, int bytes, int sourceBytes, string paramName) =>
        new($"page {pageNo} has {bytes} bytes, this source uses {sourceBytes}", paramName);

    // ---------------------------------------------------------------- keys

    /// <summary>An encoded integer key of the wrong length (<paramref name="type"/>: <c>Int64</c>, <c>Int32</c>).</summary>
    public static ArgumentException EncodedIntegerSize(string type, int expectedBytes, int bytes, string paramName) =>
        new($"an encoded {type} has {expectedBytes} bytes, got {bytes}", paramName);

    /// <summary>A string key with an unpaired surrogate.</summary>
    public static ArgumentException UnpairedSurrogate(string paramName, Exception inner) =>
        new("string contains an unpaired surrogate and has no UTF-8 encoding", paramName, inner);

    /// <summary>Key bytes that are not UTF-8.</summary>
    public static ArgumentException KeyNotUtf8(string paramName, Exception inner) => new("key bytes are not valid UTF-8", paramName, inner);

    // ---------------------------------------------------------------- page deltas

    /// <summary>A page image over <see cref="Page.MaxSize"/> bytes.</summary>
    public static ArgumentException DeltaPageTooLarge(int bytes, string paramName) =>
        new($"page of {bytes} bytes exceeds the {Page.MaxSize}-byte maximum", paramName);

    /// <summary>A range to encode that is outside the page's writable part.</summary>
    public static ArgumentException DeltaRangeOutside(int offset, int length, int pageSize, string paramName) =>
        new($"range offset {offset} length {length} is outside the writable part [{Page.LsnSize}, {pageSize}) of the page", paramName);

    /// <summary>A delta that ends inside an entry's header.</summary>
    public static FormatException DeltaHeaderTruncated(int pos, int headerBytes, int needed) =>
        new($"page delta truncated: entry at byte {pos} has {headerBytes} header bytes, needs {needed}");

    /// <summary>An entry with length 0.</summary>
    public static FormatException DeltaEmptyRange(int pos, int offset) =>
        new($"page delta entry at byte {pos} has offset {offset} and length 0 (empty range)");

    /// <summary>An entry that overlaps the page LSN header.</summary>
    public static FormatException DeltaOverlapsLsnHeader(int pos, int offset, int length) =>
        new($"page delta entry at byte {pos} (offset {offset}, length {length}) overlaps the {Page.LsnSize}-byte page LSN header");

    /// <summary>An entry that ends past the page.</summary>
    public static FormatException DeltaPastPage(int pos, int offset, int length, int pageSize) =>
        new($"page delta entry at byte {pos} (offset {offset}, length {length}) ends past the {pageSize}-byte page");

    /// <summary>A delta that ends inside an entry's data.</summary>
    public static FormatException DeltaDataTruncated(int pos, int offset, int length, int dataBytes) =>
        new($"page delta truncated: entry at byte {pos} (offset {offset}, length {length}) has only {dataBytes} data bytes");
}
