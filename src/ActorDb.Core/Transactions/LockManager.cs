namespace ActorDb.Core.Transactions;

/// <summary>Lock modes of a row lock.</summary>
public enum LockMode : byte
{
    /// <summary>Shared (read) lock: compatible with other shared locks.</summary>
    Shared = 1,
    /// <summary>Exclusive (write) lock: compatible with nothing.</summary>
    Exclusive = 2,
}

/// <summary>Outcome of <see cref="LockManager.Acquire"/>.</summary>
public enum LockOutcome : byte
{
    /// <summary>The lock is held now.</summary>
    Granted = 1,
    /// <summary>The request is queued; it will appear in the list a later <see cref="LockManager.ReleaseAll"/> returns.</summary>
    Waiting = 2,
    /// <summary>Waiting would close a cycle in the wait-for graph; nothing was queued. The caller aborts the requester.</summary>
    Deadlock = 3,
}

/// <summary>A lockable row: table id and encoded primary key. Equality is by table and key bytes.</summary>
public readonly struct RowId : IEquatable<RowId>
{
    private readonly int _hash;

    /// <summary>Creates a row id; <paramref name="key"/> is not copied and must not change afterwards.</summary>
    public RowId(int tableId, byte[] key)
    {
        TableId = tableId;
        Key = key;
        var h = new HashCode();
        h.Add(tableId);
        h.AddBytes(key);
        _hash = h.ToHashCode();
    }

    /// <summary>Table id from the catalog.</summary>
    public int TableId { get; }
    /// <summary>Order-preserving encoded primary key.</summary>
    public byte[] Key { get; }

    /// <inheritdoc />
    public bool Equals(RowId other) => TableId == other.TableId && _hash == other._hash && Key.AsSpan().SequenceEqual(other.Key);
    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is RowId r && Equals(r);
    /// <inheritdoc />
    public override int GetHashCode() => _hash;
    /// <inheritdoc />
    public override string ToString() => $"table {TableId} key {Convert.ToHexString(Key)}";
}

/// <summary>
/// Row lock table for strict two-phase locking: shared/exclusive locks per row, FIFO wait queues, in-place
/// upgrade from shared to exclusive, and deadlock detection by searching the wait-for graph whenever a request
/// would wait (Gray and Reuter, Transaction Processing, 1993, §7.11). Each transaction waits for at most one
/// lock at a time (statements are sequential within a transaction). Deterministic; not thread-safe (one owner).
/// </summary>
public sealed class LockManager
{
    private sealed class LockState
    {
        public readonly Dictionary<long, LockMode> Holders = new();
        public readonly LinkedList<(long Txn, LockMode Mode)> Waiters = new();
    }

    private readonly Dictionary<RowId, LockState> _locks = new();
    private readonly Dictionary<long, List<RowId>> _held = new();
    private readonly Dictionary<long, RowId> _waitingOn = new();

    /// <summary>Rows currently locked (held by at least one transaction).</summary>
    public int LockedRows => _locks.Count;

    /// <summary>Transactions currently waiting for a lock.</summary>
    public int Waiting => _waitingOn.Count;

    /// <summary>Requests <paramref name="mode"/> on <paramref name="row"/> for <paramref name="txn"/>.</summary>
    /// <exception cref="InvalidOperationException">the transaction is already waiting for another lock.</exception>
    public LockOutcome Acquire(long txn, RowId row, LockMode mode)
    {
        if (_waitingOn.ContainsKey(txn))
            throw new InvalidOperationException($"transaction {txn} is already waiting for a lock");
        if (!_locks.TryGetValue(row, out var state))
        {
            state = new LockState();
            _locks[row] = state;
        }

        if (state.Holders.TryGetValue(txn, out var held) && held >= mode) return LockOutcome.Granted;

        if (CanGrant(state, txn, mode, ignoreQueue: held != 0))
        {
            Grant(state, txn, row, mode);
            return LockOutcome.Granted;
        }

        if (WouldDeadlock(txn, state, mode)) return LockOutcome.Deadlock;

        // An upgrade goes to the front of the queue: it already holds the row shared.
        if (held != 0) state.Waiters.AddFirst((txn, mode));
        else state.Waiters.AddLast((txn, mode));
        _waitingOn[txn] = row;
        return LockOutcome.Waiting;
    }

