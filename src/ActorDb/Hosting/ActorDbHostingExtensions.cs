using Akka.Actor;
using Akka.Event;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Remote.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using ActorDb.Commands;
using ActorDb.Commands.Palettes;
using ActorDb.Core.Storage;
using ActorDb.Metrics;
using ActorDb.Recovery;
using ActorDb.Storage;
using ActorDb.Writer;

namespace ActorDb.Hosting;

/// <summary>Registry key of the segment shard region.</summary>
public sealed class SegmentRegionKey;

/// <summary>Registry key of the proxy to the <see cref="RecoverySupervisor"/> (a cluster singleton on the oldest
/// <c>writer</c> node): the actor that recovers the volume and runs the writer. Every node registers it. Clients ask it
/// for the writer (<see cref="RecoveryProtocol.GetWriter"/>) and then talk to the writer directly; the writer itself is
/// not registered, since each recovery starts a new one.</summary>
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
    /// <summary><c>actordb.metrics.prometheus-port</c>: serve the Prometheus scrape endpoint on this port (0: off).</summary>
    public int? PrometheusPort { get; set; }
    /// <summary>
    /// True (default): ActorDb sets up remoting and clustering itself from its node settings
    /// (<see cref="ActorDbNodeSettings"/>: <c>actordb.roles</c>, <c>actordb.az</c>, <c>akka.remote.dot-netty.tcp.*</c>,
    /// <c>akka.cluster.seed-nodes</c>). Without seeds that is the embedded node: a one-node cluster on 127.0.0.1
    /// (random port) hosting the writer and every segment, joining itself. With seeds it joins them. False: remoting and
    /// clustering come from the host's own configuration (the roles still decide what ActorDb starts).
    /// </summary>
    public bool ConfigureCluster { get; set; } = true;
    /// <summary><c>actordb.cmd.enabled</c>: serve <c>actordb HOST:PORT</c> clients (on <c>actordb.cmd.host</c>:<c>port</c>).</summary>
    public bool? CommandHost { get; set; }
    /// <summary>More HOCON, applied over the defaults (e.g. from hocon/*.conf).</summary>
    public string? Hocon { get; set; }

    /// <summary>These options as HOCON (only what they set; <see cref="ActorDbSettings.Create"/> adds the defaults).</summary>
    public Config ToConfig()
    {
        var lines = new List<string>();
        if (DataDir is not null) lines.Add($"actordb.data-dir = \"{DataDir.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"");
        if (Fsync is not null) lines.Add($"actordb.segment.fsync = {(Fsync.Value ? "on" : "off")}");
        if (PgCount is not null) lines.Add($"actordb.volume.pg-count = {PgCount.Value}");
        if (PrometheusPort is not null) lines.Add($"actordb.metrics.prometheus-port = {PrometheusPort.Value}");
        if (CommandHost is not null) lines.Add($"actordb.cmd.enabled = {(CommandHost.Value ? "on" : "off")}");
        var config = ConfigurationFactory.ParseString(string.Join("\n", lines));
        return Hocon is null ? config : config.WithFallback(ConfigurationFactory.ParseString(Hocon));
    }
}

/// <summary>
/// Akka.Hosting composition of ActorDb: what the node program, the lighthouse, the CLI's embedded node, the tests and a
/// user's host application all call. Registers the segment shard region or its proxy (<see cref="SegmentRegionKey"/>),
/// the proxy to the recovery supervisor singleton (<see cref="RecoverySupervisorKey"/>; on writer nodes also its
/// singleton manager: the supervisor recovers the volume and then runs the writer), and on writer nodes a
/// coordinated-shutdown task that drains a writer running there before the node leaves. With
/// <c>actordb.metrics.prometheus-port</c> set it also serves the node's <see cref="ActorDbMetrics"/> on a Prometheus
/// scrape endpoint (OpenTelemetry), stopped when the actor system terminates.
/// </summary>
public static class ActorDbHostingExtensions
{
    /// <summary>Name of the cluster singleton manager of the recovery supervisor (<c>/user/actordb-recovery</c>); its
    /// proxy is <c>/user/actordb-recovery-proxy</c>.</summary>
    public const string SupervisorManagerName = "actordb-recovery";
    /// <summary>Name of the recovery supervisor singleton under its manager (<c>/user/actordb-recovery/supervisor</c>).</summary>
    public const string SupervisorName = "supervisor";

