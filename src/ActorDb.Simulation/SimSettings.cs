using ActorDb.Core;
using ActorDb.Core.Recovery;
using ActorDb.Core.Storage;
using ActorDb.Core.Transactions;

namespace ActorDb.Simulation;

/// <summary>
/// The engines' settings in the simulator: reference.conf's defaults (<c>actordb.writer</c>, <c>actordb.segment</c>) where
/// they shape the protocol (LAL, resend and silence intervals, lock timeout, open timeout, retry back-offs), scaled down
/// where they only size files and caches so that a run stays small: small pages, small log files, no preallocation (whose
/// background zero-fill would be a thread), no direct I/O (the simulated disk models write + fdatasync).
/// </summary>
public static class SimSettings
{
    /// <summary>The volume: 4 KiB pages (the smallest the B+tree takes comfortably), 4096 pages per PG.</summary>
    public static VolumeGeometry Geometry(int pgCount) => new(4096, pgCount, 4096);

    /// <summary><c>actordb.writer.lal</c>.</summary>
    public const long Lal = 10_000_000;

    /// <summary>A segment: fsync on, 256 KiB log files, no preallocation, no direct I/O, a checkpoint every 128 KiB of log.</summary>
    public static SegmentEngineSettings Segment(VolumeGeometry geometry) =>
        new(geometry, Lal, Fsync: true, MaxFileBytes: 256 * 1024, RememberedCpls: 4096, PreallocateBytes: 0, CheckpointBytes: 128 * 1024)
        {
            DirectIo = false,
            PageCopyChunkBytes = 256 * 1024,
        };

    /// <summary>The writer: reference.conf's intervals, a 4096-page cache, a 1 MiB resend window per PG, and an idle-transaction
    /// timeout of 5 s instead of 60 s so that a transaction orphaned in the fault phase ends within the run.</summary>
    public static WriterEngineSettings Writer() => new(
        BufferCachePages: 4096, Lal: Lal, RetainedRedoBytesPerPg: 1 << 20, MaxBatchesInFlightPerPg: 4,
        LockTimeout: TimeSpan.FromSeconds(5), ResendAfter: TimeSpan.FromSeconds(1), SilentAfter: TimeSpan.FromSeconds(3),
        ProbeMaxInterval: TimeSpan.FromSeconds(30), StallWarningAfter: TimeSpan.FromSeconds(2), DrainTimeout: TimeSpan.FromSeconds(10))
    {
        IdleTransactionTimeout = TimeSpan.FromSeconds(5),
    };

    /// <summary>Recovery: <c>actordb.writer.open-timeout</c> = 60 s.</summary>
    public static RecoveryProcessSettings Recovery(int pgCount) => new(pgCount, Lal, TimeSpan.FromSeconds(60));

    /// <summary>The writer's restart back-off after a failed writer, as RecoverySupervisor has it: none for the first,
    /// then 250 ms doubling up to 10 s.</summary>
    public static TimeSpan RestartDelay(int consecutiveFailures) => consecutiveFailures <= 1
        ? TimeSpan.Zero
        : TimeSpan.FromMilliseconds(Math.Min(10_000, 250 * Math.Pow(2, consecutiveFailures - 2)));
}
