using ActorDb.Client;
using ActorDb.Core.Cache;
using ActorDb.Core.Pages;
using ActorDb.Core.Quorum;
using ActorDb.Core.Redo;
using ActorDb.Core.Tables;

namespace ActorDb.Core.Transactions;

/// <summary>Tunables of the <see cref="TransactionEngine"/>.</summary>
/// <param name="Geometry">The volume's shape.</param>
/// <param name="CachePages">Buffer cache capacity in pages.</param>
/// <param name="Lal">LSN allocation limit: never allocate above VDL + LAL (records).</param>
/// <param name="MaxRetainedBytesPerPg">Redo kept per PG for resending to lagging segments, in bytes.</param>
public sealed record EngineOptions(VolumeGeometry Geometry, int CachePages, long Lal, long MaxRetainedBytesPerPg);

/// <summary>
/// The writer's transactional core, free of actors and I/O: tables in B+trees on a buffer cache, interactive
/// transactions under strict two-phase row locking, and the redo they produce.
/// </summary>
/// <remarks>
/// <para><b>Deferred update.</b> A transaction's changes stay in its private write set until commit; commit applies them
/// to the B+trees as one mini-transaction (all page deltas, then the commit record, which is the MTR's CPL). No
/// uncommitted change ever reaches a page or storage, so a crash needs no undo: VDL only stops at CPLs, so a
/// transaction is durable whole or not at all. Locks are held until the commit is durable (VDL &gt;= commit LSN), so
/// no other transaction reads a change that could still be lost.</para>
/// <para><b>Redo.</b> Each page touched by the MTR yields one <see cref="RedoKind.PageDelta"/> record with the changed
/// byte ranges, a per-PG backlink, and the page's new page LSN; the commit record carries, per PG, the LSN of the PG's
/// latest record at or below it (what recovery needs to prove a VDL candidate complete). Records queue in per-PG
/// <see cref="PgOutbox"/>es for the actor shell to ship.</para>
/// <para>Single-threaded: the writer actor owns it.</para>
/// </remarks>
public sealed class TransactionEngine
{
    private sealed class WriteEntry(bool existedInTree, byte[]? value)
    {
        public bool ExistedInTree { get; } = existedInTree;
        public byte[]? Value { get; set; } = value;   // null = deleted
    }

    private sealed class Txn(long id)
    {
        public long Id { get; } = id;
        public readonly Dictionary<int, SortedDictionary<byte[], WriteEntry>> Writes = new();
        public bool Committing;
        public int WriteCount;
    }

    private static readonly ByteArrayComparer KeyOrder = new();
    private readonly EngineOptions _options;
    private readonly BufferCache _cache;
    private readonly LockManager _locks = new();
    private readonly Dictionary<long, List<long>> _pins = new();   // txn -> pages its current statement missed
    private readonly QuorumTracker _tracker;
    private readonly PgOutbox[] _outboxes;
    private readonly Lsn[] _pgTail;            // latest LSN per PG (the next record's backlink)
    private readonly Dictionary<long, Txn> _txns = new();
    private readonly Queue<WaitingCommit> _committing = new();   // sealed, waiting for VDL, in commit LSN order
    private readonly Dictionary<int, BTree> _trees = new();
    private Catalog? _catalog;
    private readonly int _maxValueBytes;
    private readonly Lsn _allocationFloor;
    private long _nextTxnId = 1;

    /// <summary>Creates an engine for a volume whose durable state ends at <paramref name="vdl"/>, with
    /// <paramref name="pgTail"/>[pg] the latest record of each PG at or below it, allocating LSNs above
    /// <paramref name="allocateAfter"/> (VDL for a clean volume; the truncation bound after recovery).</summary>
    public TransactionEngine(EngineOptions options, long epoch, Lsn vdl, Lsn allocateAfter, IReadOnlyList<Lsn> pgTail)
    {
        _options = options;
        Epoch = epoch;
        var pgs = options.Geometry.PgCount;
        if (pgTail.Count != pgs) throw new ArgumentException($"need a tail LSN for each of the {pgs} PGs", nameof(pgTail));
        _cache = new BufferCache(options.Geometry.PageSize, options.CachePages);
        _allocationFloor = Lsn.Max(vdl, allocateAfter);
        _tracker = new QuorumTracker(pgs, vdl, allocatedFloor: _allocationFloor);
        _pgTail = pgTail.ToArray();
        _maxValueBytes = BTree.MaxValueBytesFor(options.Geometry.PageSize);
        _outboxes = Enumerable.Range(0, pgs).Select(pg => new PgOutbox(pg, options.MaxRetainedBytesPerPg)).ToArray();
    }

