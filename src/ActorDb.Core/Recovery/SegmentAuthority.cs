namespace ActorDb.Core.Recovery;

/// <summary>
/// The cluster as a segment sees it when a message arrives: this node's address and roles, and the members that count
/// (address to roles; <c>null</c> when the actor system is not a cluster). Addresses are Akka address strings
/// (<c>akka.tcp://actordb@10.0.0.5:4053</c>); a sender on this node is named by <paramref name="Self"/>.
/// </summary>
/// <param name="Self">This node's address.</param>
/// <param name="SelfRoles">This node's cluster roles (empty without a cluster).</param>
/// <param name="Members">The members that are or were fully joined (Up, WeaklyUp, Leaving, Exiting) with their roles;
/// null when this actor system has no cluster (then only local senders are trusted).</param>
public sealed record NodeMembership(string Self, IReadOnlyCollection<string> SelfRoles, IReadOnlyDictionary<string, IReadOnlyCollection<string>>? Members)
{
    /// <summary>An actor system without a cluster (tests, tools): local senders are trusted, remote ones are not.</summary>
    public static NodeMembership Standalone(string self) => new(self, [], null);
}

/// <summary>What a segment does with a fence, an <c>OpenEpoch</c> or a redo batch.</summary>
public enum SegmentVerdict
{
    /// <summary>Take it. For a fence above the segment's epoch: persist it, and its sender's node owns the epoch.</summary>
    Accept,
    /// <summary>Its epoch is below the segment's: answer with a stale-epoch rejection (as always), nothing changes.</summary>
    Stale,
    /// <summary>A redo batch of an epoch the segment has not opened yet: the writer must open it there first.</summary>
    NotOpened,
    /// <summary>Refused: the sender may not do this (see <see cref="SegmentDecision.Refusal"/>); nothing changes.</summary>
    Refuse,
}

/// <summary>A segment's decision; <paramref name="Refusal"/> says why when <paramref name="Verdict"/> is
/// <see cref="SegmentVerdict.Refuse"/>; <paramref name="Kind"/> names the condition (for once-per-condition logging).</summary>
public readonly record struct SegmentDecision(SegmentVerdict Verdict, string? Refusal = null, string? Kind = null)
{
    internal static SegmentDecision Refused(string kind, string why) => new(SegmentVerdict.Refuse, why, kind);
}

/// <summary>
/// Who may change a segment's epoch state, as pure functions of the message, the segment's state and the sender's node
/// (issue 11, "no message can make a volume unrecoverable"):
/// <list type="bullet">
/// <item>every epoch is in 1..<see cref="Epochs.Max"/> (else refused before anything is persisted);</item>
/// <item>a fence, an <c>OpenEpoch</c> (and so a truncation) and a redo batch come only from a node carrying the
/// <see cref="WriterRole"/> (<see cref="NodeRefusal"/>);</item>
/// <item>the node that fences a segment at epoch e owns e there: an <c>OpenEpoch(e)</c> is taken only from that node,
/// and only once the segment was fenced at e (an <c>OpenEpoch</c> above the segment's epoch is refused); redo of e only
/// from the node that opened it. A recovery's supervisor and the writer it starts run on one node (the supervisor is a
/// per-node cluster singleton and the writer its child), so "the recovery that fenced it" is identified by its node;
/// a second recovery on another node that picked the same epoch is refused.</item>
/// <item>A segment keeps the owner in memory only. After a restart it knows the epoch (segment.meta) but not its owner:
/// it then takes the owner from the first writer-role node that fences it again at that epoch or sends it redo of its
/// opened epoch; an <c>OpenEpoch</c> is never what re-establishes the owner (the writer and the supervisor send the
/// fence before every <c>OpenEpoch</c>).</item>
/// </list>
/// </summary>
public static class SegmentAuthority
{
    /// <summary>The Akka cluster role of the nodes that may run recoveries and writers.</summary>
    public const string WriterRole = "writer";

