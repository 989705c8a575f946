using System.Reflection;
using ActorDb.Simulation;

namespace ActorDb.Simulation.Tests;

public class KernelTests
{
    [Fact]
    public void The_simulator_and_the_core_reference_no_Akka()
    {
        foreach (var assembly in new[] { typeof(Simulation).Assembly, typeof(ActorDb.Core.Lsn).Assembly })
        {
            var akka = assembly.GetReferencedAssemblies().Where(a => a.Name!.StartsWith("Akka", StringComparison.Ordinal)).Select(a => a.Name).ToList();
            Assert.True(akka.Count == 0, $"{assembly.GetName().Name} references {string.Join(", ", akka)}");
        }
    }

    [Fact]
    public void Events_run_in_time_order_and_same_time_events_in_the_order_they_were_scheduled()
    {
        var s = new SimScheduler(new SimTrace(false));
        var ran = new List<string>();
        s.After(TimeSpan.FromMilliseconds(2), null, "", () => ran.Add("b"));
        s.After(TimeSpan.FromMilliseconds(1), null, "", () => ran.Add("a1"));
        s.After(TimeSpan.FromMilliseconds(1), null, "", () => ran.Add("a2"));
        s.After(TimeSpan.FromMilliseconds(1), null, "", () => s.After(TimeSpan.Zero, null, "", () => ran.Add("a3")));
        Assert.True(s.RunUntil(SimScheduler.Origin + TimeSpan.FromSeconds(1), 100));
        Assert.Equal(["a1", "a2", "a3", "b"], ran);
        Assert.Equal(SimScheduler.Origin + TimeSpan.FromSeconds(1), s.Now);
    }

    [Fact]
    public void An_event_of_a_node_that_crashed_or_restarted_since_it_was_scheduled_is_dropped()
    {
        var s = new SimScheduler(new SimTrace(false));
        var node = new SimNode("storage-az-a-0", "az-a");
        var ran = new List<string>();
        s.After(TimeSpan.FromMilliseconds(1), node, "", () => ran.Add("old incarnation"));
        node.Incarnation++;
        s.After(TimeSpan.FromMilliseconds(2), node, "", () => ran.Add("new incarnation"));
        s.After(TimeSpan.FromMilliseconds(3), node, "", () => ran.Add("while down"));
        s.After(TimeSpan.FromMilliseconds(2.5), null, "", () => node.Up = false);
        s.RunUntil(SimScheduler.Origin + TimeSpan.FromSeconds(1), 100);
        Assert.Equal(["new incarnation"], ran);
    }

    [Fact]
    public void The_event_budget_stops_a_run()
    {
        var s = new SimScheduler(new SimTrace(false));
        void Again() => s.After(TimeSpan.FromMilliseconds(1), null, "", Again);
        Again();
        Assert.False(s.RunUntil(SimScheduler.Origin + TimeSpan.FromHours(1), 50));
        Assert.Equal(50, s.Executed);
    }

    [Fact]
    public void Streams_depend_on_seed_stream_and_index_only()
    {
        int[] Draw(long seed, SimStream stream, int index) { var r = SimSeeds.For(seed, stream, index); return Enumerable.Range(0, 8).Select(_ => r.Next()).ToArray(); }
        Assert.Equal(Draw(42, SimStream.Network, 0), Draw(42, SimStream.Network, 0));
        Assert.NotEqual(Draw(42, SimStream.Network, 0), Draw(43, SimStream.Network, 0));
        Assert.NotEqual(Draw(42, SimStream.Network, 0), Draw(42, SimStream.Disk, 0));
        Assert.NotEqual(Draw(42, SimStream.Disk, 0), Draw(42, SimStream.Disk, 1));
    }

    [Fact]
    public void A_partition_drops_messages_both_ways_until_healed_and_a_cut_in_flight_drops_too()
    {
        var s = new SimScheduler(new SimTrace(false));
        var net = new SimNetwork(s, new Random(1), new SimTrace(false));
        var a = new SimNode("a", "az-a");
        var b = new SimNode("b", "az-b");
        var c = new SimNode("c", "az-a");
        var got = new List<string>();
        net.PartitionAz("az-b", [a, b, c]);
        net.Send(a, b, "1", () => got.Add("a->b"));
        net.Send(b, c, "2", () => got.Add("b->c"));
        net.Send(a, c, "3", () => got.Add("a->c"));
        s.RunUntil(s.Now + TimeSpan.FromSeconds(1), 100);
        Assert.Equal(["a->c"], got);
        net.HealAll();
        net.Send(a, b, "4", () => got.Add("a->b healed"));
        net.Send(b, a, "5", () => got.Add("b->a cut in flight"));
        net.Partition(b, a);
        s.RunUntil(s.Now + TimeSpan.FromSeconds(1), 100);
        Assert.Equal(["a->c"], got);
        Assert.Equal(4, net.Dropped);
    }

    [Fact]
    public void Network_faults_drop_duplicate_and_reorder_reproducibly()
    {
        List<int> Deliveries(int seed)
        {
            var s = new SimScheduler(new SimTrace(false));
            var net = new SimNetwork(s, new Random(seed), new SimTrace(false))
                { Faults = new NetworkFaults(0.2, 0.2, TimeSpan.FromMicroseconds(10), TimeSpan.FromMilliseconds(5)) };
            var a = new SimNode("a", "az-a");
            var b = new SimNode("b", "az-b");
            var got = new List<int>();
            for (var i = 0; i < 200; i++) { var n = i; net.Send(a, b, n, () => got.Add(n)); }
            s.RunUntil(s.Now + TimeSpan.FromSeconds(1), 10_000);
            return got;
        }
        var first = Deliveries(7);
        Assert.Equal(first, Deliveries(7));
        Assert.NotEqual(first, Deliveries(8));
        Assert.True(first.Distinct().Count() < 200, "some messages are dropped");
        Assert.True(first.Count > first.Distinct().Count(), "some messages arrive twice");
        Assert.NotEqual(first.Order().ToList(), first);   // reordered
    }

    [Fact]
    public void Placement_puts_a_PGs_six_segments_on_six_nodes_two_per_AZ()
    {
        var nodes = RunPlan.Azs.SelectMany(az => Enumerable.Range(0, 3).Select(i => new SimNode($"s-{az}-{i}", az))).ToList();
        var placement = Simulation.Place(3, nodes);
        for (var pg = 0; pg < 3; pg++)
        {
            var hosts = Enumerable.Range(0, 6).Select(r => placement[(pg, r)]).ToList();
            Assert.Equal(6, hosts.Distinct().Count());
            Assert.All(RunPlan.Azs, az => Assert.Equal(2, hosts.Count(h => h.Az == az)));
        }
    }
}
