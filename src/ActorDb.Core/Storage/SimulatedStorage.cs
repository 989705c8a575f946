using System.IO.Enumeration;

namespace ActorDb.Core.Storage;

/// <summary>What one <see cref="SimulatedStorage.PowerLoss"/> did to the unsynced state of a node's disk.</summary>
/// <param name="WritesKept">Page-cache writes (not yet fdatasynced) that reached the medium whole.</param>
/// <param name="WritesTorn">Such writes of which only a prefix reached the medium.</param>
/// <param name="WritesLost">Such writes of which nothing reached the medium (length changes count here or in kept).</param>
/// <param name="BytesLost">Bytes of those writes that did not reach the medium (lost writes whole, torn ones past their prefix).</param>
/// <param name="DirectoryOpsKept">Directory operations (creations, renames, deletions) not yet fsynced in their folder that survived.</param>
/// <param name="DirectoryOpsLost">Such operations that were undone.</param>
/// <param name="LocksReleased">Locks (<see cref="SimulatedStorage.Lock"/>) the crashed process held.</param>
public sealed record PowerLossReport(int WritesKept, int WritesTorn, int WritesLost, long BytesLost, int DirectoryOpsKept, int DirectoryOpsLost, int LocksReleased)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"power loss: {WritesKept} unsynced write(s) kept, {WritesTorn} torn, {WritesLost} lost ({BytesLost} bytes lost); "
        + $"{DirectoryOpsKept} unsynced directory operation(s) kept, {DirectoryOpsLost} undone; {LocksReleased} lock(s) released";
}

/// <summary>
/// A deterministic in-memory disk for one simulated node, behind <see cref="IStorage"/>, so the real
/// <see cref="SegmentLog"/>, <see cref="PageStore"/> and <see cref="SegmentMetadata"/> run over it unchanged. No wall clock,
/// no real files, no threads: every choice comes from a seeded <see cref="Random"/> passed in, so the same calls with the
/// same seeds give the same bytes.
/// <para><b>Files and folders.</b> Full paths (normalised with <see cref="Path.GetFullPath(string)"/>), a tree from the
/// root, which always exists. A folder is created only inside an existing one (<see cref="CreateDirectory"/>;
/// <see cref="StorageDurability.EnsureDirectory"/> walks up). Missing files and folders, existing targets and locked paths
/// fail as .NET fails them on Linux (<see cref="StorageErrors"/>).</para>
/// <para><b>Durability as Linux gives it.</b> Each file has its content as reads see it (the page cache) and its durable
/// content (on the medium). A write or length change through the page cache is pending until <see cref="IStorageFile.Flush"/>
/// (fdatasync) of that file; a write through <see cref="OpenDirect"/> (O_DIRECT | O_DSYNC) is durable when it returns.
/// Each folder has its entries as listings see them and its durable entries: a creation, rename or deletion in it is
/// pending until <see cref="FsyncDirectory"/> of that folder (a rename between two folders is a removal in one and an
/// addition in the other). A failed fdatasync drops the file's pending writes for good (fsyncgate: the kernel marks the
/// pages clean; reads still see them until a power loss).</para>
/// <para><b>Power loss</b> (<see cref="PowerLoss"/>): each folder keeps a random prefix of its pending operations (the journal
/// commits in order, so a rename is whole or not at all); each file's pending writes, in order, are kept whole, lost, or
/// torn (a random prefix, in multiples of <see cref="TornWriteGranularity"/> bytes, reaches the medium); pending length
/// changes are kept or lost. Then what reads see is the durable state, every open handle fails with EIO
/// (<see cref="StorageErrors.PoweredOff"/>) and every lock is released: the process that held them is gone.</para>
/// <para><b>Faults</b>, switchable at any time: <see cref="Inject"/> (EIO or ENOSPC on chosen operations and paths, from
/// the Nth, once or until <see cref="Clear"/>, the <see cref="StorageFault"/> rules of <see cref="FaultyStorage"/>, thrown as
/// the platform throws them); <see cref="SpaceLimit"/> (bytes: a write needing new 4 KiB blocks, or a creation, fails with
/// ENOSPC while the space used would pass it, and works again when it is raised); <see cref="LoseWrites"/> (writes
/// acknowledged but never reaching the medium); <see cref="SetLatency"/> (a simulated duration per operation, summed for the
/// simulator to take with <see cref="TakeLatency"/>: it owns time). A failed operation changes nothing.</para>
/// <para>Thread-safe (one lock). Introspection for checkers: <see cref="ListAllFiles"/>, <see cref="ListDurableFiles"/>,
/// <see cref="ReadDurable"/>, <see cref="UnsyncedBytes"/>, <see cref="UsedBytes"/>, the counters. Sharing modes
/// (<see cref="FileShare"/>) are not enforced: only <see cref="Lock"/> excludes.</para>
/// </summary>
public sealed class SimulatedStorage : IStorage
{
    /// <summary>The allocation unit in bytes: space is used, and sparse files hold data, in blocks of this size.</summary>
    public const int BlockBytes = 4096;

