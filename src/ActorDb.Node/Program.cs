using Akka.Actor;
using Akka.Cluster;
using ActorDb;
using ActorDb.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// actordb-node: serves ActorDb until stopped (Ctrl+C / SIGTERM stop it cleanly).
//   --data-dir DIR   where segments keep their data (default: actordb.data-dir, "actordb-data")
//   --config FILE    extra HOCON (e.g. hocon/node.conf, hocon/cluster-node.conf)
// Environment overrides (Lighthouse style, see EnvironmentConfig): ACTORSYSTEM, CLUSTER_IP, CLUSTER_PORT, CLUSTER_SEEDS,
// ACTORDB_ROLES, ACTORDB_AZ, ACTORDB_DATA_DIR, AKKA__A__B_C and ACTORDB__A__B_C. They win over the config file;
// --data-dir wins over both. Without seeds the node is the embedded one (writer and all segments, joining itself).
const string Usage = "usage: actordb-node [--data-dir DIR] [--config FILE.conf]";
string? dataDir = null, configFile = null;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--data-dir" when i + 1 < args.Length: dataDir = args[++i]; break;
        case "--config" when i + 1 < args.Length: configFile = args[++i]; break;
        case "-h" or "--help":
            Console.WriteLine(Usage);
            return 0;
        default:
            Console.Error.WriteLine($"actordb-node: unknown or incomplete option '{args[i]}' ({Usage})");
            return 2;
    }
}
if (configFile is not null && !File.Exists(configFile))
{
    Console.Error.WriteLine($"actordb-node: config file '{configFile}' not found");
    return 2;
}

try
{
    // Later HOCON text overrides earlier: the file first, then the environment.
    // The node program serves `actordb HOST:PORT` by default (actordb.cmd.*); the file or the environment may turn it off.
    var hocon = "actordb.cmd.enabled = on\n" + (configFile is null ? "" : File.ReadAllText(configFile)) + "\n" + EnvironmentConfig.FromProcess();
    var options = new ActorDbOptions { DataDir = dataDir, Hocon = hocon };
    // Every setting is checked before anything starts, so a wrong one is one line naming its key.
    var settings = ActorDbSettings.Create(options.ToConfig());
    var node = ActorDbNodeSettings.Create(options.ToConfig());
    // The data directory too, before anything touches it: a foreign-owned or unwritable one is one line naming it.
    if (node.Storage && ActorDb.Core.Storage.DataDirectory.Prepare(settings.DataDir).Warning is { } warning)
        Console.Error.WriteLine($"actordb-node: warning: {warning}");

    EmbeddedNode? served = null;
    IHost? host = null;
    ActorSystem system;
    if (node.Writer)
    {
        served = await EmbeddedNode.StartAsync(options);
        system = served.System;
    }
    else
    {
        host = EmbeddedNode.CreateHost(options);
        await host.StartAsync();
        system = host.Services.GetRequiredService<ActorSystem>();
    }
    try
    {
        var cluster = Cluster.Get(system);
        var mode = node.IsEmbedded ? "embedded" : $"seeds {string.Join(",", node.Cluster.Seeds)}";
        Console.WriteLine($"actordb-node: started {cluster.SelfAddress} roles [{string.Join(",", node.Cluster.Roles)}] ({mode})");
        if (await ActorDb.Commands.CommandHost.GetEndpointAsync(system) is { } cmd)
            Console.WriteLine($"actordb-node: command host on {cmd} ({cmd.ClientCommand})");
        cluster.RegisterOnMemberUp(() => Console.WriteLine($"actordb-node: member Up {cluster.SelfAddress}"));
        if (served is not null)
            Console.WriteLine(node.Storage
                ? $"actordb-node: serving (data dir {Path.GetFullPath(settings.DataDir)}); Ctrl+C to stop"
                : "actordb-node: serving (writer only: segments on the storage nodes); Ctrl+C to stop");
        var stop = new TaskCompletionSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.TrySetResult(); };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
        // A node that Akka stops by itself (downed by the split brain resolver, left the cluster) ends too.
        await Task.WhenAny(stop.Task, system.WhenTerminated);
        Console.WriteLine("actordb-node: stopping");
    }
    finally
    {
        if (served is not null) await served.DisposeAsync();
        if (host is not null)
        {
            await host.StopAsync(CancellationToken.None);
            host.Dispose();
        }
    }
    return 0;
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException or Akka.Configuration.ConfigurationException or ActorDb.Client.ActorDbException or EnvironmentConfigException)
{
    Console.Error.WriteLine($"actordb-node: {e.Message}");
    return 1;
}
