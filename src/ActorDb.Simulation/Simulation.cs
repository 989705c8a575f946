using ActorDb.Core;
using ActorDb.Core.Placement;

namespace ActorDb.Simulation;

/// <summary>The result of one seed: its violations (empty: it passed), how many events it ran, and its trace when asked.</summary>
public sealed record RunResult(long Seed, IReadOnlyList<Violation> Violations, long Events, DateTime EndedAt, int Ops,
    int Ok, int Failed, int Ambiguous, IReadOnlyList<string> Trace, string Summary)
{
    /// <summary>True when no check failed.</summary>
    public bool Passed => Violations.Count == 0;

    /// <summary>The command that replays this run exactly.</summary>
    public string ReplayCommand => $"dotnet run --project src/ActorDb.Simulation -c Release -- --seed {Seed} --trace";
}

/// <summary>
/// One deterministic run of the world from a seed: a writer node (recovery, writer), storage nodes over 3 AZs hosting
/// 6 segments per PG as the real placement puts them, clients; a fault phase, then a quiet phase (faults stop, the network
/// heals, every node is up), then the final state is read back and every <see cref="Checkers"/> check runs.
/// Everything happens on the calling thread in simulated time; the same seed gives the same run.
/// </summary>
public sealed class Simulation
{
    private readonly long _seed;
    private readonly bool _readBackAfterRestart;
    private readonly RunPlan _plan;
    private readonly SimTrace _trace;
    private readonly Observations _obs = new();

    /// <summary>The scheduler (simulated time).</summary>
    public SimScheduler Scheduler { get; }
    /// <summary>The network.</summary>
    public SimNetwork Network { get; }
    /// <summary>The writer's node.</summary>
    public SimNode WriterNode { get; }
    /// <summary>The storage nodes, AZ by AZ.</summary>
    public IReadOnlyList<SimNode> StorageNodes { get; }
    /// <summary>Every node.</summary>
    public IReadOnlyList<SimNode> Nodes { get; }
    /// <summary>Which storage node hosts each segment.</summary>
    public IReadOnlyDictionary<(int Pg, int Replica), SimNode> Placement { get; }

    /// <summary>Prepares run <paramref name="seed"/>; <paramref name="trace"/> keeps a readable line per event
    /// (written to <paramref name="traceSink"/> as it goes when given).</summary>
    /// <param name="readBackAfterRestart">Restart the writer node before the final read-back (the default); false reads
    /// through the writer that served the run.</param>
    public Simulation(long seed, bool trace = false, TextWriter? traceSink = null, bool readBackAfterRestart = true)
    {
        _seed = seed;
        _readBackAfterRestart = readBackAfterRestart;
        _plan = RunPlan.For(seed);
        _trace = new SimTrace(trace, traceSink);
        Scheduler = new SimScheduler(_trace);
        Network = new SimNetwork(Scheduler, SimSeeds.For(seed, SimStream.Network), _trace);
        WriterNode = new SimNode("writer-0", RunPlan.Azs[0]);
        StorageNodes = RunPlan.Azs.SelectMany(az => Enumerable.Range(0, _plan.StoragePerAz).Select(i => new SimNode($"storage-{az}-{i}", az))).ToList();
        Nodes = [WriterNode, .. StorageNodes];
        Placement = Place(_plan.PgCount, StorageNodes);
        _obs.Accounts = _plan.Accounts;
        _obs.OpeningBalance = _plan.OpeningBalance;
        _obs.LivenessBound = _plan.LivenessBound;
    }

    /// <summary>The run's plan.</summary>
    public RunPlan Plan => _plan;