    /// <summary>The volume epoch this engine writes in.</summary>
    public long Epoch { get; }
    /// <summary>The volume's shape.</summary>
    public VolumeGeometry Geometry => _options.Geometry;
    /// <summary>Volume durable LSN.</summary>
    public Lsn Vdl => _tracker.Vdl;
    /// <summary>Volume complete LSN.</summary>
    public Lsn Vcl => _tracker.Vcl;
    /// <summary>Highest allocated LSN.</summary>
    public Lsn Allocated => _tracker.Allocated;
    /// <summary>The quorum tracker (read-only use: SCLs, PG quorum LSNs).</summary>
    public QuorumTracker Tracker => _tracker;
    /// <summary>The buffer cache (read-only use: statistics).</summary>
    public BufferCache Cache => _cache;
    /// <summary>The lock table (read-only use: statistics).</summary>
    public LockManager Locks => _locks;
    /// <summary>The per-PG outboxes.</summary>
    public IReadOnlyList<PgOutbox> Outboxes => _outboxes;
    /// <summary>The catalog, once the volume is formatted or loaded.</summary>
    public Catalog? Catalog => _catalog;
    /// <summary>Open transactions (including those waiting for durability).</summary>
    public int OpenTransactions => _txns.Count;
    /// <summary>Commits waiting for VDL.</summary>
    public int CommitsInFlight => _committing.Count;
    /// <summary>Commits made durable so far.</summary>
    public long DurableCommits { get; private set; }
    /// <summary>Redo bytes (record payloads plus frame headers) allocated so far.</summary>
    public long RedoBytes { get; private set; }
    /// <summary>Redo records allocated so far.</summary>
    public long RedoRecords { get; private set; }

    /// <summary>Formats a new, empty volume: the catalog on page 0, as the first MTR.</summary>
    public CommitOutcome.Pending FormatVolume()
    {
        var page = Page.CreateEmpty(Catalog.HeaderPage, _options.Geometry.PageSize);
        _cache.Add(page);
        _cache.MarkDirty(page);
        _catalog = Tables.Catalog.Format(page, _options.Geometry);
        _cache.SetAllocator(AllocatePageNo);
        return SealSystemMtr();
    }

    /// <summary>Loads the catalog from the page 0 image read from storage.</summary>
    /// <exception cref="InvalidDataException">the image is not a volume header of this geometry.</exception>
    public void LoadVolume(byte[] headerImage)
    {
        _cache.Install(Catalog.HeaderPage, headerImage);
        _catalog = Tables.Catalog.Load(_cache.GetPage(Catalog.HeaderPage), _options.Geometry);
        _cache.SetAllocator(AllocatePageNo);
    }

    /// <summary>Allocates a page number. The allocation counter lives on the catalog page, so that page joins the current
    /// MTR: its delta is logged with the pages allocated, and a reopened volume never hands a page number out twice.</summary>
    private long AllocatePageNo()
    {
        var catalog = RequireCatalog();
        _cache.MarkDirty(catalog.Page);
        return catalog.AllocatePageNo();
    }

    /// <summary>Installs a page read from storage.</summary>
    public void InstallPage(long pageNo, byte[] image)
    {
        _cache.Install(pageNo, image);
        _cache.EvictDurable(Vdl, Catalog.HeaderPage);
    }

    /// <summary>Starts a transaction and returns its id.</summary>
    public long Begin()
    {
        var id = _nextTxnId++;
        _txns[id] = new Txn(id);
        return id;
    }

    /// <summary>True when <paramref name="txnId"/> is open and accepting statements.</summary>
    public bool IsOpen(long txnId) => _txns.TryGetValue(txnId, out var t) && !t.Committing;

    /// <summary>Creates a table (as its own MTR) unless it exists. Returns the schema in force and, when something was
    /// written, the pending commit.</summary>
    /// <exception cref="SchemaException">invalid schema, or a different table of that name exists.</exception>
    public (TableSchema Schema, CommitOutcome? Commit) CreateTable(TableSchema schema)
    {
        var catalog = RequireCatalog();
        if (catalog.Tables.TryGetValue(schema.Name, out var existing))
        {
            if (!Tables.Catalog.SameShape(existing.Schema, schema))
                throw new SchemaException($"table '{schema.Name}' exists with other columns: {Describe(existing.Schema)}");
            return (existing.Schema, null);
        }
        Tables.Catalog.Validate(schema);
        if (WouldPassLal(8)) return (schema, new CommitOutcome.Backpressure());
        _cache.MarkDirty(catalog.Page);
        var root = _cache.AllocatePage(Catalog.HeaderPage);
        BTree.Format(_cache, root.PageNo);
        catalog.AddTable(schema, root.PageNo);
        return (schema, SealSystemMtr());
    }

