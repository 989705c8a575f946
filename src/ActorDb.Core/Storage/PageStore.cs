using System.Buffers.Binary;
using System.ComponentModel;
using ActorDb.Core.Redo;
using Microsoft.Win32.SafeHandles;

namespace ActorDb.Core.Storage;

/// <summary>
/// A segment's page store: the materialized image of every page of its protection group, with its page LSN (the first 8
/// bytes of the image), so that the segment log can be garbage-collected below a checkpoint and opening a segment reads
/// only the log written since (design.md, "Storage segment on disk"; Aurora SIGMOD 2017 §3.3 steps 5-7).
/// <para><b>On disk.</b> <c>pages.dat</c> holds one slot per page of the PG at offset
/// <c>(pageNo - firstPageNo) * (16 + pageSize)</c> (a sparse file: never-written pages take no space). A slot is
/// <c>[i64 pageNo][u32 crc32c(pageNo bytes + image)][u32 magic "ADPG"][image]</c>, little-endian; an all-zero header
/// means the page was never written.</para>
/// <para><b>Torn pages (doublewrite).</b> An in-place page write can tear in a crash. <see cref="Write"/> therefore first
/// writes every slot of the checkpoint to <c>pages.dw</c> and fsyncs it, then writes the slots in place and fsyncs
/// <c>pages.dat</c> (the doublewrite buffer of InnoDB). <see cref="Open"/> copies every intact slot of <c>pages.dw</c>
/// that differs from its place. Every image in either file is a whole, consistent page as of some checkpoint, and the
/// caller replays log records above its last completed checkpoint, skipping a record whose LSN is at or below the
/// page's LSN (ARIES' page-LSN test), so a restored image that is newer than that checkpoint is harmless.</para>
/// <para><b>Threading.</b> One <see cref="Write"/> at a time (the caller's checkpoint); <see cref="Read"/> may run
/// concurrently with it for pages not in that write.</para>
/// </summary>
public sealed class PageStore : IDisposable
{
    /// <summary>File name of the page slots.</summary>
    public const string FileName = "pages.dat";
    /// <summary>File name of the doublewrite buffer.</summary>
    public const string DoubleWriteFileName = "pages.dw";
    /// <summary>Bytes of a slot header.</summary>
    public const int SlotHeaderSize = 16;

    private const uint Magic = 0x47504441; // "ADPG" little-endian
    private const string PageStoreName = "page store";

    private readonly IStorageFile _file;
    private readonly IStorage _storage;
    private readonly bool _fsync;
    private long _bytesWritten;
    private long _pagesWritten;
    private long _checkpoints;

    private PageStore(string directory, int pageSize, long firstPageNo, long pageCount, IStorage storage, IStorageFile file, bool fsync, int restored)
    {
        _storage = storage;
        Directory = directory;
        PageSize = pageSize;
        FirstPageNo = firstPageNo;
        PageCount = pageCount;
        _file = file;
        _fsync = fsync;
        RestoredFromDoubleWrite = restored;
    }

    /// <summary>The segment directory.</summary>
    public string Directory { get; }
    /// <summary>Bytes per page image.</summary>
    public int PageSize { get; }
    /// <summary>The first page number of the PG.</summary>
    public long FirstPageNo { get; }
    /// <summary>Pages in the PG.</summary>
    public long PageCount { get; }
    /// <summary>Slots copied from the doublewrite buffer at open (a checkpoint was cut short by a crash).</summary>
    public int RestoredFromDoubleWrite { get; }
    /// <summary>Bytes written by <see cref="Write"/> since open, both files counted (write amplification).</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);
    /// <summary>Page images written in place since open.</summary>
    public long PagesWritten => Interlocked.Read(ref _pagesWritten);
    /// <summary>Completed <see cref="Write"/> calls since open.</summary>
    public long Checkpoints => Interlocked.Read(ref _checkpoints);
    /// <summary>Bytes <c>pages.dat</c> occupies on disk (allocated blocks, not its sparse length), when known; else its length.</summary>
    public long DiskBytes
    {
        get
        {
            try { return _file.Length; }
            catch (ObjectDisposedException) { return 0; }
        }
    }