    /// <summary>Runs the whole seed: the world starts (recovery opens the volume, clients start), the fault phase, the quiet
    /// phase, the final read; then every check. Stops early when the event budget (<see cref="RunPlan.MaxEvents"/>) is spent.</summary>
    public RunResult Run()
    {
        var world = new World(this, _obs, _trace, _seed);
        var faults = new FaultInjector(Scheduler, Network, SimSeeds.For(_seed, SimStream.Faults), Nodes, _plan, world, _trace);
        var clients = new Clients(Scheduler, SimSeeds.For(_seed, SimStream.Clients), _obs, _plan, world);
        var violations = new List<Violation>();
        world.Start();
        world.ClientSide.StartSetUp();
        // Set-up: the volume opens and the tables and accounts are created, with no fault yet.
        var setUpBy = Scheduler.Now + SetUpBound;
        var budgetLeft = true;
        while (!world.ClientSide.SetUp && Scheduler.Now < setUpBy && (budgetLeft = Scheduler.RunUntil(Scheduler.Now + TimeSpan.FromMilliseconds(10), _plan.MaxEvents))) { }
        if (world.ClientSide.SetUp)
        {
            clients.Start();
            faults.Start();
            var quietAt = Scheduler.Now + _plan.FaultPhase;
            var endAt = quietAt + _plan.QuietPhase;
            budgetLeft = RunUntil(quietAt);
            if (budgetLeft)
            {
                faults.Quiet();
                _obs.QuietFrom = Scheduler.Now;
                budgetLeft = RunUntil(endAt);
            }
            clients.Stop();
            // Until every operation in flight has its answer or timed out.
            var settledBy = Scheduler.Now + Clients.Timeout + TimeSpan.FromMilliseconds(100);
            while (budgetLeft && Scheduler.Now < settledBy && _obs.Ops.Any(o => o.Outcome == Outcome.Pending))
                budgetLeft = RunUntil(Scheduler.Now + TimeSpan.FromMilliseconds(50));
            if (budgetLeft && _readBackAfterRestart)
            {
                // The final state is read through a writer recovered from the segments alone: what was acknowledged must
                // survive a writer crash.
                faults.Crash(WriterNode);
                faults.Restart(WriterNode);
            }
            if (budgetLeft)
            {
                var readBy = Scheduler.Now + ReadBackBound;
                world.ReadBack(done =>
                {
                    while (budgetLeft && !done() && Scheduler.Now < readBy) budgetLeft = RunUntil(Scheduler.Now + TimeSpan.FromMilliseconds(50));
                });
            }
        }
        else if (budgetLeft)
            violations.Add(new Violation(Checkers.Liveness, $"the volume was not set up (opened, two tables, {_plan.Accounts} accounts) within {SetUpBound.TotalSeconds} s with no fault: {world.Describe()}"));
        foreach (var op in _obs.Ops.Where(op => op.Outcome == Outcome.Pending))
        {
            op.Outcome = Outcome.Ambiguous;
            op.Reason = "unanswered when the run ended";
        }
        world.CollectHeld();
        if (world.ClientSide.SetUp) violations.AddRange(Checkers.All(_obs));
        if (!budgetLeft) violations.Add(new Violation(Checkers.Liveness, $"the event budget of {_plan.MaxEvents} ran out at {Scheduler.Now - SimScheduler.Origin} of simulated time"));
        var summary = $"plan {_plan.PgCount} PGs on {StorageNodes.Count} storage nodes, {_plan.Clients} clients, fault phase {_plan.FaultPhase.TotalMilliseconds} ms; " +
                      $"faults: {faults.Crashes} crashes, {faults.Partitions} partitions, {faults.ClockJumps} clock jumps, {faults.DiskSpells} disk spells; " +
                      $"network: {Network.Sent} sent, {Network.Dropped} dropped, {Network.Duplicated} duplicated; {world.Describe()}";
        return new RunResult(_seed, violations, Scheduler.Executed, Scheduler.Now, _obs.Ops.Count,
            _obs.Ops.Count(o => o.Outcome == Outcome.Ok), _obs.Ops.Count(o => o.Outcome == Outcome.Failed),
            _obs.Ops.Count(o => o.Outcome == Outcome.Ambiguous), _trace.Lines, summary);
    }

    /// <summary>How long the final read-back may take (a recovery of the writer first, then two scans).</summary>
    public static readonly TimeSpan ReadBackBound = TimeSpan.FromSeconds(10);

    /// <summary>The longest the set-up (recovery of a new volume, two tables, the accounts) may take with no fault.</summary>
    public static readonly TimeSpan SetUpBound = TimeSpan.FromSeconds(20);

    /// <summary>Runs seed <paramref name="seed"/>; an exception out of the run (an engine's or the simulator's) is a failed
    /// run with the exception as its violation, so one seed never stops the others.</summary>
    public static RunResult RunSafely(long seed, bool trace = false, TextWriter? traceSink = null)
    {
        try
        {
            return new Simulation(seed, trace, traceSink).Run();
        }
        catch (Exception e)
        {
            return new RunResult(seed, [new Violation(Checkers.NoException, $"{e.GetType().Name}: {e.Message}\n{e.StackTrace}")], 0, SimScheduler.Origin, 0, 0, 0, 0, [], "the run threw");
        }
    }

    /// <summary>Runs events up to <paramref name="until"/>; false when the event budget ran out first.</summary>
    private bool RunUntil(DateTime until) => Scheduler.RunUntil(until, _plan.MaxEvents);

    /// <summary>Places every segment with the real rule (<see cref="SegmentPlacement"/>), PG by PG.</summary>
    public static Dictionary<(int Pg, int Replica), SimNode> Place(int pgCount, IReadOnlyList<SimNode> storage)
    {
        var nodes = storage.Select(n => new StorageNode(n.Address, n.Az)).ToList();
        var placed = new Dictionary<string, IReadOnlyList<SegmentId>>(StringComparer.Ordinal);
        var result = new Dictionary<(int, int), SimNode>();
        for (var pg = 0; pg < pgCount; pg++)
        for (var r = 0; r < VolumeGeometry.SegmentsPerPg; r++)
        {
            var choice = SegmentPlacement.Choose(new SegmentId(pg, r), nodes, placed);
            placed[choice.Node.Address] = [.. placed.GetValueOrDefault(choice.Node.Address, []), new SegmentId(pg, r)];
            result[(pg, r)] = storage.First(n => n.Address == choice.Node.Address);
        }
        return result;
    }
}
