namespace ActorDb.Core.Storage;

/// <summary>Settings of a <see cref="SegmentLog"/>.</summary>
/// <param name="Fsync">When true (the default, and the only setting that gives the durability the
/// design promises) every <see cref="SegmentLog.WriteAndSync"/> ends with fdatasync, and file
/// creation, truncation and renames are fsynced (file and directory). False skips every fsync: only
/// for tests and benchmarks that say so.</param>
/// <param name="MaxFileBytes">Size in bytes after which the log rolls to a new file (default 256 MiB).
/// A batch is never split across files, so a file exceeds this only when a single batch is larger.</param>
/// <param name="InitialBufferBytes">Initial capacity in bytes of each of the two in-memory write buffers
/// (default 64 KiB); they grow by doubling as needed.</param>
/// <param name="PreallocateBytes">The log file is extended ahead of the data by writing this many zero bytes at a time
/// (default 16 MiB; 0 turns it off), so most fdatasync calls flush data only and need no journal commit for a new file
/// size. Zeros after the last record are cut when the log is opened, like any torn tail.</param>
/// <param name="DirectIo">With <paramref name="Fsync"/> and preallocation on (the defaults), write each batch with
/// O_DIRECT | O_DSYNC on Linux: one system call that is durable when it returns, without the page-cache copy and writeback
/// of write + fdatasync. The write starts at the 4 KiB block holding the end of the log (its earlier bytes are written
/// again, unchanged) and is padded with zeros to a whole block, inside the preallocated zeros. Where the file system
/// refuses O_DIRECT, or a write would pass the preallocated end, the log writes through the page cache and fdatasyncs.
/// Durability is the same either way.</param>
public sealed record SegmentLogOptions(
    bool Fsync = true,
    long MaxFileBytes = SegmentLogOptions.DefaultMaxFileBytes,
    int InitialBufferBytes = SegmentLogOptions.DefaultInitialBufferBytes,
    long PreallocateBytes = SegmentLogOptions.DefaultPreallocateBytes,
    bool DirectIo = true)
{
    /// <summary>The storage the log's files are on (<see cref="DiskStorage.Instance"/> unless a test puts a
    /// <see cref="FaultyStorage"/> under it).</summary>
    public IStorage Storage { get; init; } = DiskStorage.Instance;

    /// <summary>Where the log draws its random preallocation extents from (<see cref="System.Random.Shared"/> unless a
    /// simulator passes one seeded per node, so that a run replays exactly from its seed).</summary>
    public Random Random { get; init; } = Random.Shared;

    /// <summary>Default <see cref="PreallocateBytes"/>: 16 MiB.</summary>
    public const long DefaultPreallocateBytes = 16L * 1024 * 1024;

    /// <summary>Default <see cref="MaxFileBytes"/>: 256 MiB.</summary>
    public const long DefaultMaxFileBytes = 256L * 1024 * 1024;

    /// <summary>Default <see cref="InitialBufferBytes"/>: 64 KiB.</summary>
    public const int DefaultInitialBufferBytes = 64 * 1024;

    /// <summary>Whether these options ask for O_DIRECT | O_DSYNC writes: <see cref="DirectIo"/> with fsync and preallocation
    /// on. Whether the log got them depends on the platform and file system too (<see cref="SegmentLog.DirectIo"/>).</summary>
    public bool WantsDirectIo => DirectIo && Fsync && PreallocateBytes > 0;

    /// <summary>The defaults: fsync on, 256 MiB files, 64 KiB buffers.</summary>
    public static SegmentLogOptions Default { get; } = new();

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="MaxFileBytes"/> or
    /// <see cref="InitialBufferBytes"/> is not positive.</exception>
    public void Validate()
    {
        if (MaxFileBytes <= 0)
            throw new ArgumentOutOfRangeException(nameof(MaxFileBytes), MaxFileBytes, "the maximum log file size must be positive");
        if (InitialBufferBytes <= 0)
            throw new ArgumentOutOfRangeException(nameof(InitialBufferBytes), InitialBufferBytes, "the initial write buffer size must be positive");
    }
}
