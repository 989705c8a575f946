namespace ActorDb.Core.Storage;

/// <summary>Operations of an <see cref="IStorage"/> a <see cref="StorageFault"/> can fail.</summary>
[Flags]
public enum StorageOps
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>A positional write (through the page cache or O_DIRECT).</summary>
    Write = 1,
    /// <summary>A data sync of a file (fdatasync).</summary>
    Sync = 2,
    /// <summary>Opening a file that does not exist yet, or creating a directory.</summary>
    Create = 4,
    /// <summary>Growing a file's length (a cut never fails: it needs no space).</summary>
    SetLength = 8,
    /// <summary>An fsync of a directory.</summary>
    DirectorySync = 16,
    /// <summary>A rename.</summary>
    Rename = 32,
    /// <summary>A read.</summary>
    Read = 64,
    /// <summary>What a full disk fails: writes, length changes, creations, syncs.</summary>
    DiskFull = Write | Sync | Create | SetLength,
}

/// <summary>
/// One injected fault of a <see cref="FaultyStorage"/>: operations in <paramref name="Ops"/> on a path containing
/// <paramref name="PathContains"/> (any path when null) fail with errno <paramref name="Errno"/>
/// (<see cref="StorageErrors.Enospc"/>, <see cref="StorageErrors.Eio"/>, ...) once <paramref name="After"/> matching operations
/// have succeeded, for <paramref name="Times"/> operations (long.MaxValue: until cleared). "EIO on the 300th sync" is
/// <c>new StorageFault(StorageOps.Sync, StorageErrors.Eio, "pg-0-3", After: 299, Times: 1)</c>.
/// </summary>
public sealed record StorageFault(StorageOps Ops, int Errno, string? PathContains = null, long After = 0, long Times = long.MaxValue)
{
    /// <summary>A full disk under <paramref name="pathContains"/>: every write, length change, creation and sync fails with ENOSPC.</summary>
    public static StorageFault DiskFull(string? pathContains = null) => new(StorageOps.DiskFull, StorageErrors.Enospc, pathContains);

    /// <summary>
    /// Parses the faults of a test configuration (<c>actordb.segment.test-faults</c>): entries separated by <c>;</c>, each
    /// <c>KIND:OPS:PATH[:after=N][:times=N]</c> with KIND <c>enospc</c> or <c>eio</c>, OPS one or more of <c>write</c>,
    /// <c>sync</c>, <c>create</c>, <c>setlength</c>, <c>dirsync</c>, <c>rename</c>, <c>read</c>, <c>diskfull</c> joined with
    /// <c>+</c>, PATH a part of the path to match (<c>*</c>: any). Example: <c>eio:sync:pg-0-3/redo-:after=299:times=1</c>
    /// fails the 300th sync of pg-0-3's log once. Empty: none.
    /// </summary>
    /// <exception cref="FormatException">an entry does not parse; the message quotes it and says what is wrong.</exception>
    public static IReadOnlyList<StorageFault> Parse(string spec)
    {
        var faults = new List<StorageFault>();
        foreach (var raw in spec.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = raw.Split(':');
            if (parts.Length < 3)
                throw new FormatException($"test fault '{raw}': expected KIND:OPS:PATH[:after=N][:times=N]");
            var errno = parts[0].ToLowerInvariant() switch
            {
                "enospc" => StorageErrors.Enospc,
                "eio" => StorageErrors.Eio,
                _ => throw new FormatException($"test fault '{raw}': kind '{parts[0]}' is not enospc or eio"),
            };
            var ops = StorageOps.None;
            foreach (var op in parts[1].Split('+'))
                ops |= op.ToLowerInvariant() switch
                {
                    "write" => StorageOps.Write,
                    "sync" => StorageOps.Sync,
                    "create" => StorageOps.Create,
                    "setlength" => StorageOps.SetLength,
                    "dirsync" => StorageOps.DirectorySync,
                    "rename" => StorageOps.Rename,
                    "read" => StorageOps.Read,
                    "diskfull" => StorageOps.DiskFull,
                    _ => throw new FormatException($"test fault '{raw}': operation '{op}' is not one of write, sync, create, setlength, dirsync, rename, read, diskfull"),
                };
            long after = 0, times = long.MaxValue;
            foreach (var option in parts.Skip(3))
            {
                var kv = option.Split('=', 2);
                if (kv.Length != 2 || !long.TryParse(kv[1], out var n) || n < 0)
                    throw new FormatException($"test fault '{raw}': '{option}' is not after=N or times=N with N >= 0");
                if (kv[0] == "after") after = n;
                else if (kv[0] == "times") times = n;
                else throw new FormatException($"test fault '{raw}': unknown option '{kv[0]}' (after, times)");
            }
            faults.Add(new StorageFault(ops, errno, parts[2] == "*" ? null : parts[2], after, times));
        }
        return faults;
    }

