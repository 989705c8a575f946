using ActorDb.Core.Redo;

namespace ActorDb.Core.Storage;

/// <summary>
/// Computes a segment's SCL (segment complete LSN) from the backlinks of the records it receives, which may
/// arrive out of order, duplicated, and with gaps (a PG sees only some of the volume's LSNs).
/// <para><b>Definition.</b> The SCL is the highest LSN up to which the segment holds every record of its PG.
/// It starts at the constructor's <c>startScl</c> (<see cref="Lsn.Zero"/> for a new segment) and advances
/// over a record whose backlink is at or below the SCL: such a record is the PG's next record, because no
/// record of the PG lies between a record and its backlink. With <c>startScl</c> on the chain (e.g. zero)
/// this is "the SCL advances while some record's PrevLsn equals the SCL"; the "at or below" form also lets a
/// tracker started at a truncation point (a VDL that need not be a record of this PG) connect the first
/// new record, whose backlink is the PG's last record at or below that point.</para>
/// <para><b>Memory.</b> Records at or below the SCL are not remembered individually: a record at or below
/// the SCL is reported as a duplicate. Records above the SCL are kept (LSN to backlink) until they connect.
/// Each <see cref="Add(Lsn, Lsn)"/> is O(1) in order and O(log n) out of order, allocation-free except for
/// the growth of the internal collections.</para>
/// <para><b>Annulment.</b> LSNs in an annulled range <c>(from, to]</c> are ignored; see <see cref="Annul(Lsn, Lsn, long)"/>.</para>
/// Not thread-safe: use from one thread (the segment's actor).
/// </summary>
public sealed class SclTracker
{
    private readonly Dictionary<long, long> _pending = new();                // lsn -> prevLsn, lsn > SCL
    private readonly PriorityQueue<long, long> _byPrev = new();              // lsn by prevLsn; stale entries skipped
    private readonly List<AnnulledRange> _annulled = new();
    private long _scl;
    private long _max;

    /// <summary>Creates a tracker.</summary>
    /// <param name="startScl">The SCL to start from: <see cref="Lsn.Zero"/> for a new segment, or a point up
    /// to which the segment is known complete (e.g. after truncation, the VDL).</param>
    /// <param name="annulled">Annulled ranges to honour from the start (e.g. from <see cref="SegmentMetadata"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="startScl"/> is negative.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="startScl"/> lies above an annulled range's upper bound (see <see cref="Annul(AnnulledRange)"/>).</exception>
    public SclTracker(Lsn startScl = default, IEnumerable<AnnulledRange>? annulled = null)
    {
        if (startScl.Value < 0)
            throw new ArgumentOutOfRangeException(nameof(startScl), startScl, "the starting SCL must be >= 0");
        _scl = startScl.Value;
        _max = startScl.Value;
        if (annulled is not null)
            foreach (AnnulledRange r in annulled) Annul(r);
    }

    /// <summary>The segment complete LSN: every record of the PG at or below it has been added.</summary>
    public Lsn Scl => new(_scl);

    /// <summary>The highest LSN added and not annulled, or the SCL if higher (the start point).</summary>
    public Lsn MaxLsn => new(_max);

    /// <summary>True when records above the SCL are held, i.e. the chain is broken below them.</summary>
    public bool HasHoles => _pending.Count > 0;

    /// <summary>Number of records held above the SCL.</summary>
    public int PendingCount => _pending.Count;

    /// <summary>The annulled ranges, in the order given.</summary>
    public IReadOnlyList<AnnulledRange> AnnulledRanges => _annulled;

    /// <summary>Adds the record's <see cref="RedoRecord.Lsn"/> and <see cref="RedoRecord.PrevLsn"/>; see <see cref="Add(Lsn, Lsn)"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="record"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">as for <see cref="Add(Lsn, Lsn)"/>.</exception>
    public bool Add(RedoRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return Add(record.Lsn, record.PrevLsn);
    }

