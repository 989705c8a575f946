using System.ComponentModel;
using ActorDb.Core.Redo;
using ActorDb.Core.Storage;
using static ActorDb.Core.Tests.Storage.StorageTestSupport;

namespace ActorDb.Core.Tests.Storage;

/// <summary>The storage seam's fault layer (<see cref="FaultyStorage"/>) and what the segment log does on it.</summary>
public class FaultyStorageTests
{
    private static byte[] Bytes(int n, byte value) => Enumerable.Repeat(value, n).ToArray();

    [Fact]
    public void A_power_loss_drops_exactly_the_bytes_written_after_the_last_sync_of_each_file()
    {
        using var dir = new TempDir();
        var storage = new FaultyStorage();
        var a = dir.File("a");
        var b = dir.File("b");
        storage.FsyncDirectory(dir.Path);
        using (var fa = storage.Open(a, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read))
        using (var fb = storage.Open(b, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read))
        {
            storage.FsyncDirectory(dir.Path);
            fa.Write(Bytes(100, 1), 0);
            fa.Flush();
            fa.Write(Bytes(50, 2), 100);     // appended, not synced
            fa.Write(Bytes(10, 3), 20);      // overwrite inside synced bytes, not synced
            fb.Write(Bytes(30, 4), 0);
            fb.Flush();
            Assert.Equal(60, storage.UnsyncedBytes);
            Assert.Equal(60, storage.PowerLoss());
        }
        storage.PowerOn();
        Assert.Equal(Bytes(100, 1), File.ReadAllBytes(a));
        Assert.Equal(Bytes(30, 4), File.ReadAllBytes(b));
    }

    [Fact]
    public void A_torn_power_loss_keeps_the_first_half_of_the_newest_unsynced_write_only()
    {
        using var dir = new TempDir();
        var storage = new FaultyStorage();
        var a = dir.File("a");
        storage.FsyncDirectory(dir.Path);
        using (var f = storage.Open(a, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read))
        {
            storage.FsyncDirectory(dir.Path);
            f.Write(Bytes(8, 1), 0);
            f.Flush();
            f.Write(Bytes(8, 2), 8);
            f.Write(Bytes(8, 3), 16);
            Assert.Equal(12, storage.PowerLoss(tear: true));
        }
        var content = File.ReadAllBytes(a);
        Assert.Equal(20, content.Length);
        Assert.Equal(Bytes(8, 1), content[..8]);
        Assert.Equal(Bytes(8, 0), content[8..16]);    // the older unsynced write is lost (a hole of zeros below the torn one)
        Assert.Equal(Bytes(4, 3), content[16..]);
    }

