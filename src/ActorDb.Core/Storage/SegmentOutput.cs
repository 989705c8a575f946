using ActorDb.Core.Redo;

namespace ActorDb.Core.Storage;

/// <summary>Who sent the input a <see cref="SegmentEngine"/> is handling: the node address the sender is on (this node's
/// own address for a local sender), its path for refusal texts, and an opaque <paramref name="Handle"/> the shell uses to
/// answer it later (the actor puts the sender's IActorRef there; the simulator its own id). The engine keeps the sender
/// of the last accepted redo batch as the writer and answers it after a group commit (<see cref="SegmentOutput.SendTo"/>).</summary>
public sealed record SegmentSender(string Node, string Path, object? Handle);

/// <summary>The segment's timers. Each has at most one pending tick: a <see cref="SegmentOutput.ScheduleTick"/> replaces the
/// pending one of its timer, <see cref="SegmentOutput.CancelTick"/> drops it; the shell calls
/// <see cref="SegmentEngine.Tick"/> with the timer when it is due.</summary>
public enum SegmentTimer
{
    /// <summary>Catch-up from peers and the periodic summary of refusals (every second while open).</summary>
    CatchUp,
    /// <summary>The back-off of a storage fault passed: reopen the storage.</summary>
    Heal,
    /// <summary>The back-off of a failed open passed: try to open again.</summary>
    Reopen,
    /// <summary>Scrub, page-repair requests, the checkpoint of repaired pages (every 100 ms while open).</summary>
    PageHealth,
}


/// <summary>The segment's metrics, reported as <see cref="SegmentOutput.Metric"/> outputs (the actor maps them to its
/// OpenTelemetry instruments with the PG and segment tags).</summary>
public enum SegmentMetric
{
    /// <summary>One group commit's log write + fsync, seconds (a histogram record).</summary>
    FsyncSeconds,
    /// <summary>Log bytes written by one group commit (a counter add).</summary>
    SegmentLogBytes,
    /// <summary>Page-store bytes written by one checkpoint, doublewrite included (a counter add).</summary>
    PageStoreBytes,
    /// <summary>Records taken from peers by catch-up (a counter add).</summary>
    GossipRepairs,
    /// <summary>Page-store slots found damaged (a counter add).</summary>
    DamagedPages,
    /// <summary>Damaged pages repaired from a peer (a counter add).</summary>
    RepairedPages,
    /// <summary>Page-store bytes the scrub verified (a counter add).</summary>
    ScrubbedBytes,
}

/// <summary>
/// What a <see cref="SegmentEngine"/> asks its shell to do, in order, after an input. Plain records: the actor performs
/// them with Akka; the simulator pattern-matches them.
/// </summary>
public abstract record SegmentOutput
{
    private SegmentOutput() { }

    /// <summary>Send <paramref name="Message"/> to the sender of the current input.</summary>
    public sealed record Reply(object Message) : SegmentOutput;

    /// <summary>Send <paramref name="Message"/> to <paramref name="Target"/> (the writer, after a group commit).</summary>
    public sealed record SendTo(SegmentSender Target, object Message) : SegmentOutput;

    /// <summary>Send <paramref name="Message"/> (a <see cref="SegmentProtocol.FetchRedo"/>, <see cref="SegmentProtocol.FetchPages"/>
    /// or <see cref="SegmentProtocol.FetchPage"/>) to peer <paramref name="Replica"/> of the same PG; its answer comes back
    /// through <see cref="SegmentEngine.Receive"/> with the peer as sender.</summary>
    public sealed record SendToPeer(int Replica, object Message) : SegmentOutput;

    /// <summary>Group commit: records were appended to <paramref name="SegmentLog"/>'s buffer. Take its batch
    /// (<see cref="SegmentLog.TakeBatch"/>), <see cref="SegmentLog.WriteAndSync"/> it off the engine's thread, and call
    /// <see cref="SegmentEngine.Synced"/> with <paramref name="Generation"/> and the batch's cumulative count (or
    /// <see cref="SegmentEngine.SyncFailed"/>). One output may stand for several appends (keep taking batches while
    /// <see cref="SegmentLog.BufferedRecords"/> is above 0). The same instance is reused for a generation.</summary>
    public sealed record StartSync(int Generation, SegmentLog SegmentLog) : SegmentOutput;

