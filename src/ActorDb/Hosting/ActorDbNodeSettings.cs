using ActorDb.Core;
using Akka.Actor;
using Akka.Configuration;

namespace ActorDb.Hosting;

/// <summary>
/// What an ActorDb node runs and where it sits in the cluster. A node without seeds is the embedded node (both roles, a
/// one-node cluster joining itself on 127.0.0.1, random port, unless configured otherwise); with seeds it joins them.
/// </summary>
/// <param name="Cluster">Address, seeds and Akka cluster roles (<c>writer</c>, <c>storage</c>, and the AZ of a storage node).</param>
/// <param name="Writer">Runs the recovery supervisor and the writer.</param>
/// <param name="Storage">Hosts segments (the segment shard region; otherwise a proxy to it).</param>
/// <param name="Az">The availability zone of a storage node in a cluster; null for the embedded node.</param>
public sealed record ActorDbNodeSettings(ClusterNodeSettings Cluster, bool Writer, bool Storage, string? Az)
{
    /// <summary>Prefix of the cluster roles a storage node of a cluster adds for each segment its data directory holds
    /// when it starts (<c>holds-pg-0-2</c>): the allocation strategy gives a node that comes back its own segments, with
    /// their data, and keeps other segments of their PGs off it meanwhile (<see cref="Storage.SegmentAllocationStrategy"/>).</summary>
    public const string HoldsRolePrefix = "holds-";

    /// <summary>The role announcing that this node's disk holds <paramref name="segment"/>.</summary>
    public static string HoldsRole(SegmentId segment) => HoldsRolePrefix + segment.EntityId;

    /// <summary>The segment a <see cref="HoldsRole"/> names; null for any other role.</summary>
    /// <exception cref="FormatException">a <c>holds-</c> role whose rest is not a segment id.</exception>
    public static SegmentId? HeldSegment(string role) =>
        role.StartsWith(HoldsRolePrefix, StringComparison.Ordinal) ? SegmentId.Parse(role[HoldsRolePrefix.Length..]) : null;

    /// <summary>The segments whose folders (<c>DATA/az-x/pg-N-R</c> with a <c>segment.meta</c>) are in
    /// <paramref name="dataDir"/>; none when it does not exist.</summary>
    public static IReadOnlyList<SegmentId> SegmentsOnDisk(string dataDir)
    {
        var found = new List<SegmentId>();
        foreach (var az in EnvironmentConfig.Zones)
        {
            var zone = Path.Combine(dataDir, az);
            if (!Directory.Exists(zone)) continue;
            foreach (var dir in Directory.EnumerateDirectories(zone))
            {
                if (!File.Exists(Path.Combine(dir, Core.Storage.SegmentMetadata.FileName))) continue;
                if (SegmentId.TryParse(Path.GetFileName(dir), out var segment) && segment.Az == az) found.Add(segment);   // else not a segment folder
            }
        }
        return found.OrderBy(s => s.Pg).ThenBy(s => s.Replica).ToList();
    }

    /// <summary>No seeds: a one-node cluster that joins itself (the embedded default).</summary>
    public bool IsEmbedded => Cluster.Seeds.Count == 0;

    /// <summary>Neither writer nor storage: a process of a cluster that only runs transactions against the writer
    /// singleton (role <c>client</c>, e.g. <c>actordb bench --seeds</c>).</summary>
    public bool IsClient => !Writer && !Storage;

    /// <summary>The roles as written (<c>writer</c>, <c>storage</c>, or <c>client</c>).</summary>
    public string RoleList => IsClient ? "client" : string.Join(",", new[] { Writer ? "writer" : null, Storage ? "storage" : null }.OfType<string>());

    /// <summary>Reads the node's settings from <paramref name="config"/> (ActorDb's defaults as fallback).</summary>
    /// <exception cref="ConfigurationException">a value is invalid or missing; the message names the key.</exception>
    public static ActorDbNodeSettings Create(Config config)
    {
        var c = config.WithFallback(ActorDbSettings.DefaultConfig());
        var roles = HostingSettings.Read(c, "actordb.roles", k => c.GetStringList(k)).ToList();
        foreach (var role in roles)
        {
            if (!EnvironmentConfig.Roles.Contains(role))
                throw SettingsErrors.Wrong("actordb.roles", $"unknown role '{role}' (writer, storage, client)");
        }
        if (roles.Count == 0) throw SettingsErrors.Wrong("actordb.roles", "names no role (writer, storage, client)");
        if (roles.Contains("client") && roles.Any(r => r != "client"))
            throw SettingsErrors.Invalid("actordb.roles", $"[{string.Join(", ", roles)}]", "client is a role of its own (a node that only runs transactions); a writer or storage node serves clients already");
        var az = HostingSettings.Read(c, "actordb.az", k => c.GetString(k)) ?? "";
        if (az != "" && !EnvironmentConfig.Zones.Contains(az))
            throw SettingsErrors.Invalid("actordb.az", az, "not an availability zone (az-a, az-b or az-c)");
        bool writer = roles.Contains("writer"), storage = roles.Contains("storage");

        var clusterRoles = new List<string>(roles.Distinct());
        var probe = ClusterNodeSettings.Create(config, 0, clusterRoles);
        if (probe.Seeds.Count == 0)
        {
            if (!writer || !storage)
                throw SettingsErrors.Invalid("actordb.roles", $"[{string.Join(", ", roles)}]",
                    "a node without seeds (akka.cluster.seed-nodes, CLUSTER_SEEDS) is the embedded node and needs both roles, writer and storage");
            return new ActorDbNodeSettings(probe, writer, storage, null);
        }
        if (storage && az == "")
            throw SettingsErrors.Wrong("actordb.az", "a storage node of a cluster needs its availability zone (az-a, az-b or az-c; ACTORDB_AZ)");
        if (writer || storage) clusterRoles.Add(ClusterNodeSettings.VoterRole);   // what the split brain resolver counts
        if (storage)
        {
            clusterRoles.Add(az);   // the AZ as a cluster role: what placement reads from the member list
            var dataDir = HostingSettings.Read(c, "actordb.data-dir", k => c.GetString(k)) ?? "";
            if (dataDir != "")
                clusterRoles.AddRange(SegmentsOnDisk(dataDir).Select(HoldsRole));
        }
        return new ActorDbNodeSettings(probe with { Roles = clusterRoles }, writer, storage, storage ? az : null);
    }
}
