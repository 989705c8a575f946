using ActorDb.Core.Recovery;
using ActorDb.Core.Storage;

namespace ActorDb.Core.Tests.Storage;

public class PageStoreTests
{
    private const int PageSize = 512;
    private const long First = 1000;

    private static byte[] Image(long lsn, byte fill)
    {
        var image = new byte[PageSize];
        image.AsSpan().Fill(fill);
        BitConverter.TryWriteBytes(image.AsSpan(0, 8), lsn);
        return image;
    }

    private static long SlotOffset(long pageNo) => (pageNo - First) * (PageStore.SlotHeaderSize + PageSize);

    [Fact]
    public void Written_pages_read_back_after_reopen_and_unwritten_pages_read_as_null()
    {
        using var dir = new TempDir();
        using (var store = PageStore.Open(dir.Path, PageSize, First, 100, fsync: true))
        {
            store.Write([new(First, Image(10, 1)), new(First + 7, Image(20, 2))]);
            store.Write([new(First + 7, Image(30, 3))]);
            Assert.Equal(2, store.Checkpoints);
            Assert.Equal(3, store.PagesWritten);
        }
        using var reopened = PageStore.Open(dir.Path, PageSize, First, 100, fsync: true);
        Assert.Equal(Image(10, 1), reopened.Read(First));
        Assert.Equal(Image(30, 3), reopened.Read(First + 7));
        Assert.Null(reopened.Read(First + 1));
        Assert.Null(reopened.Read(First + 99));
        Assert.Equal(0, reopened.RestoredFromDoubleWrite);
        Assert.Throws<ArgumentOutOfRangeException>(() => reopened.Read(First + 100));
        Assert.Throws<ArgumentOutOfRangeException>(() => reopened.Write([new(First - 1, Image(1, 1))]));
        Assert.Throws<ArgumentException>(() => reopened.Write([new(First, new byte[PageSize - 1])]));
    }

    [Fact]
    public void A_torn_in_place_write_is_repaired_from_the_doublewrite_buffer_at_open()
    {
        using var dir = new TempDir();
        using (var store = PageStore.Open(dir.Path, PageSize, First, 100, fsync: true))
        {
            store.Write([new(First + 3, Image(10, 1))]);
            store.Write([new(First + 3, Image(40, 4)), new(First + 5, Image(41, 5))]);
        }
        // A crash in the middle of the in-place write: half of page 3's slot still holds the old image.
        var oldHalf = new byte[PageSize / 2];
        oldHalf.AsSpan().Fill(1);
        using (var f = File.OpenHandle(dir.File(PageStore.FileName), FileMode.Open, FileAccess.ReadWrite))
            RandomAccess.Write(f, oldHalf, SlotOffset(First + 3) + PageStore.SlotHeaderSize + PageSize / 2);

        using var reopened = PageStore.Open(dir.Path, PageSize, First, 100, fsync: true);
        Assert.Equal(1, reopened.RestoredFromDoubleWrite);
        Assert.Equal(Image(40, 4), reopened.Read(First + 3));
        Assert.Equal(Image(41, 5), reopened.Read(First + 5));
    }

    [Fact]
    public void A_torn_doublewrite_buffer_is_ignored_and_the_previous_checkpoint_stays_readable()
    {
        using var dir = new TempDir();
        using (var store = PageStore.Open(dir.Path, PageSize, First, 100, fsync: true))
        {
            store.Write([new(First + 2, Image(10, 1))]);
            store.Write([new(First + 2, Image(20, 2))]);
        }
        // A crash while the next checkpoint wrote its doublewrite buffer (so nothing of it went in place): the buffer's
        // slot is torn; the page keeps its last checkpointed image.
        var dw = File.ReadAllBytes(dir.File(PageStore.DoubleWriteFileName));
        dw.AsSpan(PageStore.SlotHeaderSize + 10, 50).Fill(0xEE);
        File.WriteAllBytes(dir.File(PageStore.DoubleWriteFileName), dw);
        using var reopened = PageStore.Open(dir.Path, PageSize, First, 100, fsync: true);
        Assert.Equal(0, reopened.RestoredFromDoubleWrite);
        Assert.Equal(Image(20, 2), reopened.Read(First + 2));
    }

