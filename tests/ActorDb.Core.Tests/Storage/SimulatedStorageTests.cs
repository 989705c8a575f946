using System.ComponentModel;
using ActorDb.Core.Redo;
using ActorDb.Core.Storage;
using CsCheck;
using static ActorDb.Core.Tests.Storage.StorageTestSupport;

namespace ActorDb.Core.Tests.Storage;

/// <summary>The simulated disk (<see cref="SimulatedStorage"/>) on its own and under the real segment log, page store and
/// <c>segment.meta</c>: what a power loss keeps, tears and undoes, its faults, and that a seed fixes every byte.</summary>
public class SimulatedStorageTests
{
    private const string Dir = "/sim/node-1/pg-0-3";

    private static byte[] Bytes(int n, byte value) => Enumerable.Repeat(value, n).ToArray();

    /// <summary>A disk small enough that the log never zero-fills its next file in the background (a thread the
    /// simulation does not own): <see cref="SegmentLog"/> skips that below twice its file size free.</summary>
    private static SimulatedStorage NewDisk(int seed = 1)
    {
        var storage = new SimulatedStorage(new Random(seed)) { SpaceLimit = 64L << 20 };
        storage.EnsureDirectory("/sim", fsync: true);
        return storage;
    }

    private static SegmentLogOptions Log(IStorage storage, bool fsync = true, bool direct = false) =>
        new(Fsync: fsync, PreallocateBytes: direct ? 64 * 1024 : 0, DirectIo: direct) { Storage = storage };

    private static List<RedoRecord> ReadLog(SimulatedStorage storage, out OpenReport report)
    {
        using var log = SegmentLog.Open(Dir, Log(storage));
        report = log.Recovery;
        return log.ReadAll().ToList();
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(false, 2)]
    [InlineData(false, 3)]
    [InlineData(true, 1)]
    [InlineData(true, 2)]
    [InlineData(true, 3)]
    public void Every_synced_record_page_and_meta_survives_a_power_loss(bool direct, int seed)
    {
        var storage = NewDisk();
        var records = Chain(300, payloadBytes: 100);
        var meta = SegmentMetadata.Default.WithEpoch(4, new Lsn(70));
        meta.Save(Dir, fsync: true, storage);
        using (var store = PageStore.Open(Dir, 512, 0, 16, fsync: true, storage))
            store.Write([new(3, Bytes(512, 7))]);
        var log = SegmentLog.Open(Dir, Log(storage, direct: direct));
        Assert.Equal(direct, log.DirectIo);
        for (var i = 0; i < 200; i += 20)
        {
            log.Append(records.Skip(i).Take(20).ToList());
            log.Sync();
        }
        log.Append(records.Skip(200).ToList());   // appended, never written

        var report = storage.PowerLoss(new Random(seed));

        Assert.Equal(1, report.LocksReleased);
        Assert.Equal(meta, SegmentMetadata.Load(Dir, storage));
        using (var store = PageStore.Open(Dir, 512, 0, 16, fsync: true, storage))
            Assert.Equal(Bytes(512, 7), store.Read(3));
        AssertSameRecords(records.Take(200).ToList(), ReadLog(storage, out _));
    }

