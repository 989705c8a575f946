namespace ActorDb.Tests;

/// <summary>
/// Tests that run clusters of real processes (kill -9, failover, several nodes): they run alone, never next to another
/// test class, since on a small machine a parallel test's load delays heartbeats enough to look like a failure.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessTests
{
    /// <summary>The collection's name.</summary>
    public const string Name = "processes";

    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago (for a process that needs a fixed port, such as a
    /// lighthouse that others name in their seeds).</summary>
    public static int FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
