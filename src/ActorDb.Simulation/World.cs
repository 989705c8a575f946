namespace ActorDb.Simulation;

/// <summary>
/// The engines of a run and how they are wired to the simulated network, disks and clients: a shell per engine that
/// performs its outputs as the actor does in production (sends go through <see cref="SimNetwork"/>, syncs complete on
/// the simulated disk after a latency, ticks become scheduled events).
/// </summary>
internal sealed class World(Simulation sim, Observations obs, SimTrace trace, long seed) : INodeLife, IWriterPort
{
    /// <summary>Starts every node's engines.</summary>
    public void Start() { }

    /// <inheritdoc />
    public void Crashed(SimNode node) { }

    /// <inheritdoc />
    public void Restarted(SimNode node) { }

    /// <inheritdoc />
    public void DiskFaults(SimNode node, bool on, Random random) { }

    /// <inheritdoc />
    public void Submit(ClientOp op, Action<Outcome, long, string?> done) { }

    /// <summary>Reads every row and balance back through the writer into the observations, running the world with
    /// <paramref name="runFor"/> while it waits.</summary>
    public void ReadBack(Action runFor) { }

    /// <summary>Collects what every segment holds at the end into the observations.</summary>
    public void CollectHeld() { }

    /// <summary>One line on the engines' state at the end, for the run summary.</summary>
    public string Describe() => "engines: none wired yet";
}
