using ActorDb.Client;

namespace ActorDb.Tests.Bench;

/// <summary>
/// An in-memory <see cref="IActorDbClient"/> for workload tests: one dictionary per table, and a global gate that a
/// transaction holds from its first statement to its end, so transactions run one at a time (trivially serializable).
/// Changes are applied in place with an undo log for rollback. Keys and field values are type-checked against the schema.
/// Faults can be injected: every <see cref="AbortEveryNthCommit"/>-th commit aborts, and <see cref="Fault"/> may throw
/// on any statement.
/// </summary>
public sealed class FakeClient : IActorDbClient
{
    private readonly Dictionary<string, (TableSchema Schema, SortedDictionary<object, Dictionary<string, object?>> Rows)> _tables = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private long _lsn;
    private long _commitAttempts;

    /// <summary>When &gt; 0, every Nth commit throws a retryable <see cref="TransactionAbortedException"/> (nothing applied).</summary>
    public int AbortEveryNthCommit { get; set; }

    /// <summary>Called before each statement with (statement, table, key); may return an exception to throw.</summary>
    public Func<string, string, object, Exception?>? Fault { get; set; }

    /// <summary>Delay after each acknowledged commit (outside the gate), to make runs last a little.</summary>
    public TimeSpan CommitDelay { get; set; }

    /// <summary>Successful commits.</summary>
    public long Commits;

    /// <summary>Aborts injected.</summary>
    public long Aborts;

    public Task<TableSchema> CreateTableAsync(TableSchema schema, CancellationToken ct = default)
    {
        lock (_tables)
        {
            if (_tables.TryGetValue(schema.Name, out var t))
            {
                if (!t.Schema.Columns.SequenceEqual(schema.Columns))
                    throw new SchemaException($"table {schema.Name} exists with other columns");
                return Task.FromResult(t.Schema);
            }
            _tables[schema.Name] = (schema, new SortedDictionary<object, Dictionary<string, object?>>(KeyComparer.Instance));
            return Task.FromResult(schema);
        }
    }

    public Task<TableSchema?> GetTableAsync(string table, CancellationToken ct = default)
    {
        lock (_tables) return Task.FromResult(_tables.TryGetValue(table, out var t) ? t.Schema : null);
    }

    public ITransaction Begin() => new Tx(this);

    /// <summary>A snapshot of a table's rows (key → fields), taken under the gate.</summary>
    public Dictionary<object, Dictionary<string, object?>> Snapshot(string table)
    {
        _gate.Wait();
        try
        {
            return _tables[table].Rows.ToDictionary(kv => kv.Key, kv => new Dictionary<string, object?>(kv.Value));
        }
        finally { _gate.Release(); }
    }

    private sealed class KeyComparer : IComparer<object>
    {
        public static readonly KeyComparer Instance = new();

        public int Compare(object? x, object? y) => (x, y) switch
        {
            (long a, long b) => a.CompareTo(b),
            (string a, string b) => string.CompareOrdinal(a, b),
            _ => throw new SchemaException($"incomparable keys {x?.GetType()} and {y?.GetType()}"),
        };
    }

    private sealed class Tx(FakeClient db) : ITransaction
    {
        private bool _holding, _done;
        private readonly List<(SortedDictionary<object, Dictionary<string, object?>> Rows, object Key, Dictionary<string, object?>? Before)> _undo = [];

        private async Task<(TableSchema Schema, SortedDictionary<object, Dictionary<string, object?>> Rows)> EnterAsync(
            string stmt, string table, object key, CancellationToken ct)
        {
            if (_done) throw new InvalidOperationException("transaction is over");
            if (!_holding)
            {
                await db._gate.WaitAsync(ct);
                _holding = true;
            }
            if (db.Fault?.Invoke(stmt, table, key) is { } fault)
            {
                if (fault is TransactionAbortedException) End(rollback: true);
                throw fault;
            }
            if (!db._tables.TryGetValue(table, out var t))
                throw new SchemaException($"no table {table}");
            var keyType = t.Schema.Key.Type;
            if (stmt != "scan" && !(keyType == ColumnType.Int64 ? key is long : key is string))
                throw new SchemaException($"key {key} ({key.GetType().Name}) does not match {keyType}");
            return t;
        }