    /// <summary>The Akka cluster role of the nodes that host segments (the only senders of peer records and pages).</summary>
    public const string StorageRole = "storage";

    /// <summary>Why <paramref name="senderNode"/> may not act as a node with <paramref name="role"/>, or null when it may.
    /// A sender on this node (<paramref name="senderNode"/> equal to <see cref="NodeMembership.Self"/>) is trusted
    /// without a cluster, and with one when this node carries the role; a remote sender must be a member with the role.</summary>
    public static string? NodeRefusal(string senderNode, NodeMembership membership, string role = WriterRole)
    {
        if (senderNode == membership.Self)
            return membership.Members is null || membership.SelfRoles.Contains(role) ? null
                : $"this node ({senderNode}) does not carry the {role} role (roles: {Roles(membership.SelfRoles)})";
        if (membership.Members is null)
            return $"node {senderNode} is remote and this node is not in a cluster: only local senders are trusted";
        if (!membership.Members.TryGetValue(senderNode, out var roles))
            return $"node {senderNode} is not a member of the cluster";
        return roles.Contains(role) ? null : $"node {senderNode} does not carry the {role} role (roles: {Roles(roles)})";
    }

    private static string Roles(IReadOnlyCollection<string> roles) => roles.Count == 0 ? "none" : string.Join(", ", roles);

    /// <summary>Why <paramref name="epoch"/> cannot be installed (outside 1..<see cref="Epochs.Max"/>), or null.</summary>
    public static string? EpochRefusal(long epoch) =>
        Epochs.IsValid(epoch) ? null : $"epoch {epoch} is outside 1..{Epochs.Max} (2^62)";

    /// <summary>A fence at <paramref name="fenceEpoch"/> (above 0: 0 asks for the state only and is no fence).</summary>
    /// <param name="fenceEpoch">The epoch to fence at.</param>
    /// <param name="segmentEpoch">The segment's epoch (its last fence or installed epoch).</param>
    /// <param name="owner">The node that fenced the segment at <paramref name="segmentEpoch"/>, when known.</param>
    /// <param name="senderNode">The sender's node.</param>
    /// <param name="nodeRefusal">Why the sender's node may not act as a writer (<see cref="NodeRefusal"/>), or null.</param>
    /// <returns>Accept (above: persist the fence, the sender owns it; equal: the sender is the owner, or the owner is
    /// unknown and the sender becomes it), Stale (below: report without fencing), or Refuse.</returns>
    public static SegmentDecision Fence(long fenceEpoch, long segmentEpoch, string? owner, string senderNode, Func<string?> nodeRefusal)
    {
        if (EpochRefusal(fenceEpoch) is { } bad) return SegmentDecision.Refused("epoch-out-of-range", bad);
        if (nodeRefusal() is { } notWriter) return SegmentDecision.Refused("not-a-writer-node", notWriter);
        if (fenceEpoch < segmentEpoch) return new(SegmentVerdict.Stale);
        if (fenceEpoch == segmentEpoch && owner is not null && owner != senderNode)
            return SegmentDecision.Refused("other-recovery", $"the segment was fenced at epoch {fenceEpoch} by another recovery, on node {owner}");
        return new(SegmentVerdict.Accept);
    }

