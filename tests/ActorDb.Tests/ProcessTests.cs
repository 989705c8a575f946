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
}
