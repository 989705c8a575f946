using ActorDb.Core.Transactions;
using ActorDb.Client;

namespace ActorDb.Cli.Bench;

/// <summary>
/// One planned operation: its choices (keys, values) are fixed when it is created, so a retry after an abort repeats
/// exactly the same statements. Executed by <see cref="BenchRunner"/> inside one transaction per attempt.
/// </summary>
internal abstract class BenchOperation
{
    /// <summary>Operation name in the report.</summary>
    public abstract string Name { get; }

    /// <summary>
    /// Runs the statements of one attempt in <paramref name="tx"/>, adding each row change to <paramref name="writes"/>.
    /// Returns <see cref="OpStatus.Ok"/> to commit, or another status to roll back. Exceptions propagate.
    /// </summary>
    public abstract Task<OpStatus> ExecuteAsync(ITransaction tx, List<AckWrite> writes, Random rng);

    /// <summary>Called once when the operation is over (after the last attempt), whatever the outcome.</summary>
    public virtual void Completed(OpStatus status) { }

    /// <summary>Runs a single-statement operation as its transaction's last statement with the commit in the same request
    /// (<see cref="ITransaction.ExecuteAndCommitAsync"/>): one round trip, like YCSB's auto-commit operations. The
    /// runner then takes <see cref="Committed"/> instead of committing.</summary>
    protected async Task<object?> LastStatementAsync(ITransaction tx, Statement statement)
    {
        var (result, commit) = await tx.ExecuteAndCommitAsync(statement);
        Committed = commit;
        return result;
    }

    /// <summary>The commit made by <see cref="LastStatementAsync"/> in the current attempt, or null.</summary>
    public CommitInfo? Committed { get; set; }
}

/// <summary>A workload engine: the table, the load rows and the run operations.</summary>
internal abstract class BenchWorkload
{
    /// <summary>The table to create.</summary>
    public abstract TableSchema Schema { get; }

    /// <summary>Rows inserted by the load phase.</summary>
    public abstract long LoadCount { get; }

    /// <summary>Operations of the run phase.</summary>
    public abstract long OperationCount { get; }

    /// <summary>Operation names in report order.</summary>
    public abstract IReadOnlyList<string> OperationNames { get; }

    /// <summary>The next load insert. Thread-safe.</summary>
    public abstract BenchOperation NextLoad(Random rng);

    /// <summary>The next run operation. Thread-safe.</summary>
    public abstract BenchOperation NextOperation(Random rng);

    /// <summary>Builds the engine for <paramref name="p"/>.</summary>
    public static BenchWorkload Create(WorkloadProperties p) => p.Kind switch
    {
        WorkloadKind.SysbenchWriteOnly => new SysbenchWriteOnlyWorkload(p),
        WorkloadKind.Bank => new BankWorkload(p),
        _ => new YcsbWorkload(p),
    };

    /// <summary>The key chooser over [lo, hi] for the built-ins (uniform, scrambled zipfian or hotspot).</summary>
    protected static NumberGenerator KeyChooser(WorkloadProperties p, long lo, long hi) => p.RequestDistribution switch
    {
        RequestDistribution.Zipfian => new ScrambledZipfianGenerator(lo, hi),
        RequestDistribution.Hotspot => new HotspotIntegerGenerator(lo, hi, p.HotspotDataFraction, p.HotspotOpnFraction),
        _ => new UniformLongGenerator(lo, hi),
    };

    /// <summary>Inserts one row.</summary>
    protected sealed class InsertOperation(string table, object key, Dictionary<string, object?> fields, Action<OpStatus>? completed = null)
        : BenchOperation
    {
        public override string Name => "INSERT";

        public override async Task<OpStatus> ExecuteAsync(ITransaction tx, List<AckWrite> writes, Random rng)
        {
            await LastStatementAsync(tx, new InsertStatement(table, key, fields));
            writes.Add(new AckWrite(table, "insert", key, fields));
            return OpStatus.Ok;
        }

        public override void Completed(OpStatus status) => completed?.Invoke(status);
    }
}