    /// <summary>
    /// Adds ActorDb to an actor system being configured. What it starts depends on the node's roles
    /// (<see cref="ActorDbNodeSettings"/>, from <paramref name="options"/>' HOCON and ActorDb's defaults): a
    /// <c>storage</c> node hosts the segment shard region, any other a proxy to it; a <c>writer</c> node runs the
    /// singleton manager of the recovery supervisor (the oldest writer node runs the supervisor, and through it the
    /// writer; the others are standbys); a <c>client</c> node only the proxies. The embedded default has both roles.
    /// </summary>
    /// <exception cref="ConfigurationException">when an <c>actordb.*</c> or cluster key is invalid or missing (the message
    /// names it): node settings at once, the rest at start.</exception>
    /// <exception cref="IOException">at start, when the data directory is in use by another process, or holds a volume
    /// of another shape (<see cref="VolumeManifestException"/>).</exception>
    public static AkkaConfigurationBuilder WithActorDb(this AkkaConfigurationBuilder builder, ActorDbOptions? options = null)
    {
        options ??= new ActorDbOptions();
        var optionsConfig = options.ToConfig();
        var node = ActorDbNodeSettings.Create(optionsConfig);
        builder.AddHocon(ActorDbSettings.DefaultConfig(), HoconAddMode.Append);
        builder.AddHocon(ConfigurationFactory.ParseString(
            "akka.cluster.sharding.distributed-data.durable.keys = []\n" +
            "akka.cluster.sharding.passivate-idle-entity-after = off\n" +
            "akka.cluster.sharding.state-store-mode = ddata\n" +
            "akka.cluster.sharding.remember-entities = off\n" +
            // The writer cannot open the volume before its segments start; registering the region with the coordinator
            // and asking for shard homes is retried at this interval (2 s by default), which measured 150-300 ms of a
            // restart's time to first commit.
            "akka.cluster.sharding.retry-interval = 100ms\n" +
            // The proxy looks for the supervisor singleton at this interval until it finds it (1 s by default): at a
            // node's start and after a failover, that wait would come before the first commit.
            "akka.cluster.singleton-proxy.singleton-identification-interval = 100ms\n" +
            // Recovery reports (a segment's recent commit points), peer catch-up batches (up to 4 MiB of records) and
            // page images are larger than remoting's 128 kB default frame, which would drop them.
            "akka.remote.dot-netty.tcp.maximum-frame-size = 16MiB\n" +
            "akka.remote.dot-netty.tcp.send-buffer-size = 16MiB\n" +
            "akka.remote.dot-netty.tcp.receive-buffer-size = 16MiB\n"), HoconAddMode.Prepend);

        if (options.ConfigureCluster) builder.WithActorDbClustering(node.Cluster);

        if (node.Storage)
        {
            // Started by hand rather than with WithShardRegion, which takes no allocation strategy: segments are placed by
            // SegmentAllocationStrategy (AZ-aware, never two of a PG on one node). ddata state store and no idle
            // passivation come from the HOCON above; the hand-off stop message lets a segment finish its fsync.
            builder.WithActors((ActorStarter)(async (system, registry) =>
            {
                var settings = ActorDbSettings.Create(system.Settings.Config);
                var region = await ClusterSharding.Get(system).StartAsync(
                    "segment",
                    SegmentActor.ShardedProps(settings).WithDispatcher("actordb.segment-dispatcher"),
                    ClusterShardingSettings.Create(system).WithRole("storage").WithRememberEntities(false),
                    new SegmentMessageExtractor(),
                    // The embedded node hosts every segment itself; a cluster keeps a PG's segments on nodes of their own.
                    new SegmentAllocationStrategy(shareNodes: node.IsEmbedded || settings.Segment.ShareNodes),
                    SegmentProtocol.Stop.Instance);
                registry.Register<SegmentRegionKey>(region);
            }));
        }
        else
        {
            builder.WithShardRegionProxy<SegmentRegionKey>("segment", "storage", new SegmentMessageExtractor());
        }

        // Last, so that the options (and the environment overrides the node program puts in them) win over every
        // default set above, e.g. AKKA__CLUSTER__SHARDING__RETRY_INTERVAL over the 100ms.
        builder.AddHocon(optionsConfig, HoconAddMode.Prepend);

        builder.WithActors((system, registry) =>
        {
            var settings = ActorDbSettings.Create(system.Settings.Config);
            var shutdown = CoordinatedShutdown.Get(system);
            var metrics = ActorDbMetrics.For(system);   // now: listeners see the instruments from the start
            if (settings.Metrics.PrometheusPort > 0) ServePrometheus(system, shutdown, metrics, settings.Metrics);
            if (node.Storage)
            {
                // Segments keep their data here; the writer keeps none.
                var dataLock = DataDirectoryLock.Acquire(settings.DataDir);
                VolumeManifest.CheckOrCreate(settings.DataDir, settings.Geometry);
                shutdown.AddTask(CoordinatedShutdown.PhaseActorSystemTerminate, "actordb-release-data-dir", () =>
                {
                    dataLock.Dispose();
                    return Task.FromResult(Akka.Done.Instance);
                });
            }
            // The recovery supervisor (and through it the writer) is a cluster singleton on the oldest `writer` node: when
            // that node leaves, the supervisor drains its writer (HandOver) and the next writer node starts one; when it
            // dies, the next starts one once the node is downed, and its recovery fences the old epoch. Every node, writer
            // or not, reaches it through a proxy, which buffers requests while the singleton moves.
            if (node.Writer)
            {
                var region = registry.Get<SegmentRegionKey>();
                system.ActorOf(ClusterSingletonManager.Props(
                        RecoverySupervisor.Props(settings, region, writerDispatcher: "actordb.writer-dispatcher", writerMailbox: "actordb.writer-mailbox"),
                        RecoveryProtocol.HandOver.Instance,
                        ClusterSingletonManagerSettings.Create(system).WithRole("writer").WithSingletonName(SupervisorName)),
                    SupervisorManagerName);
            }
            var supervisor = system.ActorOf(ClusterSingletonProxy.Props($"/user/{SupervisorManagerName}",
                ClusterSingletonProxySettings.Create(system).WithRole("writer").WithSingletonName(SupervisorName)), SupervisorManagerName + "-proxy");
            registry.Register<RecoverySupervisorKey>(supervisor);
            if (settings.Cmd.Enabled)
                ActorDbClusteringExtensions.StartCommandHost(system, registry, settings.Cmd,
                    new VolumePalette(), new PgPalette(), new WriterPalette(), new RecoveryPalette(), new MetricsPalette());
            if (!node.Writer) return;

            shutdown.AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "actordb-drain-writer", async () =>
            {
                // Only a supervisor on this node: the one of another writer node keeps serving. It passes the drain to
                // the writer, or cancels a recovery still running.
                IActorRef local;
                try { local = await system.ActorSelection($"/user/{SupervisorManagerName}/{SupervisorName}").ResolveOne(TimeSpan.FromSeconds(2)); }
                catch (ActorNotFoundException) { return Akka.Done.Instance; }
                try { await local.Ask<WriterProtocol.Drained>(WriterProtocol.Drain.Instance, settings.Writer.DrainTimeout + TimeSpan.FromSeconds(5)); }
                catch (Exception e) { system.Log.Warning("ActorDb writer drain did not finish: {0}", e.Message); }
                return Akka.Done.Instance;
            });
        });
        return builder;
    }

    /// <summary>
    /// The Prometheus scrape endpoint: an OpenTelemetry meter provider for ActorDb's meters with the HttpListener
    /// exporter. Only this node's instruments are exported (a view drops those of another node in the same process). It
    /// is disposed, and the port closed, in the actor system's last coordinated-shutdown phase. A port that cannot be
    /// opened is logged as an error; the node runs on without the endpoint.
    /// </summary>
    private static void ServePrometheus(ActorSystem system, CoordinatedShutdown shutdown, ActorDbMetrics metrics, MetricsSettings settings)
    {
        var prefix = settings.PrometheusPrefix;
        MeterProvider provider;
        try
        {
            provider = Sdk.CreateMeterProviderBuilder()
                .AddMeter(ActorDbMetrics.MeterNames.ToArray())
                .AddView(instrument => metrics.Owns(instrument) ? null : MetricStreamConfiguration.Drop)
                .AddPrometheusHttpListener(o =>
                {
                    o.Host = settings.PrometheusHost;
                    o.Port = settings.PrometheusPort;
                })
                .Build();
        }
        catch (Exception e)
        {
            system.Log.Error(e, "ActorDb metrics: cannot serve the Prometheus endpoint {0}metrics (actordb.metrics.prometheus-port = {1}): {2}; the node runs without it",
                prefix, settings.PrometheusPort, e.InnerException?.Message ?? e.Message);
            return;
        }
        system.Log.Info("ActorDb metrics: Prometheus endpoint at {0}metrics", prefix);
        shutdown.AddTask(CoordinatedShutdown.PhaseActorSystemTerminate, "actordb-stop-metrics", () =>
        {
            provider.Dispose();
            return Task.FromResult(Akka.Done.Instance);
        });
    }
}
