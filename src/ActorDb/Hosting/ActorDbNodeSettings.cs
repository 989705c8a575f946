using Akka.Actor;
using Akka.Configuration;

namespace ActorDb.Hosting;

/// <summary>
/// Where a process sits in the Akka cluster: its actor system name, the address it binds and announces, its seeds and
/// its Akka cluster roles. Shared by ActorDb nodes and the lighthouse (<see cref="ActorDbHostingExtensions.WithActorDbClustering"/>).
/// </summary>
/// <param name="ActorSystem">The actor system name (<c>actordb.actor-system</c>, env <c>ACTORSYSTEM</c>).</param>
/// <param name="Hostname">The address remoting binds (<c>akka.remote.dot-netty.tcp.hostname</c>; the public hostname if unset).</param>
/// <param name="PublicHostname">The address other nodes reach this one at (<c>akka.remote.dot-netty.tcp.public-hostname</c>,
/// env <c>CLUSTER_IP</c>; 127.0.0.1 if unset).</param>
/// <param name="Port">The remoting port (<c>akka.remote.dot-netty.tcp.port</c>, env <c>CLUSTER_PORT</c>; 0: a free port).</param>
/// <param name="Seeds">The seed nodes (<c>akka.cluster.seed-nodes</c>, env <c>CLUSTER_SEEDS</c>).</param>
/// <param name="Roles">The Akka cluster roles of this member.</param>
public sealed record ClusterNodeSettings(string ActorSystem, string Hostname, string PublicHostname, int Port,
    IReadOnlyList<string> Seeds, IReadOnlyList<string> Roles)
{
    /// <summary>The address protocol of Akka.Remote over TLS (DotNetty with <c>enable-ssl</c>).</summary>
    public const string TlsProtocol = "akka.ssl.tcp";
    /// <summary>The address protocol of plain Akka.Remote TCP.</summary>
    public const string PlainProtocol = "akka.tcp";

    /// <summary>The <c>actordb.security</c> settings this process was configured with.</summary>
    public ActorDb.Security.SecuritySettings Security { get; init; } = new(false, "", "", "", "");

    /// <summary>The loaded TLS material when this process links to its peers over mutual TLS (a process of a cluster,
    /// unless <c>actordb.security.insecure = on</c>); null for plain TCP (the embedded node, or insecure).</summary>
    public ActorDb.Security.ClusterTls? Tls { get; init; }

    /// <summary>The address protocol of this process's remoting: <see cref="TlsProtocol"/> with TLS, else
    /// <see cref="PlainProtocol"/>.</summary>
    public string Protocol => Tls is null ? PlainProtocol : TlsProtocol;

    /// <summary>True when this process is part of a cluster (it has seeds) yet links to it over plain TCP because
    /// <c>actordb.security.insecure = on</c>: it logs a warning at start.</summary>
    public bool InsecureCluster => Tls is null && Seeds.Count > 0;

    /// <summary>This node's own address as a seed would name it (meaningful only with a fixed port), in the protocol of
    /// the transport configured (<see cref="Protocol"/>).</summary>
    public string SelfAddress => $"{Protocol}://{ActorSystem}@{PublicHostname}:{Port}";

    /// <summary>Reads the cluster placement from <paramref name="config"/> (ActorDb's defaults as fallback) and, for a
    /// process of a cluster, loads its TLS material (<c>actordb.security</c>).</summary>
    /// <param name="config">HOCON with <c>actordb.actor-system</c>, <c>actordb.security</c> and any
    /// <c>akka.remote.dot-netty.tcp</c> / <c>akka.cluster.seed-nodes</c> keys.</param>
    /// <param name="defaultPort">The port when none is configured.</param>
    /// <param name="roles">The Akka cluster roles.</param>
    /// <param name="clusterProcess">True for a process that is part of a cluster even without seeds (the lighthouse,
    /// which seeds itself): it links over TLS like a process with seeds.</param>
    /// <exception cref="ConfigurationException">a value is invalid, a seed's protocol does not match the transport
    /// (<c>akka.ssl.tcp</c> with TLS, <c>akka.tcp</c> without), or the TLS files are missing or unusable; the message
    /// names the key (and the file).</exception>
    public static ClusterNodeSettings Create(Config config, int defaultPort, IReadOnlyList<string> roles, bool clusterProcess = false)
    {
        var c = config.WithFallback(ActorDbSettings.DefaultConfig());
        var system = Read(c, "actordb.actor-system", k => c.GetString(k));
        if (string.IsNullOrEmpty(system) || !char.IsAsciiLetterOrDigit(system[0]) || !system.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_'))
            throw new ConfigurationException($"actordb.actor-system = {system}: not an actor system name (letters, digits, '-' and '_')");
        const string tcp = "akka.remote.dot-netty.tcp";
        var publicHost = c.HasPath($"{tcp}.public-hostname") ? Read(c, $"{tcp}.public-hostname", k => c.GetString(k)) : "";
        var host = c.HasPath($"{tcp}.hostname") ? Read(c, $"{tcp}.hostname", k => c.GetString(k)) : "";
        if (string.IsNullOrWhiteSpace(publicHost)) publicHost = string.IsNullOrWhiteSpace(host) || host == "0.0.0.0" ? "127.0.0.1" : host;
        if (string.IsNullOrWhiteSpace(host)) host = publicHost;
        var port = c.HasPath($"{tcp}.port") ? Read(c, $"{tcp}.port", k => c.GetInt(k)) : defaultPort;
        if (port is < 0 or > 65535) throw new ConfigurationException($"{tcp}.port = {port}: must be 0..65535 (0 picks a free port)");
        var seeds = c.HasPath("akka.cluster.seed-nodes") ? Read(c, "akka.cluster.seed-nodes", k => c.GetStringList(k)).ToList() : [];
        var security = ActorDb.Security.SecuritySettings.Create(config);
        var tls = !security.Insecure && (seeds.Count > 0 || clusterProcess);
        var protocol = tls ? TlsProtocol : PlainProtocol;
        foreach (var seed in seeds)
        {
            Address? address = null;
            try { address = Address.Parse(seed); }
            catch (Exception) { /* reported below */ }
            if (address is null || !address.Protocol.StartsWith("akka", StringComparison.Ordinal) || address.Host is null || address.Port is null or 0)
                throw new ConfigurationException($"akka.cluster.seed-nodes: '{seed}' is not an address ({protocol}://system@host:port)");
            // A transport adapter (e.g. the throttler, akka.trttl.ssl.tcp) may stand between "akka." and the transport.
            if (IsTlsProtocol(address.Protocol) != tls)
                throw new ConfigurationException(tls
                    ? $"akka.cluster.seed-nodes: '{seed}' is a plain-TCP address, but this process links over TLS: write {protocol}://{address.System}@{address.Host}:{address.Port} (or set actordb.security.insecure = on on every process of the cluster)"
                    : $"akka.cluster.seed-nodes: '{seed}' is a TLS address, but actordb.security.insecure = on: write {protocol}://{address.System}@{address.Host}:{address.Port}");
        }
        return new ClusterNodeSettings(system, host, publicHost, port, seeds, roles)
        {
            Security = security,
            Tls = tls ? ActorDb.Security.ClusterTls.Load(security, DateTimeOffset.UtcNow) : null,
        };
    }

    /// <summary>Whether an address protocol (<c>akka.ssl.tcp</c>, <c>akka.trttl.ssl.tcp</c>, ...) is Akka.Remote over TLS.</summary>
    public static bool IsTlsProtocol(string protocol) => protocol.Contains(".ssl.", StringComparison.Ordinal);

    internal static T Read<T>(Config c, string key, Func<string, T> get)
    {
        try { return get(key); }
        catch (Exception e) when (e is not ConfigurationException)
        {
            throw new ConfigurationException($"{key}: {e.Message}");
        }
    }
}

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
    /// <summary>The Akka cluster role every writer and storage node of a cluster carries (not lighthouses, not client
    /// nodes): the split brain resolver's keep-majority counts the members that have it
    /// (<see cref="ActorDbHostingExtensions.WithActorDbClustering"/>).</summary>
    public const string VoterRole = "voter";

    /// <summary>Prefix of the cluster roles a storage node of a cluster adds for each segment its data directory holds
    /// when it starts (<c>holds-pg-0-2</c>): the allocation strategy gives a node that comes back its own segments, with
    /// their data, and keeps other segments of their PGs off it meanwhile (<see cref="Storage.SegmentAllocationStrategy"/>).</summary>
    public const string HoldsRolePrefix = "holds-";

    /// <summary>The role announcing that this node's disk holds segment <paramref name="replica"/> of <paramref name="pg"/>.</summary>
    public static string HoldsRole(int pg, int replica) => HoldsRolePrefix + ActorDb.Core.Storage.SegmentProtocol.EntityId(pg, replica);

    /// <summary>The segment a <see cref="HoldsRole"/> names; null for any other role.</summary>
    /// <exception cref="FormatException">a <c>holds-</c> role whose rest is not a segment id.</exception>
    public static (int Pg, int Replica)? HeldSegment(string role) =>
        role.StartsWith(HoldsRolePrefix, StringComparison.Ordinal) ? ActorDb.Core.Storage.SegmentProtocol.ParseEntityId(role[HoldsRolePrefix.Length..]) : null;

    /// <summary>The segments whose folders (<c>DATA/az-x/pg-N-R</c> with a <c>segment.meta</c>) are in
    /// <paramref name="dataDir"/>; none when it does not exist.</summary>
    public static IReadOnlyList<(int Pg, int Replica)> SegmentsOnDisk(string dataDir)
    {
        var found = new List<(int Pg, int Replica)>();
        foreach (var az in EnvironmentConfig.Zones)
        {
            var zone = Path.Combine(dataDir, az);
            if (!Directory.Exists(zone)) continue;
            foreach (var dir in Directory.EnumerateDirectories(zone))
            {
                if (!File.Exists(Path.Combine(dir, Core.Storage.SegmentMetadata.FileName))) continue;
                try
                {
                    var (pg, replica) = ActorDb.Core.Storage.SegmentProtocol.ParseEntityId(Path.GetFileName(dir));
                    if (Core.VolumeGeometry.AzOf(replica) == az) found.Add((pg, replica));
                }
                catch (FormatException) { /* not a segment folder */ }
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
        var roles = ClusterNodeSettings.Read(c, "actordb.roles", k => c.GetStringList(k)).ToList();
        foreach (var role in roles)
        {
            if (!EnvironmentConfig.Roles.Contains(role))
                throw new ConfigurationException($"actordb.roles: unknown role '{role}' (writer, storage, client)");
        }
        if (roles.Count == 0) throw new ConfigurationException("actordb.roles: names no role (writer, storage, client)");
        if (roles.Contains("client") && roles.Any(r => r != "client"))
            throw new ConfigurationException($"actordb.roles = [{string.Join(", ", roles)}]: client is a role of its own (a node that only runs transactions); a writer or storage node serves clients already");
        var az = ClusterNodeSettings.Read(c, "actordb.az", k => c.GetString(k)) ?? "";
        if (az != "" && !EnvironmentConfig.Zones.Contains(az))
            throw new ConfigurationException($"actordb.az = {az}: not an availability zone (az-a, az-b or az-c)");
        bool writer = roles.Contains("writer"), storage = roles.Contains("storage");

        var clusterRoles = new List<string>(roles.Distinct());
        var probe = ClusterNodeSettings.Create(config, 0, clusterRoles);
        if (probe.Seeds.Count == 0)
        {
            if (!writer || !storage)
                throw new ConfigurationException($"actordb.roles = [{string.Join(", ", roles)}]: a node without seeds (akka.cluster.seed-nodes, CLUSTER_SEEDS) " +
                                                 "is the embedded node and needs both roles, writer and storage");
            return new ActorDbNodeSettings(probe, writer, storage, null);
        }
        if (storage && az == "")
            throw new ConfigurationException("actordb.az: a storage node of a cluster needs its availability zone (az-a, az-b or az-c; ACTORDB_AZ)");
        if (writer || storage) clusterRoles.Add(VoterRole);   // what the split brain resolver counts
        if (storage)
        {
            clusterRoles.Add(az);   // the AZ as a cluster role: what placement reads from the member list
            var dataDir = ClusterNodeSettings.Read(c, "actordb.data-dir", k => c.GetString(k)) ?? "";
            if (dataDir != "")
                clusterRoles.AddRange(SegmentsOnDisk(dataDir).Select(s => HoldsRole(s.Pg, s.Replica)));
        }
        return new ActorDbNodeSettings(probe with { Roles = clusterRoles }, writer, storage, storage ? az : null);
    }
}
