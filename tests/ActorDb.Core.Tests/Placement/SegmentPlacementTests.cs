using ActorDb.Core.Placement;
using CsCheck;

namespace ActorDb.Core.Tests.Placement;

public class SegmentPlacementTests
{
    private static List<StorageNode> Nodes(params (string Address, string? Az)[] nodes) => nodes.Select(n => new StorageNode(n.Address, n.Az)).ToList();

    /// <summary>Places every segment of <paramref name="pgs"/> PGs one after another, as the coordinator would.</summary>
    private static (Dictionary<string, List<SegmentId>> Placed, List<string> Degraded) PlaceAll(IReadOnlyList<StorageNode> nodes, int pgs)
    {
        var placed = nodes.ToDictionary(n => n.Address, _ => new List<SegmentId>());
        var degraded = new List<string>();
        for (var pg = 0; pg < pgs; pg++)
            for (var r = 0; r < 6; r++)
            {
                var view = placed.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<SegmentId>)kv.Value);
                var choice = SegmentPlacement.Choose(new(pg, r), nodes, view);
                placed[choice.Node.Address].Add(new(pg, r));
                if (choice.Degraded is not null) degraded.Add(choice.Degraded);
            }
        return (placed, degraded);
    }

    [Fact]
    public void Six_nodes_two_per_az_take_one_segment_of_each_pg_each_in_the_replicas_own_az()
    {
        var nodes = Nodes(("a1", "az-a"), ("a2", "az-a"), ("b1", "az-b"), ("b2", "az-b"), ("c1", "az-c"), ("c2", "az-c"));
        var (placed, degraded) = PlaceAll(nodes, pgs: 3);
        Assert.Empty(degraded);
        foreach (var node in nodes)
        {
            Assert.Equal(3, placed[node.Address].Count);                                     // even load
            Assert.Equal(3, placed[node.Address].Select(s => s.Pg).Distinct().Count());     // never two of one PG
            Assert.All(placed[node.Address], s => Assert.Equal(node.Az, VolumeGeometry.AzOf(s.Replica)));
        }
    }

    [Fact]
    public void Three_nodes_one_per_az_spread_as_far_as_they_can_and_report_the_degraded_placement()
    {
        var nodes = Nodes(("a", "az-a"), ("b", "az-b"), ("c", "az-c"));
        var (placed, degraded) = PlaceAll(nodes, pgs: 1);
        Assert.All(nodes, n => Assert.Equal(2, placed[n.Address].Count));   // 2 of the PG's 6 on each node
        Assert.NotEmpty(degraded);
        Assert.Contains(degraded, d => d.Contains("every storage node already hosts a segment of PG 0"));
    }

    [Fact]
    public void One_node_hosts_everything_and_says_so()
    {
        var (placed, degraded) = PlaceAll(Nodes(("only", "az-b")), pgs: 1);
        Assert.Equal(6, placed["only"].Count);
        Assert.Equal(6, degraded.Count);   // the first is in the wrong AZ (the node is in az-b); every later one shares the node
        Assert.Contains("no eligible storage node in az-a", degraded[0]);
        Assert.All(degraded.Skip(1), d => Assert.Contains("every storage node already hosts a segment of PG 0", d));
    }

    [Fact]
    public void A_segment_whose_node_died_goes_to_a_node_without_a_segment_of_its_pg_in_its_az_when_there_is_one()
    {
        // pg-0-1's node a2 is gone; a3 (az-a, empty) is the right home, not a1 (az-a, holds pg-0-0) nor b3 (other AZ).
        var nodes = Nodes(("a1", "az-a"), ("a3", "az-a"), ("b1", "az-b"), ("b2", "az-b"), ("b3", "az-b"), ("c1", "az-c"), ("c2", "az-c"));
        var placed = new Dictionary<string, IReadOnlyList<SegmentId>>
        {
            ["a1"] = [new(0, 0)], ["b1"] = [new(0, 2)], ["b2"] = [new(0, 3)], ["c1"] = [new(0, 4)], ["c2"] = [new(0, 5)],
        };
        var choice = SegmentPlacement.Choose(new(0, 1), nodes, placed);
        Assert.Equal("a3", choice.Node.Address);
        Assert.Null(choice.Degraded);
    }

    [Fact]
    public void A_segment_whose_node_died_has_no_node_of_its_own_when_every_live_node_holds_its_pg()
    {
        // az-a's two nodes are gone: pg-0-0 and pg-0-1 have no node that holds no segment of PG 0.
        var nodes = Nodes(("b1", "az-b"), ("b2", "az-b"), ("c1", "az-c"), ("c2", "az-c"));
        var placed = new Dictionary<string, IReadOnlyList<SegmentId>>
        {
            ["b1"] = [new(0, 2)], ["b2"] = [new(0, 3)], ["c1"] = [new(0, 4)], ["c2"] = [new(0, 5)],
        };
        Assert.False(SegmentPlacement.HasNodeOfItsOwn(new(0, 0), nodes, placed));
        Assert.False(SegmentPlacement.HasNodeOfItsOwn(new(0, 1), nodes, placed));
        // A segment already placed does not count against itself, and another PG's segments do not count.
        Assert.True(SegmentPlacement.HasNodeOfItsOwn(new(0, 2), Nodes(("b1", "az-b")), new Dictionary<string, IReadOnlyList<SegmentId>> { ["b1"] = [new(0, 2)] }));
        Assert.True(SegmentPlacement.HasNodeOfItsOwn(new(1, 0), nodes, placed));
        // A node joins: it is one of its own.
        Assert.True(SegmentPlacement.HasNodeOfItsOwn(new(0, 0), [.. nodes, new StorageNode("a9", "az-a")], placed));
    }

    [Fact]
    public void With_six_or_more_nodes_no_node_ever_holds_two_segments_of_one_pg()
    {
        var zones = new[] { "az-a", "az-b", "az-c", null };
        Gen.Select(Gen.Int[6, 12], Gen.Int[1, 4], Gen.Int[0, 3].Array[12])
            .Sample((count, pgs, az) =>
            {
                var nodes = Enumerable.Range(0, count).Select(i => new StorageNode($"n{i:D2}", zones[az[i]])).ToList();
                var (placed, _) = PlaceAll(nodes, pgs);
                return placed.Values.All(s => s.Select(x => x.Pg).Distinct().Count() == s.Count);
            });
    }

    [Fact]
    public void A_node_that_comes_back_with_a_segment_on_disk_is_kept_for_it_and_gets_it_back()
    {
        // az-a lost both nodes (pg-0-0 and pg-0-1 unplaced); b1 died and came back as b1' with pg-0-2 on its disk.
        var nodes = new List<StorageNode>
        {
            new("b1'", "az-b", [new(0, 2)]), new("b2", "az-b"), new("c1", "az-c"), new("c2", "az-c"),
        };
        var placed = new Dictionary<string, IReadOnlyList<SegmentId>>
        {
            ["b1'"] = [], ["b2"] = [new(0, 3)], ["c1"] = [new(0, 4)], ["c2"] = [new(0, 5)],
        };
        // pg-0-1 asks first: the only node without a segment of PG 0 is kept for pg-0-2, so pg-0-1 has no node of its own.
        Assert.False(SegmentPlacement.HasNodeOfItsOwn(new(0, 1), nodes, placed));
        // pg-0-2 gets its own node back, not degraded (it is in az-b too, but rule 0 would win across AZs as well).
        Assert.True(SegmentPlacement.HasNodeOfItsOwn(new(0, 2), nodes, placed));
        var choice = SegmentPlacement.Choose(new(0, 2), nodes, placed);
        Assert.Equal("b1'", choice.Node.Address);
        Assert.Null(choice.Degraded);
        // Allowed to share (share-nodes on), pg-0-1 still avoids the kept node while another is possible, and says why when not.
        var shared = SegmentPlacement.Choose(new(0, 1), nodes, placed);
        Assert.Equal("b1'", shared.Node.Address);
        Assert.Contains("hold another segment of it on disk", shared.Degraded);
    }

    [Fact]
    public void A_segment_on_disk_that_lives_elsewhere_now_does_not_keep_the_node()
    {
        // pg-0-2 was re-placed on b2 and caught up there: b1's copy on disk is stale, and b1 is free for pg-0-1.
        var nodes = new List<StorageNode> { new("b1", "az-b", [new(0, 2)]), new("b2", "az-b"), new("c1", "az-c") };
        var placed = new Dictionary<string, IReadOnlyList<SegmentId>>
        {
            ["b1"] = [], ["b2"] = [new(0, 2)], ["c1"] = [new(0, 4)],
        };
        Assert.True(SegmentPlacement.HasNodeOfItsOwn(new(0, 1), nodes, placed));
        Assert.Equal("b1", SegmentPlacement.Choose(new(0, 1), nodes, placed).Node.Address);
    }

    [Fact]
    public void The_node_holding_a_segment_on_disk_wins_over_a_less_loaded_node_in_the_segments_own_az()
    {
        var nodes = new List<StorageNode> { new("a1", "az-a"), new("a9", "az-a", [new(0, 0)]) };
        var placed = new Dictionary<string, IReadOnlyList<SegmentId>> { ["a1"] = [], ["a9"] = [new(1, 0), new(2, 0)] };
        var choice = SegmentPlacement.Choose(new(0, 0), nodes, placed);
        Assert.Equal("a9", choice.Node.Address);
        Assert.Null(choice.Degraded);
    }
}
