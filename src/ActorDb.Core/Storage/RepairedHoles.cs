using System.Globalization;

namespace ActorDb.Core.Storage;

/// <summary>
/// The holes (<see cref="OpenReport.CorruptRanges"/>: damaged frames in the middle of a segment log) whose records the
/// segment has since got back from its peers, kept durably in <see cref="FileName"/> in the segment directory, so that a
/// repaired hole is reported once, at the open that found it, and not again at every later open while its file lives.
/// A hole stays in its file (records are never rewritten in place) and is still skipped on reads; only the report
/// changes. Format: one line per hole, <c>{log file name} {offset} {length}</c> (bytes), written whole to a temporary
/// file, fsynced, renamed over the old one, then the directory fsynced.
/// </summary>
public static class RepairedHoles
{
    /// <summary>File name of the list in the segment directory.</summary>
    public const string FileName = "holes.repaired";

    /// <summary>Reads the holes recorded in <paramref name="directory"/> (an empty set when there is no list), as
    /// (log file name, offset, length).</summary>
    /// <exception cref="InvalidDataException">a line is not <c>name offset length</c> with a log file name and
    /// offset &gt;= 0, length &gt; 0; the message names the file and the line.</exception>
    /// <exception cref="IOException">the file cannot be read.</exception>
    public static IReadOnlySet<(string File, long Offset, long Length)> Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        var holes = new HashSet<(string, long, long)>();
        if (!File.Exists(path)) return holes;
        var n = 0;
        foreach (var line in File.ReadLines(path))
        {
            n++;
            if (line.Length == 0) continue;
            var parts = line.Split(' ');
            if (parts.Length != 3 || !parts[0].StartsWith(SegmentLog.FilePrefix, StringComparison.Ordinal) || parts[0].Contains('/')
                || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
                || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var length) || length <= 0)
                throw new InvalidDataException($"{path} line {n}: '{(line.Length > 80 ? line[..80] + "..." : line)}' is not '<log file> <offset> <length>'");
            holes.Add((parts[0], offset, length));
        }
        return holes;
    }

    /// <summary>The holes of <paramref name="found"/> not in <paramref name="recorded"/> (<see cref="Load"/>): the ones to
    /// report.</summary>
    public static IReadOnlyList<CorruptRange> New(IReadOnlyList<CorruptRange> found, IReadOnlySet<(string File, long Offset, long Length)> recorded) =>
        found.Where(h => !recorded.Contains((Path.GetFileName(h.File), h.Offset, h.Length))).ToList();

    /// <summary>Records <paramref name="holes"/> as repaired, replacing the list; holes of log files that no longer exist
    /// (garbage-collected) are left out. Durable when it returns if <paramref name="fsync"/>.</summary>
    /// <exception cref="SegmentLogException">a write, rename or fsync failed; the message names the file.</exception>
    public static void Record(string directory, IEnumerable<CorruptRange> holes, bool fsync)
    {
        var path = Path.Combine(directory, FileName);
        var temp = path + ".tmp";
        var lines = holes.Where(h => File.Exists(h.File))
            .Select(h => string.Create(CultureInfo.InvariantCulture, $"{Path.GetFileName(h.File)} {h.Offset} {h.Length}"))
            .Distinct().ToList();
        SegmentLog.Io(temp, "write", () =>
        {
            using (var f = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                using (var w = new StreamWriter(f, leaveOpen: true)) foreach (var l in lines) w.Write(l + "\n");
                if (fsync) f.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
            if (fsync) NativeFileSync.FsyncDirectory(directory);
        }, FileName);
    }
}