    private int SlotSize => SlotHeaderSize + PageSize;

    /// <summary>
    /// Opens (creating if needed) the page store in <paramref name="directory"/> for pages
    /// [<paramref name="firstPageNo"/>, <paramref name="firstPageNo"/> + <paramref name="pageCount"/>), restoring intact
    /// slots from the doublewrite buffer as described on the type.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">a non-positive page size or count, or a negative first page.</exception>
    /// <exception cref="SegmentLogException">an I/O error (operation "open", "read", "write" or "fsync"); the message names the file.</exception>
    public static PageStore Open(string directory, int pageSize, long firstPageNo, long pageCount, bool fsync, IStorage? storage = null)
    {
        storage ??= DiskStorage.Instance;
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 64);
        ArgumentOutOfRangeException.ThrowIfNegative(firstPageNo);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageCount, 1);
        var dir = Path.GetFullPath(directory);
        var path = Path.Combine(dir, FileName);
        SegmentLog.Io(dir, "open", () => storage.EnsureDirectory(dir, fsync), PageStoreName);
        var created = !storage.FileExists(path);
        var file = SegmentLog.Io(path, "open", () => storage.Open(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read), PageStoreName);
        try
        {
            if (created && fsync) SegmentLog.Io(dir, "fsync", () => storage.FsyncDirectory(dir), PageStoreName);
            var store = new PageStore(dir, pageSize, firstPageNo, pageCount, storage, file, fsync, 0);
            var restored = store.RestoreDoubleWrite();
            return restored == 0 ? store : new PageStore(dir, pageSize, firstPageNo, pageCount, storage, file, fsync, restored);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Reads the stored image of <paramref name="pageNo"/>.</summary>
    /// <returns>A new array of <see cref="PageSize"/> bytes, or null when the page was never written.</returns>
    /// <exception cref="ArgumentOutOfRangeException">the page is not in this PG.</exception>
    /// <exception cref="DamagedPageException">the slot is damaged (bad magic, page number or CRC-32C, or cut short); the message names file, offset and page.</exception>
    /// <exception cref="SegmentLogException">the read fails (operation "read").</exception>
    public byte[]? Read(long pageNo)
    {
        var (state, slot) = ReadSlot(pageNo);
        return state switch
        {
            SlotState.Empty => null,
            SlotState.Intact => slot.AsSpan(SlotHeaderSize).ToArray(),
            _ => throw new DamagedPageException(Path.Combine(Directory, FileName), pageNo, OffsetOf(pageNo)),
        };
    }

    /// <summary>Reads and verifies the slot of <paramref name="pageNo"/> (the scrub): never written, intact, or damaged
    /// (as <see cref="Read"/> would throw <see cref="DamagedPageException"/> for).</summary>
    /// <exception cref="ArgumentOutOfRangeException">the page is not in this PG.</exception>
    /// <exception cref="SegmentLogException">the read fails (operation "read").</exception>
    public SlotState Verify(long pageNo) => ReadSlot(pageNo).State;

    /// <summary>Bytes of one slot (header and image): what the scrub reads per page.</summary>
    public int SlotBytes => SlotSize;

    private (SlotState State, byte[] Slot) ReadSlot(long pageNo)
    {
        var offset = OffsetOf(pageNo);
        var slot = new byte[SlotSize];
        var n = SegmentLog.Io(Path.Combine(Directory, FileName), "read", () => ReadFully(_file, slot, offset), PageStoreName);
        if (n < SlotHeaderSize || IsZeroHeader(slot)) return (SlotState.Empty, slot);
        if (n < slot.Length || !IsIntact(slot, out var storedPage) || storedPage != pageNo) return (SlotState.Damaged, slot);
        return (SlotState.Intact, slot);
    }

    /// <summary>
    /// Makes <paramref name="pages"/> durable as one checkpoint: doublewrite buffer first (write + fsync), then each slot
    /// in place (write + fsync). When it returns (fsync on) every image survives a crash intact.
    /// </summary>
    /// <param name="pages">Page numbers and whole images (<see cref="PageSize"/> bytes each; the images are not modified).</param>
    /// <exception cref="ArgumentException">an image of the wrong size.</exception>
    /// <exception cref="ArgumentOutOfRangeException">a page not in this PG.</exception>
    /// <exception cref="SegmentLogException">an I/O error (a full disk shows here); the previous checkpoint stays intact
    /// and readable, since nothing is written in place before the doublewrite buffer is durable.</exception>
    public void Write(IReadOnlyList<KeyValuePair<long, byte[]>> pages)
    {
        ArgumentNullException.ThrowIfNull(pages);
        if (pages.Count == 0) return;
        var buffer = new byte[pages.Count * SlotSize];
        for (var i = 0; i < pages.Count; i++)
        {
            var (pageNo, image) = (pages[i].Key, pages[i].Value);
            if (image.Length != PageSize) throw new ArgumentException($"page {pageNo}: image of {image.Length} bytes, expected {PageSize}", nameof(pages));
            OffsetOf(pageNo);
            EncodeSlot(pageNo, image, buffer.AsSpan(i * SlotSize, SlotSize));
        }
        var dwPath = Path.Combine(Directory, DoubleWriteFileName);
        SegmentLog.Io(dwPath, "write", () =>
        {
            var created = !_storage.FileExists(dwPath);
            using var dw = _storage.Open(dwPath, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
            dw.Write(buffer, 0);
            if (_fsync) dw.Flush();
            // The doublewrite copy must be findable after a power loss before any slot is written in place.
            if (created && _fsync) _storage.FsyncDirectory(Directory);
        }, PageStoreName);
        var path = Path.Combine(Directory, FileName);
        SegmentLog.Io(path, "write", () =>
        {
            for (var i = 0; i < pages.Count; i++)
                _file.Write(buffer.AsSpan(i * SlotSize, SlotSize), OffsetOf(pages[i].Key));
            if (_fsync) _file.Flush();
        }, PageStoreName);
        Interlocked.Add(ref _bytesWritten, 2L * buffer.Length);
        Interlocked.Add(ref _pagesWritten, pages.Count);
        Interlocked.Increment(ref _checkpoints);
    }

    /// <summary>
    /// The lowest page number at or above <paramref name="fromPageNo"/> whose slot was ever written, or -1 when none is
    /// (up to the end of the PG). Skips the holes of the sparse <c>pages.dat</c> with SEEK_DATA where the file system
    /// has it, so a scan of a mostly empty PG reads only the written slots; elsewhere it reads slot headers one by one.
    /// A page copy to a peer walks the store with it (<see cref="PageCopy"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fromPageNo"/> is below the PG's first page.</exception>
    /// <exception cref="SegmentLogException">a read or seek fails.</exception>
    public long NextWrittenPage(long fromPageNo)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fromPageNo, FirstPageNo);
        var path = Path.Combine(Directory, FileName);
        var header = new byte[SlotHeaderSize];
        var pageNo = fromPageNo;
        while (pageNo < FirstPageNo + PageCount)
        {
            var offset = (pageNo - FirstPageNo) * SlotSize;
            var data = SegmentLog.Io(path, "read", () => _file.SeekData(offset), PageStoreName);
            if (data < 0) return -1;
            // The data found may start inside an earlier slot (a file-system block holds the end of one slot and the
            // start of the next): look from the slot it falls in, never below where we were asked to start.
            pageNo = Math.Max(pageNo, FirstPageNo + data / SlotSize);
            if (pageNo >= FirstPageNo + PageCount) return -1;
            var at = (pageNo - FirstPageNo) * SlotSize;
            var n = SegmentLog.Io(path, "read", () => ReadFully(_file, header, at), PageStoreName);
            if (n < SlotHeaderSize) return -1;   // past the end of the file
            if (!IsZeroHeader(header)) return pageNo;
            pageNo++;
        }
        return -1;
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _file.Dispose();

    private long OffsetOf(long pageNo)
    {
        if (pageNo < FirstPageNo || pageNo >= FirstPageNo + PageCount)
            throw new ArgumentOutOfRangeException(nameof(pageNo), pageNo, $"page {pageNo} is not in [{FirstPageNo}, {FirstPageNo + PageCount})");
        return (pageNo - FirstPageNo) * SlotSize;
    }

    private int RestoreDoubleWrite()
    {
        var dwPath = Path.Combine(Directory, DoubleWriteFileName);
        if (!_storage.FileExists(dwPath)) return 0;
        var dw = SegmentLog.Io(dwPath, "read", () => _storage.ReadAllBytes(dwPath), PageStoreName);
        var restored = 0;
        var current = new byte[SlotSize];
        for (var at = 0; at + SlotSize <= dw.Length; at += SlotSize)
        {
            var slot = dw.AsSpan(at, SlotSize);
            if (!IsIntact(slot, out var pageNo) || pageNo < FirstPageNo || pageNo >= FirstPageNo + PageCount) continue;   // torn doublewrite: nothing of it went in place
            var offset = OffsetOf(pageNo);
            var n = SegmentLog.Io(Path.Combine(Directory, FileName), "read", () => ReadFully(_file, current, offset), PageStoreName);
            if (n == SlotSize && slot.SequenceEqual(current)) continue;
            var copy = slot.ToArray();
            SegmentLog.Io(Path.Combine(Directory, FileName), "write", () => _file.Write(copy, offset), PageStoreName);
            restored++;
        }
        if (restored > 0 && _fsync) SegmentLog.Io(Path.Combine(Directory, FileName), "fsync", () => _file.Flush(), PageStoreName);
        return restored;
    }

    private static void EncodeSlot(long pageNo, ReadOnlySpan<byte> image, Span<byte> slot)
    {
        BinaryPrimitives.WriteInt64LittleEndian(slot, pageNo);
        image.CopyTo(slot.Slice(SlotHeaderSize));
        BinaryPrimitives.WriteUInt32LittleEndian(slot.Slice(8), Checksum(slot));
        BinaryPrimitives.WriteUInt32LittleEndian(slot.Slice(12), Magic);
    }

    private static uint Checksum(ReadOnlySpan<byte> slot) =>
        Crc32C.Append(Crc32C.Compute(slot.Slice(0, 8)), slot.Slice(SlotHeaderSize));

    private static bool IsIntact(ReadOnlySpan<byte> slot, out long pageNo)
    {
        pageNo = BinaryPrimitives.ReadInt64LittleEndian(slot);
        return BinaryPrimitives.ReadUInt32LittleEndian(slot.Slice(12)) == Magic
            && BinaryPrimitives.ReadUInt32LittleEndian(slot.Slice(8)) == Checksum(slot);
    }

    private static bool IsZeroHeader(ReadOnlySpan<byte> slot) => !slot.Slice(0, SlotHeaderSize).ContainsAnyExcept((byte)0);

    private static int ReadFully(IStorageFile file, byte[] buffer, long offset)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = file.Read(buffer.AsSpan(total), offset + total);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}

/// <summary>What a page-store slot holds (<see cref="PageStore.Verify"/>).</summary>
public enum SlotState
{
    /// <summary>Never written (an all-zero header or past the end of the file).</summary>
    Empty,
    /// <summary>A whole image whose magic, page number and CRC-32C check.</summary>
    Intact,
    /// <summary>The magic, page number or CRC-32C check fails, or the slot is cut short: repaired from a peer.</summary>
    Damaged,
}

/// <summary>A page-store slot failed its checks (<see cref="SlotState.Damaged"/>): the page must be repaired from a
/// peer. The message names the file, the page and the offset.</summary>
public sealed class DamagedPageException(string file, long pageNo, long offset)
    : IOException($"page store {file}: slot of page {pageNo} at offset {offset} is damaged (checksum, magic or page number)")
{
    /// <summary>The damaged page.</summary>
    public long PageNo { get; } = pageNo;
}