    /// <summary>An <c>OpenEpoch(<paramref name="epoch"/>)</c>, with its truncation: taken only at the epoch the segment
    /// was fenced at, from the node that fenced it (see <see cref="Fence"/> for the parameters).</summary>
    /// <returns>Accept, Stale (below the segment's epoch, 0 and negatives included: the usual stale-epoch answer of an old
    /// writer), or Refuse (above <see cref="Epochs.Max"/> or not positive, not a writer node, not fenced at
    /// <paramref name="epoch"/>, owner unknown after a restart, or fenced by another node).</returns>
    public static SegmentDecision Open(long epoch, long segmentEpoch, string? owner, string senderNode, Func<string?> nodeRefusal)
    {
        if (epoch > Epochs.Max) return SegmentDecision.Refused("epoch-out-of-range", EpochRefusal(epoch)!);
        if (nodeRefusal() is { } notWriter) return SegmentDecision.Refused("not-a-writer-node", notWriter);
        if (epoch < segmentEpoch) return new(SegmentVerdict.Stale);   // an old writer's: the usual stale-epoch answer
        if (EpochRefusal(epoch) is { } bad) return SegmentDecision.Refused("epoch-out-of-range", bad);
        if (epoch > segmentEpoch)
            return SegmentDecision.Refused("not-fenced", $"the segment is in epoch {segmentEpoch}: epoch {epoch} must be fenced by the recovery that opens it first");
        if (owner is null)
            return SegmentDecision.Refused("owner-unknown", $"the segment restarted since it was fenced at epoch {epoch} and does not know the recovery that did: fence it again first");
        return owner == senderNode ? new(SegmentVerdict.Accept)
            : SegmentDecision.Refused("other-recovery", $"the segment was fenced at epoch {epoch} by another recovery, on node {owner}");
    }

    /// <summary>A redo batch of <paramref name="epoch"/>: taken only in the epoch the segment opened, from the node that
    /// opened it (or, when the segment restarted since and does not know it, from any writer node, which becomes it).</summary>
    /// <param name="epoch">The batch's epoch.</param>
    /// <param name="segmentEpoch">The segment's epoch.</param>
    /// <param name="openedEpoch">The epoch the segment opened (takes redo in).</param>
    /// <param name="owner">The node that opened <paramref name="openedEpoch"/>, when known.</param>
    /// <param name="senderNode">The sender's node.</param>
    /// <param name="nodeRefusal">Why the sender's node may not act as a writer, or null; not asked for the owner's batches.</param>
    /// <returns>Accept, Stale, NotOpened (the writer must open the epoch there), or Refuse.</returns>
    public static SegmentDecision Redo(long epoch, long segmentEpoch, long openedEpoch, string? owner, string senderNode, Func<string?> nodeRefusal)
    {
        if (epoch > Epochs.Max) return SegmentDecision.Refused("epoch-out-of-range", EpochRefusal(epoch)!);
        var isOwner = owner is not null && owner == senderNode && epoch == openedEpoch;
        if (!isOwner && nodeRefusal() is { } notWriter) return SegmentDecision.Refused("not-a-writer-node", notWriter);
        if (epoch < segmentEpoch) return new(SegmentVerdict.Stale);   // an old writer's: the usual stale-epoch answer
        if (EpochRefusal(epoch) is { } bad) return SegmentDecision.Refused("epoch-out-of-range", bad);
        if (epoch > openedEpoch) return new(SegmentVerdict.NotOpened);
        if (owner is not null && owner != senderNode)
            return SegmentDecision.Refused("not-the-writer", $"epoch {epoch} was opened by the writer on node {owner}");
        return new(SegmentVerdict.Accept);
    }

    /// <summary>A page read at a read point (the reader's VDL): only writers read pages, and a read point moves the
    /// segment's materialization up to it, which must never pass the real VDL (records above it may still be annulled),
    /// so it is taken only from the epoch's owner or a <see cref="WriterRole"/> node.</summary>
    /// <returns>Accept or Refuse.</returns>
    public static SegmentDecision Read(string? owner, string senderNode, Func<string?> nodeRefusal) =>
        owner is not null && owner == senderNode ? new(SegmentVerdict.Accept)
        : nodeRefusal() is { } notWriter ? SegmentDecision.Refused("not-a-writer-node", notWriter)
        : new(SegmentVerdict.Accept);

    /// <summary>The one wording of a refusal: names the segment (PG and replica), what was refused, its epoch, the sender
    /// and why; it is the <c>Reason</c> of the refusal the sender gets and of the log line.</summary>
    public static string Refusal(int pg, int replica, string what, long epoch, string sender, string why) =>
        $"segment pg-{pg}-{replica} (PG {pg}, replica {replica}) refused {what} of epoch {epoch} from {sender}: {why}";
}
