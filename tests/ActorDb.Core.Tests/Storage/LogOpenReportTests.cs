using ActorDb.Core.Redo;
using ActorDb.Core.Storage;
using static ActorDb.Core.Tests.Storage.StorageTestSupport;

namespace ActorDb.Core.Tests.Storage;

/// <summary>Issue 12, last bullet: the log's "cut N bytes" report gives the file and offset and tells a torn record from
/// preallocated zeros; a hole whose records were repaired is not reported again at later opens.</summary>
public class LogOpenReportTests
{
    private static readonly SegmentLogOptions NoFsync = new(Fsync: false, PreallocateBytes: 0);

    private static long WriteLog(string dir, IReadOnlyList<RedoRecord> records)
    {
        using var log = SegmentLog.Open(dir, NoFsync);
        log.Append(records.ToList());
        log.Sync();
        return log.DiskBytes;
    }

    private static OpenReport ReopenAfterAppending(TempDir dir, byte[] tail)
    {
        using (var fs = new FileStream(dir.File(SegmentLog.FileName(1)), FileMode.Append)) fs.Write(tail);
        using var log = SegmentLog.Open(dir.Path, NoFsync);
        return log.Recovery;
    }

    [Fact]
    public void A_tail_of_zeros_only_is_preallocation_not_a_torn_record()
    {
        using var dir = new TempDir();
        var end = WriteLog(dir.Path, Chain(5));
        var report = ReopenAfterAppending(dir, new byte[4096]);
        Assert.Equal((4096L, 0L, 4096L, end), (report.TailBytesCut, report.TailTornBytes, report.TailZeroBytes, report.TailOffset));
        Assert.Equal($"cut 4096 bytes of {dir.File(SegmentLog.FileName(1))} from offset {end} (after the last whole record): all 4096 preallocated zeros, never written (no record was torn)",
            report.DescribeTail());
    }

    [Fact]
    public void A_torn_record_then_zeros_is_told_apart()
    {
        using var dir = new TempDir();
        var records = Chain(6);
        var end = WriteLog(dir.Path, records);
        // Half of the next frame (a write cut short by the crash), then the preallocated zeros beyond it.
        var next = Chain(1, firstIndex: 6)[0];
        var frame = new byte[RedoCodec.FrameSize(next)];
        RedoCodec.Encode(next, frame);
        var torn = frame.AsSpan(0, frame.Length / 2).ToArray();
        var tornLength = torn.AsSpan().LastIndexOfAnyExcept((byte)0) + 1;   // its own trailing zero bytes look like zeros
        var report = ReopenAfterAppending(dir, [.. torn, .. new byte[10_000]]);
        Assert.Equal(torn.Length + 10_000L, report.TailBytesCut);
        Assert.Equal(tornLength, report.TailTornBytes);
        Assert.Equal(torn.Length + 10_000L - tornLength, report.TailZeroBytes);
        Assert.Equal(end, report.TailOffset);
        Assert.Contains($"from offset {end} (after the last whole record): {tornLength} bytes of a torn or corrupt record, then {report.TailZeroBytes} preallocated zeros never written",
            report.DescribeTail());
    }

    [Fact]
    public void A_torn_record_without_zeros_after_it()
    {
        using var dir = new TempDir();
        WriteLog(dir.Path, Chain(3));
        var report = ReopenAfterAppending(dir, [1, 2, 3, 4, 5, 6, 7]);
        Assert.Equal((7L, 7L, 0L), (report.TailBytesCut, report.TailTornBytes, report.TailZeroBytes));
        Assert.EndsWith(": 7 bytes of a torn or corrupt record", report.DescribeTail());
        Assert.Contains("(7 torn, 0 zeros)", report.ToString());
    }

    [Fact]
    public void A_clean_log_cuts_nothing() 
    {
        using var dir = new TempDir();
        WriteLog(dir.Path, Chain(3));
        using var log = SegmentLog.Open(dir.Path, NoFsync);
        Assert.Equal((0L, 0L, "nothing cut"), (log.Recovery.TailBytesCut, log.Recovery.TailTornBytes, log.Recovery.DescribeTail()));
    }

    [Fact]
    public void A_repaired_hole_is_reported_at_the_open_that_found_it_and_not_again()
    {
        using var dir = new TempDir();
        var records = Chain(10);
        WriteLog(dir.Path, records);
        long offset = 0;
        for (var i = 0; i < 4; i++) offset += RedoCodec.FrameSize(records[i]);
        using (var fs = new FileStream(dir.File(SegmentLog.FileName(1)), FileMode.Open, FileAccess.ReadWrite))
        {
            fs.Position = offset + 20;
            var b = fs.ReadByte();
            fs.Position = offset + 20;
            fs.WriteByte((byte)(b ^ 0x5A));
        }

        CorruptRange hole;
        using (var log = SegmentLog.Open(dir.Path, NoFsync))
        {
            hole = Assert.Single(log.Recovery.CorruptRanges);
            Assert.Equal(offset, hole.Offset);
            Assert.Equal([hole], RepairedHoles.New(log.Recovery.CorruptRanges, RepairedHoles.Load(dir.Path)));   // new: report it
            RepairedHoles.Record(dir.Path, log.Recovery.CorruptRanges, fsync: true);                             // its records came back
        }
        using (var log = SegmentLog.Open(dir.Path, NoFsync))
        {
            Assert.Equal([hole], log.Recovery.CorruptRanges);   // still in the file, still skipped
            Assert.Empty(RepairedHoles.New(log.Recovery.CorruptRanges, RepairedHoles.Load(dir.Path)));   // not reported again
            // A second, new hole is reported; the repaired one is not.
            var other = new CorruptRange(hole.File, offset + 4096, 10);
            Assert.Equal([other], RepairedHoles.New([hole, other], RepairedHoles.Load(dir.Path)));
        }
    }

    [Fact]
    public void The_list_drops_holes_of_deleted_files_and_refuses_a_garbled_line()
    {
        using var dir = new TempDir();
        Assert.Empty(RepairedHoles.Load(dir.Path));
        File.WriteAllText(dir.File(SegmentLog.FileName(1)), "x");
        RepairedHoles.Record(dir.Path, [new CorruptRange(dir.File(SegmentLog.FileName(1)), 8, 40), new CorruptRange(dir.File(SegmentLog.FileName(2)), 0, 9)], fsync: false);
        Assert.Equal(new HashSet<(string, long, long)> { (SegmentLog.FileName(1), 8, 40) }, RepairedHoles.Load(dir.Path));
        Assert.False(File.Exists(dir.File(RepairedHoles.FileName + ".tmp")));

        File.AppendAllText(dir.File(RepairedHoles.FileName), "redo-00000001.log -3 9\n");
        var e = Assert.Throws<InvalidDataException>(() => RepairedHoles.Load(dir.Path));
        Assert.Equal($"{dir.File(RepairedHoles.FileName)} line 2: 'redo-00000001.log -3 9' is not '<log file> <offset> <length>'", e.Message);
    }
}