    /// <summary>
    /// Records that the segment holds the record <paramref name="lsn"/> with backlink <paramref name="prevLsn"/>
    /// and advances the SCL as far as the chain now reaches.
    /// </summary>
    /// <returns>True when the record is new; false when it is a duplicate (already held, or at or below the
    /// SCL) or lies in an annulled range.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="prevLsn"/> is negative or not below <paramref name="lsn"/>.</exception>
    public bool Add(Lsn lsn, Lsn prevLsn)
    {
        long l = lsn.Value, p = prevLsn.Value;
        if (p < 0 || l <= p)
            throw new ArgumentOutOfRangeException(nameof(prevLsn), prevLsn, $"backlink must be in [0, {lsn}) for record LSN {lsn}");
        if (l <= _scl || IsAnnulled(l)) return false;

        if (p <= _scl)
        {
            // Connects: in-order fast path.
            if (_pending.Count > 0) _pending.Remove(l); // only with inconsistent input (same LSN, other backlink)
            _scl = l;
            if (l > _max) _max = l;
            if (_pending.Count > 0) Advance();
            return true;
        }

        if (!_pending.TryAdd(l, p)) return false;
        _byPrev.Enqueue(l, p);
        if (l > _max) _max = l;
        return true;
    }

    /// <summary>True when <paramref name="lsn"/> lies in an annulled range.</summary>
    public bool IsAnnulled(Lsn lsn) => IsAnnulled(lsn.Value);

    /// <summary>Annuls <c>(fromExclusive, toInclusive]</c>; see <see cref="Annul(AnnulledRange)"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">invalid bounds (see <see cref="AnnulledRange"/>).</exception>
    /// <exception cref="InvalidOperationException">the SCL is above <paramref name="toInclusive"/>.</exception>
    public void Annul(Lsn fromExclusive, Lsn toInclusive, long epoch = 0) => Annul(new AnnulledRange(fromExclusive, toInclusive, epoch));

    /// <summary>
    /// Annuls a range: held records inside it are dropped, later ones are ignored by <see cref="Add(Lsn, Lsn)"/>,
    /// and an SCL inside it falls back to <see cref="AnnulledRange.FromExclusive"/> (everything at or below
    /// it is still held). Idempotent.
    /// </summary>
    /// <exception cref="InvalidOperationException">the SCL is above the range's upper bound: the segment
    /// holds a complete chain through the range, which the recovery protocol rules out (records above an
    /// annulled range are only written after the annulment is installed).</exception>
    public void Annul(AnnulledRange range)
    {
        long from = range.FromExclusive.Value, to = range.ToInclusive.Value;
        if (_scl > to)
            throw new InvalidOperationException($"cannot annul {range}: the SCL {_scl} is already above it");
        if (!_annulled.Contains(range)) _annulled.Add(range);
        if (_scl > from) _scl = from;

        List<long>? drop = null;
        foreach (long l in _pending.Keys)
            if (l > from && l <= to) (drop ??= new()).Add(l);
        if (drop is not null)
            foreach (long l in drop) _pending.Remove(l);

        _max = _scl;
        foreach (long l in _pending.Keys)
            if (l > _max) _max = l;
        Advance();
    }

    /// <summary>
    /// Where the chain above the SCL is broken, lowest first: one entry per held record whose backlink is
    /// neither at or below the SCL nor another held record. Empty when <see cref="HasHoles"/> is false.
    /// O(n log n) in the held records; meant for gossip requests and diagnostics, not per record.
    /// </summary>
    public IReadOnlyList<SclHole> Holes()
    {
        if (_pending.Count == 0) return Array.Empty<SclHole>();
        long[] held = new long[_pending.Count];
        _pending.Keys.CopyTo(held, 0);
        Array.Sort(held);
        var holes = new List<SclHole>();
        foreach (long l in held)
        {
            long p = _pending[l];
            if (p <= _scl || _pending.ContainsKey(p)) continue;
            int i = Array.BinarySearch(held, p);
            int below = (i >= 0 ? i : ~i) - 1; // index of the highest held LSN < p
            long after = below >= 0 ? Math.Max(held[below], _scl) : _scl;
            holes.Add(new SclHole(new Lsn(after), new Lsn(p), new Lsn(l)));
        }
        return holes;
    }

    private void Advance()
    {
        while (_byPrev.TryPeek(out long l, out long p) && p <= _scl)
        {
            _byPrev.Dequeue();
            if (_pending.TryGetValue(l, out long live) && live == p)
            {
                _pending.Remove(l);
                if (l > _scl) _scl = l;
            }
        }
        if (_pending.Count == 0 && _byPrev.Count > 0) _byPrev.Clear(); // only stale entries remain
    }

    private bool IsAnnulled(long lsn)
    {
        foreach (AnnulledRange r in _annulled)
            if (lsn > r.FromExclusive.Value && lsn <= r.ToInclusive.Value) return true;
        return false;
    }
}