/// <summary>
/// YCSB's CoreWorkload (Cooper et al., "Benchmarking Cloud Serving Systems with YCSB", SoCC 2010): table with a String
/// key column <c>key</c> and String fields <c>field0..fieldN-1</c>; READ, UPDATE, INSERT, SCAN and READ-MODIFY-WRITE
/// chosen by the proportions; keys chosen by the request distribution, never beyond the last acknowledged insert.
/// </summary>
internal sealed class YcsbWorkload : BenchWorkload
{
    private readonly WorkloadProperties _p;
    private readonly string[] _fieldNames;
    private readonly CounterGenerator _keySequence;
    private readonly AcknowledgedCounterGenerator _insertKeySequence;
    private readonly NumberGenerator? _keyChooser;
    private readonly NumberGenerator _fieldChooser;
    private readonly NumberGenerator _fieldLength;
    private readonly NumberGenerator _scanLength;
    private readonly DiscreteGenerator<string> _ops = new();

    public YcsbWorkload(WorkloadProperties p)
    {
        _p = p;
        _fieldNames = Enumerable.Range(0, p.FieldCount).Select(i => p.FieldNamePrefix + i).ToArray();
        Schema = new TableSchema(p.Table,
            [new ColumnDef("key", ColumnType.String), .. _fieldNames.Select(f => new ColumnDef(f, ColumnType.String))]);
        _keySequence = new CounterGenerator(p.InsertStart);
        _insertKeySequence = new AcknowledgedCounterGenerator(p.RecordCount);
        _fieldChooser = new UniformLongGenerator(0, p.FieldCount - 1);
        _fieldLength = p.FieldLengthDistribution switch
        {
            FieldLengthDistribution.Uniform => new UniformLongGenerator(p.MinFieldLength, p.FieldLength),
            FieldLengthDistribution.Zipfian => new ZipfianGenerator(p.MinFieldLength, p.FieldLength),
            _ => new ConstantGenerator(p.FieldLength),
        };
        _scanLength = p.ScanLengthDistribution == ScanLengthDistribution.Zipfian
            ? new ZipfianGenerator(p.MinScanLength, p.MaxScanLength)
            : new UniformLongGenerator(p.MinScanLength, p.MaxScanLength);

        long first = p.InsertStart, last = p.InsertStart + p.InsertCount - 1;
        if (p.InsertCount > 0)
        {
            _keyChooser = p.RequestDistribution switch
            {
                // Sized for the keys expected to be inserted (x2 fudge factor, as YCSB), so popularity does not shift
                // as keys are added; keys beyond the last acknowledged insert are redrawn (NextKeynum).
                RequestDistribution.Zipfian => new ScrambledZipfianGenerator(first,
                    last + 1 + (long)(p.OperationCount * p.InsertProportion * 2.0)),
                RequestDistribution.Latest => new SkewedLatestGenerator(_insertKeySequence),
                RequestDistribution.Hotspot => new HotspotIntegerGenerator(first, last, p.HotspotDataFraction, p.HotspotOpnFraction),
                _ => new UniformLongGenerator(first, last),
            };
        }

        if (_keyChooser is null && p.ReadProportion + p.UpdateProportion + p.ScanProportion + p.ReadModifyWriteProportion > 0)
            throw new WorkloadException(
                $"reads, updates and scans choose keys in [insertstart, insertstart + insertcount), which is empty (insertstart={p.InsertStart}, insertcount={p.InsertCount}, recordcount={p.RecordCount}); " +
                "on a loaded table pass -p recordcount=N (its rows) and leave insertstart at 0");
        _ops.Add(p.ReadProportion, "READ")
            .Add(p.UpdateProportion, "UPDATE")
            .Add(p.InsertProportion, "INSERT")
            .Add(p.ScanProportion, "SCAN")
            .Add(p.ReadModifyWriteProportion, "READ-MODIFY-WRITE");
    }

