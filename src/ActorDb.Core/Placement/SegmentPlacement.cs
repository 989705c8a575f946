namespace ActorDb.Core.Placement;

/// <summary>A storage node that can host segments: its cluster address, its availability zone (null: unknown), and the
/// segments whose data its disk holds from an earlier run (null or empty: none; a node announces them when it joins).</summary>
public sealed record StorageNode(string Address, string? Az, IReadOnlyCollection<SegmentId>? OnDisk = null);

/// <summary>Where a segment goes, and why the placement is degraded when it had to relax a rule (null: it did not).</summary>
public sealed record PlacementChoice(StorageNode Node, string? Degraded);

/// <summary>
/// Chooses the storage node for one segment of a protection group (design.md, "Quorum and guarantees": the 6 segments
/// of a PG live on 6 different storage nodes, 2 per AZ). Deterministic and free of Akka; the sharding allocation
/// strategy calls it with the cluster's storage nodes and the current placement.
/// <para>A node whose disk holds a segment that is not placed anywhere is kept for that segment: it is offered no other
/// segment of the same PG (a storage node that comes back after a crash gets its own segment back, with its data, and not
/// an empty one that would have to copy everything from its peers), and it is the first choice for its own.</para>
/// <para>Rules, in order: (0) the node holding this segment on disk, if it hosts no other segment of the PG;
/// (1) never a node that already hosts, or is kept for, another segment of the same PG; (2) the replica's own AZ
/// (<see cref="VolumeGeometry.AzOf"/>: replicas 0-1 in az-a, 2-3 in az-b, 4-5 in az-c); (3) the node with the fewest
/// segments; (4) the smallest address. When no node satisfies (1), the node with the fewest segments of the PG is taken;
/// when no candidate is in the replica's AZ, the AZ with the fewest segments of the PG. Either case is reported as
/// degraded, with the reason.</para>
/// </summary>
public static class SegmentPlacement
{
    /// <summary>True when some node in <paramref name="nodes"/> hosts no other segment of <paramref name="segment"/>'s PG
    /// (rule 1 can be kept); <paramref name="placed"/> as for <see cref="Choose"/>.</summary>
    public static bool HasNodeOfItsOwn(SegmentId segment, IReadOnlyList<StorageNode> nodes,
        IReadOnlyDictionary<string, IReadOnlyList<SegmentId>> placed) =>
        nodes.Any(n => !(placed.TryGetValue(n.Address, out var s) ? s : []).Any(x => x.Pg == segment.Pg && x != segment)
                       && !KeptForAnother(n, segment, placed));

    /// <summary>True when <paramref name="node"/>'s disk holds another segment of <paramref name="segment"/>'s PG that no
    /// node hosts now: the node waits for that segment.</summary>
    private static bool KeptForAnother(StorageNode node, SegmentId segment,
        IReadOnlyDictionary<string, IReadOnlyList<SegmentId>> placed) =>
        node.OnDisk is { Count: > 0 } held
        && held.Any(h => h.Pg == segment.Pg && h != segment && !placed.Values.Any(p => p.Contains(h)));

    /// <summary>Chooses the node for <paramref name="segment"/>.</summary>
    /// <param name="segment">The segment to place.</param>
    /// <param name="nodes">The storage nodes that can take it (at least one).</param>
    /// <param name="placed">The segments each node hosts now, by node address (nodes missing here host none).</param>
    /// <exception cref="ArgumentException">no nodes.</exception>
    public static PlacementChoice Choose(SegmentId segment, IReadOnlyList<StorageNode> nodes,
        IReadOnlyDictionary<string, IReadOnlyList<SegmentId>> placed)
    {
        if (nodes.Count == 0) throw new ArgumentException("no storage node to place a segment on", nameof(nodes));
        var pg = segment.Pg;
        IReadOnlyList<SegmentId> On(StorageNode n) => placed.TryGetValue(n.Address, out var s) ? s : [];
        int SamePg(StorageNode n) => On(n).Count(s => s.Pg == pg && s != segment);

        var own = nodes.Where(n => n.OnDisk?.Contains(segment) == true && SamePg(n) == 0)
            .OrderBy(n => n.Address, StringComparer.Ordinal).FirstOrDefault();
        if (own is not null) return new PlacementChoice(own, null);

        var reasons = new List<string>();
        var candidates = nodes.Where(n => SamePg(n) == 0 && !KeptForAnother(n, segment, placed)).ToList();
        if (candidates.Count == 0)
        {
            candidates = nodes.Where(n => SamePg(n) == 0).ToList();
            if (candidates.Count > 0) reasons.Add($"the only storage nodes without a segment of PG {pg} hold another segment of it on disk, not placed yet");
        }
        if (candidates.Count == 0)
        {
            var fewest = nodes.Min(SamePg);
            candidates = nodes.Where(n => SamePg(n) == fewest).ToList();
            reasons.Add($"every storage node already hosts a segment of PG {pg} ({nodes.Count} node(s) for 6 segments)");
        }

        var az = segment.Az;
        var inAz = candidates.Where(n => n.Az == az).ToList();
        if (inAz.Count > 0) candidates = inAz;
        else
        {
            // The AZ holding the fewest segments of this PG keeps the copies spread.
            int PgInAz(string? zone) => nodes.Where(n => n.Az == zone).Sum(n => On(n).Count(s => s.Pg == pg && s != segment));
            var zone = candidates.Select(n => n.Az).Distinct().OrderBy(PgInAz).ThenBy(z => z, StringComparer.Ordinal).First();
            candidates = candidates.Where(n => n.Az == zone).ToList();
            reasons.Add($"no eligible storage node in {az}; placed in {zone ?? "a node without an AZ"}");
        }

        var chosen = candidates.OrderBy(n => On(n).Count).ThenBy(n => n.Address, StringComparer.Ordinal).First();
        return new PlacementChoice(chosen, reasons.Count == 0 ? null : $"segment {segment}: " + string.Join("; ", reasons));
    }
}
