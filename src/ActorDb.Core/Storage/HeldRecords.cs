using ActorDb.Core.Redo;

namespace ActorDb.Core.Storage;

/// <summary>
/// The redo records a segment holds in memory, in LSN order: those not yet materialized into its pages (at or below its
/// SCL, or above it behind a hole), and those materialized but not yet compacted away; plus its last commit records (for
/// recovery reports). One list, materialized from the front (<see cref="Applied"/> records are done): appends at the end
/// cost nothing extra, and a resend that fills a hole is inserted in LSN order among the records not yet materialized.
/// </summary>
public sealed class HeldRecords
{
    /// <summary>At least this many materialized records are dropped at once (and only when they are half the list).</summary>
    private const int CompactAfter = 1024;

    private readonly List<RedoRecord> _records = new();
    private readonly LinkedList<RedoRecord> _cpls = new();
    private readonly int _rememberedCpls;
    private int _applied;

    /// <summary>Holds records, keeping the last <paramref name="rememberedCpls"/> commit records.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rememberedCpls"/> is negative.</exception>
    public HeldRecords(int rememberedCpls)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rememberedCpls);
        _rememberedCpls = rememberedCpls;
    }

    /// <summary>Records held (materialized ones not yet compacted included).</summary>
    public int Count => _records.Count;

    /// <summary>Records at the front already materialized.</summary>
    public int Applied => _applied;

    /// <summary>Records not yet materialized.</summary>
    public int Backlog => _records.Count - _applied;

    /// <summary>The next record to materialize (the lowest LSN not yet applied), or null when none is left.</summary>
    public RedoRecord? NextToApply => _applied < _records.Count ? _records[_applied] : null;

    /// <summary>The last commit records held (oldest first), at most the number given at construction.</summary>
    public IEnumerable<RedoRecord> Cpls => _cpls;

    /// <summary>Every record held, in LSN order.</summary>
    public IReadOnlyList<RedoRecord> All => _records;

    /// <summary>The record held under <paramref name="lsn"/>, or null (binary search; the list is in LSN order).</summary>
    public RedoRecord? Find(Lsn lsn)
    {
        int lo = 0, hi = _records.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var c = _records[mid].Lsn.CompareTo(lsn);
            if (c == 0) return _records[mid];
            if (c < 0) lo = mid + 1; else hi = mid - 1;
        }
        return null;
    }

    /// <summary>Holds <paramref name="record"/>, which the SCL tracker took as new (never a duplicate): at the end, or, a
    /// resend filling a hole, in LSN order among the records not yet materialized. A commit record is remembered too.</summary>
    public void Add(RedoRecord record)
    {
        if (_records.Count == _applied || _records[^1].Lsn < record.Lsn) _records.Add(record);
        else
        {
            var lo = _applied;
            var hi = _records.Count;
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                if (_records[mid].Lsn < record.Lsn) lo = mid + 1; else hi = mid;
            }
            _records.Insert(lo, record);
        }
        if (record.Kind == RedoKind.Commit)
        {
            _cpls.AddLast(record);
            if (_cpls.Count > _rememberedCpls) _cpls.RemoveFirst();
        }
    }

    /// <summary>The record <see cref="NextToApply"/> named is materialized.</summary>
    /// <exception cref="InvalidOperationException">no record is left to materialize.</exception>
    public void MarkApplied()
    {
        if (_applied >= _records.Count) throw new InvalidOperationException("held records: none left to mark materialized");
        _applied++;
    }

    /// <summary>Drops the materialized records once they are many and at least half the list (after a materialization run).</summary>
    public void CompactIfWorthIt()
    {
        if (_applied > CompactAfter && _applied * 2 > _records.Count) Compact();
    }

    /// <summary>Drops every materialized record.</summary>
    public void Compact()
    {
        _records.RemoveRange(0, _applied);
        _applied = 0;
    }

    /// <summary>An epoch's truncation: drops the records annulled, <paramref name="vdl"/> &lt; LSN &lt;=
    /// <paramref name="truncateTo"/>, and forgets the commit records above <paramref name="vdl"/>.</summary>
    public void Annul(Lsn vdl, Lsn truncateTo)
    {
        Compact();
        _records.RemoveAll(r => r.Lsn > vdl && r.Lsn <= truncateTo);
        RemoveCpls(c => c.Lsn > vdl);
    }

    /// <summary>A page copy installed at <paramref name="point"/>: drops every record (and commit record) at or below it.</summary>
    public void DropUpTo(Lsn point)
    {
        Compact();
        _records.RemoveAll(r => r.Lsn <= point);
        RemoveCpls(c => c.Lsn <= point);
    }

    /// <summary>Forgets everything (the storage is opened again).</summary>
    public void Clear()
    {
        _records.Clear();
        _applied = 0;
        _cpls.Clear();
    }

    private void RemoveCpls(Func<RedoRecord, bool> drop)
    {
        for (var n = _cpls.First; n != null;)
        {
            var next = n.Next;
            if (drop(n.Value)) _cpls.Remove(n);
            n = next;
        }
    }
}