    public override TableSchema Schema { get; }
    public override long LoadCount => _p.InsertCount;
    public override long OperationCount => _p.OperationCount;
    public override IReadOnlyList<string> OperationNames { get; } = ["READ", "UPDATE", "INSERT", "SCAN", "READ-MODIFY-WRITE"];

    private string Key(long keynum) => YcsbUtils.BuildKeyName(keynum, _p.ZeroPadding, _p.OrderedInserts);

    private string Value(Random rng) => YcsbUtils.RandomPrintable(rng, (int)_fieldLength.Next(rng));

    private Dictionary<string, object?> AllValues(Random rng)
    {
        var values = new Dictionary<string, object?>(_fieldNames.Length);
        foreach (var f in _fieldNames) values[f] = Value(rng);
        return values;
    }

    private Dictionary<string, object?> UpdateValues(Random rng) => _p.WriteAllFields
        ? AllValues(rng)
        : new Dictionary<string, object?> { [_fieldNames[_fieldChooser.Next(rng)]] = Value(rng) };

    // YCSB's nextKeynum: redraw until the key is at most the last acknowledged insert.
    private long NextKeynum(Random rng)
    {
        long keynum;
        do keynum = _keyChooser!.Next(rng);
        while (keynum > _insertKeySequence.LastValue);
        return keynum;
    }

    public override BenchOperation NextLoad(Random rng) =>
        new InsertOperation(_p.Table, Key(_keySequence.Next()), AllValues(rng));

    public override BenchOperation NextOperation(Random rng)
    {
        switch (_ops.Next(rng))
        {
            case "READ":
                return new ReadOperation(_p.Table, Key(NextKeynum(rng)));
            case "UPDATE":
                return new UpdateOperation("UPDATE", _p.Table, Key(NextKeynum(rng)), UpdateValues(rng), readFirst: false);
            case "INSERT":
                long keynum = _insertKeySequence.Next();
                return new InsertOperation(_p.Table, Key(keynum), AllValues(rng), _ => _insertKeySequence.Acknowledge(keynum));
            case "SCAN":
                return new ScanOperation(_p.Table, Key(NextKeynum(rng)), (int)_scanLength.Next(rng));
            default:
                return new UpdateOperation("READ-MODIFY-WRITE", _p.Table, Key(NextKeynum(rng)), UpdateValues(rng), readFirst: true);
        }
    }

    private sealed class ReadOperation(string table, string key) : BenchOperation
    {
        public override string Name => "READ";

        public override async Task<OpStatus> ExecuteAsync(ITransaction tx, List<AckWrite> writes, Random rng) =>
            await LastStatementAsync(tx, new GetStatement(table, key)) is null ? OpStatus.NotFound : OpStatus.Ok;
    }

    private sealed class UpdateOperation(string name, string table, string key, Dictionary<string, object?> values, bool readFirst)
        : BenchOperation
    {
        public override string Name => name;

        public override async Task<OpStatus> ExecuteAsync(ITransaction tx, List<AckWrite> writes, Random rng)
        {
            if (readFirst && await tx.GetForUpdateAsync(table, key) is null)
                return OpStatus.NotFound;
            if (!(bool)(await LastStatementAsync(tx, new UpdateStatement(table, key, values)))!)
                return OpStatus.NotFound;
            writes.Add(new AckWrite(table, "update", key, values));
            return OpStatus.Ok;
        }
    }

    private sealed class ScanOperation(string table, string startKey, int length) : BenchOperation
    {
        public override string Name => "SCAN";

        public override async Task<OpStatus> ExecuteAsync(ITransaction tx, List<AckWrite> writes, Random rng)
        {
            await LastStatementAsync(tx, new ScanStatement(table, startKey, length));
            return OpStatus.Ok;
        }
    }
}