    /// <summary>The schema of a table, or null.</summary>
    public TableSchema? GetTable(string name) =>
        _catalog is not null && _catalog.Tables.TryGetValue(name, out var t) ? t.Schema : null;

    /// <summary>Executes one statement of transaction <paramref name="txnId"/>. A page miss returns
    /// <see cref="StatementOutcome.NeedPage"/>; the caller installs the page and executes the statement again. Pages a
    /// statement missed stay pinned in the buffer cache until it completes, so a statement touching more pages than the
    /// cache holds still completes instead of evicting its own pages forever.</summary>
    public StatementOutcome Execute(long txnId, Statement statement)
    {
        var outcome = ExecuteUnpinned(txnId, statement);
        if (outcome is StatementOutcome.NeedPage need) Pin(txnId, need.PageNo);
        else ReleasePins(txnId);
        return outcome;
    }

    private void Pin(long txnId, long pageNo)
    {
        if (!_pins.TryGetValue(txnId, out var pages)) _pins[txnId] = pages = new List<long>();
        pages.Add(pageNo);
        _cache.Pin(pageNo);
    }

    private void ReleasePins(long txnId)
    {
        if (!_pins.Remove(txnId, out var pages)) return;
        foreach (var pageNo in pages) _cache.Unpin(pageNo);
    }

    private StatementOutcome ExecuteUnpinned(long txnId, Statement statement)
    {
        if (!_txns.TryGetValue(txnId, out var txn) || txn.Committing)
            return new StatementOutcome.Failed(new TransactionAbortedException($"transaction {txnId} is not open"));
        var catalog = RequireCatalog();
        if (!catalog.Tables.TryGetValue(statement.Table, out var table))
            return new StatementOutcome.Failed(new SchemaException($"no table '{statement.Table}'"));
        try
        {
            return statement switch
            {
                GetStatement g => ExecuteGet(txn, table, g),
                ScanStatement s => ExecuteScan(txn, table, s),
                InsertStatement i => ExecuteWrite(txn, table, i.Key, i.Fields, WriteKind.Insert),
                UpdateStatement u => ExecuteWrite(txn, table, u.Key, u.Fields, WriteKind.Update),
                DeleteStatement d => ExecuteWrite(txn, table, d.Key, null, WriteKind.Delete),
                _ => new StatementOutcome.Failed(new ActorDbException($"unknown statement {statement.GetType().Name}")),
            };
        }
        catch (PageMissException miss)
        {
            return new StatementOutcome.NeedPage(miss.PageNo);
        }
        catch (SchemaException e)
        {
            return new StatementOutcome.Failed(e);
        }
        catch (ArgumentException e)
        {
            return new StatementOutcome.Failed(new SchemaException(e.Message));
        }
    }

    private enum WriteKind { Insert, Update, Delete }

    private StatementOutcome ExecuteGet(Txn txn, TableInfo table, GetStatement g)
    {
        var key = RowCodec.EncodeKey(table.Schema, g.Key);
        var row = new RowId(table.TableId, key);
        var lockOutcome = Lock(txn, row, g.ForUpdate ? LockMode.Exclusive : LockMode.Shared);
        if (lockOutcome is not null) return lockOutcome;
        var value = ReadCurrent(txn, table, key, out _);
        return new StatementOutcome.Done(value is null ? null : new Row(g.Key, RowCodec.DecodeFields(table.Schema, value)));
    }

