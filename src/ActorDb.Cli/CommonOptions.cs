using System.CommandLine;

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

    /// <summary>Writes an error line and returns the exit code for errors.</summary>
    public static int Error(string command, string message)
    {
        Console.Error.WriteLine($"actordb {command}: {message}");
        return 1;
    }
}
