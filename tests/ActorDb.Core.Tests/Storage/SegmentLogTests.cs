using ActorDb.Core.Redo;
using ActorDb.Core.Storage;
using CsCheck;
using static ActorDb.Core.Tests.Storage.StorageTestSupport;

namespace ActorDb.Core.Tests.Storage;

public class SegmentLogTests
{
    // These tests damage log files at byte offsets and check file lengths, so they write unpadded files;
    // preallocation has its own test below.
    private static readonly SegmentLogOptions NoFsync = new(Fsync: false, PreallocateBytes: 0);
    private static readonly SegmentLogOptions Durable = SegmentLogOptions.Default with { PreallocateBytes = 0 };

    private static List<RedoRecord> WriteLog(string dir, IReadOnlyList<RedoRecord> records, SegmentLogOptions options, int perBatch = 7)
    {
        using var log = SegmentLog.Open(dir, options);
        for (int i = 0; i < records.Count; i += perBatch)
        {
            log.Append(records.Skip(i).Take(perBatch).ToList());
            log.Sync();
        }
        return log.ReadAll().ToList();
    }

    private static List<RedoRecord> Reopen(string dir, out OpenReport report, SegmentLogOptions? options = null)
    {
        using var log = SegmentLog.Open(dir, options ?? NoFsync);
        report = log.Recovery;
        return log.ReadAll().ToList();
    }

    private static long[] FrameOffsets(IReadOnlyList<RedoRecord> records)
    {
        var offsets = new long[records.Count + 1];
        for (int i = 0; i < records.Count; i++) offsets[i + 1] = offsets[i] + RedoCodec.FrameSize(records[i]);
        return offsets;
    }

    private static string FirstFile(TempDir dir) => dir.File(SegmentLog.FileName(1));

    [Fact]
    public void Append_sync_reopen_returns_same_records_in_order()
    {
        using var dir = new TempDir();
        List<RedoRecord> records = Chain(150);
        using (var log = SegmentLog.Open(dir.Path, Durable))
        {
            Assert.True(log.Recovery.IsClean);
            Assert.Equal(0, log.Recovery.RecordCount);
            foreach (RedoRecord r in records.Take(50)) log.Append(r);
            Assert.Equal(50, log.BufferedRecords);
            SyncResult s1 = log.Sync();
            Assert.True(s1.Fsynced);
            Assert.Equal(50, s1.Records);
            log.Append(records.Skip(50).ToList());
            SyncResult s2 = log.Sync();
            Assert.Equal(FrameOffsets(records)[^1], s1.BytesWritten + s2.BytesWritten);
            Assert.Equal(FrameOffsets(records)[^1], log.BytesWritten);
            Assert.Equal(FrameOffsets(records)[^1], log.DiskBytes);
            Assert.Equal(2, log.SyncCount);
            Assert.Equal(2, log.FsyncCount);
            Assert.Equal(1, log.FileCount);
            Assert.Equal(default, log.Sync()); // nothing buffered
            AssertSameRecords(records, log.ReadAll().ToList());
        }

        var seen = new List<RedoRecord>();
        using (var log = SegmentLog.Open(dir.Path, Durable, seen.Add))
        {
            Assert.True(log.Recovery.IsClean);
            Assert.Equal(records.Count, log.Recovery.RecordCount);
            Assert.Equal(FrameOffsets(records)[^1], log.Recovery.ValidBytes);
            AssertSameRecords(records, seen);
            AssertSameRecords(records, log.ReadAll().ToList());
        }
        Assert.Equal(FrameOffsets(records)[^1], new FileInfo(FirstFile(dir)).Length);
    }

    [Fact]
    public void Open_creates_missing_directory_and_first_file()
    {
        using var dir = new TempDir();
        string nested = Path.Combine(dir.Path, "a", "pg-1-0");
        using var log = SegmentLog.Open(nested, Durable);
        Assert.True(File.Exists(Path.Combine(nested, "redo-00000001.log")));
        Assert.Equal(Path.Combine(nested, "redo-00000001.log"), log.CurrentFile);
        Assert.Empty(log.ReadAll());
    }