    /// <summary>Background checkpoint: write <paramref name="Pages"/> (page number, image; read-only meanwhile) to
    /// <paramref name="Store"/> (<see cref="PageStore.Write"/>), then call <see cref="SegmentEngine.CheckpointWritten"/> with
    /// this output (or <see cref="SegmentEngine.CheckpointFailed"/>). At most one is in flight.</summary>
    public sealed record StartCheckpoint(PageStore Store, IReadOnlyList<KeyValuePair<long, byte[]>> Pages, Lsn Materialized, RedoRecord? Cpl) : SegmentOutput;

    /// <summary>Call <see cref="SegmentEngine.Tick"/>(<paramref name="Timer"/>) at <paramref name="At"/> (replaces that
    /// timer's pending tick).</summary>
    public sealed record ScheduleTick(SegmentTimer Timer, DateTime At) : SegmentOutput;

    /// <summary>Drop <paramref name="Timer"/>'s pending tick.</summary>
    public sealed record CancelTick(SegmentTimer Timer) : SegmentOutput;

    /// <summary>A log line: a message template with named holes (<c>{Segment}</c>) and its arguments, as Akka's logging
    /// adapter takes them; <paramref name="Error"/> is the exception to log with it, if any.</summary>
    public sealed record Log(EngineLogLevel Level, Exception? Error, string Template, object[] Args) : SegmentOutput;

    /// <summary>A metric sample (<see cref="SegmentMetric"/> says its unit and kind).</summary>
    public sealed record Metric(SegmentMetric Kind, double Value) : SegmentOutput;

    /// <summary>The segment is done (a graceful stop whose last sync completed, or a failure while stopping): stop it
    /// (the actor calls <see cref="SegmentEngine.Close"/> from PostStop).</summary>
    public sealed record Stopped : SegmentOutput
    {
        /// <summary>The instance.</summary>
        public static readonly Stopped Instance = new();
    }
}

/// <summary>What a <see cref="SegmentEngine"/> is configured with (the actor builds it from ActorDbSettings; defaults live
/// in reference.conf, <c>actordb.segment</c>, <c>actordb.writer.lal</c> and the volume geometry).</summary>
/// <param name="Geometry">The volume's page size and PG layout.</param>
/// <param name="Lal">The writer's LSN allocation limit (records may run this far above the known VDL), LSNs.</param>
/// <param name="Fsync">Sync the log, page store and metadata (false only in tests and benchmarks).</param>
/// <param name="MaxFileBytes">Size of one log file before the next is started, bytes.</param>
/// <param name="RememberedCpls">Commit records kept in memory for recovery's read quorum.</param>
/// <param name="PreallocateBytes">Log file preallocation, bytes.</param>
/// <param name="CheckpointBytes">Log bytes between page-store checkpoints.</param>
public sealed record SegmentEngineSettings(VolumeGeometry Geometry, long Lal, bool Fsync, long MaxFileBytes, int RememberedCpls,
    long PreallocateBytes, long CheckpointBytes)
{
    /// <summary>Most page-image bytes one page-copy chunk asks for.</summary>
    public int PageCopyChunkBytes { get; init; } = 1 << 20;
    /// <summary>Write the log with O_DIRECT | O_DSYNC where the file system allows it.</summary>
    public bool DirectIo { get; init; } = true;
    /// <summary>First back-off after a storage fault (doubling up to <see cref="StorageRetryMax"/>).</summary>
    public TimeSpan StorageRetryInitial { get; init; } = TimeSpan.FromMilliseconds(50);
    /// <summary>Longest back-off after a storage fault.</summary>
    public TimeSpan StorageRetryMax { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>First back-off after a failed open (doubling up to <see cref="OpenRetryMax"/>).</summary>
    public TimeSpan OpenRetryMin { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Longest back-off after a failed open.</summary>
    public TimeSpan OpenRetryMax { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Page-store slots the background scrub verifies per second.</summary>
    public double ScrubPagesPerSecond { get; init; } = 100;
}