    [Fact]
    public void An_unsynced_write_is_kept_lost_or_torn_by_the_seed_and_reopen_cuts_a_torn_tail_keeping_every_synced_record()
    {
        var records = Chain(60, payloadBytes: 100);
        var synced = records.Take(40).ToList();
        var batchBytes = records.Skip(40).Sum(r => (long)RedoCodec.FrameSize(r));
        int kept = 0, lost = 0, torn = 0;
        for (var seed = 0; seed < 30; seed++)
        {
            var storage = NewDisk();
            using (var log = SegmentLog.Open(Dir, Log(storage)))
            {
                log.Append(synced);
                log.Sync();
            }
            // The next batch reaches the page cache and the power fails before its fdatasync (a log with fsync off
            // writes exactly that way).
            var unsyncedLog = SegmentLog.Open(Dir, Log(storage, fsync: false));
            unsyncedLog.Append(records.Skip(40).ToList());
            unsyncedLog.Sync();
            Assert.Equal(batchBytes, storage.UnsyncedBytes);

            var power = storage.PowerLoss(new Random(seed));
            unsyncedLog.Append(records[0]);
            Assert.ThrowsAny<IOException>(() => unsyncedLog.Sync());   // the crashed process's handles are dead

            var found = ReadLog(storage, out var report);
            Assert.Equal(1, power.WritesKept + power.WritesLost + power.WritesTorn);
            if (power.WritesKept == 1)
            {
                kept++;
                AssertSameRecords(records, found);
                Assert.True(report.IsClean);
            }
            else if (power.WritesLost == 1)
            {
                lost++;
                AssertSameRecords(synced, found);
                Assert.True(report.IsClean);
                Assert.Equal(batchBytes, power.BytesLost);
            }
            else
            {
                torn++;
                Assert.True(power.BytesLost is > 0 && power.BytesLost < batchBytes, $"seed {seed}: {power}");
                // Whole frames of the torn prefix are valid records; the partial one after them is the tail cut.
                Assert.True(found.Count >= synced.Count && found.Count < records.Count, $"seed {seed}: {found.Count} records");
                AssertSameRecords(records.Take(found.Count).ToList(), found);
                var wholeFrames = records.Skip(40).Take(found.Count - 40).Sum(r => (long)RedoCodec.FrameSize(r));
                Assert.Equal(batchBytes - power.BytesLost - wholeFrames, report.TailBytesCut);
                Assert.Equal(report.TailBytesCut > 0, report.TailTornBytes > 0);
                Assert.Empty(report.CorruptRanges);
            }
        }
        Assert.True(kept > 0 && lost > 0 && torn > 0, $"30 seeds gave {kept} kept, {lost} lost, {torn} torn");
    }

    [Fact]
    public void A_torn_write_keeps_a_prefix_in_multiples_of_the_granularity()
    {
        var storage = NewDisk();
        storage.TornWriteGranularity = 512;
        var path = "/sim/a";
        using (var f = storage.Open(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read)) f.Flush();
        storage.FsyncDirectory("/sim");
        var tornSeen = 0;
        for (var seed = 0; seed < 20; seed++)
        {
            using (var f = storage.Open(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read)) f.Write(Bytes(4096, 9), 0);
            var power = storage.PowerLoss(new Random(seed));
            var length = storage.FileLength(path);
            Assert.Equal(length, storage.ReadDurable(path)!.Length);
            if (power.WritesTorn == 1)
            {
                tornSeen++;
                Assert.True(length % 512 == 0 && length is > 0 and < 4096, $"seed {seed}: torn to {length} bytes");
            }
            Assert.All(storage.ReadAllBytes(path), b => Assert.Equal(9, b));
            using (var f = storage.Open(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read)) { f.SetLength(0); f.Flush(); }
        }
        Assert.True(tornSeen > 0);
    }

    [Fact]
    public void A_rename_without_a_directory_fsync_may_vanish_at_a_power_loss_and_a_synced_one_never_does()
    {
        var path = "/sim/node-1/segment.meta";
        int oldSeen = 0, newSeen = 0;
        for (var seed = 0; seed < 20; seed++)
        {
            var storage = NewDisk();
            storage.EnsureDirectory("/sim/node-1", fsync: true);
            storage.ReplaceFile(path, [1, 2, 3], fsync: true, path + ".tmp");
            storage.PowerLoss(new Random(seed));
            Assert.Equal(new byte[] { 1, 2, 3 }, storage.ReadAllBytes(path));

            using (var f = storage.Open(path + ".tmp", FileMode.Create, FileAccess.ReadWrite, FileShare.None)) { f.Write([7, 7], 0); f.Flush(); }
            storage.Move(path + ".tmp", path, overwrite: true);   // no fsync of the folder
            Assert.Equal(new byte[] { 1, 2, 3 }, storage.ReadDurable(path));
            storage.PowerLoss(new Random(seed));
            var content = storage.ReadAllBytes(path);
            if (content.SequenceEqual(new byte[] { 1, 2, 3 })) oldSeen++;
            else
            {
                Assert.Equal(new byte[] { 7, 7 }, content);   // the new file whole, never a mix
                newSeen++;
            }
        }
        Assert.True(oldSeen > 0 && newSeen > 0, $"20 seeds: the rename vanished {oldSeen} times, survived {newSeen} times");
    }

