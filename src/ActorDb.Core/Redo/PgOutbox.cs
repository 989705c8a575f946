namespace ActorDb.Core.Redo;

/// <summary>
/// The writer's per-PG redo outbox: records not yet sent, and records sent but not yet held by all six segments, kept
/// for resending to a segment that missed a batch. Records every segment holds are dropped; when the kept bytes pass
/// <c>maxRetainedBytes</c>, records already on a write quorum are dropped too (a segment that still lacks them must
/// catch up from its peers).
/// </summary>
public sealed class PgOutbox(int pg, long maxRetainedBytes)
{
    private readonly List<RedoRecord> _unsent = new();
    private readonly LinkedList<RedoRecord> _retained = new();
    private readonly Queue<(Lsn Last, long At)> _shipped = new();   // each batch's last LSN and when it was taken
    private const int MaxShipTimes = 4096;

    /// <summary>The protection group.</summary>
    public int Pg { get; } = pg;
    /// <summary>Records waiting to be sent.</summary>
    public int UnsentCount => _unsent.Count;
    /// <summary>Records kept for resending.</summary>
    public int RetainedCount => _retained.Count;
    /// <summary>Bytes kept for resending.</summary>
    public long RetainedBytes { get; private set; }
    /// <summary>Highest LSN sent so far.</summary>
    public Lsn LastSent { get; private set; }
    /// <summary>The newest record kept for resending (null: none): its backlink tells a segment that lost its data how far
    /// the PG had come (its join target) without the whole window being sent.</summary>
    public RedoRecord? Newest => _retained.Last?.Value;

    /// <summary>Queues a record for sending.</summary>
    public void Add(RedoRecord record)
    {
        _unsent.Add(record);
    }

    /// <summary>Takes every unsent record as one batch (in LSN order) and retains it for resending.</summary>
    /// <param name="now">When the batch is shipped, in the caller's clock (e.g. Stopwatch ticks); kept for <see cref="ShippedAt"/>.</param>
    public RedoRecord[] TakeBatch(long now = 0)
    {
        var batch = _unsent.ToArray();
        _unsent.Clear();
        foreach (var r in batch)
        {
            _retained.AddLast(r);
            RetainedBytes += Size(r);
        }
        if (batch.Length > 0)
        {
            LastSent = batch[^1].Lsn;
            _shipped.Enqueue((LastSent, now));
            if (_shipped.Count > MaxShipTimes) _shipped.Dequeue();
        }
        return batch;
    }

    /// <summary>Retained records above <paramref name="scl"/>, for a segment that reported that SCL; null when some of
    /// them were already dropped (the segment must catch up from its peers).</summary>
    public RedoRecord[]? RetainedAbove(Lsn scl)
    {
        if (_retained.First is { } first && first.Value.PrevLsn > scl) return null;
        return _retained.Where(r => r.Lsn > scl).ToArray();
    }

    /// <summary>Drops records every segment holds (&lt;= <paramref name="minScl"/>), and, past the byte cap, records
    /// already on a write quorum (&lt;= <paramref name="quorumLsn"/>).</summary>
    public void Trim(Lsn minScl, Lsn quorumLsn)
    {
        while (_retained.First is { } n && (n.Value.Lsn <= minScl || (RetainedBytes > maxRetainedBytes && n.Value.Lsn <= quorumLsn)))
        {
            RetainedBytes -= Size(n.Value);
            _retained.RemoveFirst();
        }
    }

    /// <summary>When the first record above <paramref name="scl"/> was shipped (the clock given to <see cref="TakeBatch"/>):
    /// how long a segment at that SCL has lagged. Null when nothing shipped is above it; the oldest time kept when the
    /// batch is older than the last 4096.</summary>
    public long? ShippedAt(Lsn scl)
    {
        if (scl >= LastSent || _shipped.Count == 0) return null;
        foreach (var (last, at) in _shipped)
            if (last > scl) return at;
        return null;
    }

    /// <summary>What a retained record costs on the heap beyond its payload bytes, bytes: the <see cref="RedoRecord"/> object
    /// (80), its <see cref="LinkedListNode{T}"/> (48) and the payload array's header and padding (about 28): 156 measured on
    /// .NET 10 x64 (GC.GetTotalMemory over 200,000 records of 100-byte payloads), rounded up. Counting it keeps
    /// <c>maxRetainedBytes</c> close to the memory the window really holds: with small records (an insert's delta is about
    /// 100 bytes) the 64 once counted here let a full window take 1.6 times its bound.</summary>
    public const int RetainedRecordOverheadBytes = 160;

    private static long Size(RedoRecord r) => r.Payload.Length + RetainedRecordOverheadBytes;
}
