using System.CommandLine;

namespace ActorDb.Cli;

/// <summary>Options shared by the commands that host an embedded node.</summary>
internal static class CommonOptions
{
    public static Option<string> DataDir(string defaultValue) => new("--data-dir")
    {
        Description = "data directory of the embedded node (one folder per AZ and segment inside)",
        DefaultValueFactory = _ => defaultValue,
    };

    public static Option<string> LogLevel() => new("--log-level")
    {
        Description = "Akka log level of the embedded node: DEBUG, INFO, WARNING, ERROR",
        DefaultValueFactory = _ => "WARNING",
    };

    /// <summary>Writes an error line and returns the exit code for errors.</summary>
    public static int Error(string command, string message)
    {
        Console.Error.WriteLine($"actordb {command}: {message}");
        return 1;
    }
}
