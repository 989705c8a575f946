namespace ActorDb.Simulation;

/// <summary>How the network misbehaves now: each message is dropped with <paramref name="Drop"/>, delivered twice with
/// <paramref name="Duplicate"/> (probabilities 0..1), and delayed uniformly in [<paramref name="MinDelay"/>,
/// <paramref name="MaxDelay"/>] (a wide window reorders messages).</summary>
public sealed record NetworkFaults(double Drop, double Duplicate, TimeSpan MinDelay, TimeSpan MaxDelay)
{
    /// <summary>A healthy network: nothing lost or doubled, 50-500 µs, so still reordered across links.</summary>
    public static readonly NetworkFaults Calm = new(0, 0, TimeSpan.FromMicroseconds(50), TimeSpan.FromMicroseconds(500));
}

/// <summary>
/// The simulated network between <see cref="SimNode"/>s: per-message delay, reorder, drop and duplication drawn from
/// its own random stream, and partitions per node pair (an AZ partition cuts every pair across it). A message to a
/// node that is down, or that restarts before it arrives, is lost (its connection went with the process).
/// </summary>
public sealed class SimNetwork(SimScheduler scheduler, Random random, SimTrace trace)
{
    private readonly HashSet<(string, string)> _cut = new();   // looked up only, never iterated

    /// <summary>The faults in force; the quiet phase sets <see cref="NetworkFaults.Calm"/>.</summary>
    public NetworkFaults Faults { get; set; } = NetworkFaults.Calm;

    /// <summary>Messages sent, dropped (fault, partition or dead target), duplicated.</summary>
    public long Sent { get; private set; }
    /// <inheritdoc cref="Sent"/>
    public long Dropped { get; private set; }
    /// <inheritdoc cref="Sent"/>
    public long Duplicated { get; private set; }

    /// <summary>Whether <paramref name="a"/> and <paramref name="b"/> cannot reach each other.</summary>
    public bool IsCut(SimNode a, SimNode b) => _cut.Contains(Pair(a, b));

    /// <summary>Cuts the link between two nodes (both directions).</summary>
    public void Partition(SimNode a, SimNode b) => _cut.Add(Pair(a, b));

    /// <summary>Cuts every link between a node of <paramref name="az"/> and one outside it.</summary>
    public void PartitionAz(string az, IReadOnlyList<SimNode> nodes)
    {
        foreach (var a in nodes)
        foreach (var b in nodes)
            if (a.Az == az && b.Az != az) Partition(a, b);
    }

    /// <summary>Restores every link.</summary>
    public void HealAll() => _cut.Clear();

    /// <summary>Sends <paramref name="message"/> from <paramref name="from"/> to <paramref name="to"/>;
    /// <paramref name="deliver"/> runs on arrival, zero, one or two times as the faults say (never twice without
    /// <paramref name="mayDuplicate"/>: a client's request is not idempotent, and no transport a client uses doubles one).</summary>
    public void Send(SimNode from, SimNode to, object message, Action deliver, bool mayDuplicate = true)
    {
        Sent++;
        if (!to.Up || IsCut(from, to) || (Faults.Drop > 0 && random.NextDouble() < Faults.Drop))
        {
            Dropped++;
            if (trace.Enabled) trace.Line(scheduler.Now, $"net drop {from}->{to} {Describe(message)}");
            return;
        }
        var copies = mayDuplicate && Faults.Duplicate > 0 && random.NextDouble() < Faults.Duplicate ? 2 : 1;
        if (copies == 2) Duplicated++;
        for (var i = 0; i < copies; i++)
            scheduler.After(Delay(), to, trace.Enabled ? $"net {from}->{to} {Describe(message)}" : "", () =>
            {
                if (IsCut(from, to)) { Dropped++; return; }   // partitioned while in flight
                deliver();
            });
    }

    private TimeSpan Delay()
    {
        var min = Faults.MinDelay.Ticks;
        var span = Math.Max(0, Faults.MaxDelay.Ticks - min);
        return TimeSpan.FromTicks(min + (span == 0 ? 0 : random.NextInt64(span + 1)));
    }

    /// <summary>A message as the trace shows it: its record text, cut to 200 characters.</summary>
    public static string Describe(object message)
    {
        var text = message.ToString() ?? message.GetType().Name;
        return text.Length <= 200 ? text : text[..200] + "…";
    }

    private static (string, string) Pair(SimNode a, SimNode b) =>
        string.CompareOrdinal(a.Address, b.Address) <= 0 ? (a.Address, b.Address) : (b.Address, a.Address);
}
