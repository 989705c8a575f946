using System.Buffers.Binary;

namespace ActorDb.Core.Pages;

/// <summary>
/// One page of the volume in memory: a byte buffer of the page size plus its page number, with
/// change tracking so that the writer can ship the page's changes as a redo payload
/// (a <see cref="PageDelta"/>) instead of the page itself ("the log is the database").
/// </summary>
/// <remarks>
/// <para>Byte layout: <c>[0, 8)</c> = page LSN (little-endian i64), owned by the buffer cache and by
/// storage, read and written only through <see cref="PageLsn"/>, which does NOT track the change;
/// <c>[8, Size)</c> = content, whose layout belongs to the page's user (e.g. the slotted B+tree node,
/// see <see cref="NodeLayout"/>).</para>
/// <para>Every content change must go through the tracked write methods (<see cref="WriteBytes"/>,
/// <see cref="WriteByte"/>, <see cref="WriteUInt16"/>, <see cref="WriteInt32"/>, <see cref="WriteInt64"/>,
/// <see cref="Move"/>, <see cref="Fill"/>, <see cref="Clear"/>). They record the modified byte
/// ranges in a short sorted interval list; ranges that overlap, touch, or lie at most
/// <see cref="MergeGap"/> bytes apart are merged (a separate range would cost as many bytes of delta
/// header as the gap), and once more than <see cref="MaxTrackedRanges"/> ranges exist the two closest
/// are coalesced. A coalesced range may cover bytes that did not change; that is harmless because a
/// delta carries the CURRENT bytes of each range, which equal storage's bytes where nothing changed.</para>
/// <para><see cref="TakeDelta"/> encodes the current bytes of the tracked ranges and clears tracking;
/// applying that delta (<see cref="PageDelta.Apply"/>) to the page image as it was at the previous
/// <see cref="TakeDelta"/> (or at creation/load) reproduces the current content exactly.
/// Writing through <see cref="Image"/> bypasses tracking and breaks that guarantee.</para>
/// <para>Not thread-safe: the owner (buffer cache latch, writer actor) serializes access.</para>
/// </remarks>
public sealed class Page
{
    /// <summary>Size of the page LSN header at offset 0: 8 bytes (little-endian i64).</summary>
    public const int LsnSize = 8;
    /// <summary>Smallest page size accepted by <see cref="CreateEmpty"/> and <see cref="FromImage"/>.</summary>
    public const int MinSize = 64;
    /// <summary>Largest page size: offsets and lengths of a delta are u16, so 65536 is the ceiling.</summary>
    public const int MaxSize = 65536;
    /// <summary>At most this many disjoint ranges are tracked; beyond it the two closest are coalesced.</summary>
    public const int MaxTrackedRanges = 16;
    /// <summary>Ranges at most this many bytes apart are merged (equal to <see cref="PageDelta.RangeHeaderSize"/>).</summary>
    public const int MergeGap = PageDelta.RangeHeaderSize;

    private readonly byte[] _buffer;
    // Tracked ranges [start, end), sorted by start, disjoint and more than MergeGap apart.
    // Allocated on the first tracked write; capacity MaxTrackedRanges + 1 (one transient extra).
    private int[]? _starts;
    private int[]? _ends;
    private int _rangeCount;

    private Page(long pageNo, byte[] buffer)
    {
        PageNo = pageNo;
        _buffer = buffer;
    }

    /// <summary>Creates a zero-filled page (page LSN 0) with nothing tracked.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pageNo"/> is negative, or
    /// <paramref name="size"/> is outside [<see cref="MinSize"/>, <see cref="MaxSize"/>].</exception>
    public static Page CreateEmpty(long pageNo, int size)
    {
        CheckPageNo(pageNo);
        if (size < MinSize || size > MaxSize)
            throw PageErrors.PageSizeOutOfRange(size, " bytes", nameof(size));
        return new Page(pageNo, new byte[size]);
    }

    /// <summary>
    /// Wraps an existing page image (e.g. read from storage) WITHOUT copying it: the page takes
    /// ownership of <paramref name="image"/>. Nothing is tracked: the image is assumed to equal the
    /// image storage holds at the page's LSN.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="image"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pageNo"/> is negative, or the image
    /// length is outside [<see cref="MinSize"/>, <see cref="MaxSize"/>].</exception>
    public static Page FromImage(long pageNo, byte[] image)
    {
        ArgumentNullException.ThrowIfNull(image);
        CheckPageNo(pageNo);
        if (image.Length < MinSize || image.Length > MaxSize)
            throw PageErrors.ImageSizeOutOfRange(image.Length, nameof(image));
        return new Page(pageNo, image);
    }

    private static void CheckPageNo(long pageNo)
    {
        if (pageNo < 0)
            throw PageErrors.NegativePageNo(pageNo, nameof(pageNo));
    }

    /// <summary>The volume page number of this page.</summary>
    public long PageNo { get; }

    /// <summary>The page size in bytes.</summary>
    public int Size => _buffer.Length;

    /// <summary>
    /// The raw buffer (not a copy). Callers may read or copy it (e.g. snapshot before eviction);
    /// writing into it bypasses change tracking.
    /// </summary>
    public byte[] Image => _buffer;