    private StatementOutcome ExecuteScan(Txn txn, TableInfo table, ScanStatement s)
    {
        if (s.MaxRows <= 0) return new StatementOutcome.Done(Array.Empty<Row>());
        var from = RowCodec.EncodeKey(table.Schema, s.FromKey);
        txn.Writes.TryGetValue(table.TableId, out var own);
        var ownCount = own?.Count ?? 0;
        var merged = new SortedDictionary<byte[], byte[]>(KeyOrder);
        foreach (var (k, v) in Tree(table).Scan(from, s.MaxRows + ownCount)) merged[k] = v;
        if (own is not null)
            foreach (var (k, w) in own)
            {
                if (KeyOrder.Compare(k, from) < 0) continue;
                if (w.Value is null) merged.Remove(k);
                else merged[k] = w.Value;
            }
        var rows = new List<Row>(Math.Min(s.MaxRows, merged.Count));
        foreach (var (k, v) in merged)
        {
            if (rows.Count == s.MaxRows) break;
            var blocked = Lock(txn, new RowId(table.TableId, k), LockMode.Shared);
            if (blocked is not null) return blocked;
            rows.Add(new Row(RowCodec.DecodeKey(table.Schema, k), RowCodec.DecodeFields(table.Schema, v)));
        }
        return new StatementOutcome.Done(rows);
    }

    private StatementOutcome ExecuteWrite(Txn txn, TableInfo table, object keyValue, IReadOnlyDictionary<string, object?>? fields, WriteKind kind)
    {
        var key = RowCodec.EncodeKey(table.Schema, keyValue);
        byte[]? newValue = null;
        if (kind == WriteKind.Insert) newValue = RowCodec.EncodeFields(table.Schema, fields!); // validate before locking
        var blocked = Lock(txn, new RowId(table.TableId, key), LockMode.Exclusive);
        if (blocked is not null) return blocked;
        var current = ReadCurrent(txn, table, key, out var existedInTree);
        switch (kind)
        {
            case WriteKind.Insert:
                if (current is not null)
                    return new StatementOutcome.Failed(new DuplicateKeyException($"table '{table.Schema.Name}': key {keyValue} exists"));
                break;
            case WriteKind.Update:
                if (current is null) return new StatementOutcome.Done(false);
                newValue = RowCodec.EncodeFields(table.Schema, fields!, RowCodec.DecodeFields(table.Schema, current));
                break;
            case WriteKind.Delete:
                if (current is null) return new StatementOutcome.Done(false);
                break;
        }
        if (newValue is not null && (newValue.Length > _maxValueBytes || key.Length > BTree.MaxKeyBytes))
            return new StatementOutcome.Failed(new SchemaException(
                $"table '{table.Schema.Name}': row too large (key {key.Length} bytes, max {BTree.MaxKeyBytes}; fields {newValue.Length} bytes, max {_maxValueBytes})"));

        if (!txn.Writes.TryGetValue(table.TableId, out var writes))
            txn.Writes[table.TableId] = writes = new SortedDictionary<byte[], WriteEntry>(KeyOrder);
        if (writes.TryGetValue(key, out var entry)) entry.Value = newValue;
        else
        {
            // The commit MTR takes up to 8 records per written row and must fit under LAL (it could never be allocated).
            if ((txn.WriteCount + 1) * 8L + 16 > _options.Lal)
                return new StatementOutcome.Aborted(new TransactionAbortedException(
                    $"transaction {txn.Id} aborted: more than {(_options.Lal - 16) / 8} rows written; its commit could never fit under the LSN allocation limit (actordb.writer.lal = {_options.Lal})"),
                    Abort(txn.Id));
            writes[key] = new WriteEntry(existedInTree, newValue);
            txn.WriteCount++;
        }
        return new StatementOutcome.Done(kind == WriteKind.Insert ? null : true);
    }

    private byte[]? ReadCurrent(Txn txn, TableInfo table, byte[] key, out bool existedInTree)
    {
        if (txn.Writes.TryGetValue(table.TableId, out var writes) && writes.TryGetValue(key, out var entry))
        {
            existedInTree = entry.ExistedInTree;
            return entry.Value;
        }
        var value = Tree(table).Get(key);
        existedInTree = value is not null;
        return value;
    }

    private StatementOutcome? Lock(Txn txn, RowId row, LockMode mode)
    {
        switch (_locks.Acquire(txn.Id, row, mode))
        {
            case LockOutcome.Granted: return null;
            case LockOutcome.Waiting: return new StatementOutcome.Blocked(row);
            default:
                var granted = Abort(txn.Id);
                return new StatementOutcome.Aborted(
                    new DeadlockException($"transaction {txn.Id} aborted: waiting for {row} would deadlock"), granted);
        }
    }

    /// <summary>Rolls back (or aborts) an open transaction, including one waiting for a lock (its wait is withdrawn):
    /// drops its write set and releases its locks. A transaction
    /// already committing is left alone. Returns the lock requests granted as a result.</summary>
    public IReadOnlyList<(long Txn, RowId Row)> Abort(long txnId)
    {
        if (!_txns.TryGetValue(txnId, out var txn) || txn.Committing) return [];
        _txns.Remove(txnId);
        ReleasePins(txnId);
        return _locks.ReleaseAll(txnId);
    }