        private static void CheckFields(TableSchema schema, IReadOnlyDictionary<string, object?> fields)
        {
            foreach (var (name, value) in fields)
            {
                var col = schema.Columns.Skip(1).FirstOrDefault(c => c.Name == name)
                    ?? throw new SchemaException($"no column {name} in {schema.Name}");
                bool ok = value is null || col.Type switch
                {
                    ColumnType.Int64 => value is long,
                    ColumnType.String => value is string,
                    _ => value is byte[],
                };
                if (!ok) throw new SchemaException($"value of {name} ({value!.GetType().Name}) does not match {col.Type}");
            }
        }

        private void Save(SortedDictionary<object, Dictionary<string, object?>> rows, object key) =>
            _undo.Add((rows, key, rows.TryGetValue(key, out var before) ? new Dictionary<string, object?>(before) : null));

        public async Task<Row?> GetAsync(string table, object key, CancellationToken ct = default)
        {
            var t = await EnterAsync("get", table, key, ct);
            return t.Rows.TryGetValue(key, out var f) ? new Row(key, new Dictionary<string, object?>(f)) : null;
        }

        // The fake serializes everything under one global lock, so a read for update is a plain read.
        public Task<Row?> GetForUpdateAsync(string table, object key, CancellationToken ct = default) => GetAsync(table, key, ct);

        public async Task<IReadOnlyList<Row>> ScanAsync(string table, object fromKey, int maxRows, CancellationToken ct = default)
        {
            var t = await EnterAsync("scan", table, fromKey, ct);
            return t.Rows.Where(kv => KeyComparer.Instance.Compare(kv.Key, fromKey) >= 0).Take(maxRows)
                .Select(kv => new Row(kv.Key, new Dictionary<string, object?>(kv.Value))).ToList();
        }

        public async Task InsertAsync(string table, object key, IReadOnlyDictionary<string, object?> fields, CancellationToken ct = default)
        {
            var t = await EnterAsync("insert", table, key, ct);
            CheckFields(t.Schema, fields);
            if (t.Rows.ContainsKey(key)) throw new DuplicateKeyException($"duplicate key {key}");
            Save(t.Rows, key);
            var row = t.Schema.Columns.Skip(1).ToDictionary(c => c.Name, c => fields.GetValueOrDefault(c.Name));
            t.Rows[key] = row;
        }

        public async Task<bool> UpdateAsync(string table, object key, IReadOnlyDictionary<string, object?> fields, CancellationToken ct = default)
        {
            var t = await EnterAsync("update", table, key, ct);
            CheckFields(t.Schema, fields);
            if (!t.Rows.TryGetValue(key, out var row)) return false;
            Save(t.Rows, key);
            foreach (var (n, v) in fields) row[n] = v;
            return true;
        }

        public async Task<bool> DeleteAsync(string table, object key, CancellationToken ct = default)
        {
            var t = await EnterAsync("delete", table, key, ct);
            if (!t.Rows.ContainsKey(key)) return false;
            Save(t.Rows, key);
            t.Rows.Remove(key);
            return true;
        }

        public async Task<CommitInfo> CommitAsync(CancellationToken ct = default)
        {
            if (_done) throw new TransactionAbortedException("transaction already ended");
            long lsn = 0;
            if (_holding)
            {
                int n = db.AbortEveryNthCommit;
                if (n > 0 && Interlocked.Increment(ref db._commitAttempts) % n == 0)
                {
                    Interlocked.Increment(ref db.Aborts);
                    End(rollback: true);
                    throw new DeadlockException("injected abort");
                }
                if (_undo.Count > 0) lsn = ++db._lsn;
            }
            End(rollback: false);
            Interlocked.Increment(ref db.Commits);
            if (db.CommitDelay > TimeSpan.Zero) await Task.Delay(db.CommitDelay, ct);
            return new CommitInfo(lsn, lsn);
        }

        public Task RollbackAsync(CancellationToken ct = default)
        {
            End(rollback: true);
            return Task.CompletedTask;
        }

        private void End(bool rollback)
        {
            if (_done) return;
            _done = true;
            if (rollback)
            {
                for (int i = _undo.Count - 1; i >= 0; i--)
                {
                    var (rows, key, before) = _undo[i];
                    if (before is null) rows.Remove(key);
                    else rows[key] = before;
                }
            }
            _undo.Clear();
            if (_holding)
            {
                _holding = false;
                db._gate.Release();
            }
        }

        public ValueTask DisposeAsync()
        {
            End(rollback: true);
            return ValueTask.CompletedTask;
        }
    }
}
