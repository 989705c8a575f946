using ActorDb.Core.Storage;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Event;
using ActorDb.Core;
using ActorDb.Core.Placement;

namespace ActorDb.Storage;

/// <summary>
/// The shard allocation strategy of the segment region (one shard per segment, <c>pg-N-R</c>): places each segment with
/// <see cref="SegmentPlacement"/> (never two segments of a PG on one node, 2 per AZ, the least loaded node), reading each
/// region's node and AZ (its <c>az-*</c> cluster role) from the cluster state. It never rebalances: moving a segment is
/// a data migration (catch-up from peers), not a sharding hand-off. A degraded placement is logged as a warning when the
/// cluster has more than one storage node (an embedded node hosts every segment by design, so it logs that at debug).
/// Runs inside the shard coordinator (a cluster singleton); see Akka.Cluster.Sharding's
/// <c>AbstractLeastShardAllocationStrategy</c> for the region-to-member mapping it follows. A storage node announces the
/// segments its disk holds in <c>holds-pg-N-R</c> roles when it joins: it gets them back, and no other segment of
/// their PGs while they are not placed (<see cref="SegmentPlacement"/>).
/// <para>With <c>shareNodes</c> off (a cluster's default, <c>actordb.segment.share-nodes</c>), a segment that no live
/// storage node can take without hosting two segments of its PG is not allocated: the strategy answers
/// <see cref="ActorRefs.Nobody"/>, which the coordinator does not register, and the region asks again (every
/// <c>akka.cluster.sharding.retry-interval</c>) until a storage node of its own joins. Messages to it meanwhile are
/// buffered by the region or dropped, and the writer resends until acknowledged. Logged once per segment.</para>
/// </summary>
public sealed class SegmentAllocationStrategy(bool shareNodes = true) : IShardAllocationStrategy, IActorSystemDependentAllocationStrategy
{
    private Cluster? _cluster;
    private ILoggingAdapter? _log;
    private readonly HashSet<string> _waiting = new();   // segments told to wait for a node of their own (logged once)

    /// <inheritdoc />
    public void Start(ActorSystem system)
    {
        _cluster = Cluster.Get(system);
        _log = Logging.GetLogger(system, typeof(SegmentAllocationStrategy));
    }

    /// <inheritdoc />
    public Task<IActorRef> AllocateShard(IActorRef requester, string shardId, IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations)
    {
        var cluster = _cluster ?? throw new InvalidOperationException("the allocation strategy was not started");
        if (currentShardAllocations.Count == 0) return Task.FromResult(requester);
        var members = cluster.State.Members.ToDictionary(m => m.Address);
        var regions = new Dictionary<string, IActorRef>();
        var nodes = new List<StorageNode>();
        var placed = new Dictionary<string, IReadOnlyList<SegmentId>>();
        foreach (var (region, shards) in currentShardAllocations)
        {
            var address = region.Path.Address.HasLocalScope ? cluster.SelfAddress : region.Path.Address;
            members.TryGetValue(address, out var member);
            if (member is not null && member.Status is not (MemberStatus.Up or MemberStatus.WeaklyUp)) continue;   // leaving, exiting, down
            var key = address.ToString();
            regions[key] = region;
            nodes.Add(new StorageNode(key, member?.Roles.FirstOrDefault(r => r.StartsWith("az-", StringComparison.Ordinal)),
                member?.Roles.Select(Hosting.ActorDbNodeSettings.HeldSegment).OfType<SegmentId>().ToList()));
            placed[key] = shards.Select(SegmentId.Parse).ToList();
        }
        if (nodes.Count == 0) return Task.FromResult(requester);
        var segment = SegmentId.Parse(shardId);
        if (!shareNodes && !SegmentPlacement.HasNodeOfItsOwn(segment, nodes, placed))
        {
            if (_waiting.Add(shardId))
                _log?.Warning("Segment {Segment} waits for a storage node of its own: each of the {Nodes} live storage nodes already hosts a segment of PG {Pg} (actordb.segment.share-nodes = off)",
                    shardId, nodes.Count, segment.Pg);
            return Task.FromResult<IActorRef>(ActorRefs.Nobody);
        }
        _waiting.Remove(shardId);
        var choice = SegmentPlacement.Choose(segment, nodes, placed);
        if (choice.Degraded is not null)
        {
            if (nodes.Count > 1) _log?.Warning("Degraded segment placement: {Reason}; on {Node}", choice.Degraded, choice.Node.Address);
            else _log?.Debug("Segment {Segment} placed on the only storage node {Node}", shardId, choice.Node.Address);
        }
        return Task.FromResult(regions[choice.Node.Address]);
    }

    /// <inheritdoc />
    public Task<IImmutableSet<string>> Rebalance(IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations, IImmutableSet<string> rebalanceInProgress) =>
        Task.FromResult<IImmutableSet<string>>(ImmutableHashSet<string>.Empty);
}