/// <summary>
/// sysbench <c>oltp_write_only</c> (akopytov/sysbench, <c>oltp_write_only.lua</c>/<c>oltp_common.lua</c>): table
/// <c>sbtest</c> (id Int64 key, k Int64, c String(120), pad String(60)) loaded with ids 1..table-size; each
/// transaction (<c>TX</c>) does <c>index_updates</c> × <c>UPDATE SET k=k+1</c> (a read then a write here),
/// <c>non_index_updates</c> × <c>UPDATE SET c=?</c>, and <c>delete_inserts</c> × (DELETE of a random id, INSERT of it
/// back with a new k, c and pad), then commits. The row count stays table-size.
/// </summary>
internal sealed class SysbenchWriteOnlyWorkload : BenchWorkload
{
    private const string CTemplate = "###########-###########-###########-###########-###########-###########-###########-###########-###########-###########";
    private const string PadTemplate = "###########-###########-###########-###########-###########";
    private readonly WorkloadProperties _p;
    private readonly CounterGenerator _loadIds = new(1);
    private readonly NumberGenerator _ids;

    public SysbenchWriteOnlyWorkload(WorkloadProperties p)
    {
        _p = p;
        Schema = new TableSchema(p.Table,
        [
            new ColumnDef("id", ColumnType.Int64), new ColumnDef("k", ColumnType.Int64),
            new ColumnDef("c", ColumnType.String), new ColumnDef("pad", ColumnType.String),
        ]);
        _ids = KeyChooser(p, 1, p.TableSize);
    }

    public override TableSchema Schema { get; }
    public override long LoadCount => _p.TableSize;
    public override long OperationCount => _p.OperationCount;
    public override IReadOnlyList<string> OperationNames { get; } = ["TX"];

    /// <summary>sysbench.rand.string: every '#' becomes a random digit.</summary>
    internal static string RandString(Random rng, string template) =>
        string.Create(template.Length, (rng, template), static (span, s) =>
        {
            for (int i = 0; i < span.Length; i++)
                span[i] = s.template[i] == '#' ? (char)('0' + s.rng.Next(10)) : s.template[i];
        });

    private Dictionary<string, object?> NewRow(Random rng) => new()
    {
        ["k"] = rng.NextInt64(1, _p.TableSize + 1),
        ["c"] = RandString(rng, CTemplate),
        ["pad"] = RandString(rng, PadTemplate),
    };

    public override BenchOperation NextLoad(Random rng) => new InsertOperation(_p.Table, _loadIds.Next(), NewRow(rng));

    public override BenchOperation NextOperation(Random rng)
    {
        var indexIds = new long[_p.IndexUpdates];
        for (int i = 0; i < indexIds.Length; i++) indexIds[i] = _ids.Next(rng);
        var cUpdates = new (long Id, string C)[_p.NonIndexUpdates];
        for (int i = 0; i < cUpdates.Length; i++) cUpdates[i] = (_ids.Next(rng), RandString(rng, CTemplate));
        var reinserts = new (long Id, Dictionary<string, object?> Row)[_p.DeleteInserts];
        for (int i = 0; i < reinserts.Length; i++) reinserts[i] = (_ids.Next(rng), NewRow(rng));
        return new Tx(_p.Table, indexIds, cUpdates, reinserts);
    }

