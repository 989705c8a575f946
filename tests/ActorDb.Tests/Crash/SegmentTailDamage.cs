using ActorDb.Core.Redo;
using ActorDb.Core.Storage;
using ActorDb.Storage;

namespace ActorDb.Tests.Crash;

/// <summary>
/// Damages the tail of one segment's redo log while no process has it open, the way a write torn by a crash or a
/// lost page of the disk cache would: cut or zero the last 1-100 bytes, either of the real data (the end of the last
/// whole frame, found by decoding the frames) or of the file (which is usually zero-filled preallocation past the data,
/// see <see cref="SegmentLogOptions.PreallocateBytes"/>). The segment must cut the damaged tail on open and the
/// volume must lose nothing acknowledged: the other segments of the PG hold every acknowledged record too.
/// </summary>
internal static class SegmentTailDamage
{
    /// <summary>The four kinds of damage.</summary>
    public enum Kind
    {
        /// <summary>Truncate the last n bytes of the real data (the last frame, maybe more, becomes torn).</summary>
        CutDataEnd,
        /// <summary>Overwrite the last n bytes of the real data with zeros.</summary>
        ZeroDataEnd,
        /// <summary>Truncate the last n bytes of the file.</summary>
        CutFileEnd,
        /// <summary>Overwrite the last n bytes of the file with zeros.</summary>
        ZeroFileEnd,
    }

    /// <summary>Damages the newest log file holding data of segment <paramref name="replica"/> of PG 0. Returns what was done.</summary>
    public static string Apply(string dataDir, int replica, Kind kind, int bytes)
    {
        var segmentDir = SegmentActor.DirectoryOf(dataDir, 0, replica);
        var files = Directory.GetFiles(segmentDir, SegmentLog.FilePrefix + "*" + SegmentLog.FileSuffix)
            .OrderByDescending(f => f, StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new InvalidOperationException($"no redo log file in {segmentDir}");
        foreach (var file in files)
        {
            var dataEnd = DataEnd(file);
            var fileLength = new FileInfo(file).Length;
            if (dataEnd == 0 && file != files[^1]) continue;   // a file rolled to but not written yet: the tail is in the one before
            var end = kind is Kind.CutDataEnd or Kind.ZeroDataEnd ? dataEnd : fileLength;
            var n = (int)Math.Min(bytes, end);
            using (var f = new FileStream(file, FileMode.Open, FileAccess.Write, FileShare.None))
            {
                if (kind is Kind.CutDataEnd or Kind.CutFileEnd)
                {
                    f.SetLength(end - n);
                }
                else
                {
                    f.Position = end - n;
                    f.Write(new byte[n]);
                }
                f.Flush(flushToDisk: true);
            }
            var name = Path.GetRelativePath(dataDir, file);
            return $"{kind} {n} B of {name} (data ends at {dataEnd} B, file {fileLength} B)";
        }
        throw new InvalidOperationException($"no redo log file with data in {segmentDir}");
    }

    /// <summary>The end of the last whole valid frame of <paramref name="file"/>, decoding from its start (what the
    /// segment's open would keep if this file were the log's last).</summary>
    public static long DataEnd(string file)
    {
        using var f = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1 << 20);
        var frame = new byte[RedoCodec.MaxFrameSize];
        long end = 0;
        while (true)
        {
            if (f.ReadAtLeast(frame.AsSpan(0, 4), 4, throwOnEndOfStream: false) < 4) return end;
            var bodyLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(frame);
            if (bodyLength < RedoCodec.BodyFixedSize || bodyLength > RedoCodec.MaxBodyLength) return end;
            var rest = RedoCodec.HeaderSize + (int)bodyLength - 4;
            if (f.ReadAtLeast(frame.AsSpan(4, rest), rest, throwOnEndOfStream: false) < rest) return end;
            if (RedoCodec.CheckFrame(frame.AsSpan(0, 4 + rest), out var length) != DecodeResult.Ok) return end;
            end += length;
        }
    }
}