    [Fact]
    public void A_damaged_slot_is_reported_with_file_offset_and_page_not_returned()
    {
        using var dir = new TempDir();
        using (var store = PageStore.Open(dir.Path, PageSize, First, 100, fsync: false))
            store.Write([new(First + 1, Image(10, 1))]);
        File.Delete(dir.File(PageStore.DoubleWriteFileName));   // nothing to repair it from
        using (var f = File.OpenHandle(dir.File(PageStore.FileName), FileMode.Open, FileAccess.ReadWrite))
            RandomAccess.Write(f, new byte[] { 0x55 }, SlotOffset(First + 1) + PageStore.SlotHeaderSize + 100);
        using var reopened = PageStore.Open(dir.Path, PageSize, First, 100, fsync: false);
        var e = Assert.Throws<DamagedPageException>(() => reopened.Read(First + 1));
        Assert.Contains("page 1001", e.Message);
        Assert.Contains(PageStore.FileName, e.Message);
        Assert.Equal(First + 1, e.PageNo);
        // The scrub's verification sees the same: damaged, and the untouched slots as they are.
        Assert.Equal(SlotState.Damaged, reopened.Verify(First + 1));
        Assert.Equal(SlotState.Empty, reopened.Verify(First));
        Assert.Equal(SlotState.Empty, reopened.Verify(First + 99));
        // A repair is one more write of the slot: it reads back whole.
        reopened.Write([new(First + 1, Image(12, 7))]);
        Assert.Equal(SlotState.Intact, reopened.Verify(First + 1));
        Assert.Equal(Image(12, 7), reopened.Read(First + 1));
    }

