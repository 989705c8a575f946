namespace ActorDb.Core.Storage;

/// <summary>
/// A group-commit batch: the frames appended to a <see cref="SegmentLog"/> between two
/// <see cref="SegmentLog.TakeBatch"/> calls, handed to <see cref="SegmentLog.WriteAndSync"/> exactly once,
/// in the order taken. Opaque; owns a pooled buffer that returns to the log after the write.
/// </summary>
public sealed class SyncBatch
{
    internal SyncBatch(byte[]? buffer, int length, int recordCount, long sequence, long cumulativeRecords)
    {
        Buffer = buffer;
        Length = length;
        RecordCount = recordCount;
        Sequence = sequence;
        CumulativeRecords = cumulativeRecords;
    }

    internal byte[]? Buffer;
    internal bool Consumed; // handed to WriteAndSync (guarded by the log's write lock)
    internal long MaxLsn;   // highest record LSN in the batch (per-file LSN bounds for log garbage collection)

    /// <summary>Number of encoded bytes in the batch.</summary>
    public int Length { get; }

    /// <summary>Number of records (frames) in the batch.</summary>
    public int RecordCount { get; }

    /// <summary>True when the batch holds no frames; writing it does nothing.</summary>
    public bool IsEmpty => Length == 0;

    /// <summary>1-based order of this non-empty batch among the batches taken from its log (0 when empty).</summary>
    public long Sequence { get; }

    /// <summary>
    /// Number of records appended to the log instance since it was opened, through the end of this
    /// batch. Once <see cref="SegmentLog.WriteAndSync"/> returns for this batch, the first
    /// <see cref="CumulativeRecords"/> appended records are durable (when fsync is on).
    /// </summary>
    public long CumulativeRecords { get; }
}

/// <summary>Outcome of a successful <see cref="SegmentLog.WriteAndSync"/> / <see cref="SegmentLog.Sync"/>.</summary>
/// <param name="BytesWritten">Bytes written to the log file (0 for an empty batch).</param>
/// <param name="Records">Records in the batch.</param>
/// <param name="Fsynced">True when fdatasync (or the platform flush) ran after the write.</param>
public readonly record struct SyncResult(int BytesWritten, int Records, bool Fsynced);
