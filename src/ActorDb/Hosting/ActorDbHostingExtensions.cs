using Akka.Actor;
using Akka.Event;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Remote.Hosting;
using ActorDb.Core.Storage;
using ActorDb.Recovery;
using ActorDb.Storage;
using ActorDb.Writer;

namespace ActorDb.Hosting;

/// <summary>Registry key of the segment shard region.</summary>
public sealed class SegmentRegionKey;

/// <summary>Registry key of the <see cref="RecoverySupervisor"/>: the actor that recovers the volume and runs the writer.
/// Clients ask it for the writer (<see cref="RecoveryProtocol.GetWriter"/>) and then talk to the writer directly; the
/// writer itself is not registered, since each recovery starts a new one.</summary>
public sealed class RecoverySupervisorKey;

/// <summary>Overrides for <see cref="ActorDbHostingExtensions.WithActorDb"/>; null leaves the HOCON value in force.</summary>
public sealed class ActorDbOptions
{
    /// <summary><c>actordb.data-dir</c>.</summary>
    public string? DataDir { get; set; }
    /// <summary><c>actordb.segment.fsync</c>. Turning it off trades durability away: tests and benchmarks that say so only.</summary>
    public bool? Fsync { get; set; }
    /// <summary><c>actordb.volume.pg-count</c>.</summary>
    public int? PgCount { get; set; }
    /// <summary>
    /// Embedded mode (default true): this process is a one-node cluster on 127.0.0.1 (random port) hosting the writer
    /// and every segment, joining itself. False: remoting and clustering come from the host's own configuration.
    /// </summary>
    public bool Embedded { get; set; } = true;
    /// <summary>More HOCON, applied over the defaults (e.g. from hocon/*.conf).</summary>
    public string? Hocon { get; set; }

    /// <summary>These options as HOCON (only what they set; <see cref="ActorDbSettings.Create"/> adds the defaults).</summary>
    public Config ToConfig()
    {
        var lines = new List<string>();
        if (DataDir is not null) lines.Add($"actordb.data-dir = \"{DataDir.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"");
        if (Fsync is not null) lines.Add($"actordb.segment.fsync = {(Fsync.Value ? "on" : "off")}");
        if (PgCount is not null) lines.Add($"actordb.volume.pg-count = {PgCount.Value}");
        var config = ConfigurationFactory.ParseString(string.Join("\n", lines));
        return Hocon is null ? config : config.WithFallback(ConfigurationFactory.ParseString(Hocon));
    }
}

/// <summary>
/// Akka.Hosting composition of ActorDb: what the node program, the CLI's embedded node, the tests and a user's host
/// application all call. Registers the segment shard region (<see cref="SegmentRegionKey"/>) and the recovery supervisor
/// (<see cref="RecoverySupervisorKey"/>), which recovers the volume and then runs the writer, and a coordinated-shutdown
/// task that drains the writer before the node leaves.
/// </summary>
public static class ActorDbHostingExtensions
{
    /// <summary>Adds ActorDb to an actor system being configured.</summary>
    /// <exception cref="ConfigurationException">at start, when an <c>actordb.*</c> key is invalid (the message names it).</exception>
    /// <exception cref="IOException">at start, when the data directory is in use by another process, or holds a volume
    /// of another shape (<see cref="VolumeManifestException"/>).</exception>
    public static AkkaConfigurationBuilder WithActorDb(this AkkaConfigurationBuilder builder, ActorDbOptions? options = null)
    {
        options ??= new ActorDbOptions();
        builder.AddHocon(options.ToConfig(), HoconAddMode.Prepend);
        builder.AddHocon(ActorDbSettings.DefaultConfig(), HoconAddMode.Append);
        builder.AddHocon(ConfigurationFactory.ParseString(
            "akka.cluster.sharding.distributed-data.durable.keys = []\n" +
            "akka.cluster.sharding.passivate-idle-entity-after = off\n" +
            // The writer cannot open the volume before its segments start; registering the region with the coordinator
            // and asking for shard homes is retried at this interval (2 s by default), which measured 150-300 ms of a
            // restart's time to first commit.
            "akka.cluster.sharding.retry-interval = 100ms\n"), HoconAddMode.Prepend);

        if (options.Embedded)
        {
            builder.WithRemoting("127.0.0.1", 0);
            builder.WithClustering(new ClusterOptions { Roles = ["writer", "storage"] });
            builder.AddStartup((system, _) => Cluster.Get(system).Join(Cluster.Get(system).SelfAddress));
        }

        builder.WithShardRegion<SegmentRegionKey>(
            "segment",
            (system, _, _) =>
            {
                var settings = ActorDbSettings.Create(system.Settings.Config);
                return entityId => SegmentActor.Props(entityId, settings).WithDispatcher("actordb.segment-dispatcher");
            },
            new SegmentMessageExtractor(),
            new ShardOptions
            {
                StateStoreMode = StateStoreMode.DData,
                RememberEntities = false,
                ShouldPassivateIdleEntities = false,
                HandOffStopMessage = SegmentProtocol.Stop.Instance,
            });

        builder.WithActors((system, registry) =>
        {
            var settings = ActorDbSettings.Create(system.Settings.Config);
            var dataLock = DataDirectoryLock.Acquire(settings.DataDir);
            VolumeManifest.CheckOrCreate(settings.DataDir, settings.Geometry);
            var region = registry.Get<SegmentRegionKey>();
            var supervisor = system.ActorOf(
                RecoverySupervisor.Props(settings, region, writerDispatcher: "actordb.writer-dispatcher", writerMailbox: "actordb.writer-mailbox"),
                "actordb-recovery");
            registry.Register<RecoverySupervisorKey>(supervisor);

            var shutdown = CoordinatedShutdown.Get(system);
            shutdown.AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "actordb-drain-writer", async () =>
            {
                // The supervisor passes the drain to the writer, or cancels a recovery still running.
                try { await supervisor.Ask<WriterProtocol.Drained>(WriterProtocol.Drain.Instance, settings.Writer.DrainTimeout + TimeSpan.FromSeconds(5)); }
                catch (Exception e) { system.Log.Warning("ActorDb writer drain did not finish: {0}", e.Message); }
                return Akka.Done.Instance;
            });
            shutdown.AddTask(CoordinatedShutdown.PhaseActorSystemTerminate, "actordb-release-data-dir", () =>
            {
                dataLock.Dispose();
                return Task.FromResult(Akka.Done.Instance);
            });
        });
        return builder;
    }
}