    /// <summary>The <paramref name="n"/>th (1-based) operation of <paramref name="ops"/> on <paramref name="pathContains"/> fails with EIO, once.</summary>
    public static StorageFault IoErrorOnNth(StorageOps ops, long n, string? pathContains = null) =>
        new(ops, StorageErrors.Eio, pathContains, After: n - 1, Times: 1);
}

/// <summary>
/// The injected faults of a storage (<see cref="FaultyStorage"/>, <see cref="SimulatedStorage"/>) and the one rule that
/// decides whether an operation fails: the first fault whose <see cref="StorageFault.Ops"/> and
/// <see cref="StorageFault.PathContains"/> match, past its <see cref="StorageFault.After"/> and within its
/// <see cref="StorageFault.Times"/>, fails it. Not thread-safe: the owner holds its lock around every call.
/// </summary>
internal sealed class StorageFaultRules
{
    private sealed class Rule(StorageFault fault)
    {
        public StorageFault Fault { get; } = fault;
        public long Seen;
        public long Failed;
    }

    private readonly List<Rule> _rules = new();

    /// <summary>Adds a fault.</summary>
    public void Add(StorageFault fault) => _rules.Add(new Rule(fault));

    /// <summary>Removes every fault; returns how many operations they failed.</summary>
    public long Clear()
    {
        var failed = _rules.Sum(r => r.Failed);
        _rules.Clear();
        return failed;
    }

    /// <summary>The errno that fails <paramref name="op"/> on <paramref name="path"/> now (counting it), or 0. A sync with no
    /// new data (<paramref name="dirtyData"/> false) needs no space, so ENOSPC faults pass it.</summary>
    public int Match(StorageOps op, string path, bool dirtyData = true)
    {
        foreach (var rule in _rules)
        {
            var f = rule.Fault;
            if ((f.Ops & op) == 0 || (f.PathContains is not null && !path.Contains(f.PathContains, StringComparison.Ordinal))) continue;
            if (f.Errno == StorageErrors.Enospc && !dirtyData) continue;
            if (rule.Seen++ < f.After || rule.Failed >= f.Times) continue;
            rule.Failed++;
            return f.Errno;
        }
        return 0;
    }

    /// <summary>True when an ENOSPC fault covers files in <paramref name="directory"/> (its free space then reads 0).</summary>
    public bool FullAt(string directory) =>
        _rules.Any(r => r.Fault.Errno == StorageErrors.Enospc
                        && (r.Fault.PathContains is null || (directory + Path.DirectorySeparatorChar).Contains(r.Fault.PathContains, StringComparison.Ordinal)));

    /// <summary>The exception the platform throws for <paramref name="errno"/> on <paramref name="op"/>: a sync's
    /// <see cref="System.ComponentModel.Win32Exception"/>, else a write's <see cref="IOException"/>.</summary>
    public static Exception Error(StorageOps op, int errno, string path) =>
        op is StorageOps.Sync or StorageOps.DirectorySync ? StorageErrors.SyncFailed(errno) : StorageErrors.WriteFailed(errno, path);
}

/// <summary>
/// A fault-injecting <see cref="IStorage"/> over another one (the disk by default), for tests and simulations:
/// <list type="bullet">
/// <item><b>Errors</b> (<see cref="Inject"/>, <see cref="Clear"/>): ENOSPC or EIO on chosen operations and paths, from the Nth
/// on, for a number of operations or until cleared, thrown exactly as the platform throws them (<see cref="StorageErrors"/>).
/// A failed write writes nothing.</item>
/// <item><b>Power loss</b> (<see cref="PowerLoss"/>, <see cref="PowerOn"/>): every byte written to a file and not followed by a
/// sync of that file is lost (its old bytes and length come back), or with <c>tear</c> the newest such write of each file
/// keeps only its first half; every file or folder created, and every rename, not followed by an fsync of its folder is
/// undone. Writes through O_DIRECT | O_DSYNC are durable when they return. Deletions count as durable at once. Until
/// <see cref="PowerOn"/> every operation fails with EIO (the machine is off), so the code above cannot write after the loss.</item>
/// <item><b>Latency</b> (<see cref="Latency"/>): each write and sync first sleeps that long.</item>
/// </list>
/// Thread-safe. The counters say what went through.
/// </summary>
public sealed class FaultyStorage : IStorage
{
    /// <summary>A change not yet durable: write back <see cref="Old"/> at <see cref="Offset"/> and set the length back to
    /// <see cref="OldLength"/>; <see cref="Written"/> new bytes were written at <see cref="Offset"/> (0 for a length change),
    /// kept in <see cref="New"/> when at most <see cref="MaxTornBytes"/> (to tear it).</summary>
    private sealed record Undo(long Offset, int Written, byte[] Old, long OldLength, byte[]? New = null);