    [Fact]
    public void Torn_tail_inside_last_frame_is_cut_exactly()
    {
        Gen.Int[1, 25].Select(Gen.Int[1, 1000], Gen.Int[1, 4]).Sample((count, cutSeed, perBatch) =>
        {
            using var dir = new TempDir();
            List<RedoRecord> records = Chain(count, seed: cutSeed);
            WriteLog(dir.Path, records, NoFsync, perBatch);
            long[] offsets = FrameOffsets(records);
            int lastSize = RedoCodec.FrameSize(records[^1]);
            int cut = 1 + cutSeed % (lastSize - 1); // 1 .. lastSize-1 bytes removed
            using (var fs = new FileStream(FirstFile(dir), FileMode.Open)) fs.SetLength(offsets[^1] - cut);

            List<RedoRecord> back = Reopen(dir.Path, out OpenReport report);
            AssertSameRecords(records[..^1], back);
            Assert.Equal(lastSize - cut, report.TailBytesCut);
            Assert.Equal(FirstFile(dir), report.TailFile);
            Assert.Equal(offsets[^2], report.TailOffset);
            Assert.Empty(report.CorruptRanges);
            Assert.Equal(offsets[^2], new FileInfo(FirstFile(dir)).Length);

            // The log keeps working after the cut.
            RedoRecord next = Chain(1, firstIndex: count + 5)[0];
            using (var log = SegmentLog.Open(dir.Path, NoFsync))
            {
                Assert.True(log.Recovery.IsClean);
                log.Append(next);
                log.Sync();
            }
            AssertSameRecords([.. records[..^1], next], Reopen(dir.Path, out OpenReport again));
            Assert.True(again.IsClean);
        }, iter: 40, threads: 1);
    }

    [Fact]
    public void Preallocated_padding_is_given_back_on_clean_close_and_cut_after_a_crash()
    {
        using var dir = new TempDir();
        using var crashDir = new TempDir();
        var options = new SegmentLogOptions(Fsync: true, PreallocateBytes: 64 * 1024);
        List<RedoRecord> first = Chain(30, seed: 7);
        long dataEnd;
        using (var log = SegmentLog.Open(dir.Path, options))
        {
            log.Append(first);
            log.Sync();
            dataEnd = log.DiskBytes;
            Assert.True(new FileInfo(FirstFile(dir)).Length >= dataEnd + 32 * 1024);   // zero-padded ahead of the data (extent in [P/2, 3P/2))
            // What a kill -9 right now leaves on disk: the records, then zeros.
            foreach (var f in Directory.GetFiles(dir.Path, "redo-*.log"))
                File.Copy(f, Path.Combine(crashDir.Path, Path.GetFileName(f)));
        }
        Assert.Equal(dataEnd, new FileInfo(FirstFile(dir)).Length);   // a clean close gives the padding back

        List<RedoRecord> back = Reopen(crashDir.Path, out OpenReport report);
        AssertSameRecords(first, back);
        Assert.Equal(dataEnd, report.TailOffset);
        Assert.Empty(report.CorruptRanges);
        Assert.Equal(dataEnd, new FileInfo(FirstFile(crashDir)).Length);

        // Appending after the cut pads again and the log still reads back whole.
        List<RedoRecord> all = Chain(60, seed: 7);
        using (var log = SegmentLog.Open(crashDir.Path, options))
        {
            log.Append(all.Skip(30).ToList());
            log.Sync();
        }
        AssertSameRecords(all, Reopen(crashDir.Path, out _));
    }

    [Fact]
    public void Garbage_or_zeros_after_last_frame_are_cut()
    {
        Gen.Int[1, 20].Select(Gen.Int[1, 600], Gen.Bool, Gen.Int).Sample((count, tailLen, zeros, seed) =>
        {
            using var dir = new TempDir();
            List<RedoRecord> records = Chain(count, seed: seed & 0xFFFF);
            WriteLog(dir.Path, records, NoFsync);
            var tail = new byte[tailLen];
            if (!zeros) new Random(seed).NextBytes(tail);
            using (var fs = new FileStream(FirstFile(dir), FileMode.Append)) fs.Write(tail);

            List<RedoRecord> back = Reopen(dir.Path, out OpenReport report);
            AssertSameRecords(records, back);
            Assert.Equal(tailLen, report.TailBytesCut);
            Assert.Equal(FrameOffsets(records)[^1], report.TailOffset);
            Assert.Empty(report.CorruptRanges);
            Assert.Equal(FrameOffsets(records)[^1], new FileInfo(FirstFile(dir)).Length);
        }, iter: 40, threads: 1);
    }

