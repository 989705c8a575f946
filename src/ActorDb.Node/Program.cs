using ActorDb.Hosting;

// actordb-node: serves ActorDb until stopped (Ctrl+C / SIGTERM stop it cleanly).
//   --data-dir DIR   where segments keep their data (default: actordb.data-dir, "actordb-data")
//   --config FILE    extra HOCON (e.g. hocon/node.conf)
string? dataDir = null, configFile = null;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--data-dir" when i + 1 < args.Length: dataDir = args[++i]; break;
        case "--config" when i + 1 < args.Length: configFile = args[++i]; break;
        case "-h" or "--help":
            Console.WriteLine("usage: actordb-node [--data-dir DIR] [--config FILE.conf]");
            return 0;
        default:
            Console.Error.WriteLine($"actordb-node: unknown or incomplete option '{args[i]}' (usage: actordb-node [--data-dir DIR] [--config FILE.conf])");
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
    var options = new ActorDbOptions { DataDir = dataDir, Hocon = configFile is null ? null : File.ReadAllText(configFile) };
    await using var node = await EmbeddedNode.StartAsync(options);
    Console.WriteLine($"actordb-node: serving (data dir {Path.GetFullPath(node.Settings.DataDir)}); Ctrl+C to stop");
    var stop = new TaskCompletionSource();
    Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.TrySetResult(); };
    AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
    using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
    await stop.Task;
    Console.WriteLine("actordb-node: stopping");
    return 0;
}
catch (Exception e) when (e is IOException or Akka.Configuration.ConfigurationException or ActorDb.Client.ActorDbException)
{
    Console.Error.WriteLine($"actordb-node: {e.Message}");
    return 1;
}
