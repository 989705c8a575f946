using Akka.Actor;
using Akka.Configuration;

namespace ActorDb.Hosting;

/// <summary>
/// Where a process sits in the Akka cluster: its actor system name, the address it binds and announces, its seeds and
/// its Akka cluster roles. Shared by ActorDb nodes and the lighthouse (<see cref="ActorDbClusteringExtensions.WithActorDbClustering"/>).
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

    /// <summary>The Akka cluster role every writer and storage node of a cluster carries (not lighthouses, not client
    /// nodes): the split brain resolver's keep-majority counts the members that have it
    /// (<see cref="ActorDbClusteringExtensions.WithActorDbClustering"/>).</summary>
    public const string VoterRole = "voter";

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

    /// <summary>Reads the cluster placement from <paramref name="config"/> (<see cref="HostingSettings.DefaultConfig"/> as fallback) and, for a
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
        var c = config.WithFallback(HostingSettings.DefaultConfig());
        var system = Read(c, "actordb.actor-system", k => c.GetString(k));
        if (string.IsNullOrEmpty(system) || !char.IsAsciiLetterOrDigit(system[0]) || !system.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_'))
            throw SettingsErrors.Invalid("actordb.actor-system", system, "not an actor system name (letters, digits, '-' and '_')");
        const string tcp = "akka.remote.dot-netty.tcp";
        var publicHost = c.HasPath($"{tcp}.public-hostname") ? Read(c, $"{tcp}.public-hostname", k => c.GetString(k)) : "";
        var host = c.HasPath($"{tcp}.hostname") ? Read(c, $"{tcp}.hostname", k => c.GetString(k)) : "";
        if (string.IsNullOrWhiteSpace(publicHost)) publicHost = string.IsNullOrWhiteSpace(host) || host == "0.0.0.0" ? "127.0.0.1" : host;
        if (string.IsNullOrWhiteSpace(host)) host = publicHost;
        var port = c.HasPath($"{tcp}.port") ? Read(c, $"{tcp}.port", k => c.GetInt(k)) : defaultPort;
        if (port is < 0 or > 65535) throw SettingsErrors.Invalid($"{tcp}.port", port, "must be 0..65535 (0 picks a free port)");
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
                throw SettingsErrors.Wrong("akka.cluster.seed-nodes", $"'{seed}' is not an address ({protocol}://system@host:port)");
            // A transport adapter (e.g. the throttler, akka.trttl.ssl.tcp) may stand between "akka." and the transport.
            if (IsTlsProtocol(address.Protocol) != tls)
                throw SettingsErrors.Wrong("akka.cluster.seed-nodes", tls
                    ? $"'{seed}' is a plain-TCP address, but this process links over TLS: write {protocol}://{address.System}@{address.Host}:{address.Port} (or set actordb.security.insecure = on on every process of the cluster)"
                    : $"'{seed}' is a TLS address, but actordb.security.insecure = on: write {protocol}://{address.System}@{address.Host}:{address.Port}");
        }
        return new ClusterNodeSettings(system, host, publicHost, port, seeds, roles)
        {
            Security = security,
            Tls = tls ? ActorDb.Security.ClusterTls.Load(security, DateTimeOffset.UtcNow) : null,
        };
    }

    /// <summary>Whether an address protocol (<c>akka.ssl.tcp</c>, <c>akka.trttl.ssl.tcp</c>, ...) is Akka.Remote over TLS.</summary>
    public static bool IsTlsProtocol(string protocol) => protocol.Contains(".ssl.", StringComparison.Ordinal);

    private static T Read<T>(Config c, string key, Func<string, T> get) => HostingSettings.Read(key, () => get(key));
}
