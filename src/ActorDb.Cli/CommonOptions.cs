using System.CommandLine;
using ActorDb.Hosting;

namespace ActorDb.Cli;

/// <summary>Options shared by the commands that host an embedded node.</summary>
internal static class CommonOptions
{
    public static Option<string?> DataDir() => new("--data-dir")
    {
        Description = "data directory of the embedded node (default: actordb.data-dir, \"actordb-data\")",
    };

    /// <summary>
    /// Keeps the command's real output (report, JSON lines) on stdout and sends everything else written to the console
    /// (Akka's log lines) to stderr. Returns the stdout writer to use for output.
    /// </summary>
    public static TextWriter ReserveStdout()
    {
        var stdout = Console.Out;
        Console.SetOut(Console.Error);
        return stdout;
    }

    public static Option<string?> Config() => new("--config", "-c")
    {
        Description = "HOCON file with actordb.* (and akka.*) settings, e.g. hocon/node.conf; flags override it",
    };

    /// <summary>Reads a <c>--config</c> file. Throws <see cref="IOException"/> naming the file when it cannot be read.</summary>
    public static string? ReadConfig(string? path)
    {
        if (path is null) return null;
        if (!File.Exists(path)) throw new IOException($"config file '{path}' not found");
        return File.ReadAllText(path);
    }

    public static Option<string> LogLevel()
    {
        var option = new Option<string>("--log-level")
        {
            Description = "Akka log level of the embedded node (to stderr): DEBUG, INFO, WARNING, ERROR",
            DefaultValueFactory = _ => "WARNING",
        };
        option.AcceptOnlyFromAmong("DEBUG", "INFO", "WARNING", "ERROR");
        return option;
    }

    public static Option<string?> Seeds() => new("--seeds")
    {
        Description = "work against a running cluster instead of an embedded node: comma-separated seed addresses " +
                      "(akka.ssl.tcp://SYSTEM@HOST:PORT, e.g. the lighthouse; akka.tcp:// for a cluster with actordb.security.insecure = on). This process joins it as a client node (role " +
                      "client: no data, no writer) and follows the writer singleton when it fails over. Its own " +
                      "address: CLUSTER_IP / CLUSTER_PORT or --config (default 127.0.0.1, a free port)",
    };

    public static Option<string?> TlsDir() => new("--tls-dir")
    {
        Description = "with --seeds: this client's TLS folder (ca.crt, node.crt, node.key, as `actordb certs` writes one); " +
                      "default: actordb.security.* from --config or the environment (ACTORDB__SECURITY__TLS_DIR)",
    };

    /// <summary>
    /// HOCON for a client node of the cluster whose seeds are <paramref name="seedList"/> (comma-separated): role
    /// <c>client</c>, the actor system named by the first seed, no command host, a free port on 127.0.0.1 unless the
    /// environment (CLUSTER_IP, CLUSTER_PORT, AKKA__*, ACTORDB__*) says otherwise; its TLS folder is
    /// <paramref name="tlsDir"/> when given (it links over mutual TLS like every process of a cluster).
    /// </summary>
    /// <exception cref="FormatException">a seed is not an address.</exception>
    /// <exception cref="EnvironmentConfigException">an environment variable has an unusable value.</exception>
    public static string ClientNodeHocon(string seedList, string? tlsDir = null)
    {
        var seeds = seedList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (seeds.Length == 0) throw new FormatException("--seeds: names no seed (akka.ssl.tcp://SYSTEM@HOST:PORT, comma-separated)");
        var systems = new HashSet<string>();
        foreach (var seed in seeds)
        {
            Akka.Actor.Address address;
            try { address = Akka.Actor.Address.Parse(seed); }
            catch (Exception) { throw new FormatException($"--seeds: '{seed}' is not an address (akka.ssl.tcp://SYSTEM@HOST:PORT)"); }
            if (address.Host is null || address.Port is null or 0) throw new FormatException($"--seeds: '{seed}' has no host and port (akka.ssl.tcp://SYSTEM@HOST:PORT)");
            systems.Add(address.System);
        }
        if (systems.Count > 1) throw new FormatException($"--seeds: the seeds name different actor systems ({string.Join(", ", systems)})");
        return $"actordb.roles = [client]\nactordb.actor-system = \"{systems.Single()}\"\nactordb.cmd.enabled = off\n" +
               "akka.remote.dot-netty.tcp.port = 0\n" +
               $"akka.cluster.seed-nodes = [{string.Join(", ", seeds.Select(x => $"\"{x}\""))}]\n" +
               EnvironmentConfig.FromProcess() +
               (tlsDir is null ? "" : $"\nactordb.security.tls-dir = \"{tlsDir.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"\n");
    }

    /// <summary>Writes an error line and returns the exit code for errors.</summary>
    public static int Error(string command, string message)
    {
        Console.Error.WriteLine($"actordb {command}: {message}");
        return 1;
    }
}