    /// <summary>Unsynced writes up to this size can be torn by <see cref="PowerLoss"/>; larger ones are lost whole.</summary>
    public const int MaxTornBytes = 4 << 20;

    /// <summary>A directory entry not yet durable: a created file or folder (<see cref="From"/> null), or a rename (with the
    /// replaced file's bytes, if any).</summary>
    private sealed record Entry(string Path, string? From, byte[]? Replaced);

    private readonly IStorage _inner;
    private readonly object _gate = new();
    private readonly StorageFaultRules _rules = new();
    private readonly Dictionary<string, List<Undo>> _unsynced = new();
    private readonly List<Entry> _entries = new();
    private volatile string[] _off = [];   // path filters of the storage that is off ("" = all of it)
    private long _writes, _syncs, _failures;

    /// <summary>Wraps <paramref name="inner"/> (the disk when null).</summary>
    public FaultyStorage(IStorage? inner = null) => _inner = inner ?? DiskStorage.Instance;

    /// <summary>Each write and sync first sleeps this long (zero: none).</summary>
    public TimeSpan Latency { get; set; }

    private volatile (StorageOps Ops, string Path, TimeSpan Delay)[] _delays = [];

    /// <summary>Operations in <paramref name="ops"/> (writes and syncs only) on paths containing <paramref name="pathContains"/>
    /// first sleep <paramref name="delay"/> (on top of <see cref="Latency"/>): a slow disk, or a window in which written bytes
    /// wait unsynced. Cleared by <see cref="Clear"/>.</summary>
    public void Slow(StorageOps ops, string pathContains, TimeSpan delay) => _delays = [.. _delays, (ops, pathContains, delay)];

    /// <summary>Whether O_DIRECT handles are handed out (<see cref="OpenDirect"/>); true by default, as on the disk.</summary>
    public bool AllowDirect { get; set; } = true;

    /// <summary>Writes that succeeded.</summary>
    public long Writes => Interlocked.Read(ref _writes);
    /// <summary>File syncs that succeeded.</summary>
    public long Syncs => Interlocked.Read(ref _syncs);
    /// <summary>Operations failed by an injected fault or a power loss.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>True between <see cref="PowerLoss"/> and <see cref="PowerOn"/>.</summary>
    public bool IsOff => _off.Length > 0;