    /// <summary>Commits transaction <paramref name="txnId"/>: applies its write set to the B+trees as one MTR and
    /// queues the redo. The caller replies once <see cref="OnAck"/> reports the commit durable.</summary>
    public CommitOutcome Commit(long txnId)
    {
        if (!_txns.TryGetValue(txnId, out var txn) || txn.Committing)
            return new CommitOutcome.Failed(new TransactionAbortedException($"transaction {txnId} is not open"));
        if (txn.WriteCount == 0)
        {
            _txns.Remove(txnId);
            ReleasePins(txnId);
            return new CommitOutcome.ReadOnly(_locks.ReleaseAll(txnId));
        }
        var catalog = RequireCatalog();
        // Worst case records: one per touched page; a write touches a leaf and, on splits, a path of new pages.
        if (WouldPassLal(txn.WriteCount * 8L + 16)) return new CommitOutcome.Backpressure();

        // Read phase: every page the apply will read must be cached, so the apply cannot miss half-way.
        try
        {
            foreach (var (tableId, writes) in txn.Writes)
            {
                var tree = Tree(TableById(catalog, tableId));
                foreach (var key in writes.Keys) tree.Get(key);
            }
        }
        catch (PageMissException miss)
        {
            Pin(txnId, miss.PageNo);
            return new CommitOutcome.NeedPage(miss.PageNo);
        }
        ReleasePins(txnId);   // the apply below runs in this call: nothing can be evicted before it is done

        // Apply phase: one MTR.
        foreach (var (tableId, writes) in txn.Writes)
        {
            var tree = Tree(TableById(catalog, tableId));
            foreach (var (key, w) in writes)
            {
                var ok = (w.ExistedInTree, w.Value) switch
                {
                    (true, null) => tree.Delete(key),
                    (true, { } v) => tree.Update(key, v),
                    (false, { } v) => tree.Insert(key, v),
                    (false, null) => true,
                };
                if (!ok) throw new InvalidOperationException($"B+tree of table {tableId} disagrees with the lock-protected write set at key {Convert.ToHexString(key)}");
            }
        }
        txn.Committing = true;
        return SealMtr(txnId);
    }

    /// <summary>Redo allocated and not yet durable: allocated - VDL, counted from the top of the annulled range right after a
    /// recovery (LSNs inside that range are never used). <see cref="RedoBacklog"/> + <see cref="LalHeadroom"/> = LAL.</summary>
    public long RedoBacklog => _tracker.Allocated.Value - Lsn.Max(Vdl, _allocationFloor).Value;

    /// <summary>LSNs that can still be allocated before LAL stops new commits: max(VDL, allocation floor) + LAL - allocated.</summary>
    public long LalHeadroom => _options.Lal - RedoBacklog;

    /// <summary>
    /// LAL back-pressure: would allocating <paramref name="records"/> more LSNs take the redo backlog past LAL? The
    /// backlog counts from VDL, or, right after recovery, from the top of the annulled range (new LSNs start above it
    /// and nothing in it is outstanding), so the limit is max(VDL, allocation floor) + LAL.
    /// </summary>
    private bool WouldPassLal(long records) => _tracker.Allocated + records > Lsn.Max(Vdl, _allocationFloor) + _options.Lal;

    /// <summary>Seals a system MTR (format, DDL): durable through the same queue as commits, with transaction id 0.</summary>
    private CommitOutcome.Pending SealSystemMtr() => SealMtr(txnId: 0);

    /// <summary>Turns the pages touched since the last MTR into redo records plus a commit record (the CPL), and queues the
    /// MTR's <see cref="WaitingCommit"/> until VDL passes it.</summary>
    private CommitOutcome.Pending SealMtr(long txnId)
    {
        var pages = _cache.TakeMtrPages();
        var records = 0;
        long bytes = 0;
        var lastPg = 0;
        foreach (var page in pages)
        {
            var delta = page.TakeDelta();
            if (delta.Length == 0) continue;
            var pg = _options.Geometry.PgOf(page.PageNo);
            var lsn = _tracker.Allocated + 1;
            var record = new RedoRecord(lsn, _pgTail[pg], pg, page.PageNo, RedoKind.PageDelta, false, txnId, Epoch, delta);
            Emit(record);
            page.PageLsn = lsn;
            records++;
            bytes += delta.Length;
            lastPg = pg;
        }
        var commitLsn = _tracker.Allocated + 1;
        var tail = (Lsn[])_pgTail.Clone();
        tail[lastPg] = commitLsn;
        var payload = new CommitPayload(txnId, tail).Encode();
        Emit(new RedoRecord(commitLsn, _pgTail[lastPg], lastPg, -1, RedoKind.Commit, true, txnId, Epoch, payload));
        _tracker.MarkCpl(commitLsn);
        var commit = new WaitingCommit(txnId, commitLsn, Epoch, lastPg);
        _committing.Enqueue(commit);
        return new CommitOutcome.Pending(commit, records + 1, bytes + payload.Length);
    }