    /// <summary>The whole page, read-only.</summary>
    public ReadOnlySpan<byte> Span => _buffer;

    /// <summary>
    /// The page LSN stored in bytes [0, 8) (little-endian i64). Setting it is NOT tracked: the LSN
    /// header is owned by the buffer cache and by storage, and never travels in a delta.
    /// </summary>
    public Lsn PageLsn
    {
        get => new(BinaryPrimitives.ReadInt64LittleEndian(_buffer));
        set => BinaryPrimitives.WriteInt64LittleEndian(_buffer, value.Value);
    }

    // ---------------------------------------------------------------- reads

    /// <summary>A read-only view of <paramref name="length"/> bytes at <paramref name="offset"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">the range lies outside the page.</exception>
    public ReadOnlySpan<byte> Read(int offset, int length) => _buffer.AsSpan(offset, length);

    /// <summary>Reads the byte at <paramref name="offset"/>.</summary>
    public byte ReadByte(int offset) => _buffer[offset];

    /// <summary>Reads a little-endian u16 at <paramref name="offset"/>.</summary>
    public ushort ReadUInt16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(_buffer.AsSpan(offset, 2));

    /// <summary>Reads a little-endian i32 at <paramref name="offset"/>.</summary>
    public int ReadInt32(int offset) => BinaryPrimitives.ReadInt32LittleEndian(_buffer.AsSpan(offset, 4));

    /// <summary>Reads a little-endian i64 at <paramref name="offset"/>.</summary>
    public long ReadInt64(int offset) => BinaryPrimitives.ReadInt64LittleEndian(_buffer.AsSpan(offset, 8));

    // ---------------------------------------------------------------- tracked writes

    /// <summary>Copies <paramref name="source"/> to <paramref name="offset"/> (tracked).</summary>
    /// <exception cref="ArgumentOutOfRangeException">the target range starts inside the LSN header
    /// (offset &lt; 8) or ends past the page.</exception>
    public void WriteBytes(int offset, ReadOnlySpan<byte> source)
    {
        CheckWritable(offset, source.Length);
        source.CopyTo(_buffer.AsSpan(offset));
        Track(offset, offset + source.Length);
    }

    /// <summary>Writes one byte at <paramref name="offset"/> (tracked).</summary>
    /// <exception cref="ArgumentOutOfRangeException">offset inside the LSN header or past the page.</exception>
    public void WriteByte(int offset, byte value)
    {
        CheckWritable(offset, 1);
        _buffer[offset] = value;
        Track(offset, offset + 1);
    }