    private sealed class Tx(string table, long[] indexIds, (long Id, string C)[] cUpdates, (long Id, Dictionary<string, object?> Row)[] reinserts)
        : BenchOperation
    {
        public override string Name => "TX";

        public override async Task<OpStatus> ExecuteAsync(ITransaction tx, List<AckWrite> writes, Random rng)
        {
            foreach (var id in indexIds)
            {
                // UPDATE sbtest SET k=k+1 WHERE id=?
                var row = await tx.GetForUpdateAsync(table, id);
                if (row is null) return OpStatus.NotFound;
                var set = new Dictionary<string, object?> { ["k"] = (row.Fields.TryGetValue("k", out var k) && k is long kv ? kv : 0L) + 1 };
                if (!await tx.UpdateAsync(table, id, set)) return OpStatus.NotFound;
                writes.Add(new AckWrite(table, "update", id, set));
            }
            foreach (var (id, c) in cUpdates)
            {
                // UPDATE sbtest SET c=? WHERE id=?
                var set = new Dictionary<string, object?> { ["c"] = c };
                if (!await tx.UpdateAsync(table, id, set)) return OpStatus.NotFound;
                writes.Add(new AckWrite(table, "update", id, set));
            }
            for (var i = 0; i < reinserts.Length; i++)
            {
                // DELETE FROM sbtest WHERE id=?; INSERT INTO sbtest (id, k, c, pad) VALUES (?, ?, ?, ?)
                var (id, row) = reinserts[i];
                if (!await tx.DeleteAsync(table, id)) return OpStatus.NotFound;
                writes.Add(new AckWrite(table, "delete", id, new Dictionary<string, object?>()));
                // The transaction's last statement carries its COMMIT (one round trip, as a client pipelines it).
                if (i == reinserts.Length - 1) await LastStatementAsync(tx, new InsertStatement(table, id, row));
                else await tx.InsertAsync(table, id, row);
                writes.Add(new AckWrite(table, "insert", id, row));
            }
            return OpStatus.Ok;
        }
    }
}

/// <summary>
/// Bank transfers: table <c>accounts</c> (id Int64 key, balance Int64) loaded with ids 1..accountcount at
/// <c>initialbalance</c>; each transaction (<c>TRANSFER</c>) reads two distinct accounts and, when the source's
/// balance allows, moves a random amount in 1..min(balance, maxtransfer) to the other. The sum of all balances is
/// invariant (see <see cref="BenchRunner.BankInvariant"/>).
/// </summary>
internal sealed class BankWorkload : BenchWorkload
{
    private readonly WorkloadProperties _p;
    private readonly CounterGenerator _loadIds = new(1);
    private readonly NumberGenerator _ids;

    public BankWorkload(WorkloadProperties p)
    {
        _p = p;
        Schema = new TableSchema(p.Table, [new ColumnDef("id", ColumnType.Int64), new ColumnDef("balance", ColumnType.Int64)]);
        _ids = KeyChooser(p, 1, p.AccountCount);
    }

    public override TableSchema Schema { get; }
    public override long LoadCount => _p.AccountCount;
    public override long OperationCount => _p.OperationCount;
    public override IReadOnlyList<string> OperationNames { get; } = ["TRANSFER"];

    public override BenchOperation NextLoad(Random rng) =>
        new InsertOperation(_p.Table, _loadIds.Next(), new Dictionary<string, object?> { ["balance"] = _p.InitialBalance });

    public override BenchOperation NextOperation(Random rng)
    {
        long from = _ids.Next(rng), to;
        do to = _ids.Next(rng);
        while (to == from);
        return new Transfer(_p.Table, from, to, _p.MaxTransfer);
    }

    private sealed class Transfer(string table, long from, long to, long maxTransfer) : BenchOperation
    {
        public override string Name => "TRANSFER";

        public override async Task<OpStatus> ExecuteAsync(ITransaction tx, List<AckWrite> writes, Random rng)
        {
            var a = await tx.GetForUpdateAsync(table, from);
            var b = await tx.GetForUpdateAsync(table, to);
            if (a is null || b is null)
                return OpStatus.NotFound;
            long balA = Balance(a), balB = Balance(b);
            if (balA <= 0)
                return OpStatus.Ok; // nothing to move; commits as a read-only transaction
            long amount = rng.NextInt64(1, Math.Min(balA, maxTransfer) + 1);
            var setA = new Dictionary<string, object?> { ["balance"] = balA - amount };
            var setB = new Dictionary<string, object?> { ["balance"] = balB + amount };
            if (!await tx.UpdateAsync(table, from, setA) || !await tx.UpdateAsync(table, to, setB))
                return OpStatus.NotFound;
            writes.Add(new AckWrite(table, "update", from, setA));
            writes.Add(new AckWrite(table, "update", to, setB));
            return OpStatus.Ok;
        }

        private static long Balance(Row r) => r.Fields.TryGetValue("balance", out var v) && v is long l ? l : 0;
    }
}