    [Fact]
    public void A_created_file_or_folder_is_durable_only_after_an_fsync_of_its_parent()
    {
        var storage = NewDisk();
        storage.EnsureDirectory("/sim/kept", fsync: true);
        using (var f = storage.Open("/sim/kept/x", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read)) { f.Write([1], 0); f.Flush(); }
        storage.FsyncDirectory("/sim/kept");
        using (var f = storage.Open("/sim/kept/y", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read)) { f.Write([2], 0); f.Flush(); }
        storage.CreateDirectory("/sim/maybe");
        Assert.Equal(["/sim/kept/x"], storage.ListDurableFiles());
        Assert.Equal(["/sim/kept/x", "/sim/kept/y"], storage.ListAllFiles());
        Assert.Null(storage.ReadDurable("/sim/kept/y"));
        Assert.Equal(new byte[] { 2 }, storage.ReadAllBytes("/sim/kept/y"));   // reads see the page cache

        var power = storage.PowerLoss(new Random(0));

        Assert.Equal(2, power.DirectoryOpsKept + power.DirectoryOpsLost);
        Assert.True(storage.FileExists("/sim/kept/x"));
        Assert.Equal(new byte[] { 1 }, storage.ReadAllBytes("/sim/kept/x"));
        Assert.All(storage.ListAllFiles(), f => Assert.StartsWith("/sim/kept/", f));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_full_disk_fails_the_log_write_with_enospc_writes_nothing_and_heals_when_space_is_raised(bool direct)
    {
        var storage = NewDisk();
        // With direct writes the second batch passes the zero-filled extent (at most 96 KiB past the first), so the
        // zero-fill needs new blocks; without, the page-cache write does.
        var records = Chain(90, payloadBytes: 2000);
        var options = Log(storage, direct: direct);
        LogPosition failedAt;
        using (var log = SegmentLog.Open(Dir, options))
        {
            log.Append(records.Take(30).ToList());
            log.Sync();
            storage.SpaceLimit = storage.UsedBytes;   // full: no new block anywhere
            log.Append(records.Skip(30).ToList());
            var e = Assert.Throws<SegmentLogException>(() => log.Sync());
            Assert.Equal(StorageFailureKind.DiskFull, StorageErrors.Classify(e));
            Assert.Equal(0L, storage.AvailableFreeSpace(Dir));
            failedAt = log.FailedAt!.Value;
        }
        var full = Assert.Throws<IOException>(() => storage.Open(Dir + "/new", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None));
        Assert.Equal(StorageFailureKind.DiskFull, StorageErrors.Classify(full));
        Assert.False(storage.FileExists(Dir + "/new"));

        storage.SpaceLimit = 64L << 20;
        using (var log = SegmentLog.Open(Dir, options, distrustedFrom: failedAt))
        {
            log.Append(records.Skip(30).ToList());
            log.Sync();
        }
        AssertSameRecords(records, ReadLog(storage, out _));
    }

    [Fact]
    public void A_full_disk_fails_a_page_checkpoint_and_the_previous_one_stays_readable()
    {
        var storage = NewDisk();
        using var store = PageStore.Open(Dir, 4096, 0, 64, fsync: true, storage);
        store.Write([new(1, Bytes(4096, 1))]);
        storage.SpaceLimit = storage.UsedBytes;
        // The doublewrite copy of two pages needs more blocks than that of one: it fails before anything is written in place.
        var e = Assert.Throws<SegmentLogException>(() => store.Write([new(1, Bytes(4096, 2)), new(40, Bytes(4096, 2))]));
        Assert.Equal(StorageFailureKind.DiskFull, StorageErrors.Classify(e));
        Assert.Equal(Bytes(4096, 1), store.Read(1));
        storage.SpaceLimit = long.MaxValue;
        store.Write([new(1, Bytes(4096, 2)), new(40, Bytes(4096, 2))]);
        Assert.Equal(Bytes(4096, 2), store.Read(1));
        Assert.Equal(Bytes(4096, 2), store.Read(40));
        Assert.Equal(40, store.NextWrittenPage(2));   // SEEK_DATA skips the hole between them
    }

    [Fact]
    public void Eio_on_a_log_write_surfaces_as_the_io_exception_the_disk_gives_and_faults_the_log()
    {
        var storage = NewDisk();
        var records = Chain(40, payloadBytes: 100);
        using var log = SegmentLog.Open(Dir, Log(storage));
        log.Append(records.Take(20).ToList());
        log.Sync();
        storage.Inject(new StorageFault(StorageOps.Write, StorageErrors.Eio, "redo-", Times: 1));
        log.Append(records.Skip(20).ToList());
        var e = Assert.Throws<SegmentLogException>(() => log.Sync());
        var io = Assert.IsType<IOException>(e.InnerException);
        Assert.Equal(StorageErrors.Eio, io.HResult);
        Assert.Equal($"Input/output error : '{Dir}/redo-00000001.log'", io.Message);
        Assert.Equal(StorageFailureKind.IoError, StorageErrors.Classify(e));
        Assert.Equal(1, storage.Clear());
    }

    [Fact]
    public void A_simulated_enospc_is_the_same_exception_as_a_real_one()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var real = File.OpenHandle("/dev/full", FileMode.Open, FileAccess.Write);   // what DiskStorage writes with
        var fromDisk = Assert.ThrowsAny<IOException>(() => RandomAccess.Write(real, new byte[4096], 0));
        var storage = NewDisk();
        using var f = storage.Open("/sim/f", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        storage.SpaceLimit = 0;
        var simulated = Assert.ThrowsAny<IOException>(() => f.Write(new byte[4096], 0));
        Assert.Equal(fromDisk.GetType(), simulated.GetType());
        Assert.Equal(fromDisk.HResult & 0xFFFF, simulated.HResult & 0xFFFF);
        Assert.Equal(StorageErrors.Classify(fromDisk), StorageErrors.Classify(simulated));
    }

    [Fact]
    public void A_failed_fdatasync_drops_the_pending_writes_for_good()
    {
        var storage = NewDisk();
        using (var f = storage.Open("/sim/f", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None))
        {
            storage.FsyncDirectory("/sim");
            f.Write(Bytes(10, 1), 0);
            f.Flush();
            f.Write(Bytes(10, 2), 10);
            storage.Inject(StorageFault.IoErrorOnNth(StorageOps.Sync, 1));
            var e = Assert.Throws<Win32Exception>(() => f.Flush());
            Assert.Equal(StorageErrors.Eio, e.NativeErrorCode);
            Assert.Equal(20, f.Length);   // still in the page cache
            f.Flush();                     // proves nothing: the pages were marked clean
        }
        Assert.Equal(Bytes(10, 1), storage.ReadDurable("/sim/f"));
        storage.PowerLoss(new Random(1));
        Assert.Equal(Bytes(10, 1), storage.ReadAllBytes("/sim/f"));
    }

    [Fact]
    public void A_lost_write_is_acknowledged_and_read_back_but_gone_after_a_power_loss_despite_its_sync()
    {
        var storage = NewDisk();
        using (var f = storage.Open("/sim/f", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None))
        {
            storage.FsyncDirectory("/sim");
            storage.LoseWrites("/sim/f");
            f.Write(Bytes(10, 1), 0);
            f.Flush();
            Assert.Equal(Bytes(10, 1), storage.ReadAllBytes("/sim/f"));
            f.Write(Bytes(5, 2), 10);   // only one write was to be lost
            f.Flush();
        }
        storage.PowerLoss(new Random(1));
        Assert.Equal([.. Bytes(10, 0), .. Bytes(5, 2)], storage.ReadAllBytes("/sim/f"));
    }

    [Fact]
    public void A_lock_excludes_a_second_holder_until_disposed_or_a_power_loss()
    {
        var storage = NewDisk();
        var held = storage.Lock("/sim/redo.lock");
        Assert.Throws<IOException>(() => storage.Lock("/sim/redo.lock"));
        var e = Assert.Throws<SegmentLogException>(() => SegmentLog.Open("/sim", Log(storage)));
        Assert.Equal("lock", e.Operation);
        held.Dispose();
        var again = storage.Lock("/sim/redo.lock");
        storage.PowerLoss(new Random(1));
        var after = storage.Lock("/sim/redo.lock");   // the crashed holder's lock went with it
        again.Dispose();                             // the dead holder's release leaves the new holder's lock
        Assert.Throws<IOException>(() => storage.Lock("/sim/redo.lock"));
        after.Dispose();
    }

    [Fact]
    public void Missing_paths_existing_targets_and_misaligned_direct_writes_fail_as_on_linux()
    {
        var storage = NewDisk();
        Assert.Throws<DirectoryNotFoundException>(() => storage.Open("/sim/x/y", FileMode.Create, FileAccess.ReadWrite, FileShare.None));
        Assert.Throws<DirectoryNotFoundException>(() => storage.CreateDirectory("/sim/x/y"));
        storage.CreateDirectory("/sim");
        Assert.Throws<FileNotFoundException>(() => storage.Open("/sim/none", FileMode.Open, FileAccess.Read, FileShare.Read));
        Assert.Throws<FileNotFoundException>(() => storage.FileLength("/sim/none"));
        Assert.Throws<FileNotFoundException>(() => storage.Move("/sim/none", "/sim/other", overwrite: true));
        storage.Delete("/sim/none");
        using (storage.Open("/sim/a", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None)) { }
        using (storage.Open("/sim/b", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None)) { }
        Assert.Throws<IOException>(() => storage.Open("/sim/a", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None));
        Assert.Throws<IOException>(() => storage.Move("/sim/a", "/sim/b", overwrite: false));
        Assert.Equal(["/sim/a", "/sim/b"], storage.ListFiles("/sim", "?"));
        Assert.Empty(storage.ListFiles("/sim", "redo-*.log"));
        using var direct = storage.OpenDirect("/sim/a")!;
        var e = Assert.Throws<IOException>(() => direct.Write(new byte[100], 0));
        Assert.Equal(22, e.HResult);
        direct.Write(new byte[4096], 4096);
        Assert.Equal(8192, direct.Length);
        using var read = storage.Open("/sim/a", FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        Assert.Throws<UnauthorizedAccessException>(() => read.Write([1], 0));
    }

    [Fact]
    public void Latency_is_summed_per_operation_for_the_simulator_to_take()
    {
        var storage = NewDisk(seed: 5);
        storage.SetLatency(StorageOps.Sync, TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(2));
        storage.SetLatency(StorageOps.Write, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(3), "redo-");
        using (var f = storage.Open("/redo-1", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None))
        {
            f.Write([1], 0);
            f.Flush();
            f.Flush();
        }
        var taken = storage.TakeLatency();
        Assert.InRange(taken, TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(7));
        Assert.Equal(TimeSpan.Zero, storage.TakeLatency());
        Assert.Equal(taken, Replay());

        TimeSpan Replay()
        {
            var again = NewDisk(seed: 5);
            again.SetLatency(StorageOps.Sync, TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(2));
            again.SetLatency(StorageOps.Write, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(3), "redo-");
            using var f = again.Open("/redo-1", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
            f.Write([1], 0);
            f.Flush();
            f.Flush();
            return again.TakeLatency();
        }
    }

    /// <summary>A node's history: a log written in synced and unsynced batches, a checkpoint, a meta rename left unsynced,
    /// a power loss with <paramref name="seed"/>, and a reopen. Returns every file's bytes after it.</summary>
    private static SortedDictionary<string, byte[]> Run(int seed)
    {
        var storage = NewDisk();
        var records = Chain(120, payloadBytes: 50, seed: 3);
        using (var log = SegmentLog.Open(Dir, Log(storage)))
            for (var i = 0; i < 60; i += 10)
            {
                log.Append(records.Skip(i).Take(10).ToList());
                log.Sync();
            }
        var unsynced = SegmentLog.Open(Dir, Log(storage, fsync: false));
        for (var i = 60; i < 120; i += 10)
        {
            unsynced.Append(records.Skip(i).Take(10).ToList());
            unsynced.Sync();
        }
        using (var store = PageStore.Open(Dir, 512, 0, 16, fsync: false, storage))
            store.Write([new(2, Bytes(512, 4))]);
        SegmentMetadata.Default.WithEpoch(2, new Lsn(10)).Save(Dir, fsync: false, storage);
        storage.PowerLoss(new Random(seed));
        ReadLog(storage, out _);
        return new SortedDictionary<string, byte[]>(storage.ListAllFiles().ToDictionary(p => p, storage.ReadAllBytes), StringComparer.Ordinal);
    }

    [Fact]
    public void The_same_seed_gives_the_same_bytes_and_other_seeds_other_disks()
    {
        var first = Run(11);
        var second = Run(11);
        Assert.Equal(first.Keys, second.Keys);
        foreach (var (path, bytes) in first) Assert.Equal(bytes, second[path]);
        var others = Enumerable.Range(0, 8).Select(Run).ToList();
        Assert.Contains(others, o => !o.Keys.SequenceEqual(first.Keys) || o.Any(kv => !kv.Value.SequenceEqual(first[kv.Key])));
    }

    private abstract record Step;
    private sealed record WriteStep(int Offset, byte[] Data) : Step;
    private sealed record SyncStep : Step;
    private sealed record CutStep(int Length) : Step;
    private sealed record PowerLossStep(int Seed) : Step;

    private static readonly Gen<Step> GenStep = Gen.Frequency(
        (5, from offset in Gen.Int[0, 9000] from data in Gen.Byte[1, 255].Array[1, 5000] select (Step)new WriteStep(offset, data)),
        (2, Gen.Const((Step)new SyncStep())),
        (1, Gen.Int[0, 9000].Select(n => (Step)new CutStep(n))),
        (1, Gen.Int.Select(s => (Step)new PowerLossStep(s))));

    [Fact]
    public void For_any_writes_syncs_cuts_and_power_losses_a_file_holds_its_synced_bytes_and_unsynced_bytes_only_where_written()
    {
        GenStep.Array[1, 40].Sample(steps =>
        {
            var storage = NewDisk();
            using (storage.Open("/sim/f", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None)) { }
            storage.SyncParent("/sim/f");
            var synced = Array.Empty<byte>();                                 // the file at its last fdatasync
            var live = Array.Empty<byte>();                                   // the file as reads see it
            var pending = new List<Step>();                                   // changes since that fdatasync
            var f = storage.Open("/sim/f", FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            foreach (var step in steps)
            {
                switch (step)
                {
                    case WriteStep w:
                        f.Write(w.Data, w.Offset);
                        if (live.Length < w.Offset + w.Data.Length) Array.Resize(ref live, w.Offset + w.Data.Length);
                        w.Data.CopyTo(live, w.Offset);
                        pending.Add(w);
                        break;
                    case CutStep c:
                        f.SetLength(c.Length);
                        Array.Resize(ref live, c.Length);
                        pending.Add(c);
                        break;
                    case SyncStep:
                        f.Flush();
                        synced = live.ToArray();
                        pending.Clear();
                        Assert.Equal(synced, storage.ReadDurable("/sim/f"));
                        break;
                    case PowerLossStep p:
                        storage.PowerLoss(new Random(p.Seed));
                        live = storage.ReadAllBytes("/sim/f");
                        Assert.Equal(live, storage.ReadDurable("/sim/f"));
                        if (!pending.OfType<CutStep>().Any())
                        {
                            // Only writes since the sync: every byte is the synced one or one some unsynced write put there.
                            Assert.True(live.Length >= synced.Length);
                            for (var i = 0; i < live.Length; i++)
                            {
                                var at = i;
                                var was = at < synced.Length ? synced[at] : (byte)0;
                                Assert.True(live[at] == was || pending.OfType<WriteStep>().Any(w => at >= w.Offset && at < w.Offset + w.Data.Length && w.Data[at - w.Offset] == live[at]),
                                    $"byte {at} is {live[at]}: neither the synced {was} nor written since");
                            }
                        }
                        synced = live.ToArray();
                        pending.Clear();
                        f = storage.Open("/sim/f", FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                        break;
                }
                Assert.Equal(live, storage.ReadAllBytes("/sim/f"));
            }
        }, iter: 200);
    }
}