    /// <summary>Writes a little-endian u16 at <paramref name="offset"/> (tracked).</summary>
    /// <exception cref="ArgumentOutOfRangeException">range inside the LSN header or past the page.</exception>
    public void WriteUInt16(int offset, ushort value)
    {
        CheckWritable(offset, 2);
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(offset), value);
        Track(offset, offset + 2);
    }

    /// <summary>Writes a little-endian i32 at <paramref name="offset"/> (tracked).</summary>
    /// <exception cref="ArgumentOutOfRangeException">range inside the LSN header or past the page.</exception>
    public void WriteInt32(int offset, int value)
    {
        CheckWritable(offset, 4);
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(offset), value);
        Track(offset, offset + 4);
    }

    /// <summary>Writes a little-endian i64 at <paramref name="offset"/> (tracked).</summary>
    /// <exception cref="ArgumentOutOfRangeException">range inside the LSN header or past the page.</exception>
    public void WriteInt64(int offset, long value)
    {
        CheckWritable(offset, 8);
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(offset), value);
        Track(offset, offset + 8);
    }

    /// <summary>
    /// Copies <paramref name="length"/> bytes from <paramref name="sourceOffset"/> to
    /// <paramref name="destinationOffset"/> with memmove semantics (overlap allowed); tracks the
    /// destination range. The source may be anywhere in the page.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">the source lies outside the page, or the destination
    /// starts inside the LSN header or ends past the page.</exception>
    public void Move(int sourceOffset, int destinationOffset, int length)
    {
        if (sourceOffset < 0 || length < 0 || sourceOffset > _buffer.Length - length)
            throw PageErrors.SourceRangeOutside(sourceOffset, length, _buffer.Length, nameof(sourceOffset));
        CheckWritable(destinationOffset, length);
        if (length == 0 || sourceOffset == destinationOffset) return;
        _buffer.AsSpan(sourceOffset, length).CopyTo(_buffer.AsSpan(destinationOffset, length));
        Track(destinationOffset, destinationOffset + length);
    }

    /// <summary>Sets <paramref name="length"/> bytes at <paramref name="offset"/> to <paramref name="value"/> (tracked).</summary>
    /// <exception cref="ArgumentOutOfRangeException">range inside the LSN header or past the page.</exception>
    public void Fill(int offset, int length, byte value)
    {
        CheckWritable(offset, length);
        _buffer.AsSpan(offset, length).Fill(value);
        Track(offset, offset + length);
    }

    /// <summary>Zeroes <paramref name="length"/> bytes at <paramref name="offset"/> (tracked).</summary>
    /// <exception cref="ArgumentOutOfRangeException">range inside the LSN header or past the page.</exception>
    public void Clear(int offset, int length) => Fill(offset, length, 0);

    private void CheckWritable(int offset, int length)
    {
        if (length < 0)
            throw PageErrors.NegativeLength(length, nameof(length));
        if (offset < LsnSize)
            throw PageErrors.WriteIntoLsnHeader(offset, nameof(offset));
        if (offset > _buffer.Length - length)
            throw PageErrors.RangePastPage(offset, length, _buffer.Length, nameof(offset));
    }

    // ---------------------------------------------------------------- tracking

    /// <summary>True when some content changed since creation/load or the last <see cref="TakeDelta"/>.</summary>
    public bool IsDirtyTracked => _rangeCount > 0;

    /// <summary>Number of disjoint tracked ranges (at most <see cref="MaxTrackedRanges"/>).</summary>
    public int TrackedRangeCount => _rangeCount;

    /// <summary>The tracked ranges, sorted by offset (a copy, for diagnostics and tests).</summary>
    public PageRange[] GetTrackedRanges()
    {
        var result = new PageRange[_rangeCount];
        for (int i = 0; i < _rangeCount; i++) result[i] = new PageRange(_starts![i], _ends![i] - _starts[i]);
        return result;
    }

    /// <summary>The size in bytes of the delta <see cref="TakeDelta"/> would return now.</summary>
    public int TrackedDeltaSize
    {
        get
        {
            int size = 0;
            for (int i = 0; i < _rangeCount; i++) size += PageDelta.RangeHeaderSize + (_ends![i] - _starts![i]);
            return size;
        }
    }

    /// <summary>
    /// Returns the encoded delta (<see cref="PageDelta"/> format) of every content change since the
    /// last call (the CURRENT bytes of the tracked ranges) and clears tracking. Returns an empty array
    /// when nothing changed.
    /// </summary>
    public byte[] TakeDelta()
    {
        if (_rangeCount == 0) return Array.Empty<byte>();
        var delta = new byte[TrackedDeltaSize];
        int pos = 0;
        for (int i = 0; i < _rangeCount; i++)
        {
            int start = _starts![i], length = _ends![i] - start;
            BinaryPrimitives.WriteUInt16LittleEndian(delta.AsSpan(pos), (ushort)start);
            BinaryPrimitives.WriteUInt16LittleEndian(delta.AsSpan(pos + 2), (ushort)length);
            _buffer.AsSpan(start, length).CopyTo(delta.AsSpan(pos + PageDelta.RangeHeaderSize));
            pos += PageDelta.RangeHeaderSize + length;
        }
        _rangeCount = 0;
        return delta;
    }

    /// <summary>
    /// Forgets tracked changes without encoding them. Only for a cache that re-reads the page from
    /// storage or otherwise knows storage already has these bytes; otherwise redo is lost.
    /// </summary>
    public void DiscardTracking() => _rangeCount = 0;

    private void Track(int start, int end)
    {
        if (start >= end) return;
        if (_starts is null)
        {
            _starts = new int[MaxTrackedRanges + 1];
            _ends = new int[MaxTrackedRanges + 1];
        }
        var starts = _starts;
        var ends = _ends!;
        int n = _rangeCount;

        // First range that is not entirely (more than MergeGap) before [start, end).
        int i = 0;
        while (i < n && ends[i] + MergeGap < start) i++;
        // Ranges [i, j) overlap, touch or lie within MergeGap of the new range: merge them.
        int j = i, s = start, e = end;
        while (j < n && starts[j] - MergeGap <= e)
        {
            if (starts[j] < s) s = starts[j];
            if (ends[j] > e) e = ends[j];
            j++;
        }

        if (j == i)
        {
            // Insert a new range at i.
            Array.Copy(starts, i, starts, i + 1, n - i);
            Array.Copy(ends, i, ends, i + 1, n - i);
            starts[i] = s;
            ends[i] = e;
            n++;
        }
        else
        {
            starts[i] = s;
            ends[i] = e;
            int removed = j - i - 1;
            if (removed > 0)
            {
                Array.Copy(starts, j, starts, i + 1, n - j);
                Array.Copy(ends, j, ends, i + 1, n - j);
                n -= removed;
            }
        }

        if (n > MaxTrackedRanges)
        {
            // Coalesce the two neighbours with the smallest gap (correctness over minimality).
            int best = 0, bestGap = int.MaxValue;
            for (int k = 0; k + 1 < n; k++)
            {
                int gap = starts[k + 1] - ends[k];
                if (gap < bestGap) { bestGap = gap; best = k; }
            }
            ends[best] = ends[best + 1];
            Array.Copy(starts, best + 2, starts, best + 1, n - best - 2);
            Array.Copy(ends, best + 2, ends, best + 1, n - best - 2);
            n--;
        }
        _rangeCount = n;
    }

    /// <inheritdoc />
    public override string ToString() => $"Page {PageNo} (lsn {PageLsn}, {Size} B, {_rangeCount} tracked ranges)";
}