    [Theory]
    [InlineData(0)]    // page number
    [InlineData(12)]   // magic
    [InlineData(9)]    // checksum
    public void A_damaged_slot_header_is_found_by_verify(int headerByte)
    {
        using var dir = new TempDir();
        using var store = PageStore.Open(dir.Path, PageSize, First, 100, fsync: false);
        store.Write([new(First + 3, Image(10, 1)), new(First + 4, Image(10, 2))]);
        using (var f = File.OpenHandle(dir.File(PageStore.FileName), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
            RandomAccess.Write(f, new byte[] { 0x77 }, SlotOffset(First + 3) + headerByte);
        Assert.Equal(SlotState.Damaged, store.Verify(First + 3));
        Assert.Equal(SlotState.Intact, store.Verify(First + 4));
        Assert.Throws<DamagedPageException>(() => store.Read(First + 3));
    }
}

public class SegmentLogGarbageCollectionTests
{
    private static SegmentLogOptions SmallFiles => new() { Fsync = false, MaxFileBytes = 1 << 20, PreallocateBytes = 0 };

    [Fact]
    public void Files_wholly_at_or_below_the_checkpoint_are_deleted_and_the_rest_reopens_intact()
    {
        using var dir = new TempDir();
        var records = StorageTestSupport.Chain(6000, payloadBytes: 400);   // ~2.7 MB: three files or more
        long deletedBytes;
        using (var log = SegmentLog.Open(dir.Path, SmallFiles))
        {
            foreach (var batch in records.Chunk(100))
            {
                log.Append(batch);
                log.Sync();
            }
            var files = log.FileCount;
            Assert.True(files >= 3, $"{files} files");
            var before = log.DiskBytes;
            var checkpoint = records[3000].Lsn;
            var (deleted, bytes) = log.CollectGarbage(checkpoint);
            deletedBytes = bytes;
            Assert.True(deleted >= 1, "nothing deleted");
            Assert.Equal(files - deleted, log.FileCount);
            Assert.Equal(before - bytes, log.DiskBytes);
            // Whatever remains holds every record above the checkpoint.
            var left = log.ReadAll().ToList();
            Assert.Contains(left, r => r.Lsn <= checkpoint);   // the file straddling the checkpoint stays
            Assert.Equal(records.Where(r => r.Lsn > checkpoint).Select(r => r.Lsn), left.Where(r => r.Lsn > checkpoint).Select(r => r.Lsn));
            Assert.Equal((0, 0L), log.CollectGarbage(checkpoint));
            // The current file is never deleted, even when everything is below the checkpoint.
            log.CollectGarbage(records[^1].Lsn);
            Assert.Equal(1, log.FileCount);
        }
        using var reopened = SegmentLog.Open(dir.Path, SmallFiles);
        Assert.Empty(reopened.Recovery.CorruptRanges);
        Assert.Equal(records[^1].Lsn, reopened.ReadAll().Last().Lsn);
        Assert.True(deletedBytes > 0);
    }

    [Fact]
    public void A_rolled_file_gives_back_its_preallocated_zeros_so_reopening_finds_no_hole()
    {
        using var dir = new TempDir();
        var options = new SegmentLogOptions { Fsync = true, MaxFileBytes = 1 << 20, PreallocateBytes = 1 << 20 };
        var records = StorageTestSupport.Chain(6000, payloadBytes: 400);
        using (var log = SegmentLog.Open(dir.Path, options))
            foreach (var batch in records.Chunk(100))
            {
                log.Append(batch);
                log.Sync();
            }
        using var reopened = SegmentLog.Open(dir.Path, options);
        Assert.True(reopened.FileCount >= 3);
        Assert.Empty(reopened.Recovery.CorruptRanges);
        Assert.Equal(6000, reopened.ReadAll().Count());
    }

    [Fact]
    public void Rolling_over_takes_the_next_file_zero_filled_in_the_background_and_nothing_of_it_is_left_after_close()
    {
        using var dir = new TempDir();
        var options = new SegmentLogOptions { Fsync = true, MaxFileBytes = 1 << 20, PreallocateBytes = 1 << 20 };
        var records = StorageTestSupport.Chain(6000, payloadBytes: 400);
        using (var log = SegmentLog.Open(dir.Path, options))
        {
            foreach (var batch in records.Chunk(100))
            {
                // Deterministic: let the background zero-fill finish before each batch (a roll may take it).
                Assert.True(SpinWait.SpinUntil(() => log.NextFileReady, TimeSpan.FromSeconds(10)), "the next file was never prepared");
                log.Append(batch);
                log.Sync();
            }
            Assert.True(log.FileCount >= 3);
            Assert.Equal(log.FileCount - 1, log.PreparedFilesUsed);
            Assert.True(File.Exists(dir.File(SegmentLog.PreparedFileName)));
        }
        Assert.False(File.Exists(dir.File(SegmentLog.PreparedFileName)));
        using var reopened = SegmentLog.Open(dir.Path, options);
        Assert.Empty(reopened.Recovery.CorruptRanges);
        Assert.Equal(0, reopened.Recovery.TailBytesCut);   // the clean close gave the padding back
        Assert.Equal(records.Select(r => r.Lsn), reopened.ReadAll().Select(r => r.Lsn));
    }
}

public class SegmentMetadataCheckpointTests
{
    [Fact]
    public void The_checkpoint_and_its_commit_point_round_trip_and_never_go_back()
    {
        using var dir = new TempDir();
        var m = SegmentMetadata.Default.WithEpoch(2, new Lsn(50))
            .WithCheckpoint(new Lsn(900), new CplInfo(new Lsn(880), [new Lsn(870), new Lsn(880)]));
        m.Save(dir.Path, fsync: true);
        var back = SegmentMetadata.Load(dir.Path);
        Assert.Equal(m, back);
        Assert.Equal(new Lsn(900), back.Materialized);
        Assert.Equal(new Lsn(880), back.CheckpointCpl!.Lsn);
        Assert.Equal([new Lsn(870), new Lsn(880)], back.CheckpointCpl.PgTail);
        // A checkpoint without a new commit keeps the last commit point; an older checkpoint is refused.
        Assert.Equal(new Lsn(880), back.WithCheckpoint(new Lsn(950), null).CheckpointCpl!.Lsn);
        Assert.Throws<ArgumentOutOfRangeException>(() => back.WithCheckpoint(new Lsn(899), null));
        // Epoch changes keep the checkpoint.
        Assert.Equal(new Lsn(900), back.WithEpoch(3, new Lsn(1000)).Materialized);
    }

    [Fact]
    public void A_version_1_file_without_checkpoint_fields_still_loads()
    {
        // Version 1 layout: the 28-byte header, one range, the CRC.
        var v2 = SegmentMetadata.Default.WithEpoch(4, new Lsn(77)).WithAnnulled(new AnnulledRange(new Lsn(77), new Lsn(177), 4)).Serialize();
        var v1 = new byte[28 + 24 + 4];
        v2.AsSpan(0, 28 + 24).CopyTo(v1);
        BitConverter.TryWriteBytes(v1.AsSpan(4, 2), (ushort)1);
        BitConverter.TryWriteBytes(v1.AsSpan(52, 4), ActorDb.Core.Redo.Crc32C.Compute(v1.AsSpan(0, 52)));
        var m = SegmentMetadata.Deserialize(v1, "v1");
        Assert.Equal(4, m.Epoch);
        Assert.Equal(Lsn.Zero, m.Materialized);
        Assert.Null(m.CheckpointCpl);
        Assert.True(m.IsAnnulled(new Lsn(100)));
    }
}
