namespace ActorDb.Simulation;

/// <summary>The independent random streams of one run. Each component draws from its own stream so that adding a draw in
/// one (say, a new network fault) does not shift the schedule of another (the disk, the clients).</summary>
public enum SimStream
{
    /// <summary>Network delays, drops, duplicates.</summary>
    Network = 1,
    /// <summary>Disk latency, torn writes, power-loss survival.</summary>
    Disk = 2,
    /// <summary>The fault schedule: which fault when (crashes, partitions, clock jumps, disk errors).</summary>
    Faults = 3,
    /// <summary>Client think time, keys, transfer amounts.</summary>
    Clients = 4,
    /// <summary>The seeded Random handed to engines that want one.</summary>
    Engines = 5,
    /// <summary>The shape of the run: fault rates, durations.</summary>
    Plan = 6,
}

/// <summary>Derives a reproducible <see cref="Random"/> per (seed, stream, index) with SplitMix64, so a run depends on its
/// seed and nothing else (no process-randomized hash codes, no clock).</summary>
public static class SimSeeds
{
    /// <summary>The stream <paramref name="stream"/> number <paramref name="index"/> (e.g. a node's disk) of run
    /// <paramref name="seed"/>.</summary>
    public static Random For(long seed, SimStream stream, int index = 0) =>
        new(unchecked((int)Mix((ulong)seed ^ Mix((ulong)stream << 32 | (uint)index))));

    /// <summary>SplitMix64's finalizer: a bijective scramble of 64 bits.</summary>
    public static ulong Mix(ulong z)
    {
        z = unchecked(z + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }
}
