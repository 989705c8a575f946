namespace ActorDb.Simulation;

/// <summary>The shape of one run, drawn from its seed (<see cref="SimStream.Plan"/>): how big the world is, how long each
/// phase lasts, how hostile the fault phase is.</summary>
/// <param name="PgCount">Protection groups of the volume (6 segments each).</param>
/// <param name="StoragePerAz">Storage nodes per AZ (3 AZs); a PG's 6 segments are spread 2 per AZ as the real placement does.</param>
/// <param name="Clients">Concurrent clients.</param>
/// <param name="Accounts">Bank accounts, each opening with <see cref="OpeningBalance"/>.</param>
/// <param name="FaultPhase">How long faults are injected (simulated time).</param>
/// <param name="QuietPhase">How long the run goes on with every fault stopped and every node up.</param>
/// <param name="LivenessBound">The longest the quiet phase may go before a commit is acknowledged.</param>
/// <param name="Network">The network's behaviour during the fault phase.</param>
/// <param name="MeanFaultGap">Mean simulated time between two injected faults.</param>
/// <param name="MaxEvents">The run stops after this many events (a budget, so one seed stays a few thousand events).</param>
public sealed record RunPlan(int PgCount, int StoragePerAz, int Clients, int Accounts, long OpeningBalance,
    TimeSpan FaultPhase, TimeSpan QuietPhase, TimeSpan LivenessBound, NetworkFaults Network, TimeSpan MeanFaultGap, long MaxEvents)
{
    /// <summary>The AZs, in order.</summary>
    public static readonly string[] Azs = ["az-a", "az-b", "az-c"];

    /// <summary>The plan of run <paramref name="seed"/>.</summary>
    public static RunPlan For(long seed)
    {
        var r = SimSeeds.For(seed, SimStream.Plan);
        var hostile = r.Next(4);   // 0 calm .. 3 rough: a spread of schedules, not every run at the worst
        var network = new NetworkFaults(
            Drop: hostile * r.NextDouble() * 0.04,
            Duplicate: hostile * r.NextDouble() * 0.02,
            MinDelay: TimeSpan.FromMicroseconds(50),
            MaxDelay: TimeSpan.FromMicroseconds(200 + r.Next(hostile == 0 ? 500 : 20_000)));
        return new RunPlan(
            PgCount: 2 + r.Next(2),
            StoragePerAz: 2 + r.Next(2),
            Clients: 2 + r.Next(4),
            Accounts: 4 + r.Next(5),
            OpeningBalance: 1000,
            FaultPhase: TimeSpan.FromMilliseconds(1000 + r.Next(3000)),
            QuietPhase: TimeSpan.FromSeconds(8),
            LivenessBound: TimeSpan.FromSeconds(6),
            Network: network,
            MeanFaultGap: TimeSpan.FromMilliseconds(hostile == 0 ? 100_000 : 150 + r.Next(600)),
            MaxEvents: 60_000);
    }
}