    [Fact]
    public void Corrupt_last_frame_is_cut_as_tail()
    {
        using var dir = new TempDir();
        List<RedoRecord> records = Chain(10);
        WriteLog(dir.Path, records, NoFsync);
        long[] offsets = FrameOffsets(records);
        FlipByte(FirstFile(dir), offsets[^2] + 20);

        AssertSameRecords(records[..^1], Reopen(dir.Path, out OpenReport report));
        Assert.Equal(offsets[^1] - offsets[^2], report.TailBytesCut);
        Assert.Empty(report.CorruptRanges);
    }

    [Fact]
    public void Corrupt_middle_frame_is_a_hole_not_a_cut()
    {
        Gen.Int[3, 30].Select(Gen.Int[0, 10000], Gen.Int[0, 10000]).Sample((count, which, where) =>
        {
            using var dir = new TempDir();
            List<RedoRecord> records = Chain(count, seed: which);
            WriteLog(dir.Path, records, NoFsync);
            long[] offsets = FrameOffsets(records);
            int k = 1 + which % (count - 2); // never the first or the last frame
            long frameSize = offsets[k + 1] - offsets[k];
            FlipByte(FirstFile(dir), offsets[k] + where % frameSize);

            List<RedoRecord> back = Reopen(dir.Path, out OpenReport report);
            AssertSameRecords([.. records[..k], .. records[(k + 1)..]], back);
            Assert.Equal(0, report.TailBytesCut);
            Assert.Null(report.TailFile);
            CorruptRange hole = Assert.Single(report.CorruptRanges);
            Assert.Equal(new CorruptRange(FirstFile(dir), offsets[k], frameSize), hole);
            Assert.Contains(FirstFile(dir), report.ToString());
            Assert.Equal(offsets[^1], new FileInfo(FirstFile(dir)).Length);

            // Appending after a hole works; the hole stays reported, never cut.
            RedoRecord next = Chain(1, firstIndex: count + 1)[0];
            using (var log = SegmentLog.Open(dir.Path, NoFsync))
            {
                log.Append(next);
                log.Sync();
            }
            AssertSameRecords([.. records[..k], .. records[(k + 1)..], next], Reopen(dir.Path, out OpenReport again));
            Assert.Equal(hole, Assert.Single(again.CorruptRanges));
        }, iter: 30, threads: 1);
    }

    [Fact]
    public void Garbage_length_field_in_the_middle_is_a_hole()
    {
        using var dir = new TempDir();
        List<RedoRecord> records = Chain(6);
        WriteLog(dir.Path, records, NoFsync);
        long[] offsets = FrameOffsets(records);
        using (var fs = new FileStream(FirstFile(dir), FileMode.Open))
        {
            fs.Position = offsets[2];
            fs.Write([0xFF, 0xFF, 0xFF, 0x7F]);
        }
        AssertSameRecords([.. records[..2], .. records[3..]], Reopen(dir.Path, out OpenReport report));
        Assert.Equal(new CorruptRange(FirstFile(dir), offsets[2], offsets[3] - offsets[2]), Assert.Single(report.CorruptRanges));
    }

    [Fact]
    public void Roll_over_across_files_keeps_order()
    {
        using var dir = new TempDir();
        var options = new SegmentLogOptions(Fsync: false, MaxFileBytes: 1024, PreallocateBytes: 0);
        List<RedoRecord> records = Chain(120);
        using (var log = SegmentLog.Open(dir.Path, options))
        {
            for (int i = 0; i < 80; i += 3)
            {
                log.Append(records.Skip(i).Take(Math.Min(3, 80 - i)).ToList());
                log.Sync();
            }
            Assert.True(log.FileCount > 3);
            Assert.Equal(log.FileCount, Directory.GetFiles(dir.Path, "redo-*.log").Length);
            Assert.Equal(FrameOffsets(records[..80])[^1], log.DiskBytes);
            AssertSameRecords(records[..80], log.ReadAll().ToList());
        }
        foreach (string f in Directory.GetFiles(dir.Path, "redo-*.log"))
            Assert.InRange(new FileInfo(f).Length, 1, 1024);

        using (var log = SegmentLog.Open(dir.Path, options))
        {
            Assert.True(log.Recovery.IsClean);
            Assert.Equal(80, log.Recovery.RecordCount);
            int filesBefore = log.FileCount;
            Assert.EndsWith(SegmentLog.FileName(filesBefore), log.CurrentFile);
            foreach (RedoRecord r in records.Skip(80))
            {
                log.Append(r);
                log.Sync();
            }
            Assert.True(log.FileCount > filesBefore);
        }
        AssertSameRecords(records, Reopen(dir.Path, out OpenReport report, options));
        Assert.True(report.IsClean);
    }