    private bool IsOffAt(string path)
    {
        foreach (var filter in _off)
            if (path.Contains(filter, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>Adds a fault (see <see cref="StorageFault"/>).</summary>
    public void Inject(StorageFault fault)
    {
        ArgumentNullException.ThrowIfNull(fault);
        lock (_gate) _rules.Add(fault);
    }

    /// <summary>Removes every fault (space is free again, the device answers again). Returns how many operations they failed.</summary>
    public long Clear()
    {
        lock (_gate)
        {
            _delays = [];
            return _rules.Clear();
        }
    }

    /// <summary>Bytes written and not yet synced, over all files (what a power loss now would take).</summary>
    public long UnsyncedBytes
    {
        get { lock (_gate) return _unsynced.Values.Sum(l => l.Sum(u => (long)u.Written)); }
    }

    /// <summary>
    /// Simulates a power loss now: the storage goes off (every operation fails with EIO until <see cref="PowerOn"/>), then
    /// every change not made durable is undone as described on the type. With <paramref name="tear"/> the newest unsynced
    /// write of each file keeps its first half (a torn write). With <paramref name="pathContains"/> only the paths containing
    /// it lose power (one segment's disk, say); the others go on. Returns the bytes of writes lost.
    /// </summary>
    public long PowerLoss(bool tear = false, string? pathContains = null)
    {
        var filter = pathContains ?? "";
        _off = [.. _off, filter];
        lock (_gate)
        {
            long lost = 0;
            foreach (var (path, undos) in _unsynced.Where(u => u.Key.Contains(filter, StringComparison.Ordinal)).ToList())
            {
                _unsynced.Remove(path);
                if (undos.Count == 0 || !_inner.FileExists(path)) continue;
                using var file = _inner.Open(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
                for (var i = undos.Count - 1; i >= 0; i--)
                {
                    var u = undos[i];
                    lost += u.Written;
                    if (u.Old.Length > 0) file.Write(u.Old, u.Offset);
                    file.SetLength(u.OldLength);
                }
                // A torn write: the first half of the newest one reached the disk.
                if (tear && undos[^1] is { New: { Length: > 1 } torn } newest)
                {
                    file.Write(torn.AsSpan(0, torn.Length / 2), newest.Offset);
                    lost -= torn.Length / 2;
                }
                file.Flush();
            }
            for (var i = _entries.Count - 1; i >= 0; i--)
            {
                var e = _entries[i];
                if (!e.Path.Contains(filter, StringComparison.Ordinal)) continue;
                _entries.RemoveAt(i);
                if (e.From is null)
                {
                    if (_inner.FileExists(e.Path)) _inner.Delete(e.Path);
                    else if (_inner.DirectoryExists(e.Path)) Directory.Delete(e.Path, recursive: true);
                }
                else if (_inner.FileExists(e.Path))
                {
                    _inner.Move(e.Path, e.From, overwrite: true);
                    if (e.Replaced is not null)
                        using (var f = _inner.Open(e.Path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None)) { f.Write(e.Replaced, 0); f.Flush(); }
                }
            }
            return lost;
        }
    }

    /// <summary>Power is back: operations succeed again (subject to the injected faults).</summary>
    public void PowerOn() => _off = [];

    /// <summary>Throws the fault that fails <paramref name="op"/> on <paramref name="path"/> now, if any.</summary>
    private void Check(StorageOps op, string path, bool dirtyData = true)
    {
        if (_off.Length > 0 && IsOffAt(path))
        {
            Interlocked.Increment(ref _failures);
            throw StorageErrors.PoweredOff(path);
        }
        int errno;
        lock (_gate) errno = _rules.Match(op, path, dirtyData);
        if (errno == 0) return;
        Interlocked.Increment(ref _failures);
        throw StorageFaultRules.Error(op, errno, path);
    }

    private void Delay(StorageOps op, string path)
    {
        var delay = Latency;
        foreach (var d in _delays)
            if ((d.Ops & op) != 0 && path.Contains(d.Path, StringComparison.Ordinal)) delay += d.Delay;
        if (delay > TimeSpan.Zero) Thread.Sleep(delay);
    }

    private void Created(string path)
    {
        lock (_gate) _entries.Add(new Entry(path, null, null));
    }

    private void SyncedDirectory(string directory)
    {
        var dir = Path.TrimEndingDirectorySeparator(directory);
        lock (_gate) _entries.RemoveAll(e => string.Equals(Path.GetDirectoryName(e.Path), dir, StringComparison.Ordinal)
                                             && (e.From is null || string.Equals(Path.GetDirectoryName(e.From), dir, StringComparison.Ordinal)));
    }

    private void Record(string path, Undo undo)
    {
        lock (_gate)
        {
            if (!_unsynced.TryGetValue(path, out var list)) _unsynced[path] = list = new();
            list.Add(undo);
        }
    }

    private bool HasUnsyncedWrites(string path)
    {
        lock (_gate) return _unsynced.TryGetValue(path, out var list) && list.Any(u => u.Written > 0);
    }

    private void Synced(string path)
    {
        lock (_gate) _unsynced.Remove(path);
    }

    /// <inheritdoc />
    public IStorageFile Open(string path, FileMode mode, FileAccess access, FileShare share)
    {
        var exists = _inner.FileExists(path);
        if (!exists && mode != FileMode.Open && mode != FileMode.Truncate) Check(StorageOps.Create, path);
        else if (IsOff) Check(StorageOps.None, path);
        var file = _inner.Open(path, mode, access, share);
        if (!exists) Created(path);
        else if (mode is FileMode.Create or FileMode.Truncate) { /* cut to 0 by the open: treated as durable (only temporary files are opened so) */ }
        return new FaultyFile(this, file, direct: false);
    }

    /// <inheritdoc />
    public IStorageFile? OpenDirect(string path)
    {
        if (IsOff) Check(StorageOps.None, path);
        if (!AllowDirect) return null;
        return _inner.OpenDirect(path) is { } file ? new FaultyFile(this, file, direct: true) : null;
    }

    /// <inheritdoc />
    public IDisposable Lock(string path)
    {
        var exists = _inner.FileExists(path);
        if (IsOff) Check(StorageOps.None, path);
        var held = _inner.Lock(path);
        if (!exists) Created(path);
        return held;
    }

    /// <inheritdoc />
    public bool FileExists(string path) => _inner.FileExists(path);

    /// <inheritdoc />
    public bool DirectoryExists(string path) => _inner.DirectoryExists(path);

    /// <inheritdoc />
    public long FileLength(string path)
    {
        if (IsOff) Check(StorageOps.None, path);
        return _inner.FileLength(path);
    }

    /// <inheritdoc />
    public void CreateDirectory(string path)
    {
        if (_inner.DirectoryExists(path)) return;
        Check(StorageOps.Create, path);
        _inner.CreateDirectory(path);
        Created(Path.TrimEndingDirectorySeparator(path));
    }

    /// <inheritdoc />
    public void FsyncDirectory(string path)
    {
        Check(StorageOps.DirectorySync, path);
        _inner.FsyncDirectory(path);
        SyncedDirectory(path);
    }

    /// <inheritdoc />
    public void Move(string from, string to, bool overwrite)
    {
        Check(StorageOps.Rename, to);
        byte[]? replaced = overwrite && _inner.FileExists(to) ? _inner.ReadAllBytes(to) : null;
        _inner.Move(from, to, overwrite);
        lock (_gate)
        {
            _entries.Add(new Entry(to, from, replaced));
            if (_unsynced.Remove(from, out var undos)) _unsynced[to] = undos;
        }
    }

    /// <inheritdoc />
    public void Delete(string path)
    {
        if (IsOff) Check(StorageOps.None, path);
        _inner.Delete(path);
        lock (_gate)
        {
            _unsynced.Remove(path);
            _entries.RemoveAll(e => e.From is null && e.Path == path);
        }
    }

    /// <inheritdoc />
    public string[] ListFiles(string directory, string pattern)
    {
        if (IsOff) Check(StorageOps.None, directory);
        return _inner.ListFiles(directory, pattern);
    }

    /// <inheritdoc />
    public long? AvailableFreeSpace(string directory)
    {
        lock (_gate)
            if (_rules.FullAt(directory)) return 0;
        return _inner.AvailableFreeSpace(directory);
    }

    private sealed class FaultyFile(FaultyStorage owner, IStorageFile inner, bool direct) : IStorageFile
    {
        public string Path => inner.Path;
        public long Length => inner.Length;

        public int Read(Span<byte> buffer, long offset)
        {
            owner.Check(StorageOps.Read, Path);
            return inner.Read(buffer, offset);
        }

        public void Write(ReadOnlySpan<byte> data, long offset)
        {
            owner.Delay(StorageOps.Write, Path);
            owner.Check(StorageOps.Write, Path);
            if (!direct) owner.Record(Path, Before(offset, data.Length) with { New = data.Length <= MaxTornBytes ? data.ToArray() : null });
            inner.Write(data, offset);
            Interlocked.Increment(ref owner._writes);
        }

        public void Flush()
        {
            owner.Delay(StorageOps.Sync, Path);
            owner.Check(StorageOps.Sync, Path, owner.HasUnsyncedWrites(Path));
            inner.Flush();
            owner.Synced(Path);
            Interlocked.Increment(ref owner._syncs);
        }

        public void SetLength(long length)
        {
            var old = inner.Length;
            if (length > old) owner.Check(StorageOps.SetLength, Path);   // a cut needs no space: only growing fails
            else if (owner.IsOff) owner.Check(StorageOps.None, Path);
            owner.Record(Path, length < old ? Before(length, (int)Math.Min(old - length, int.MaxValue)) with { Written = 0 } : new Undo(old, 0, [], old));
            inner.SetLength(length);
        }

        public long SeekData(long offset) => inner.SeekData(offset);

        public void Dispose() => inner.Dispose();

        /// <summary>The bytes <paramref name="count"/> bytes at <paramref name="offset"/> hold now, to put back on a power loss.</summary>
        private Undo Before(long offset, int count)
        {
            var length = inner.Length;
            var old = new byte[(int)Math.Clamp(length - offset, 0, count)];
            for (var at = 0; at < old.Length;)
            {
                var n = inner.Read(old.AsSpan(at), offset + at);
                if (n == 0) { old = old[..at]; break; }
                at += n;
            }
            return new Undo(offset, count, old, length);
        }
    }
}
