namespace ActorDb.Core.Quorum;

/// <summary>
/// The writer's view of durability: from the SCL each segment acknowledges, derives per PG the quorum LSN
/// (the <see cref="VolumeGeometry.WriteQuorum"/>-th highest SCL of its six segments), then the volume
/// complete LSN (VCL) and the volume durable LSN (VDL, the highest CPL at or below VCL).
/// Source: Aurora, SIGMOD 2017, §4.1 ("the log is the database"), and SIGMOD 2018, §2.2 (PGCL, VCL, VDL).
/// </summary>
/// <remarks>
/// <para>The writer tells the tracker every LSN it allocates, per PG and in increasing order
/// (<see cref="RecordAllocated"/>), and marks the CPLs (<see cref="MarkCpl"/>). A PG is complete up to just
/// before its oldest allocated record not yet on a write quorum; VCL is the minimum of that over all PGs
/// (never above the highest allocated LSN). VDL only moves forward, only to a CPL, and never past an LSN
/// that lacks a write quorum in its PG.</para>
/// <para>Cost: O(records) in total for <see cref="RecordAllocated"/> and the queue drains, O(PGs) per ack.
/// Not thread-safe: one owner (the writer actor).</para>
/// </remarks>
public sealed class QuorumTracker
{
    private readonly int _writeQuorum;
    private readonly Lsn[][] _scl;              // [pg][replica]
    private readonly Queue<Lsn>[] _outstanding; // per PG: allocated, not yet on a write quorum (increasing)
    private readonly Lsn[] _pgQuorum;           // per PG: write-quorum LSN (4th highest SCL)
    private readonly Queue<Lsn> _cpls = new();  // CPLs above VDL, increasing
    private readonly Lsn[] _sortScratch;

    /// <summary>Creates a tracker for a volume whose records up to <paramref name="start"/> are all durable
    /// (a new volume: <see cref="Lsn.Zero"/>; after recovery: the recovered VDL). New LSNs are allocated above
    /// <paramref name="allocatedFloor"/> (default <paramref name="start"/>; after recovery, the top of the truncated range,
    /// which holds no records and so counts as complete).</summary>
    /// <exception cref="ArgumentOutOfRangeException">bad PG count, segment count or quorum, or a floor below the start.</exception>
    public QuorumTracker(int pgCount, Lsn start, int segmentsPerPg = VolumeGeometry.SegmentsPerPg, int writeQuorum = VolumeGeometry.WriteQuorum, Lsn? allocatedFloor = null)
    {
        if (allocatedFloor < start) throw new ArgumentOutOfRangeException(nameof(allocatedFloor));
        if (pgCount < 1) throw new ArgumentOutOfRangeException(nameof(pgCount));
        if (writeQuorum < 1 || writeQuorum > segmentsPerPg) throw new ArgumentOutOfRangeException(nameof(writeQuorum));
        _writeQuorum = writeQuorum;
        _scl = new Lsn[pgCount][];
        _outstanding = new Queue<Lsn>[pgCount];
        _pgQuorum = new Lsn[pgCount];
        for (var pg = 0; pg < pgCount; pg++)
        {
            _scl[pg] = Enumerable.Repeat(start, segmentsPerPg).ToArray();
            _outstanding[pg] = new Queue<Lsn>();
            _pgQuorum[pg] = start;
        }
        _sortScratch = new Lsn[segmentsPerPg];
        Vcl = Vdl = start;
        Allocated = allocatedFloor ?? start;
    }

    /// <summary>Number of protection groups tracked.</summary>
    public int PgCount => _scl.Length;

    /// <summary>Highest LSN allocated so far (told through <see cref="RecordAllocated"/>).</summary>
    public Lsn Allocated { get; private set; }

    /// <summary>Volume complete LSN: every record at or below it is on a write quorum of its PG.</summary>
    public Lsn Vcl { get; private set; }

    /// <summary>Volume durable LSN: the highest CPL at or below <see cref="Vcl"/>. Commits at or below it are durable.</summary>
    public Lsn Vdl { get; private set; }

    /// <summary>The write-quorum LSN of <paramref name="pg"/> (PGCL): the 4th highest SCL of its segments.</summary>
    public Lsn PgQuorumLsn(int pg) => _pgQuorum[pg];

    /// <summary>The last SCL acknowledged by segment <paramref name="replica"/> of <paramref name="pg"/>.</summary>
    public Lsn Scl(int pg, int replica) => _scl[pg][replica];

    /// <summary>The oldest record of <paramref name="pg"/> not yet on a write quorum, or null when none is.</summary>
    public Lsn? OldestOutstanding(int pg) => _outstanding[pg].Count > 0 ? _outstanding[pg].Peek() : null;

    /// <summary>Registers a newly allocated record of <paramref name="pg"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="lsn"/> is not above every LSN allocated before.</exception>
    public void RecordAllocated(int pg, Lsn lsn)
    {
        if (lsn <= Allocated)
            throw new ArgumentException($"LSN {lsn} allocated after {Allocated}: LSNs must strictly increase", nameof(lsn));
        Allocated = lsn;
        _outstanding[pg].Enqueue(lsn);
    }

    /// <summary>Marks <paramref name="cpl"/> (an allocated LSN) as the last record of a mini-transaction.</summary>
    /// <exception cref="ArgumentException">the CPL is not above the previous CPL, or above <see cref="Allocated"/>.</exception>
    public void MarkCpl(Lsn cpl)
    {
        if (cpl > Allocated) throw new ArgumentException($"CPL {cpl} is above the allocated LSN {Allocated}", nameof(cpl));
        if (_cpls.Count > 0 && cpl <= _lastCpl || cpl <= Vdl)
            throw new ArgumentException($"CPL {cpl} must be above the previous CPL", nameof(cpl));
        _cpls.Enqueue(cpl);
        _lastCpl = cpl;
    }

    private Lsn _lastCpl;

    /// <summary>
    /// Sets the SCL of a segment as it reported it when opening an epoch, even below the tracker's start: a segment
    /// that missed records before this writer started must not count as holding them. Does not move PGCL or VDL.
    /// </summary>
    public void Seed(int pg, int replica, Lsn scl) => _scl[pg][replica] = scl;

    /// <summary>
    /// Applies an acknowledgement: segment <paramref name="replica"/> of <paramref name="pg"/> holds every record of
    /// its PG up to <paramref name="scl"/>. Stale (lower) SCLs are ignored. Returns true when VDL advanced.
    /// </summary>
    public bool OnAck(int pg, int replica, Lsn scl)
    {
        var row = _scl[pg];
        if (scl <= row[replica]) return false;
        row[replica] = scl;

        row.CopyTo(_sortScratch, 0);
        Array.Sort(_sortScratch);
        var quorum = _sortScratch[_sortScratch.Length - _writeQuorum]; // the Vw-th highest
        if (quorum <= _pgQuorum[pg]) return false;
        _pgQuorum[pg] = quorum;

        var q = _outstanding[pg];
        while (q.Count > 0 && q.Peek() <= quorum) q.Dequeue();
        return Advance();
    }

    private bool Advance()
    {
        var vcl = Allocated;
        foreach (var q in _outstanding)
            if (q.Count > 0 && q.Peek() - 1 < vcl) vcl = q.Peek() - 1;
        if (vcl <= Vcl) return false;
        Vcl = vcl;

        var vdl = Vdl;
        while (_cpls.Count > 0 && _cpls.Peek() <= vcl) vdl = _cpls.Dequeue();
        if (vdl == Vdl) return false;
        Vdl = vdl;
        return true;
    }
}