    [Fact]
    public void Damage_at_end_of_a_non_last_file_is_a_hole_when_later_files_hold_records()
    {
        using var dir = new TempDir();
        var options = new SegmentLogOptions(Fsync: false, MaxFileBytes: 600, PreallocateBytes: 0);
        List<RedoRecord> records = Chain(30, payloadBytes: 60); // 118-byte frames, 5 per file
        WriteLog(dir.Path, records, options, perBatch: 1);
        string file1 = FirstFile(dir);
        long len1 = new FileInfo(file1).Length;
        Assert.Equal(5 * 118, len1);
        FlipByte(file1, len1 - 3); // last frame of file 1

        List<RedoRecord> back = Reopen(dir.Path, out OpenReport report, options);
        AssertSameRecords([.. records[..4], .. records[5..]], back);
        Assert.Equal(new CorruptRange(file1, 4 * 118, 118), Assert.Single(report.CorruptRanges));
        Assert.Equal(0, report.TailBytesCut);
        Assert.Equal(len1, new FileInfo(file1).Length);
    }

    [Fact]
    public void Garbage_only_later_files_are_cut_to_empty()
    {
        using var dir = new TempDir();
        List<RedoRecord> records = Chain(5);
        WriteLog(dir.Path, records, NoFsync);
        string file2 = dir.File(SegmentLog.FileName(2));
        File.WriteAllBytes(file2, Enumerable.Range(0, 300).Select(i => (byte)(i * 7 + 3)).ToArray());

        AssertSameRecords(records, Reopen(dir.Path, out OpenReport report));
        Assert.Equal(file2, report.TailFile);
        Assert.Equal(0, report.TailOffset);
        Assert.Equal(300, report.TailBytesCut);
        Assert.Equal(0, new FileInfo(file2).Length);
        Assert.Equal(2, report.FileCount);

        RedoRecord next = Chain(1, firstIndex: 9)[0];
        using (var log = SegmentLog.Open(dir.Path, NoFsync))
        {
            Assert.Equal(file2, log.CurrentFile);
            log.Append(next);
            log.Sync();
        }
        AssertSameRecords([.. records, next], Reopen(dir.Path, out _));
    }

