using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Hosting;
using ActorDb.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// lighthouse: the seed node of an ActorDb cluster. It hosts nothing (no shard region, no segment, no writer): it only
// lets nodes find each other, on a fixed address that every node lists in CLUSTER_SEEDS. Role `lighthouse`.
//   --config FILE    extra HOCON (e.g. hocon/lighthouse.conf)
// Environment (Lighthouse conventions, see ActorDb.Hosting.EnvironmentConfig): ACTORSYSTEM (default actordb),
// CLUSTER_IP (default 127.0.0.1), CLUSTER_PORT (default 4053), CLUSTER_SEEDS (default: itself), AKKA__A__B_C.
const string Usage = "usage: lighthouse [--config FILE.conf]";
string? configFile = null;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--config" when i + 1 < args.Length: configFile = args[++i]; break;
        case "-h" or "--help":
            Console.WriteLine(Usage);
            return 0;
        default:
            Console.Error.WriteLine($"lighthouse: unknown or incomplete option '{args[i]}' ({Usage})");
            return 2;
    }
}
if (configFile is not null && !File.Exists(configFile))
{
    Console.Error.WriteLine($"lighthouse: config file '{configFile}' not found");
    return 2;
}

try
{
    // Later HOCON text overrides earlier: the file first, then the environment.
    var config = ConfigurationFactory.ParseString(
        (configFile is null ? "" : File.ReadAllText(configFile)) + "\n" + EnvironmentConfig.FromProcess());
    var cluster = ClusterNodeSettings.Create(config, defaultPort: 4053, roles: ["lighthouse"], clusterProcess: true);
    if (cluster.Port == 0)
        throw SettingsErrors.Invalid("akka.remote.dot-netty.tcp.port", 0, "a lighthouse needs a fixed port (CLUSTER_PORT), the address nodes list as seed");
    if (cluster.Seeds.Count == 0) cluster = cluster with { Seeds = [cluster.SelfAddress] };
    if (!cluster.Seeds.Contains(cluster.SelfAddress))   // Lighthouse's convention: a seed is in its own seed list
        cluster = cluster with { Seeds = [cluster.SelfAddress, .. cluster.Seeds] };
    // The command host (`actordb HOST:PORT cluster show`), on by default as in actordb-node; actordb.cmd.* or
    // ACTORDB__CMD__ENABLED / ACTORDB__CMD__PORT change it. Checked once here so a port in use is one line.
    var cmd = HostingSettings.CommandHostOf(config.WithFallback(ConfigurationFactory.ParseString("actordb.cmd.enabled = on")));
    // Its tokens are in actordb.data-dir (ACTORDB_DATA_DIR), which holds nothing else on a lighthouse, unless
    // actordb.cmd.admin-token-file / read-token-file name files (a mounted secret).
    if (cmd.Enabled) ActorDb.Commands.CommandHost.CheckCanStart(cmd);

    var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
    builder.Logging.ClearProviders();
    builder.Services.AddAkka(cluster.ActorSystem, (akka, _) =>
    {
        akka.AddHocon("akka.loglevel = INFO\nakka.log-dead-letters = off\nakka.log-dead-letters-during-shutdown = off\n" +
                      "akka.coordinated-shutdown.run-by-clr-shutdown-hook = on", HoconAddMode.Prepend);
        akka.WithActorDbClustering(cluster);
        akka.AddHocon(config, HoconAddMode.Prepend);   // the file and environment win over the defaults above
        akka.WithActors((system, _) => system.ActorOf(Props.Create(() => new MemberLog()), "member-log"));
        if (cmd.Enabled) akka.WithActorDbCommandHost(cmd);
    });
    using var host = builder.Build();
    await host.StartAsync();
    var system = host.Services.GetRequiredService<ActorSystem>();
    Console.WriteLine($"lighthouse: started {Cluster.Get(system).SelfAddress} seeds {string.Join(",", cluster.Seeds)}");
    if (await ActorDb.Commands.CommandHost.GetEndpointAsync(system) is { } endpoint)
        Console.WriteLine($"lighthouse: command host on {endpoint} ({endpoint.ClientCommand})");

    var stop = new TaskCompletionSource();
    Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.TrySetResult(); };
    AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
    using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
    await Task.WhenAny(stop.Task, system.WhenTerminated);
    Console.WriteLine("lighthouse: stopping");
    await host.StopAsync(CancellationToken.None);
    return 0;
}
catch (Exception e) when (e is ConfigurationException or EnvironmentConfigException or IOException)
{
    Console.Error.WriteLine($"lighthouse: {e.Message}");
    return 1;
}

/// <summary>Writes one stdout line per membership change, with the member's roles: what an operator (and the
/// process-level tests) read to see who is in the cluster.</summary>
internal sealed class MemberLog : ReceiveActor
{
    public MemberLog()
    {
        Receive<ClusterEvent.MemberUp>(e => Print("Up", e.Member));
        Receive<ClusterEvent.MemberLeft>(e => Print("Leaving", e.Member));
        Receive<ClusterEvent.MemberExited>(e => Print("Exiting", e.Member));
        Receive<ClusterEvent.MemberRemoved>(e => Print("Removed", e.Member));
        Receive<ClusterEvent.UnreachableMember>(e => Print("Unreachable", e.Member));
        Receive<ClusterEvent.ReachableMember>(e => Print("Reachable", e.Member));
        Receive<ClusterEvent.IClusterDomainEvent>(_ => { });
    }

    private static void Print(string what, Member m) =>
        Console.WriteLine($"lighthouse: member {what} {m.Address} [{string.Join(",", m.Roles.OrderBy(r => r, StringComparer.Ordinal))}]");

    protected override void PreStart() =>
        Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));

    protected override void PostStop() => Cluster.Get(Context.System).Unsubscribe(Self);
}