    private readonly object _gate = new();
    private readonly Random _random;
    private readonly StorageFaultRules _rules = new();
    private readonly Dictionary<string, Folder> _folders = new(StringComparer.Ordinal);   // every folder reachable now
    private readonly Dictionary<string, LockToken> _locks = new(StringComparer.Ordinal);
    private readonly List<(string? PathContains, long Remaining)> _lostWrites = new();
    private readonly List<(StorageOps Ops, string? PathContains, TimeSpan Min, TimeSpan Max)> _latencies = new();
    private TimeSpan _latency;
    private long _generation;       // bumped by a power loss: handles of an older generation are dead
    private long _nextInode = 1;
    private long _operations, _writes, _syncs, _failures;

    /// <summary>An empty disk (only the root folder) drawing latencies from <paramref name="random"/> (seeded by the caller).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="random"/> is null.</exception>
    public SimulatedStorage(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        _random = random;
    }

    /// <summary>Bytes the files may take in all (allocated 4 KiB blocks); past it writes and creations fail with ENOSPC.
    /// <see cref="long.MaxValue"/> (the default): no limit. May be changed at any time.</summary>
    public long SpaceLimit { get; set; } = long.MaxValue;

    /// <summary>A torn write keeps a prefix of a multiple of this many bytes (1, the default: any byte; 512 or 4096: sectors).</summary>
    /// <exception cref="ArgumentOutOfRangeException">set below 1.</exception>
    public int TornWriteGranularity
    {
        get { lock (_gate) return _tornWriteGranularity; }
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            lock (_gate) _tornWriteGranularity = value;
        }
    }

    private int _tornWriteGranularity = 1;

    /// <summary>Whether <see cref="OpenDirect"/> hands out O_DIRECT handles (true by default, as on Linux).</summary>
    public bool AllowDirect { get; set; } = true;

    /// <summary>Operations made (any call on the storage or a handle, failed or not).</summary>
    public long Operations { get { lock (_gate) return _operations; } }
    /// <summary>Writes that succeeded.</summary>
    public long Writes { get { lock (_gate) return _writes; } }
    /// <summary>File data syncs that succeeded.</summary>
    public long Syncs { get { lock (_gate) return _syncs; } }
    /// <summary>Operations failed by a fault, a full disk or a power loss.</summary>
    public long Failures { get { lock (_gate) return _failures; } }

    // ---- faults ----

    /// <summary>Adds a fault (see <see cref="StorageFault"/>; <see cref="StorageOps.DiskFull"/> with ENOSPC for a full disk
    /// regardless of <see cref="SpaceLimit"/>).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="fault"/> is null.</exception>
    public void Inject(StorageFault fault)
    {
        ArgumentNullException.ThrowIfNull(fault);
        lock (_gate) _rules.Add(fault);
    }

    /// <summary>Removes every injected fault, lost write and latency. Returns how many operations the faults failed.</summary>
    public long Clear()
    {
        lock (_gate)
        {
            _lostWrites.Clear();
            _latencies.Clear();
            return _rules.Clear();
        }
    }

    /// <summary>The next <paramref name="count"/> page-cache writes to a path containing <paramref name="pathContains"/> (any
    /// when null) are acknowledged and seen by reads, but never reach the medium, even after an fdatasync: a lost write.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is not positive.</exception>
    public void LoseWrites(string? pathContains, long count = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        lock (_gate) _lostWrites.Add((pathContains, count));
    }

    /// <summary>Each operation in <paramref name="ops"/> on a path containing <paramref name="pathContains"/> (any when null)
    /// adds a duration drawn uniformly from [<paramref name="min"/>, <paramref name="max"/>] to <see cref="TakeLatency"/>.
    /// Operations not in <see cref="StorageOps"/> (opens, listings, deletions) take no time.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="min"/> is negative or above <paramref name="max"/>.</exception>
    public void SetLatency(StorageOps ops, TimeSpan min, TimeSpan max, string? pathContains = null)
    {
        if (min < TimeSpan.Zero || max < min)
            throw new ArgumentOutOfRangeException(nameof(min), $"latency [{min}, {max}] is not a range of non-negative durations");
        lock (_gate) _latencies.Add((ops, pathContains, min, max));
    }

    /// <summary>The simulated time the operations since the last call took (see <see cref="SetLatency"/>); resets it to zero.</summary>
    public TimeSpan TakeLatency()
    {
        lock (_gate)
        {
            var t = _latency;
            _latency = TimeSpan.Zero;
            return t;
        }
    }

    /// <summary>Space used now in bytes: allocated 4 KiB blocks of every file reachable from the root.</summary>
    public long UsedBytes { get { lock (_gate) return Used(); } }

    /// <summary>Bytes written through the page cache and not yet fdatasynced, over all files: what a power loss may take.</summary>
    public long UnsyncedBytes
    {
        get
        {
            lock (_gate)
                return LiveInodes().Sum(i => i.Pending.Sum(op => op is WriteOp { Forced: false } w ? (long)w.Length : 0));
        }
    }

    // ---- power loss ----

    /// <summary>
    /// The power fails now: every unsynced change is resolved as the type describes, drawing from <paramref name="random"/>
    /// (the same seed and the same history give the same disk), open handles die and locks are released. The disk is
    /// usable at once (the node restarts on it).
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="random"/> is null.</exception>
    public PowerLossReport PowerLoss(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        lock (_gate)
        {
            _generation++;
            var locks = _locks.Count;
            _locks.Clear();
            int dirKept = 0, dirLost = 0;
            foreach (var folder in _folders.Values.OrderBy(f => f.Path, StringComparer.Ordinal))
            {
                var keep = random.Next(folder.Pending.Count + 1);
                for (var i = 0; i < keep; i++) folder.Pending[i].ApplyTo(folder.Durable);
                dirKept += keep;
                dirLost += folder.Pending.Count - keep;
                folder.Pending.Clear();
            }
            // What is reachable now is the durable tree.
            var roots = _folders.Values.Where(f => f.IsRoot).ToList();
            _folders.Clear();
            foreach (var root in roots) Reach(root);
            int kept = 0, torn = 0, lost = 0;
            long bytesLost = 0;
            foreach (var inode in LiveInodes().OrderBy(i => i.Id))
            {
                foreach (var op in inode.Pending)
                {
                    if (op is WriteOp { Forced: true } forced) { forced.ApplyTo(inode.Durable, forced.Length); continue; }
                    if (op is LengthOp cut)
                    {
                        if (random.Next(2) == 0) { cut.ApplyTo(inode.Durable); kept++; }
                        else lost++;
                        continue;
                    }
                    var w = (WriteOp)op;
                    var units = (w.Length - 1) / _tornWriteGranularity;
                    switch (random.Next(3))
                    {
                        case 0:
                            w.ApplyTo(inode.Durable, w.Length);
                            kept++;
                            break;
                        case 1 when units >= 1:
                            var prefix = _tornWriteGranularity * random.Next(1, units + 1);
                            w.ApplyTo(inode.Durable, prefix);
                            torn++;
                            bytesLost += w.Length - prefix;
                            break;
                        default:
                            lost++;
                            bytesLost += w.Length;
                            break;
                    }
                }
                inode.Pending.Clear();
                inode.Live = inode.Durable.Clone();
            }
            return new PowerLossReport(kept, torn, lost, bytesLost, dirKept, dirLost, locks);
        }
    }

    private void Reach(Folder folder)
    {
        _folders[folder.Path] = folder;
        folder.Live = new Dictionary<string, object>(folder.Durable, StringComparer.Ordinal);
        foreach (var child in folder.Durable.Values.OfType<Folder>().OrderBy(f => f.Path, StringComparer.Ordinal)) Reach(child);
    }

    // ---- introspection ----

    /// <summary>The full paths of every file as listings see them now, sorted (ordinal).</summary>
    public IReadOnlyList<string> ListAllFiles()
    {
        lock (_gate)
            return _folders.Values.SelectMany(f => f.Live.Where(e => e.Value is Inode).Select(e => Path.Combine(f.Path, e.Key)))
                .Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The full paths of every file a power loss now would surely keep (reachable through durable entries), sorted.</summary>
    public IReadOnlyList<string> ListDurableFiles()
    {
        lock (_gate)
        {
            var files = new List<string>();
            void Walk(Folder f)
            {
                foreach (var (name, entry) in f.Durable)
                    if (entry is Folder sub) Walk(sub);
                    else files.Add(Path.Combine(f.Path, name));
            }
            foreach (var root in _folders.Values.Where(f => f.IsRoot)) Walk(root);
            files.Sort(StringComparer.Ordinal);
            return files;
        }
    }

    /// <summary>The bytes of <paramref name="path"/> a power loss now would surely keep: its durable entry's content as of its
    /// last fdatasync plus its O_DIRECT writes since. Null when no durable entry of that path exists.</summary>
    public byte[]? ReadDurable(string path)
    {
        lock (_gate)
        {
            var full = Normalize(path);
            Folder? folder = null;
            foreach (var root in _folders.Values.Where(f => f.IsRoot))
                folder ??= DurableFolder(root, Path.GetDirectoryName(full)!);
            if (folder is null || !folder.Durable.TryGetValue(Path.GetFileName(full), out var entry) || entry is not Inode inode) return null;
            var content = inode.Durable.Clone();
            foreach (var op in inode.Pending)
                if (op is WriteOp { Forced: true } w) w.ApplyTo(content, w.Length);
            return content.ToArray();
        }
    }

    private static Folder? DurableFolder(Folder from, string path)
    {
        if (from.Path == path) return from;
        foreach (var sub in from.Durable.Values.OfType<Folder>())
            if (path.StartsWith(sub.Path, StringComparison.Ordinal) && DurableFolder(sub, path) is { } found) return found;
        return null;
    }

    // ---- IStorage ----

    /// <inheritdoc />
    public IStorageFile Open(string path, FileMode mode, FileAccess access, FileShare share)
    {
        lock (_gate)
        {
            var full = Normalize(path);
            _operations++;
            var (folder, name) = Parent(full);
            folder.Live.TryGetValue(name, out var entry);
            if (entry is Folder) throw Fail(StorageErrors.AccessDenied(full));
            var inode = entry as Inode;
            switch (mode)
            {
                case FileMode.CreateNew when inode is not null:
                    throw Fail(StorageErrors.AlreadyExists(full));
                case FileMode.Open or FileMode.Truncate when inode is null:
                    throw Fail(StorageErrors.FileNotFound(full));
            }
            if (inode is null)
            {
                Check(StorageOps.Create, full);
                CheckCreateSpace(full);
                inode = new Inode(_nextInode++);
                Add(folder, name, inode);
            }
            else if (mode is FileMode.Create or FileMode.Truncate && inode.Live.Length > 0)
                inode.Change(new LengthOp(0));
            return new SimulatedFile(this, inode, full, access, direct: false);
        }
    }

    /// <inheritdoc />
    public IStorageFile? OpenDirect(string path)
    {
        lock (_gate)
        {
            var full = Normalize(path);
            _operations++;
            if (!AllowDirect) return null;
            var (folder, name) = Parent(full);
            return folder.Live.GetValueOrDefault(name) switch
            {
                null => throw Fail(StorageErrors.FileNotFound(full)),
                Inode inode => new SimulatedFile(this, inode, full, FileAccess.ReadWrite, direct: true),
                _ => throw Fail(StorageErrors.AccessDenied(full)),
            };
        }
    }

    /// <inheritdoc />
    public IDisposable Lock(string path)
    {
        lock (_gate)
        {
            var full = Normalize(path);
            using (Open(full, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None)) { }
            if (_locks.ContainsKey(full)) throw Fail(StorageErrors.Locked(full));
            var token = new LockToken(this, full);
            _locks[full] = token;
            return token;
        }
    }

    /// <inheritdoc />
    public bool FileExists(string path)
    {
        lock (_gate) return TryParent(Normalize(path), out var folder, out var name) && folder.Live.GetValueOrDefault(name) is Inode;
    }

    /// <inheritdoc />
    public bool DirectoryExists(string path)
    {
        lock (_gate) return FindFolder(Normalize(path)) is not null;
    }

    /// <inheritdoc />
    public long FileLength(string path)
    {
        lock (_gate)
        {
            var full = Normalize(path);
            _operations++;
            var (folder, name) = Parent(full);
            return folder.Live.GetValueOrDefault(name) is Inode inode ? inode.Live.Length : throw Fail(StorageErrors.FileNotFound(full));
        }
    }

    /// <inheritdoc />
    /// <exception cref="DirectoryNotFoundException">the parent folder does not exist.</exception>
    /// <exception cref="IOException">a file is there, a fault, or no space (ENOSPC).</exception>
    public void CreateDirectory(string path)
    {
        lock (_gate)
        {
            var full = Normalize(path);
            _operations++;
            if (FindFolder(full) is not null) return;
            var (parent, name) = Parent(full);
            if (parent.Live.ContainsKey(name)) throw Fail(StorageErrors.AlreadyExists(full));
            Check(StorageOps.Create, full);
            CheckCreateSpace(full);
            var folder = new Folder(full, isRoot: false);
            Add(parent, name, folder);
            _folders[full] = folder;
        }
    }

    /// <inheritdoc />
    public void FsyncDirectory(string path)
    {
        lock (_gate)
        {
            var full = Normalize(path);
            _operations++;
            var folder = FindFolder(full) ?? throw Fail(StorageErrors.DirectoryNotFound(full));
            Check(StorageOps.DirectorySync, full);
            folder.Durable = new Dictionary<string, object>(folder.Live, StringComparer.Ordinal);
            folder.Pending.Clear();
        }
    }

    /// <inheritdoc />
    public void Move(string from, string to, bool overwrite)
    {
        lock (_gate)
        {
            var src = Normalize(from);
            var dst = Normalize(to);
            _operations++;
            var (srcFolder, srcName) = Parent(src);
            if (srcFolder.Live.GetValueOrDefault(srcName) is not Inode inode) throw Fail(StorageErrors.FileNotFound(src));
            var (dstFolder, dstName) = Parent(dst);
            var existing = dstFolder.Live.GetValueOrDefault(dstName);
            if (existing is Folder) throw Fail(StorageErrors.AccessDenied(dst));
            if (existing is not null && !overwrite) throw Fail(StorageErrors.AlreadyExists(dst));
            Check(StorageOps.Rename, dst);
            if (src == dst) return;
            if (srcFolder == dstFolder)
            {
                srcFolder.Live.Remove(srcName);
                srcFolder.Live[dstName] = inode;
                srcFolder.Pending.Add(new RenameOp(srcName, dstName, inode));
            }
            else
            {
                Remove(srcFolder, srcName, inode);
                Add(dstFolder, dstName, inode);
            }
        }
    }

    /// <inheritdoc />
    public void Delete(string path)
    {
        lock (_gate)
        {
            var full = Normalize(path);
            _operations++;
            var (folder, name) = Parent(full);
            switch (folder.Live.GetValueOrDefault(name))
            {
                case null: return;
                case Folder: throw Fail(StorageErrors.AccessDenied(full));
                case Inode inode: Remove(folder, name, inode); break;
            }
        }
    }

    /// <inheritdoc />
    public string[] ListFiles(string directory, string pattern)
    {
        lock (_gate)
        {
            var full = Normalize(directory);
            _operations++;
            var folder = FindFolder(full) ?? throw Fail(StorageErrors.DirectoryNotFound(full));
            return folder.Live.Where(e => e.Value is Inode && FileSystemName.MatchesSimpleExpression(pattern, e.Key, ignoreCase: false))
                .Select(e => Path.Combine(full, e.Key)).Order(StringComparer.Ordinal).ToArray();
        }
    }

    /// <inheritdoc />
    public long? AvailableFreeSpace(string directory)
    {
        lock (_gate)
        {
            if (_rules.FullAt(Normalize(directory))) return 0;
            return SpaceLimit == long.MaxValue ? long.MaxValue : Math.Max(0, SpaceLimit - Used());
        }
    }

    // ---- internals (all under _gate) ----

    private static string Normalize(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));

    private Folder? FindFolder(string full)
    {
        if (_folders.TryGetValue(full, out var folder)) return folder;
        if (Path.GetDirectoryName(full) is not null) return null;
        folder = new Folder(full, isRoot: true);   // a root always exists
        _folders[full] = folder;
        return folder;
    }

    private bool TryParent(string full, out Folder folder, out string name)
    {
        name = Path.GetFileName(full);
        var parent = Path.GetDirectoryName(full);
        folder = parent is null ? null! : FindFolder(parent)!;
        return folder is not null;
    }

    private (Folder Folder, string Name) Parent(string full) =>
        TryParent(full, out var folder, out var name) ? (folder, name) : throw Fail(StorageErrors.DirectoryNotFound(full));

    private static void Add(Folder folder, string name, object entry)
    {
        folder.Live[name] = entry;
        folder.Pending.Add(new AddOp(name, entry));
    }

    private static void Remove(Folder folder, string name, Inode inode)
    {
        folder.Live.Remove(name);
        folder.Pending.Add(new RemoveOp(name, inode));
    }

    private IEnumerable<Inode> LiveInodes() => _folders.Values.SelectMany(f => f.Live.Values.OfType<Inode>()).Distinct();

    private long Used() => LiveInodes().Sum(i => i.Live.AllocatedBytes);

    private void CheckCreateSpace(string path)
    {
        if (SpaceLimit != long.MaxValue && Used() >= SpaceLimit) throw Fail(StorageErrors.WriteFailed(StorageErrors.Enospc, path));
    }

    private T Fail<T>(T error) where T : Exception
    {
        _failures++;
        return error;
    }

    /// <summary>Counts the operation, adds its latency, and throws the injected fault that fails it, if any.</summary>
    private void Check(StorageOps op, string path, bool dirtyData = true)
    {
        foreach (var (ops, contains, min, max) in _latencies)
            if ((ops & op) != 0 && (contains is null || path.Contains(contains, StringComparison.Ordinal)))
                _latency += min + TimeSpan.FromTicks(_random.NextInt64(max.Ticks - min.Ticks + 1));
        var errno = _rules.Match(op, path, dirtyData);
        if (errno != 0) throw Fail(StorageFaultRules.Error(op, errno, path));
    }

    private bool TakeLostWrite(string path)
    {
        for (var i = 0; i < _lostWrites.Count; i++)
        {
            var (contains, remaining) = _lostWrites[i];
            if (contains is not null && !path.Contains(contains, StringComparison.Ordinal)) continue;
            if (remaining <= 1) _lostWrites.RemoveAt(i);
            else _lostWrites[i] = (contains, remaining - 1);
            return true;
        }
        return false;
    }

    // ---- the model ----

    /// <summary>A folder: its entries (name → <see cref="Inode"/> or <see cref="Folder"/>) as seen now, as on the medium, and
    /// the operations between the two, in order.</summary>
    private sealed class Folder(string path, bool isRoot)
    {
        public string Path { get; } = path;
        public bool IsRoot { get; } = isRoot;
        public Dictionary<string, object> Live = new(StringComparer.Ordinal);
        public Dictionary<string, object> Durable = new(StringComparer.Ordinal);
        public readonly List<FolderOp> Pending = new();
    }

    private abstract record FolderOp
    {
        public abstract void ApplyTo(Dictionary<string, object> entries);
    }

    private sealed record AddOp(string Name, object Entry) : FolderOp
    {
        public override void ApplyTo(Dictionary<string, object> entries) => entries[Name] = Entry;
    }

    private sealed record RemoveOp(string Name, Inode Inode) : FolderOp
    {
        public override void ApplyTo(Dictionary<string, object> entries)
        {
            if (entries.GetValueOrDefault(Name) == Inode) entries.Remove(Name);
        }
    }

    private sealed record RenameOp(string From, string To, Inode Inode) : FolderOp
    {
        public override void ApplyTo(Dictionary<string, object> entries)
        {
            if (entries.GetValueOrDefault(From) == Inode) entries.Remove(From);
            entries[To] = Inode;
        }
    }

    /// <summary>A file's data: as reads see it, as on the medium, and the page-cache changes between the two, in order.</summary>
    private sealed class Inode(long id)
    {
        public long Id { get; } = id;
        public Blocks Live = new();
        public Blocks Durable = new();
        public readonly List<DataOp> Pending = new();

        /// <summary>A page-cache change: seen by reads now, on the medium after the next fdatasync (or a lucky power loss).</summary>
        public void Change(DataOp op, bool lost = false)
        {
            op.ApplyTo(Live);
            if (!lost) Pending.Add(op);
        }

        /// <summary>An O_DIRECT | O_DSYNC write: on the medium now. Behind pending changes it stays in order with them.</summary>
        public void WriteThrough(WriteOp op)
        {
            op.ApplyTo(Live, op.Length);
            if (Pending.Count == 0) op.ApplyTo(Durable, op.Length);
            else Pending.Add(op);
        }

        /// <summary>fdatasync: every pending change reaches the medium.</summary>
        public void Sync()
        {
            foreach (var op in Pending) op.ApplyTo(Durable);
            Pending.Clear();
        }

        /// <summary>A failed fdatasync: the pages are marked clean, so the pending writes never reach the medium (the
        /// O_DIRECT ones already did).</summary>
        public void DropPending()
        {
            foreach (var op in Pending)
                if (op is WriteOp { Forced: true } w) w.ApplyTo(Durable, w.Length);
            Pending.Clear();
        }
    }

    private abstract record DataOp
    {
        public abstract void ApplyTo(Blocks blocks);
    }

    /// <summary><see cref="Length"/> bytes at <see cref="Offset"/>: <see cref="Data"/>, or zeros when null (preallocation).
    /// <see cref="Forced"/>: written through O_DIRECT | O_DSYNC.</summary>
    private sealed record WriteOp(long Offset, byte[]? Data, int Length, bool Forced) : DataOp
    {
        public override void ApplyTo(Blocks blocks) => ApplyTo(blocks, Length);
        public void ApplyTo(Blocks blocks, int prefix) => blocks.Write(Offset, Data is null ? default : Data.AsSpan(0, prefix), prefix);
    }

    private sealed record LengthOp(long Length) : DataOp
    {
        public override void ApplyTo(Blocks blocks) => blocks.SetLength(Length);
    }

    /// <summary>A sparse byte array in <see cref="BlockBytes"/> blocks: an absent block is a hole (zeros, no space), a null
    /// one is allocated zeros (preallocated: takes space, holds data for SEEK_DATA).</summary>
    private sealed class Blocks
    {
        private readonly Dictionary<long, byte[]?> _blocks = new();
        public long Length { get; private set; }
        public long AllocatedBytes => (long)_blocks.Count * BlockBytes;

        /// <summary>Blocks that a write of <paramref name="length"/> bytes at <paramref name="offset"/> would allocate.</summary>
        public long NewBlocks(long offset, int length)
        {
            long count = 0;
            for (var b = offset / BlockBytes; length > 0 && b <= (offset + length - 1) / BlockBytes; b++)
                if (!_blocks.ContainsKey(b)) count++;
            return count;
        }

        /// <summary>Writes <paramref name="length"/> bytes at <paramref name="offset"/>: <paramref name="data"/>, or zeros when it is empty.</summary>
        public void Write(long offset, ReadOnlySpan<byte> data, int length)
        {
            if (length == 0) return;   // writes nothing, extends nothing
            for (var done = 0; done < length;)
            {
                var at = offset + done;
                var b = at / BlockBytes;
                var inBlock = (int)(at % BlockBytes);
                var n = Math.Min(BlockBytes - inBlock, length - done);
                _blocks.TryGetValue(b, out var block);
                if (data.IsEmpty)
                {
                    if (block is not null) block.AsSpan(inBlock, n).Clear();
                    else _blocks[b] = null;
                }
                else
                {
                    if (block is null) _blocks[b] = block = new byte[BlockBytes];
                    data.Slice(done, n).CopyTo(block.AsSpan(inBlock));
                }
                done += n;
            }
            Length = Math.Max(Length, offset + length);
        }

        public int Read(Span<byte> buffer, long offset)
        {
            var n = (int)Math.Clamp(Length - offset, 0, buffer.Length);
            for (var done = 0; done < n;)
            {
                var at = offset + done;
                var inBlock = (int)(at % BlockBytes);
                var m = Math.Min(BlockBytes - inBlock, n - done);
                if (_blocks.GetValueOrDefault(at / BlockBytes) is { } block) block.AsSpan(inBlock, m).CopyTo(buffer.Slice(done));
                else buffer.Slice(done, m).Clear();
                done += m;
            }
            return n;
        }

        /// <summary>Cuts (freeing whole blocks past the end, zeroing the rest of the last one) or extends with a hole.</summary>
        public void SetLength(long length)
        {
            if (length < Length)
            {
                var keep = (length + BlockBytes - 1) / BlockBytes;
                foreach (var b in _blocks.Keys.Where(b => b >= keep).ToList()) _blocks.Remove(b);
                if (length % BlockBytes != 0 && _blocks.GetValueOrDefault(length / BlockBytes) is { } last)
                    last.AsSpan((int)(length % BlockBytes)).Clear();
            }
            Length = length;
        }

        /// <summary>SEEK_DATA: the first offset at or after <paramref name="offset"/> in an allocated block, -1 when none.</summary>
        public long SeekData(long offset)
        {
            if (offset < 0 || offset >= Length) return -1;
            long first = -1;
            foreach (var b in _blocks.Keys)
                if ((b + 1) * BlockBytes > offset && (first < 0 || b < first)) first = b;
            if (first < 0) return -1;
            var at = Math.Max(offset, first * BlockBytes);
            return at < Length ? at : -1;
        }

        public Blocks Clone()
        {
            var copy = new Blocks { Length = Length };
            foreach (var (b, block) in _blocks) copy._blocks[b] = (byte[]?)block?.Clone();
            return copy;
        }

        public byte[] ToArray()
        {
            var bytes = new byte[Length];
            Read(bytes, 0);
            return bytes;
        }
    }

    private sealed class LockToken(SimulatedStorage owner, string path) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._gate)
                if (owner._locks.GetValueOrDefault(path) == this) owner._locks.Remove(path);
        }
    }

    /// <summary>An open file: positional I/O on its inode while the power stays on (a power loss kills it).</summary>
    private sealed class SimulatedFile(SimulatedStorage owner, Inode inode, string path, FileAccess access, bool direct) : IStorageFile
    {
        private readonly long _generation = owner._generation;
        private bool _disposed;

        public string Path { get; } = path;

        public long Length
        {
            get { lock (owner._gate) { Alive(); return inode.Live.Length; } }
        }

        public int Read(Span<byte> buffer, long offset)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(offset);
            lock (owner._gate)
            {
                Alive();
                if ((access & FileAccess.Read) == 0) throw owner.Fail(StorageErrors.AccessDenied(Path));
                owner.Check(StorageOps.Read, Path);
                return inode.Live.Read(buffer, offset);
            }
        }

        public void Write(ReadOnlySpan<byte> data, long offset)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(offset);
            lock (owner._gate)
            {
                Alive();
                if ((access & FileAccess.Write) == 0) throw owner.Fail(StorageErrors.AccessDenied(Path));
                if (direct && (offset % NativeFileSync.DirectIoAlignment != 0 || data.Length % NativeFileSync.DirectIoAlignment != 0))
                    throw owner.Fail(StorageErrors.Misaligned(Path, offset, data.Length));
                owner.Check(StorageOps.Write, Path);
                if (owner.SpaceLimit != long.MaxValue && owner.Used() + inode.Live.NewBlocks(offset, data.Length) * BlockBytes > owner.SpaceLimit)
                    throw owner.Fail(StorageErrors.WriteFailed(StorageErrors.Enospc, Path));
                var op = new WriteOp(offset, data.IndexOfAnyExcept((byte)0) < 0 ? null : data.ToArray(), data.Length, direct);
                if (direct) inode.WriteThrough(op);
                else inode.Change(op, lost: owner.TakeLostWrite(Path));
                owner._writes++;
            }
        }

        public void Flush()
        {
            lock (owner._gate)
            {
                Alive();
                try
                {
                    owner.Check(StorageOps.Sync, Path, inode.Pending.Count > 0);
                }
                catch (System.ComponentModel.Win32Exception)
                {
                    inode.DropPending();
                    throw;
                }
                inode.Sync();
                owner._syncs++;
            }
        }

        public void SetLength(long length)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(length);
            lock (owner._gate)
            {
                Alive();
                if ((access & FileAccess.Write) == 0) throw owner.Fail(StorageErrors.AccessDenied(Path));
                if (length > inode.Live.Length) owner.Check(StorageOps.SetLength, Path);   // a cut never fails: it needs no space
                if (length != inode.Live.Length) inode.Change(new LengthOp(length));
            }
        }

        public long SeekData(long offset)
        {
            lock (owner._gate)
            {
                Alive();
                return inode.Live.SeekData(offset);
            }
        }

        public void Dispose()
        {
            lock (owner._gate) _disposed = true;
        }

        /// <summary>Counts the operation; throws when the handle is closed or died in a power loss.</summary>
        private void Alive()
        {
            owner._operations++;
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_generation != owner._generation) throw owner.Fail(StorageErrors.PoweredOff(Path));
        }
    }
}
