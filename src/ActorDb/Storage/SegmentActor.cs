using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using ActorDb.Core;
using ActorDb.Core.Storage;
using ActorDb.Metrics;
using ActorDb.Recovery;
using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Storage;

/// <summary>
/// One storage segment hosted as a Cluster.Sharding entity <c>pg-{pg}-{replica}</c>: the Akka shell of a
/// <see cref="SegmentEngine"/>, which holds the protocol (append and acknowledgement after fsync, fence and epoch install,
/// catch-up, page copy, materialization, checkpoints, reads, page repair and scrub; see its docs). The actor receives a
/// message, calls the engine with the time and the sender, and performs the engine's <see cref="SegmentOutput"/>s in
/// order: replies and sends, the group commit on a <see cref="SegmentSyncThread"/> (off the actor thread and the thread
/// pool), a checkpoint's page writes on a pool task, timers, log lines and metrics
/// (<see cref="SegmentMetrics.FsyncDuration"/>, <see cref="RedoMetrics.Bytes"/>, ...).
/// </summary>
public sealed class SegmentActor : ReceiveActor, IWithTimers
{
    private sealed record Tick(SegmentTimer Timer);
    private sealed record Synced(int Generation, long CumulativeRecords, long Micros, int Bytes);
    private sealed record SyncFailed(int Generation, Exception Error);
    private sealed record CheckpointWritten(SegmentOutput.StartCheckpoint Done, long Micros);
    private sealed record CheckpointFailed(Exception Error);

    private readonly int _pg;
    private readonly int _replica;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly SegmentEngine _engine;
    private readonly List<SegmentOutput> _outputs = new();      // reused for every input
    private readonly string _selfNode;
    private SegmentSyncThread? _syncThread;
    private int _syncGeneration;
    private Task<object>? _checkpoint;                           // yields CheckpointWritten or CheckpointFailed
    private IActorRef? _peers;                                   // the segment region (or a test's router), found in the ActorRegistry
    private SegmentSender? _lastSender;                          // reused while the same actor sends (the writer's batches)
    private readonly SegmentMetrics _metrics;
    private readonly RedoMetrics _redoMetrics;
    private readonly KeyValuePair<string, object?> _pgTag, _segmentTag;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props for the segment with sharding entity id <paramref name="entityId"/> (<c>pg-N-R</c>).</summary>
    public static Props Props(string entityId, ActorDbSettings settings)
    {
        var (pg, replica) = SegmentId.Parse(entityId);
        return Akka.Actor.Props.Create(() => new SegmentActor(pg, replica, settings));
    }

    /// <summary>Props for a segment started by Cluster.Sharding: the entity's actor name is its id <c>pg-N-R</c>.</summary>
    public static Props ShardedProps(ActorDbSettings settings) => Akka.Actor.Props.Create(() => new SegmentActor(settings));

    /// <summary>Creates the segment named by this actor's name, its sharding entity id (<c>pg-N-R</c>); use <see cref="ShardedProps"/>.</summary>
    /// <exception cref="FormatException">the actor's name is not a segment id.</exception>
    public SegmentActor(ActorDbSettings settings) : this(SegmentId.Parse(Context.Self.Path.Name), settings) { }

    private SegmentActor(SegmentId id, ActorDbSettings settings) : this(id.Pg, id.Replica, settings) { }

    /// <summary>The directory of a segment under a data directory: <c>{dataDir}/{az}/pg-{pg}-{replica}</c>.</summary>
    public static string DirectoryOf(string dataDir, int pg, int replica) =>
        Path.Combine(dataDir, VolumeGeometry.AzOf(replica), new SegmentId(pg, replica).EntityId);

    /// <summary>The engine's settings from the node's: <c>actordb.segment</c>, <c>actordb.writer.lal</c>, the geometry.</summary>
    public static SegmentEngineSettings EngineSettings(ActorDbSettings settings)
    {
        var s = settings.Segment;
        return new SegmentEngineSettings(settings.Geometry, settings.Writer.Lal, s.Fsync, s.MaxFileBytes, s.RememberedCpls, s.PreallocateBytes, s.CheckpointBytes)
        {
            PageCopyChunkBytes = s.PageCopyChunkBytes,
            DirectIo = s.DirectIo,
            StorageRetryInitial = s.StorageRetryInitial,
            StorageRetryMax = s.StorageRetryMax,
            OpenRetryMin = s.OpenRetryMin,
            OpenRetryMax = s.OpenRetryMax,
            ScrubPagesPerSecond = s.ScrubPagesPerSecond,
        };
    }