    [Fact]
    public void Log_of_only_garbage_is_cut_to_empty()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(FirstFile(dir), new byte[100]);
        Assert.Empty(Reopen(dir.Path, out OpenReport report));
        Assert.Equal(100, report.TailBytesCut);
        Assert.Equal(0, report.TailOffset);
        Assert.Equal(0, new FileInfo(FirstFile(dir)).Length);
    }

    [Fact]
    public void ReadAll_reports_damage_that_appeared_after_open()
    {
        using var dir = new TempDir();
        List<RedoRecord> records = Chain(8);
        WriteLog(dir.Path, records, NoFsync);
        long[] offsets = FrameOffsets(records);
        using var log = SegmentLog.Open(dir.Path, NoFsync);
        FlipByte(FirstFile(dir), offsets[3] + 30);
        var ex = Assert.Throws<SegmentLogException>(() => log.ReadAll().ToList());
        Assert.Contains(FirstFile(dir), ex.Message);
        Assert.Contains($"offset {offsets[3]}", ex.Message);
        Assert.Equal("scan", ex.Operation);
    }

    [Fact]
    public void Fsync_off_writes_without_flush()
    {
        using var dir = new TempDir();
        using (var log = SegmentLog.Open(dir.Path, NoFsync))
        {
            log.Append(Chain(3));
            SyncResult r = log.Sync();
            Assert.False(r.Fsynced);
            Assert.Equal(3, r.Records);
            Assert.Equal(1, log.SyncCount);
            Assert.Equal(0, log.FsyncCount);
        }
        AssertSameRecords(Chain(3), Reopen(dir.Path, out _));
    }

    [Fact]
    public async Task Group_commit_appends_while_a_batch_is_written_on_another_thread()
    {
        using var dir = new TempDir();
        List<RedoRecord> records = Chain(3000, payloadBytes: 16);
        int syncs = 0;
        using (var log = SegmentLog.Open(dir.Path, new SegmentLogOptions(Fsync: false, MaxFileBytes: 64 * 1024, InitialBufferBytes: 256, PreallocateBytes: 0)))
        {
            bool done = false;
            var writer = Task.Run(() =>
            {
                long durable = 0;
                while (true)
                {
                    bool finished = Volatile.Read(ref done);
                    SyncBatch batch = log.TakeBatch();
                    if (!batch.IsEmpty)
                    {
                        Assert.True(batch.CumulativeRecords > durable);
                        log.WriteAndSync(batch);
                        durable = batch.CumulativeRecords;
                        syncs++;
                    }
                    else if (finished) return durable;
                    else Thread.Yield();
                }
            });
            for (int i = 0; i < records.Count; i++)
            {
                log.Append(records[i]);
                if (i % 100 == 99) Thread.Yield(); // let batches interleave with appends
            }
            Volatile.Write(ref done, true);
            Assert.Equal(records.Count, await writer);
            Assert.Equal(syncs, log.SyncCount);
        }
        AssertSameRecords(records, Reopen(dir.Path, out OpenReport report));
        Assert.True(report.IsClean);
    }

    [Fact]
    public void Batches_must_be_written_once_and_in_order()
    {
        using var dir = new TempDir();
        using var log = SegmentLog.Open(dir.Path, NoFsync);
        log.Append(Chain(1));
        SyncBatch first = log.TakeBatch();
        log.Append(Chain(1, firstIndex: 1));
        SyncBatch second = log.TakeBatch();
        Assert.Equal(1, first.Sequence);
        Assert.Equal(2, second.Sequence);
        Assert.Equal(2, second.CumulativeRecords);
        Assert.Throws<InvalidOperationException>(() => log.WriteAndSync(second)); // out of order, left untouched
        log.WriteAndSync(first);
        Assert.Throws<InvalidOperationException>(() => log.WriteAndSync(first));
        Assert.Equal(1, log.WriteAndSync(second).Records);
        Assert.True(log.TakeBatch().IsEmpty);
        AssertSameRecords([.. Chain(1), .. Chain(1, firstIndex: 1)], log.ReadAll().ToList());
    }

    [Fact]
    public void Invalid_record_is_rejected_and_nothing_is_appended()
    {
        using var dir = new TempDir();
        using var log = SegmentLog.Open(dir.Path, NoFsync);
        List<RedoRecord> batch = Chain(3);
        batch[1] = batch[1] with { Pg = -5 };
        Assert.Throws<ArgumentException>(() => log.Append(batch));
        Assert.Equal(0, log.BufferedRecords);
        Assert.Equal(0, log.BufferedBytes);
    }

    [Fact]
    public void Second_open_of_the_same_directory_is_refused()
    {
        using var dir = new TempDir();
        using var log = SegmentLog.Open(dir.Path, NoFsync);
        var ex = Assert.Throws<SegmentLogException>(() => SegmentLog.Open(dir.Path, NoFsync));
        Assert.Equal("lock", ex.Operation);
        Assert.Contains(dir.Path, ex.Message);
        log.Dispose();
        using var again = SegmentLog.Open(dir.Path, NoFsync);
    }

    [Fact]
    public void Io_failure_faults_the_log_and_names_file_and_operation()
    {
        using var dir = new TempDir();
        string segDir = Path.Combine(dir.Path, "seg");
        var options = new SegmentLogOptions(Fsync: true, MaxFileBytes: 200, PreallocateBytes: 0);
        using var log = SegmentLog.Open(segDir, options);
        log.Append(Chain(2, payloadBytes: 60)); // 236 bytes: one batch, first file
        log.Sync();
        Directory.Delete(segDir, recursive: true); // the next batch must roll to a new file, which fails
        log.Append(Chain(1, firstIndex: 2));
        var ex = Assert.Throws<SegmentLogException>(() => log.Sync());
        Assert.Equal("create", ex.Operation);
        Assert.Contains("redo-00000002.log", ex.Message);
        Assert.Contains("NOT durable", ex.Message);
        Assert.IsAssignableFrom<IOException>(ex.InnerException);
        Assert.Same(ex, log.Fault);
        var state = Assert.Throws<SegmentLogException>(() => log.Append(Chain(1, firstIndex: 3)));
        Assert.Equal("state", state.Operation);
        Assert.Throws<SegmentLogException>(() => log.TakeBatch());
    }

    [Fact]
    public void Disposed_log_rejects_work_and_drops_unsynced_records()
    {
        using var dir = new TempDir();
        var log = SegmentLog.Open(dir.Path, NoFsync);
        log.Append(Chain(2));
        log.Sync();
        log.Append(Chain(1, firstIndex: 2));
        log.Dispose();
        log.Dispose();
        Assert.Throws<ObjectDisposedException>(() => log.Append(Chain(1, firstIndex: 3)));
        Assert.Throws<ObjectDisposedException>(() => log.ReadAll());
        AssertSameRecords(Chain(2), Reopen(dir.Path, out _));
    }

    private static void FlipByte(string path, long offset)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        fs.Position = offset;
        int b = fs.ReadByte();
        fs.Position = offset;
        fs.WriteByte((byte)(b ^ 0x5A));
    }

    /// <summary>Where the platform and file system surely allow O_DIRECT, the default options must use it (tmpfs only since
    /// Linux 6.6: not asserted there).</summary>
    private static bool DirectIoExpected(string dir) =>
        OperatingSystem.IsLinux() && new DriveInfo(dir).DriveFormat is not ("tmpfs" or "ramfs" or "overlay");

    [Fact]
    public void Direct_io_writes_rewrite_the_last_block_and_read_back_whole_across_reopens_rolls_and_a_crash_copy()
    {
        // Odd batch sizes put the end of the log anywhere in a 4 KiB block; each write starts at that block again. Reopening
        // mid-block reads the partial block from the file; small files roll over often; a copy taken while the log is
        // open (what kill -9 leaves) must read back every synced record.
        var options = new SegmentLogOptions(Fsync: true, MaxFileBytes: 48 * 1024, PreallocateBytes: 16 * 1024);
        Gen.Int[1, 25].Array[3, 25].Select(Gen.Int[0, 3].Array[25], Gen.Int[0, 1000]).Sample((batches, reopenEvery, seed) =>
        {
            using var dir = new TempDir();
            using var crashDir = new TempDir();
            List<RedoRecord> all = Chain(batches.Sum(), seed: seed);
            var written = 0;
            var log = SegmentLog.Open(dir.Path, options);
            long directWrites = 0;
            try
            {
                for (var b = 0; b < batches.Length; b++)
                {
                    log.Append(all.Skip(written).Take(batches[b]).ToList());
                    Assert.True(log.Sync().Fsynced);
                    written += batches[b];
                    if (reopenEvery[b] == 0)
                    {
                        directWrites += log.DirectWrites;
                        log.Dispose();
                        log = SegmentLog.Open(dir.Path, options);
                        Assert.True(log.Recovery.IsClean);
                    }
                }
                directWrites += log.DirectWrites;
                if (DirectIoExpected(dir.Path))
                {
                    Assert.True(log.DirectIo);
                    Assert.True(directWrites > 0, "no batch was written with O_DIRECT");
                }
                AssertSameRecords(all, log.ReadAll().ToList());
                foreach (var f in Directory.GetFiles(dir.Path, "redo-*.log"))
                    File.Copy(f, Path.Combine(crashDir.Path, Path.GetFileName(f)));
            }
            finally
            {
                log.Dispose();
            }
            AssertSameRecords(all, Reopen(dir.Path, out var clean));
            Assert.True(clean.IsClean);
            AssertSameRecords(all, Reopen(crashDir.Path, out var crashed));
            Assert.Empty(crashed.CorruptRanges);
        }, iter: 25, threads: 1);
    }

    [Fact]
    public void Direct_io_off_writes_through_the_page_cache()
    {
        using var dir = new TempDir();
        List<RedoRecord> records = Chain(40);
        using (var log = SegmentLog.Open(dir.Path, new SegmentLogOptions(Fsync: true, PreallocateBytes: 64 * 1024, DirectIo: false)))
        {
            log.Append(records);
            Assert.True(log.Sync().Fsynced);
            Assert.False(log.DirectIo);
            Assert.Equal(0, log.DirectWrites);
        }
        AssertSameRecords(records, Reopen(dir.Path, out _));
    }
}
