using System.Buffers.Binary;

namespace ActorDb.Core.Pages;

/// <summary>A byte range of a page: <see cref="Offset"/> and <see cref="Length"/> in bytes.</summary>
/// <param name="Offset">First byte of the range.</param>
/// <param name="Length">Number of bytes.</param>
public readonly record struct PageRange(int Offset, int Length)
{
    /// <summary>One past the last byte of the range.</summary>
    public int End => Offset + Length;
}

/// <summary>
/// The physical page delta: the payload of a <c>RedoKind.PageDelta</c> redo record. It carries the
/// new bytes of some ranges of one page; storage applies the deltas of a page in LSN order to its
/// page image to reproduce the writer's page exactly.
/// </summary>
/// <remarks>
/// <para>Encoding: zero or more entries, back to back, nothing else (no count, no terminator):</para>
/// <code>
/// [u16 offset][u16 length][length bytes]   (little-endian)
/// </code>
/// <para>Rules checked by <see cref="Apply"/> and <see cref="Validate"/>: every entry is complete,
/// <c>length &gt; 0</c>, <c>offset &gt;= 8</c> (the page LSN header <c>[0, 8)</c> is owned by storage and
/// never carried in a delta) and <c>offset + length &lt;= page size</c>. Entries are applied in order;
/// the writer's encoder (<see cref="Page.TakeDelta"/>, <see cref="Encode"/>) emits them sorted and
/// disjoint, but overlap is not an error (later entries win). An empty delta is valid and changes nothing.</para>
/// </remarks>
public static class PageDelta
{
    /// <summary>Bytes of the per-entry header: u16 offset + u16 length.</summary>
    public const int RangeHeaderSize = 4;

    /// <summary>Encoded size of a delta carrying <paramref name="ranges"/>: sum of (4 + length).</summary>
    public static int EncodedSize(ReadOnlySpan<PageRange> ranges)
    {
        int size = 0;
        foreach (var r in ranges)
            if (r.Length > 0) size += RangeHeaderSize + r.Length;
        return size;
    }

    /// <summary>
    /// Encodes the current bytes of <paramref name="ranges"/> of <paramref name="pageImage"/> as a
    /// delta (zero-length ranges are skipped).
    /// </summary>
    /// <exception cref="ArgumentException">a range overlaps the page LSN header, lies outside the page,
    /// or the page is larger than <see cref="Page.MaxSize"/>.</exception>
    public static byte[] Encode(ReadOnlySpan<byte> pageImage, ReadOnlySpan<PageRange> ranges)
    {
        if (pageImage.Length > Page.MaxSize)
            throw PageErrors.DeltaPageTooLarge(pageImage.Length, nameof(pageImage));
        foreach (var r in ranges)
        {
            if (r.Length < 0 || r.Offset < Page.LsnSize || r.Offset > pageImage.Length - r.Length)
                throw PageErrors.DeltaRangeOutside(r.Offset, r.Length, pageImage.Length, nameof(ranges));
        }
        var delta = new byte[EncodedSize(ranges)];
        int pos = 0;
        foreach (var r in ranges)
        {
            if (r.Length == 0) continue;
            BinaryPrimitives.WriteUInt16LittleEndian(delta.AsSpan(pos), (ushort)r.Offset);
            BinaryPrimitives.WriteUInt16LittleEndian(delta.AsSpan(pos + 2), (ushort)r.Length);
            pageImage.Slice(r.Offset, r.Length).CopyTo(delta.AsSpan(pos + RangeHeaderSize));
            pos += RangeHeaderSize + r.Length;
        }
        return delta;
    }

    /// <summary>
    /// Checks that <paramref name="delta"/> is well formed for a page of <paramref name="pageSize"/>
    /// bytes and returns its number of entries.
    /// </summary>
    /// <exception cref="FormatException">a truncated entry, an empty range, or a range that overlaps the
    /// LSN header or ends past the page; the message names the entry's position, offset and length.</exception>
    public static int Validate(ReadOnlySpan<byte> delta, int pageSize)
    {
        int pos = 0, count = 0;
        while (pos < delta.Length)
        {
            if (delta.Length - pos < RangeHeaderSize)
                throw PageErrors.DeltaHeaderTruncated(pos, delta.Length - pos, RangeHeaderSize);
            int offset = BinaryPrimitives.ReadUInt16LittleEndian(delta.Slice(pos));
            int length = BinaryPrimitives.ReadUInt16LittleEndian(delta.Slice(pos + 2));
            if (length == 0)
                throw PageErrors.DeltaEmptyRange(pos, offset);
            if (offset < Page.LsnSize)
                throw PageErrors.DeltaOverlapsLsnHeader(pos, offset, length);
            if (offset + length > pageSize)
                throw PageErrors.DeltaPastPage(pos, offset, length, pageSize);
            if (delta.Length - pos - RangeHeaderSize < length)
                throw PageErrors.DeltaDataTruncated(pos, offset, length, delta.Length - pos - RangeHeaderSize);
            pos += RangeHeaderSize + length;
            count++;
        }
        return count;
    }

    /// <summary>
    /// Applies <paramref name="delta"/> to <paramref name="pageImage"/>. The whole delta is validated
    /// first, so a malformed delta leaves the image unchanged. The page LSN header is not touched:
    /// the caller (storage) sets it to the record's LSN.
    /// </summary>
    /// <exception cref="FormatException">the delta is malformed (see <see cref="Validate"/>); the message
    /// names the offending offset and length.</exception>
    public static void Apply(Span<byte> pageImage, ReadOnlySpan<byte> delta)
    {
        Validate(delta, pageImage.Length);
        int pos = 0;
        while (pos < delta.Length)
        {
            int offset = BinaryPrimitives.ReadUInt16LittleEndian(delta.Slice(pos));
            int length = BinaryPrimitives.ReadUInt16LittleEndian(delta.Slice(pos + 2));
            delta.Slice(pos + RangeHeaderSize, length).CopyTo(pageImage.Slice(offset, length));
            pos += RangeHeaderSize + length;
        }
    }

    /// <summary>The ranges a well-formed delta writes, in order (for dump tools and tests).</summary>
    /// <exception cref="FormatException">the delta is malformed for a page of <paramref name="pageSize"/> bytes.</exception>
    public static PageRange[] GetRanges(ReadOnlySpan<byte> delta, int pageSize)
    {
        var ranges = new PageRange[Validate(delta, pageSize)];
        int pos = 0;
        for (int i = 0; i < ranges.Length; i++)
        {
            int offset = BinaryPrimitives.ReadUInt16LittleEndian(delta.Slice(pos));
            int length = BinaryPrimitives.ReadUInt16LittleEndian(delta.Slice(pos + 2));
            ranges[i] = new PageRange(offset, length);
            pos += RangeHeaderSize + length;
        }
        return ranges;
    }
}
