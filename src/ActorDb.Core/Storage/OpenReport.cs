namespace ActorDb.Core.Storage;

/// <summary>A damaged byte range of a segment log file that was skipped (a hole) or cut (the tail).</summary>
/// <param name="File">Full path of the log file.</param>
/// <param name="Offset">Byte offset in the file where the damage starts (a frame boundary that did not decode).</param>
/// <param name="Length">Length in bytes of the damaged range: up to the next valid frame, or to the end of the file.</param>
public readonly record struct CorruptRange(string File, long Offset, long Length)
{
    /// <inheritdoc />
    public override string ToString() => $"{File} offset {Offset} length {Length}";
}

/// <summary>
/// What <see cref="SegmentLog.Open"/> found while scanning the log.
/// </summary>
/// <param name="FileCount">Number of log files (<c>redo-NNNNNNNN.log</c>) after open.</param>
/// <param name="RecordCount">Number of valid frames (records) in the log after open.</param>
/// <param name="ValidBytes">Total bytes of those valid frames.</param>
/// <param name="CorruptRanges">Holes: damaged ranges followed (in the same or a later file) by valid
/// frames. They were skipped, not cut; the records after them are part of the log. Records whose frames
/// were damaged are lost from this segment's log and must be recovered from peers (the SCL shows it).</param>
/// <param name="TailFile">The file where the cut tail starts, or null when nothing was cut.</param>
/// <param name="TailOffset">Offset in <see cref="TailFile"/> the file was truncated to (the end of
/// the last valid frame), or -1 when nothing was cut.</param>
/// <param name="TailBytesCut">Bytes removed by the cut: a torn or corrupt tail after the last valid
/// frame of the whole log (normally inside the last file; when later files hold no valid frame, they are
/// truncated to length 0 as well and counted here).</param>
/// <param name="TailTornBytes">Of <see cref="TailBytesCut"/>, the bytes from the cut up to the last non-zero byte: a
/// torn or corrupt record (a write cut short by a crash). The rest, <see cref="TailZeroBytes"/>, is zeros.</param>
public sealed record OpenReport(
    int FileCount,
    long RecordCount,
    long ValidBytes,
    IReadOnlyList<CorruptRange> CorruptRanges,
    string? TailFile,
    long TailOffset,
    long TailBytesCut,
    long TailTornBytes = 0)
{
    /// <summary>Of <see cref="TailBytesCut"/>, the zero bytes after the last non-zero one: preallocated and never
    /// written (the log is extended with zeros ahead of its data), so no record was in them.</summary>
    public long TailZeroBytes => TailBytesCut - TailTornBytes;

    /// <summary>What was cut, for the log line: the file and offset, and a torn record told from preallocated zeros.</summary>
    public string DescribeTail() =>
        TailBytesCut == 0 ? "nothing cut"
        : $"cut {TailBytesCut} bytes of {TailFile} from offset {TailOffset} (after the last whole record): "
          + (TailTornBytes == 0 ? $"all {TailBytesCut} preallocated zeros, never written (no record was torn)"
              : TailZeroBytes == 0 ? $"{TailTornBytes} bytes of a torn or corrupt record"
              : $"{TailTornBytes} bytes of a torn or corrupt record, then {TailZeroBytes} preallocated zeros never written");

    /// <summary>True when the scan found neither a hole nor a tail to cut.</summary>
    public bool IsClean => CorruptRanges.Count == 0 && TailBytesCut == 0;

    /// <inheritdoc />
    public override string ToString() =>
        $"{FileCount} file(s), {RecordCount} record(s), {ValidBytes} valid bytes"
        + (CorruptRanges.Count == 0 ? "" : $", {CorruptRanges.Count} hole(s): " + string.Join("; ", CorruptRanges))
        + (TailBytesCut == 0 ? "" : $", tail cut: {TailBytesCut} bytes from {TailFile} offset {TailOffset} ({TailTornBytes} torn, {TailZeroBytes} zeros)");
}
