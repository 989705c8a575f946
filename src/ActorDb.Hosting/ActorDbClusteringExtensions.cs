using Akka.Actor;
using Akka.Event;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Remote.Hosting;
using ActorDb.Commands;
using ActorDb.Commands.Palettes;

namespace ActorDb.Hosting;

/// <summary>Akka.Hosting set-up shared by every process of an ActorDb cluster, the lighthouse included: remoting and
/// clustering (<see cref="WithActorDbClustering"/>) and the command host (<see cref="WithActorDbCommandHost"/>).</summary>
public static class ActorDbClusteringExtensions
{
    /// <summary>
    /// Remoting and clustering for a process of an ActorDb cluster (an ActorDb node or the lighthouse): binds
    /// <see cref="ClusterNodeSettings.Hostname"/>:<see cref="ClusterNodeSettings.Port"/>, announces the public hostname,
    /// joins the seeds (itself when there are none), and scopes the split brain resolver's keep-majority to the
    /// <c>voter</c> role, which writer and storage nodes carry (<see cref="ClusterNodeSettings.VoterRole"/>), so
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
            $"akka.cluster.split-brain-resolver.keep-majority.role = {ClusterNodeSettings.VoterRole}\n" +
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
            builder.AddSetup(new Akka.Event.LogFilterSetup([new ActorDb.Security.HandshakeLogFilter()]));
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
    /// A command host for a process that is not an ActorDb node (the lighthouse): <c>cluster</c> and
    /// <c>cluster-sharding</c> palettes only, plus any registered with
    /// <see cref="ActorDbCommandsHostingExtensions.WithActorDbCommandPalette"/>. <c>WithActorDb</c> starts its own
    /// (with the volume, pg, writer, recovery and metrics palettes) when <c>actordb.cmd.enabled</c> is on.
    /// </summary>
    /// <exception cref="IOException">at start, when the port cannot be bound.</exception>
    public static AkkaConfigurationBuilder WithActorDbCommandHost(this AkkaConfigurationBuilder builder, CommandHostSettings settings)
    {
        builder.WithActors((system, registry) => StartCommandHost(system, registry, settings));
        return builder;
    }

    /// <summary>Starts the command host (<c>/user/actordb-cmd</c>) with the built-in palettes (a palette a host application
    /// registered under the same name wins). The tokens are read (or created)
    /// and the port is bound here, so a port in use or an unreadable token file stops the node's start with a message
    /// naming it.</summary>
    /// <param name="system">The started actor system.</param>
    /// <param name="registry">Its actor registry (the host is registered under <see cref="CommandHostKey"/>).</param>
    /// <param name="settings">The command host's settings.</param>
    /// <param name="builtIn">The process's own built-in palettes besides <c>cluster</c> and <c>cluster-sharding</c>.</param>
    /// <exception cref="IOException">the port cannot be bound, or a token file cannot be read or created.</exception>
    public static void StartCommandHost(ActorSystem system, IActorRegistry registry, CommandHostSettings settings, params ICommandPalette[] builtIn)
    {
        var palettes = CommandPaletteRegistry.Get(system);
        foreach (var palette in new ICommandPalette[] { new ClusterPalette(), new ClusterShardingPalette() }.Concat(builtIn))
        {
            if (palettes.Find(palette.Definition.Name) is null) palettes.Register(palette);   // a host's own palette wins
        }
        var tokens = CommandTokens.Load(settings);
        var listener = CommandHost.Listen(settings);
        var host = system.ActorOf(CommandHost.Props(listener, settings, tokens, TimeSpan.FromSeconds(10)), "actordb-cmd");
        registry.Register<CommandHostKey>(host);
    }
}