    /// <summary>Creates segment <paramref name="replica"/> (0..5) of PG <paramref name="pg"/>; use <see cref="Props"/>.</summary>
    public SegmentActor(int pg, int replica, ActorDbSettings settings)
    {
        _pg = pg;
        _replica = replica;
        _selfNode = ClusterMembershipSnapshot.SelfAddress(Context.System);
        var metrics = ActorDbMetrics.For(Context.System);
        _metrics = metrics.Segment;
        _redoMetrics = metrics.Redo;
        (_pgTag, _segmentTag) = SegmentMetrics.Tags(pg, replica);
        var system = Context.System;
        _engine = new SegmentEngine(pg, replica, EngineSettings(settings), settings.Segment.Storage, DirectoryOf(settings.DataDir, pg, replica), _selfNode,
            () => ClusterMembershipSnapshot.Of(system), StopSyncThread, () => Stopwatch.GetElapsedTime(0));

        Receive<Synced>(s =>
        {
            _engine.Synced(s.Generation, s.CumulativeRecords, s.Micros, s.Bytes, DateTime.UtcNow, _outputs);
            Perform();
        });
        Receive<SyncFailed>(f =>
        {
            _engine.SyncFailed(f.Generation, f.Error, DateTime.UtcNow, _outputs);
            Perform();
        });
        Receive<CheckpointWritten>(c =>
        {
            _checkpoint = null;
            _engine.CheckpointWritten(c.Done, c.Micros, DateTime.UtcNow, _outputs);
            Perform();
        });
        Receive<CheckpointFailed>(f =>
        {
            _checkpoint = null;
            _engine.CheckpointFailed(f.Error, DateTime.UtcNow, _outputs);
            Perform();
        });
        Receive<Tick>(t =>
        {
            _engine.Tick(t.Timer, DateTime.UtcNow, _outputs);
            Perform();
        });
        ReceiveAny(m =>
        {
            if (!_engine.Receive(SenderOf(Sender), m, DateTime.UtcNow, _outputs)) Unhandled(m);
            Perform();
        });
    }

    /// <summary>Opens the segment (the engine retries a failed open with back-off; it never throws out of PreStart, so
    /// Cluster.Sharding does not recreate it in a loop).</summary>
    protected override void PreStart()
    {
        _engine.Open(DateTime.UtcNow, _outputs);
        Perform();
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        try
        {
            StopSyncThread();   // makes everything appended durable first
        }
        catch (Exception e)
        {
            _log.Error(e, "Segment {Segment} (PG {Pg}): final sync failed", new SegmentId(_pg, _replica).EntityId, _pg);
        }
        // A checkpoint still in flight is finished first: its pages must be durable before a later checkpoint point is recorded.
        var now = DateTime.UtcNow;
        switch (_checkpoint?.Result)
        {
            case CheckpointWritten written: _engine.CheckpointWritten(written.Done, written.Micros, now, _outputs); break;
            case CheckpointFailed failed: _engine.CheckpointFailed(failed.Error, now, _outputs); break;
        }
        _checkpoint = null;
        _engine.Close(now, _outputs);
        _outputs.RemoveAll(o => o is not (SegmentOutput.Log or SegmentOutput.Metric));   // stopped: no timers, syncs or sends now
        Perform();
    }

    /// <summary>The sender as the engine sees it: its node (this node for a local actor), its path, and the ref to answer.</summary>
    private SegmentSender SenderOf(IActorRef sender)
    {
        if (_lastSender is { Handle: IActorRef last } && last.Equals(sender)) return _lastSender;
        return _lastSender = new SegmentSender(ClusterMembershipSnapshot.NodeOf(sender, _selfNode), sender.Path.ToString(), sender);
    }