    private void Emit(RedoRecord record)
    {
        _tracker.RecordAllocated(record.Pg, record.Lsn);
        _pgTail[record.Pg] = record.Lsn;
        _outboxes[record.Pg].Add(record);
        RedoRecords++;
        RedoBytes += RedoCodec.FrameSize(record);
    }

    /// <summary>
    /// Applies a segment's acknowledgement. Returns the commits that became durable (their locks are released; system MTRs
    /// included, with transaction id 0) in commit LSN order, and the lock requests granted as a result, in order.
    /// </summary>
    public (IReadOnlyList<WaitingCommit> Durable, IReadOnlyList<(long Txn, RowId Row)> Granted) OnAck(int pg, int replica, Lsn scl)
    {
        if (!_tracker.OnAck(pg, replica, scl))
        {
            TrimOutbox(pg);
            return ([], []);
        }
        TrimOutbox(pg);
        var vdl = _tracker.Vdl;
        if (_committing.Count == 0 || _committing.Peek().CommitLsn > vdl)
        {
            _cache.EvictDurable(vdl, Catalog.HeaderPage);
            return ([], []);
        }
        var durable = new List<WaitingCommit>();
        var granted = new List<(long, RowId)>();
        while (_committing.Count > 0 && _committing.Peek().CommitLsn <= vdl)
        {
            var c = _committing.Dequeue();
            durable.Add(c);
            if (c.TxnId == 0) continue;
            DurableCommits++;
            _txns.Remove(c.TxnId);
            granted.AddRange(_locks.ReleaseAll(c.TxnId));
        }
        _cache.EvictDurable(vdl, Catalog.HeaderPage);
        return (durable, granted);
    }

    private void TrimOutbox(int pg)
    {
        var min = Lsn.MaxValue;
        for (var r = 0; r < VolumeGeometry.SegmentsPerPg; r++) min = Lsn.Min(min, _tracker.Scl(pg, r));
        _outboxes[pg].Trim(min, _tracker.PgQuorumLsn(pg));
    }

    /// <summary>Takes a segment's SCL as it reported it when installing the epoch (see <see cref="QuorumTracker.Seed"/>).</summary>
    public void SeedScl(int pg, int replica, Lsn scl) => _tracker.Seed(pg, replica, scl);

    /// <summary>The SCL a segment of <paramref name="pg"/> needs to serve a page read at VDL: the PG's latest record at or
    /// below VDL (when records are in flight, the PG's write-quorum LSN, which is at least that).</summary>
    public Lsn ReadRequirement(int pg) => _pgTail[pg] <= Vdl ? _pgTail[pg] : _tracker.PgQuorumLsn(pg);

    /// <summary>The commits sealed and not yet durable, in commit LSN order (system MTRs included): what a writer that
    /// can no longer make them durable answers as ambiguous.</summary>
    public IReadOnlyCollection<WaitingCommit> Committing => _committing;

    /// <summary>Transactions that are open and not committing (for a clean stop: abort them).</summary>
    public IReadOnlyList<long> OpenTransactionIds() => _txns.Values.Where(t => !t.Committing).Select(t => t.Id).ToArray();

    private Catalog RequireCatalog() => _catalog ?? throw new InvalidOperationException("the volume is not open");

    private static TableInfo TableById(Catalog catalog, int tableId) =>
        catalog.Tables.Values.First(t => t.TableId == tableId);

    private BTree Tree(TableInfo table)
    {
        if (!_trees.TryGetValue(table.TableId, out var tree))
            _trees[table.TableId] = tree = new BTree(_cache, table.RootPage);
        return tree;
    }

    private static string Describe(TableSchema s) => string.Join(", ", s.Columns.Select(c => $"{c.Name} {c.Type}"));

    private sealed class ByteArrayComparer : IComparer<byte[]>
    {
        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