    /// <summary>Withdraws <paramref name="txn"/>'s pending request (e.g. on lock timeout) and returns the requests
    /// that were granted because it left the queue.</summary>
    public IReadOnlyList<(long Txn, RowId Row)> CancelWait(long txn)
    {
        if (!_waitingOn.Remove(txn, out var row)) return [];
        var state = _locks[row];
        for (var n = state.Waiters.First; n != null; n = n.Next)
            if (n.Value.Txn == txn) { state.Waiters.Remove(n); break; }
        var granted = new List<(long, RowId)>();
        GrantWaiters(row, state, granted);
        return granted;
    }

    /// <summary>Releases every lock of <paramref name="txn"/> (and any pending request), and returns the requests of
    /// other transactions that are granted as a result, in grant order.</summary>
    public IReadOnlyList<(long Txn, RowId Row)> ReleaseAll(long txn)
    {
        var granted = new List<(long, RowId)>();
        granted.AddRange(CancelWait(txn));
        if (!_held.Remove(txn, out var rows)) return granted;
        foreach (var row in rows)
        {
            var state = _locks[row];
            state.Holders.Remove(txn);
            GrantWaiters(row, state, granted);
        }
        return granted;
    }

    /// <summary>The mode <paramref name="txn"/> holds on <paramref name="row"/>, or null.</summary>
    public LockMode? HeldMode(long txn, RowId row) =>
        _locks.TryGetValue(row, out var s) && s.Holders.TryGetValue(txn, out var m) ? m : null;

    private void GrantWaiters(RowId row, LockState state, List<(long, RowId)> granted)
    {
        while (state.Waiters.First is { } first && CanGrant(state, first.Value.Txn, first.Value.Mode, ignoreQueue: true))
        {
            state.Waiters.RemoveFirst();
            _waitingOn.Remove(first.Value.Txn);
            Grant(state, first.Value.Txn, row, first.Value.Mode);
            granted.Add((first.Value.Txn, row));
        }
        if (state.Holders.Count == 0 && state.Waiters.Count == 0) _locks.Remove(row);
    }

    private static bool CanGrant(LockState state, long txn, LockMode mode, bool ignoreQueue)
    {
        if (!ignoreQueue && state.Waiters.Count > 0) return false;
        foreach (var (holder, heldMode) in state.Holders)
        {
            if (holder == txn) continue;
            if (mode == LockMode.Exclusive || heldMode == LockMode.Exclusive) return false;
        }
        return true;
    }

    private void Grant(LockState state, long txn, RowId row, LockMode mode)
    {
        var had = state.Holders.ContainsKey(txn);
        state.Holders[txn] = mode;
        if (had) return;
        if (!_held.TryGetValue(txn, out var rows)) _held[txn] = rows = new List<RowId>();
        rows.Add(row);
    }

    /// <summary>Would <paramref name="txn"/> waiting on <paramref name="state"/> close a cycle? It would wait for the
    /// incompatible holders and for everyone already queued; search from them along each one's own wait.</summary>
    private bool WouldDeadlock(long txn, LockState state, LockMode mode)
    {
        var stack = new Stack<long>();
        foreach (var blocker in BlockersOf(state, txn, mode, queuedAhead: state.Waiters.Select(w => w.Txn))) stack.Push(blocker);
        var seen = new HashSet<long>();
        while (stack.Count > 0)
        {
            var t = stack.Pop();
            if (t == txn) return true;
            if (!seen.Add(t) || !_waitingOn.TryGetValue(t, out var row)) continue;
            var s = _locks[row];
            var ahead = new List<long>();
            LockMode waitMode = LockMode.Shared;
            foreach (var w in s.Waiters)
            {
                if (w.Txn == t) { waitMode = w.Mode; break; }
                ahead.Add(w.Txn);
            }
            foreach (var b in BlockersOf(s, t, waitMode, ahead)) stack.Push(b);
        }
        return false;
    }

    private static IEnumerable<long> BlockersOf(LockState state, long txn, LockMode mode, IEnumerable<long> queuedAhead)
    {
        foreach (var (holder, heldMode) in state.Holders)
            if (holder != txn && (mode == LockMode.Exclusive || heldMode == LockMode.Exclusive)) yield return holder;
        foreach (var w in queuedAhead)
            if (w != txn) yield return w;
    }
}
