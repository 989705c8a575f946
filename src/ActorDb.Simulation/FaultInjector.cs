namespace ActorDb.Simulation;

/// <summary>What a node does when it crashes and when it comes back; the world wires each node's engines to it.</summary>
public interface INodeLife
{
    /// <summary>The node's process died (its engines are gone; its disk loses what it had not synced).</summary>
    void Crashed(SimNode node);
    /// <summary>The node restarted: new engine instances over the same disk.</summary>
    void Restarted(SimNode node);
    /// <summary>Storage faults on the node's disk start (<paramref name="on"/>) or stop.</summary>
    void DiskFaults(SimNode node, bool on, Random random);
}

/// <summary>
/// Injects the fault phase's faults from the <see cref="SimStream.Faults"/> stream, one every
/// <see cref="RunPlan.MeanFaultGap"/> on average (exponential gaps): crash and later restart of any node, power loss of a
/// whole AZ or (rarely) of every node, a partition of a node pair or of a whole AZ and its heal, a forward clock jump of a
/// node, a spell of disk faults (ENOSPC, EIO on writes or syncs, a slow disk) on a node.
/// <see cref="Quiet"/> ends them all: every node up, the network healed and calm, disk faults off.
/// </summary>
public sealed class FaultInjector(SimScheduler scheduler, SimNetwork network, Random random, IReadOnlyList<SimNode> nodes,
    RunPlan plan, INodeLife life, SimTrace trace)
{
    private bool _quiet;
    private readonly bool[] _diskFaulty = new bool[nodes.Count];

    /// <summary>Faults injected so far, by kind.</summary>
    public int Crashes { get; private set; }
    /// <inheritdoc cref="Crashes"/>
    public int Partitions { get; private set; }
    /// <inheritdoc cref="Crashes"/>
    public int ClockJumps { get; private set; }
    /// <inheritdoc cref="Crashes"/>
    public int DiskSpells { get; private set; }

    /// <summary>Starts the fault phase.</summary>
    public void Start()
    {
        network.Faults = plan.Network;
        ScheduleNext();
    }

    private void ScheduleNext()
    {
        var gap = TimeSpan.FromTicks((long)(-Math.Log(1 - random.NextDouble()) * plan.MeanFaultGap.Ticks));
        scheduler.After(gap, null, "fault", () =>
        {
            if (_quiet) return;
            Inject();
            ScheduleNext();
        });
    }

    private void Inject()
    {
        var node = nodes[random.Next(nodes.Count)];
        var back = TimeSpan.FromMilliseconds(20 + random.Next(1500));
        switch (random.Next(11))
        {
            case 10:
                // The whole data centre loses power: every node at once; what no disk synced is gone everywhere.
                Crashes++;
                Note($"power loss of every node, back in {back.TotalMilliseconds} ms");
                foreach (var n in nodes.Where(n => n.Up)) Crash(n);
                scheduler.After(back, null, "every node restarts", () =>
                {
                    foreach (var n in nodes.Where(n => !n.Up)) Restart(n);
                });
                break;
            case 4 or 9:
                // An AZ loses power: every node in it at once (the writer too when it lives there).
                var az = node.Az;
                Crashes++;
                Note($"power loss of {az}, back in {back.TotalMilliseconds} ms");
                foreach (var n in nodes.Where(n => n.Az == az && n.Up)) Crash(n);
                scheduler.After(back, null, $"{az} restarts", () =>
                {
                    foreach (var n in nodes.Where(n => n.Az == az && !n.Up)) Restart(n);
                });
                break;
            case 0 or 5 when node.Up:
                Crashes++;
                Note($"crash {node}, back in {back.TotalMilliseconds} ms");
                Crash(node);
                scheduler.After(back, null, $"restart {node}", () => { if (!node.Up) Restart(node); });
                break;
            case 1 or 6:
                Partitions++;
                if (random.Next(3) == 0)
                {
                    Note($"partition {node.Az} from the other AZs for {back.TotalMilliseconds} ms");
                    network.PartitionAz(node.Az, nodes);
                }
                else
                {
                    var other = nodes[random.Next(nodes.Count)];
                    if (other == node) return;
                    Note($"partition {node} from {other} for {back.TotalMilliseconds} ms");
                    network.Partition(node, other);
                }
                // Heals every cut: overlapping partitions heal together, which keeps the bookkeeping simple.
                scheduler.After(back, null, "heal the network", network.HealAll);
                break;
            case 2 or 7:
                ClockJumps++;
                var jump = TimeSpan.FromMilliseconds(1 + random.Next(5000));
                node.ClockAhead += jump;
                Note($"clock of {node} jumps {jump.TotalMilliseconds} ms ahead");
                break;
            case 3 or 8:
                var i = IndexOf(node);
                if (_diskFaulty[i]) return;
                DiskSpells++;
                _diskFaulty[i] = true;
                Note($"disk faults on {node} for {back.TotalMilliseconds} ms");
                life.DiskFaults(node, true, random);
                scheduler.After(back, null, $"disk of {node} heals", () =>
                {
                    if (!_diskFaulty[i]) return;
                    _diskFaulty[i] = false;
                    life.DiskFaults(node, false, random);
                });
                break;
        }
    }

    /// <summary>Crashes <paramref name="node"/> now (also used by tests and regressions).</summary>
    public void Crash(SimNode node)
    {
        node.Up = false;
        life.Crashed(node);
    }

    /// <summary>Restarts a crashed <paramref name="node"/>.</summary>
    public void Restart(SimNode node)
    {
        node.Incarnation++;
        node.Up = true;
        life.Restarted(node);
    }

    /// <summary>Ends the fault phase: no further faults, a calm healed network, disk faults off, every node up.</summary>
    public void Quiet()
    {
        _quiet = true;
        network.Faults = NetworkFaults.Calm;
        network.HealAll();
        for (var i = 0; i < nodes.Count; i++)
        {
            if (_diskFaulty[i])
            {
                _diskFaulty[i] = false;
                life.DiskFaults(nodes[i], false, random);
            }
            if (!nodes[i].Up) Restart(nodes[i]);
        }
        Note("quiet phase: faults stop, the network heals, every node is up");
    }

    private int IndexOf(SimNode node)
    {
        for (var i = 0; i < nodes.Count; i++) if (nodes[i] == node) return i;
        throw new ArgumentException($"{node} is not a node of this run", nameof(node));
    }

    private void Note(string text)
    {
        if (trace.Enabled) trace.Line(scheduler.Now, "FAULT " + text);
    }
}
