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
    /// Remoting and clustering for a process of an ActorDb cluster (an ActorDb node or the lighthouse): binds
    /// <see cref="ClusterNodeSettings.Hostname"/>:<see cref="ClusterNodeSettings.Port"/>, announces the public hostname,
    /// joins the seeds (itself when there are none), and scopes the split brain resolver's keep-majority to the
    /// <c>voter</c> role, which writer and storage nodes carry (<see cref="ActorDbNodeSettings.VoterRole"/>), so
    /// lighthouses and client nodes are not counted in the majority, and a partition that splits the storage nodes evenly
    /// is decided by the side the writer nodes are on. Failure detection
    /// (heartbeats every 500 ms, 3 s acceptable pause, read every 250 ms, on two threads of its own), the resolver's stable-after (1 s), gossip
    /// and leader actions (250 ms), the down-removal margin (250 ms) and the singleton's hand-over retry (200 ms) are
    /// short, so that a writer failover completes in seconds. Every process of a cluster must set the same resolver, since the leader's decides. HOCON
    /// added after this call overrides it.
    /// </summary>
    public static AkkaConfigurationBuilder WithActorDbClustering(this AkkaConfigurationBuilder builder, ClusterNodeSettings cluster)
    {
        builder.AddHocon(ConfigurationFactory.ParseString(
            "akka.cluster.downing-provider-class = \"Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster\"\n" +
            "akka.cluster.split-brain-resolver.active-strategy = keep-majority\n" +
            $"akka.cluster.split-brain-resolver.keep-majority.role = {ActorDbNodeSettings.VoterRole}\n" +
            // Failover time is failure detection + the resolver's stable-after + recovery (issue 4 targets < 5 s). Akka's
            // defaults (3 s pause, 20 s stable) would make it ~25 s. Downing early costs availability, never safety:
            // a writer that is wrongly cut off is fenced by the new epoch and acknowledges nothing (design.md, fencing).
            // On VMs with long GC or network pauses, raise both (AKKA__CLUSTER__FAILURE_DETECTOR__ACCEPTABLE_HEARTBEAT_PAUSE,
            // AKKA__CLUSTER__SPLIT_BRAIN_RESOLVER__STABLE_AFTER).
            "akka.cluster.failure-detector.heartbeat-interval = 500ms\n" +
            // 1.5 s was too tight where ten processes share 2 cores: a CI run's cluster start saw a 2,238 ms gap between
            // heartbeats of live nodes (processes starting at once: JIT, TLS handshakes, recovery), the issue's
            // returning-node run 2.4 s, and a start on a loaded 2-core machine (load average 68) gaps of 1.6-3.2 s; each
            // time nodes seen unreachable by some and reachable by others were downed (DownIndirectlyConnected) although
            // every process was alive. 3 s covers what a 2-core CI machine shows; it adds about 1.5 s to a failover.
            "akka.cluster.failure-detector.acceptable-heartbeat-pause = 3s\n" +
            // Cluster actors (heartbeat sender and receiver, gossip, the resolver) by default run on Akka's internal
            // dispatcher, i.e. the .NET thread pool, where a heartbeat waits behind every queued continuation (client
            // requests, remoting, sharding, startup tasks) and behind the pool's slow thread injection when work blocks.
            // Two threads of their own keep their timing independent of the pool's queue.
            "akka.cluster.use-dispatcher = akka.actor.actordb-cluster-dispatcher\n" +
            "akka.actor.actordb-cluster-dispatcher { type = ForkJoinDispatcher, throughput = 5, dedicated-thread-pool { thread-count = 2, threadtype = background } }\n" +
            "akka.cluster.split-brain-resolver.stable-after = 1s\n" +
            // With `on` (or a duration), failures that keep coming down EVERY node: an AZ lost node by node and then one
            // more storage node (what the commit guarantee is built to survive) took the whole cluster down in a test,
            // with 4 s and with 15 s. Off, a flapping network leaves the resolver undecided (unavailable) instead; two
            // sides deciding differently cannot lose a commit, since each recovery fences the epoch before it.
            "akka.cluster.split-brain-resolver.down-all-when-unstable = off\n" +
            // A downed node is removed once every reachable member has seen the Down; gossip and leader actions at
            // 250 ms (1 s by default) make that one step rather than several seconds.
            "akka.cluster.gossip-interval = 250ms\n" +
            // How often the failure detector's verdict is read (1 s by default).
            "akka.cluster.unreachable-nodes-reaper-interval = 250ms\n" +
            // After a node is removed, singletons and shards of the downed side start elsewhere only after this margin
            // (by default the resolver's stable-after), which leaves the downed side time to stop. ActorDb does not
            // need that wait for safety: a new writer fences the old epoch before it reads (design.md, fencing).
            "akka.cluster.down-removal-margin = 250ms\n" +
            "akka.cluster.leader-actions-interval = 250ms\n" +
            // The next writer node asks the removed one for the hand-over at this interval before it takes over.
            "akka.cluster.singleton.hand-over-retry-interval = 200ms\n"), HoconAddMode.Prepend);
        var tls = cluster.Tls;
        builder.WithRemoting(new RemoteOptions
        {
            HostName = cluster.Hostname,
            Port = cluster.Port,
            PublicHostName = cluster.PublicHostname == cluster.Hostname ? null : cluster.PublicHostname,
            EnableSsl = tls is not null,
            // Mutual TLS: each side presents its node certificate and checks the other's against the cluster's CA
            // (ClusterTls.Validate), so a process without a certificate of this cluster cannot associate at all.
            Ssl = tls is null ? null : new SslOptions
            {
                X509Certificate = tls.Certificate,
                SuppressValidation = false,
                RequireMutualAuthentication = true,
                ValidateCertificateHostname = false,
                CustomValidator = tls.Validate,
            },
        });
        if (tls is not null)
            builder.AddSetup(new Akka.Event.LogFilterSetup([new Security.HandshakeLogFilter()]));
        if (cluster.InsecureCluster)
            builder.AddStartup((system, _) => system.Log.Warning(
                "ActorDb: actordb.security.insecure = on: this process links to its cluster over plain TCP, without authentication " +
                "or encryption; anyone who reaches {0} can join the cluster and read or change the volume", Cluster.Get(system).SelfAddress));
        builder.WithClustering(new ClusterOptions
        {
            Roles = cluster.Roles.ToArray(),
            SeedNodes = cluster.Seeds.Count > 0 ? cluster.Seeds.ToArray() : null,
        });
        if (cluster.Seeds.Count == 0)
            builder.AddStartup((system, _) => Cluster.Get(system).Join(Cluster.Get(system).SelfAddress));
        return builder;
    }

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
            if (settings.Cmd.Enabled) StartCommandHost(system, registry, settings.Cmd, actorDbPalettes: true);
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

    /// <summary>
    /// A command host for a process that is not an ActorDb node (the lighthouse): <c>cluster</c> and
    /// <c>cluster-sharding</c> palettes only, plus any registered with
    /// <see cref="ActorDbCommandsHostingExtensions.WithActorDbCommandPalette"/>. <see cref="WithActorDb"/> starts its own
    /// (with the volume, pg, writer, recovery and metrics palettes) when <c>actordb.cmd.enabled</c> is on.
    /// </summary>
    /// <exception cref="IOException">at start, when the port cannot be bound.</exception>
    public static AkkaConfigurationBuilder WithActorDbCommandHost(this AkkaConfigurationBuilder builder, CommandHostSettings settings)
    {
        builder.WithActors((system, registry) => StartCommandHost(system, registry, settings, actorDbPalettes: false));
        return builder;
    }

    /// <summary>The command host (<c>/user/actordb-cmd</c>) with the built-in palettes. The tokens are read (or created)
    /// and the port is bound here, so a port in use or an unreadable token file stops the node's start with a message
    /// naming it.</summary>
    private static void StartCommandHost(ActorSystem system, IActorRegistry registry, CommandHostSettings settings, bool actorDbPalettes)
    {
        var palettes = CommandPaletteRegistry.Get(system);
        var builtIn = actorDbPalettes
            ? new ICommandPalette[]
            {
                new ClusterPalette(), new ClusterShardingPalette(), new VolumePalette(), new PgPalette(),
                new WriterPalette(), new RecoveryPalette(), new MetricsPalette(),
            }
            : [new ClusterPalette(), new ClusterShardingPalette()];
        foreach (var palette in builtIn)
        {
            if (palettes.Find(palette.Definition.Name) is null) palettes.Register(palette);   // a host's own palette wins
        }
        var tokens = CommandTokens.Load(settings);
        var listener = CommandHost.Listen(settings);
        var host = system.ActorOf(CommandHost.Props(listener, settings, tokens, TimeSpan.FromSeconds(10)), "actordb-cmd");
        registry.Register<CommandHostKey>(host);
    }
}
