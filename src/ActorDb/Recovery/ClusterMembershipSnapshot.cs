using Akka.Actor;
using Akka.Cluster;
using ActorDb.Core.Recovery;

namespace ActorDb.Recovery;

/// <summary>
/// The seam between Akka.Cluster and the pure sender rules (<see cref="SegmentAuthority"/>): the node a sender is on, and
/// the membership as it is now. An actor system without the cluster provider (tests, tools) is
/// <see cref="NodeMembership.Standalone"/>: only local senders are trusted there.
/// </summary>
public static class ClusterMembershipSnapshot
{
    /// <summary>The member states whose roles count: fully joined, or leaving (a writer drains while it hands over).</summary>
    private static readonly HashSet<MemberStatus> Counting = [MemberStatus.Up, MemberStatus.WeaklyUp, MemberStatus.Leaving, MemberStatus.Exiting];

    /// <summary>This node's address string (the actor system's default address, e.g. <c>akka.tcp://actordb@host:port</c>).</summary>
    public static string SelfAddress(ActorSystem system) => ((ExtendedActorSystem)system).Provider.DefaultAddress.ToString();

    /// <summary>The node of <paramref name="sender"/>: its address, or this node's (<paramref name="self"/>) for a local actor.
    /// Note that Akka.Remote does not authenticate the sender field of a message: this is as trustworthy as the transport's
    /// peer authentication (mutual TLS).</summary>
    public static string NodeOf(IActorRef sender, string self)
    {
        var address = sender.Path.Address;
        return address.HasLocalScope ? self : address.ToString();
    }

    /// <summary>The membership as <paramref name="system"/>'s cluster sees it now (no cluster: standalone).</summary>
    public static NodeMembership Of(ActorSystem system)
    {
        var self = SelfAddress(system);
        if (((ExtendedActorSystem)system).Provider is not Akka.Cluster.ClusterActorRefProvider) return NodeMembership.Standalone(self);
        var cluster = Cluster.Get(system);
        var members = new Dictionary<string, IReadOnlyCollection<string>>();
        foreach (var m in cluster.State.Members)
            if (Counting.Contains(m.Status)) members[m.Address.ToString()] = m.Roles;
        return new NodeMembership(self, cluster.SelfRoles, members);
    }
}