    /// <summary>Performs the engine's outputs in order, then clears the list.</summary>
    private void Perform()
    {
        foreach (var output in _outputs)
        {
            switch (output)
            {
                case SegmentOutput.Reply r:
                    Sender.Tell(r.Message);
                    break;
                case SegmentOutput.SendTo s:
                    (s.Target.Handle as IActorRef)?.Tell(s.Message);
                    break;
                case SegmentOutput.SendToPeer p:
                    if (_peers is not null || ActorRegistry.For(Context.System).TryGet<Hosting.SegmentRegionKey>(out _peers)) _peers.Tell(p.Message);
                    break;
                case SegmentOutput.StartSync s:
                    if (_syncThread is null || _syncGeneration != s.Generation)
                    {
                        StopSyncThread();
                        var generation = _syncGeneration = s.Generation;
                        _syncThread = new SegmentSyncThread($"actordb-sync-{new SegmentId(_pg, _replica).EntityId}", s.SegmentLog, Self,
                            (cumulative, micros, bytes) => new Synced(generation, cumulative, micros, bytes),
                            e => new SyncFailed(generation, e));
                    }
                    _syncThread.Signal();
                    break;
                case SegmentOutput.StartCheckpoint c:
                    StartCheckpoint(c);
                    break;
                case SegmentOutput.ScheduleTick t:
                    var delay = t.At - DateTime.UtcNow;
                    Timers.StartSingleTimer(t.Timer, new Tick(t.Timer), delay > TimeSpan.Zero ? delay : TimeSpan.Zero);
                    break;
                case SegmentOutput.CancelTick t:
                    Timers.Cancel(t.Timer);
                    break;
                case SegmentOutput.Log l:
                    Log(l);
                    break;
                case SegmentOutput.Metric m:
                    Record(m);
                    break;
                case SegmentOutput.Stopped:
                    Context.Stop(Self);
                    break;
            }
        }
        _outputs.Clear();
    }

    private void StartCheckpoint(SegmentOutput.StartCheckpoint c)
    {
        var self = Self;
        _checkpoint = Task.Run(() =>
        {
            object outcome;
            try
            {
                var started = Stopwatch.GetTimestamp();
                c.Store.Write(c.Pages);
                outcome = new CheckpointWritten(c, (long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            }
            catch (Exception e) { outcome = new CheckpointFailed(e); }
            self.Tell(outcome);
            return outcome;
        });
    }

    /// <summary>Stops the group-commit thread of the log the engine is closing (or of the actor stopping): it makes
    /// everything appended so far durable first.</summary>
    private void StopSyncThread()
    {
        _syncThread?.Dispose();
        _syncThread = null;
    }

    private void Log(SegmentOutput.Log l)
    {
        var level = l.Level.ToAkka();
        if (!_log.IsEnabled(level)) return;
        if (l.Error is not null) _log.Log(level, l.Error, l.Template, l.Args);
        else _log.Log(level, l.Template, l.Args);
    }

    private void Record(SegmentOutput.Metric m)
    {
        switch (m.Kind)
        {
            case SegmentMetric.FsyncSeconds: _metrics.FsyncDuration.Record(m.Value, _pgTag, _segmentTag); break;
            case SegmentMetric.SegmentLogBytes: _redoMetrics.Bytes.Add((long)m.Value, RedoMetrics.SegmentLogTag); break;
            case SegmentMetric.PageStoreBytes: _redoMetrics.Bytes.Add((long)m.Value, RedoMetrics.PageStoreTag); break;
            case SegmentMetric.GossipRepairs: _metrics.GossipRepairs.Add((long)m.Value, _pgTag, _segmentTag); break;
            case SegmentMetric.DamagedPages: _metrics.DamagedPages.Add((long)m.Value, _pgTag, _segmentTag); break;
            case SegmentMetric.RepairedPages: _metrics.RepairedPages.Add((long)m.Value, _pgTag, _segmentTag); break;
            case SegmentMetric.ScrubbedBytes: _metrics.ScrubbedBytes.Add((long)m.Value, _pgTag, _segmentTag); break;
        }
    }
}