    [Fact]
    public void A_file_or_folder_created_without_an_fsync_of_its_parent_is_gone_after_a_power_loss()
    {
        using var dir = new TempDir();
        var storage = new FaultyStorage();
        var kept = Path.Combine(dir.Path, "kept");
        var lost = Path.Combine(dir.Path, "lost");
        storage.EnsureDirectory(kept, fsync: true);
        storage.CreateDirectory(lost);
        using (var f = storage.Open(Path.Combine(kept, "x"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read)) { f.Write(Bytes(5, 9), 0); f.Flush(); }
        using (var f = storage.Open(Path.Combine(kept, "y"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read)) { f.Write(Bytes(5, 9), 0); f.Flush(); }
        storage.SyncParent(Path.Combine(kept, "y"));   // both entries of "kept" durable now
        using (var f = storage.Open(Path.Combine(kept, "z"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read)) { f.Write(Bytes(5, 9), 0); f.Flush(); }
        storage.PowerLoss();
        storage.PowerOn();
        Assert.True(Directory.Exists(kept));
        Assert.True(File.Exists(Path.Combine(kept, "x")));
        Assert.True(File.Exists(Path.Combine(kept, "y")));
        Assert.False(File.Exists(Path.Combine(kept, "z")));   // data synced, directory entry not
        Assert.False(Directory.Exists(lost));
    }

    [Fact]
    public void A_rename_not_followed_by_a_directory_fsync_is_undone_by_a_power_loss_and_a_synced_one_is_kept()
    {
        using var dir = new TempDir();
        var storage = new FaultyStorage();
        var path = dir.File("meta");
        storage.ReplaceFile(path, [1, 2, 3], fsync: true, path + ".tmp");
        storage.PowerLoss();
        storage.PowerOn();
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
        using (var f = storage.Open(path + ".tmp", FileMode.Create, FileAccess.ReadWrite, FileShare.None)) { f.Write([7, 7], 0); f.Flush(); }
        storage.Move(path + ".tmp", path, overwrite: true);   // no fsync of the folder
        storage.PowerLoss();
        storage.PowerOn();
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
    }

    [Fact]
    public void After_a_power_loss_every_operation_fails_until_power_is_back()
    {
        using var dir = new TempDir();
        var storage = new FaultyStorage();
        using var f = storage.Open(dir.File("a"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        storage.PowerLoss();
        var e = Assert.Throws<IOException>(() => f.Write([1], 0));
        Assert.Equal(StorageFailureKind.IoError, StorageErrors.Classify(e));
        storage.PowerOn();
        f.Write([1], 0);
    }

    [Fact]
    public void Eio_on_the_nth_sync_fails_that_sync_only_and_is_classified_as_an_io_error()
    {
        using var dir = new TempDir();
        var storage = new FaultyStorage();
        storage.Inject(StorageFault.IoErrorOnNth(StorageOps.Sync, 3, "a"));
        using var f = storage.Open(dir.File("a"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        f.Flush();
        f.Flush();
        var e = Assert.Throws<Win32Exception>(() => f.Flush());
        Assert.Equal(StorageErrors.Eio, e.NativeErrorCode);
        Assert.Equal(StorageFailureKind.IoError, StorageErrors.Classify(e));
        f.Flush();
        Assert.Equal(1, storage.Failures);
    }

    [Fact]
    public void A_full_disk_fails_writes_on_its_paths_only_writes_nothing_and_clears()
    {
        using var dir = new TempDir();
        var storage = new FaultyStorage();
        using var full = storage.Open(dir.File("pg-0-1.dat"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        using var other = storage.Open(dir.File("pg-0-2.dat"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        storage.Inject(StorageFault.DiskFull("pg-0-1"));
        var e = Assert.Throws<IOException>(() => full.Write([1, 2, 3], 0));
        Assert.Equal(StorageFailureKind.DiskFull, StorageErrors.Classify(e));
        Assert.Equal(0, full.Length);
        Assert.Equal(0L, storage.AvailableFreeSpace(dir.File("pg-0-1.dat")));
        other.Write([1, 2, 3], 0);
        Assert.Equal(1, storage.Clear());
        full.Write([1, 2, 3], 0);
        Assert.Equal(3, full.Length);
    }

    [Fact]
    public void The_classifier_reads_a_real_enospc_from_dev_full()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var h = File.OpenHandle("/dev/full", FileMode.Open, FileAccess.Write);
        var e = Assert.ThrowsAny<IOException>(() => RandomAccess.Write(h, new byte[4096], 0));
        Assert.Equal(StorageFailureKind.DiskFull, StorageErrors.Classify(new SegmentLogException("wrapped", "/dev/full", "write", e)));
        Assert.Equal(StorageFailureKind.Other, StorageErrors.Classify(new InvalidOperationException("bug")));
    }

    private static SegmentLogOptions On(FaultyStorage storage, bool direct = true) =>
        new(Fsync: true, PreallocateBytes: 64 * 1024, DirectIo: direct) { Storage = storage };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_power_loss_never_loses_a_synced_record_and_drops_every_unsynced_one(bool direct)
    {
        using var dir = new TempDir();
        var storage = new FaultyStorage();
        var records = Chain(300, payloadBytes: 100);
        var log = SegmentLog.Open(dir.Path, On(storage, direct));
        for (var i = 0; i < 200; i += 20)
        {
            log.Append(records.Skip(i).Take(20).ToList());
            log.Sync();
        }
        Assert.Equal(direct && OperatingSystem.IsLinux(), log.DirectIo);
        if (!direct)
        {
            // Written but never synced: the sync of the batch fails, its bytes stay in the file's cache only.
            storage.Inject(StorageFault.IoErrorOnNth(StorageOps.Sync, 1));
            log.Append(records.Skip(200).ToList());
            Assert.Throws<SegmentLogException>(() => log.Sync());
            Assert.True(storage.UnsyncedBytes > 0);
        }
        else log.Append(records.Skip(200).ToList());   // appended, never written
        storage.PowerLoss();
        log.Dispose();
        storage.PowerOn();
        storage.Clear();
        using var reopened = SegmentLog.Open(dir.Path, On(storage, direct));
        AssertSameRecords(records.Take(200).ToList(), reopened.ReadAll().ToList());
    }

    [Fact]
    public void After_eio_on_a_sync_the_log_is_faulted_and_a_reopen_at_the_failed_position_cuts_the_failed_batch()
    {
        using var dir = new TempDir();
        var storage = new FaultyStorage();
        var records = Chain(60, payloadBytes: 100);
        var options = On(storage, direct: false);
        LogPosition failedAt;
        using (var log = SegmentLog.Open(dir.Path, options))
        {
            log.Append(records.Take(30).ToList());
            log.Sync();
            storage.Inject(StorageFault.IoErrorOnNth(StorageOps.Sync, 1));
            log.Append(records.Skip(30).ToList());
            var e = Assert.Throws<SegmentLogException>(() => log.Sync());
            Assert.Equal(StorageFailureKind.IoError, StorageErrors.Classify(e));
            Assert.Throws<SegmentLogException>(() => log.Append(records[0]));   // faulted: nothing more
            failedAt = log.FailedAt!.Value;
            Assert.Equal(new LogPosition(1, records.Take(30).Sum(r => (long)RedoCodec.FrameSize(r))), failedAt);
        }
        // The failed batch's bytes are in the file (the page cache kept them), whole and with valid checksums: trusted
        // without the cut, as the issue saw after a restart.
        using (var trusting = SegmentLog.Open(dir.Path, options))
            Assert.Equal(60, trusting.ReadAll().Count());
        using var cut = SegmentLog.Open(dir.Path, options, distrustedFrom: failedAt);
        AssertSameRecords(records.Take(30).ToList(), cut.ReadAll().ToList());
        Assert.True(cut.DistrustedBytesCut > 0);
    }

    [Fact]
    public void Enospc_in_a_direct_write_faults_the_log_keeps_the_synced_records_and_a_cut_lets_it_write_again()
    {
        using var dir = new TempDir();
        var storage = new FaultyStorage();
        var records = Chain(90, payloadBytes: 100);
        var options = On(storage);
        LogPosition failedAt;
        using (var log = SegmentLog.Open(dir.Path, options))
        {
            log.Append(records.Take(30).ToList());
            log.Sync();
            storage.Inject(StorageFault.DiskFull());
            log.Append(records.Skip(30).Take(30).ToList());
            var e = Assert.Throws<SegmentLogException>(() => log.Sync());
            Assert.Equal(StorageFailureKind.DiskFull, StorageErrors.Classify(e));
            failedAt = log.FailedAt!.Value;
            Assert.True(log.TryCutFailed());
        }
        storage.Clear();
        using (var log = SegmentLog.Open(dir.Path, options, distrustedFrom: failedAt))
        {
            log.Append(records.Skip(30).ToList());
            log.Sync();
        }
        using var reopened = SegmentLog.Open(dir.Path, options);
        AssertSameRecords(records, reopened.ReadAll().ToList());
    }

    [Fact]
    public void Segment_meta_keeps_the_distrusted_position_and_reads_version_3_files()
    {
        using var dir = new TempDir();
        var meta = SegmentMetadata.Default.WithEpoch(3, new Lsn(40)).WithDistrusted(new LogPosition(2, 4096));
        meta.Save(dir.Path, fsync: true);
        var loaded = SegmentMetadata.Load(dir.Path);
        Assert.Equal(new LogPosition(2, 4096), loaded.Distrusted);
        Assert.Equal(meta, loaded);
        Assert.Null(loaded.WithDistrusted(null).Distrusted);
        Assert.Throws<ArgumentOutOfRangeException>(() => meta.WithDistrusted(new LogPosition(0, 5)));
        // A version 3 file (before the distrusted position): the same bytes without its 16, version 3, CRC again.
        var v4 = meta.WithDistrusted(null).Serialize();
        var v3 = v4[..^20].Concat(new byte[4]).ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(v3.AsSpan(4), 3);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(v3.AsSpan(v3.Length - 4), Crc32C.Compute(v3.AsSpan(0, v3.Length - 4)));
        var old = SegmentMetadata.Deserialize(v3, "v3");
        Assert.Null(old.Distrusted);
        Assert.Equal(3, old.Epoch);
    }
}

/// <summary>Item 4 of issue 12: every folder and file holding durable state survives a power loss right after it was made.</summary>
public class DirectoryDurabilityTests
{
    [Fact]
    public void A_segment_folder_its_parents_log_meta_and_page_store_survive_a_power_loss_right_after_they_are_made()
    {
        using var root = new TempDir();
        var storage = new FaultyStorage();
        var dir = Path.Combine(root.Path, "data", "az-a", "pg-0-0");
        var meta = SegmentMetadata.Default.WithEpoch(1, Lsn.Zero);
        meta.Save(dir, fsync: true, storage);
        using (var store = PageStore.Open(dir, 512, 0, 16, fsync: true, storage))
            store.Write([new(3, new byte[512])]);
        var records = Chain(5, payloadBytes: 10);
        using (var log = SegmentLog.Open(dir, new SegmentLogOptions(Fsync: true, PreallocateBytes: 0) { Storage = storage }))
        {
            log.Append(records);
            log.Sync();
            storage.PowerLoss();
        }
        storage.PowerOn();
        Assert.Equal(meta, SegmentMetadata.Load(dir));
        Assert.True(File.Exists(Path.Combine(dir, PageStore.DoubleWriteFileName)));
        using (var store = PageStore.Open(dir, 512, 0, 16, fsync: true, storage))
            Assert.NotNull(store.Read(3));
        using var reopened = SegmentLog.Open(dir, new SegmentLogOptions(Fsync: true, PreallocateBytes: 0) { Storage = storage });
        AssertSameRecords(records, reopened.ReadAll().ToList());
    }

    [Fact]
    public void Without_fsync_the_same_folders_are_lost_which_shows_the_power_loss_undoes_unsynced_entries()
    {
        using var root = new TempDir();
        var storage = new FaultyStorage();
        var dir = Path.Combine(root.Path, "data", "az-a", "pg-0-0");
        SegmentMetadata.Default.Save(dir, fsync: false, storage);
        storage.PowerLoss();
        storage.PowerOn();
        Assert.False(Directory.Exists(Path.Combine(root.Path, "data")));
    }
}

public class StorageFaultParseTests
{
    [Fact]
    public void Test_fault_specs_parse_and_a_bad_one_is_one_clear_error()
    {
        var faults = StorageFault.Parse("eio:sync:pg-0-3/redo-:after=299:times=1; enospc:write+create:*");
        Assert.Equal(new StorageFault(StorageOps.Sync, StorageErrors.Eio, "pg-0-3/redo-", 299, 1), faults[0]);
        Assert.Equal(new StorageFault(StorageOps.Write | StorageOps.Create, StorageErrors.Enospc, null), faults[1]);
        Assert.Empty(StorageFault.Parse(""));
        Assert.Contains("'ebusy'", Assert.Throws<FormatException>(() => StorageFault.Parse("ebusy:sync:*")).Message);
        Assert.Contains("'fsync'", Assert.Throws<FormatException>(() => StorageFault.Parse("eio:fsync:*")).Message);
        Assert.Contains("after=N", Assert.Throws<FormatException>(() => StorageFault.Parse("eio:sync:*:after=-1")).Message);
        Assert.Contains("KIND:OPS:PATH", Assert.Throws<FormatException>(() => StorageFault.Parse("eio:sync")).Message);
    }
}
