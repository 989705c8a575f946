using System.Text;

namespace ActorDb.Hosting;

/// <summary>An environment variable with a value that cannot be used; the message names the variable.</summary>
public sealed class EnvironmentConfigException : Exception
{
    /// <summary>Creates the exception for <paramref name="variable"/>.</summary>
    public EnvironmentConfigException(string variable, string message) : base($"{variable}: {message}") => Variable = variable;

    /// <summary>The environment variable at fault.</summary>
    public string Variable { get; }
}

/// <summary>
/// Environment overrides in the Lighthouse style, turned into HOCON (no Akka types here, so it is tested on its own).
/// <list type="bullet">
/// <item><c>ACTORSYSTEM</c> → <c>actordb.actor-system</c> (the actor system name, equal on every node).</item>
/// <item><c>CLUSTER_IP</c> → <c>akka.remote.dot-netty.tcp.public-hostname</c> (the address other nodes use).</item>
/// <item><c>CLUSTER_PORT</c> → <c>akka.remote.dot-netty.tcp.port</c> (0..65535; 0 picks a free port).</item>
/// <item><c>CLUSTER_SEEDS</c> → <c>akka.cluster.seed-nodes</c> (comma-separated <c>akka.tcp://system@host:port</c>;
/// <c>[]</c> or empty: none).</item>
/// <item><c>ACTORDB_ROLES</c> → <c>actordb.roles</c> (comma-separated: <c>writer</c>, <c>storage</c>).</item>
/// <item><c>ACTORDB_AZ</c> → <c>actordb.az</c> (<c>az-a</c>, <c>az-b</c> or <c>az-c</c>).</item>
/// <item><c>ACTORDB_DATA_DIR</c> → <c>actordb.data-dir</c>.</item>
/// <item><c>AKKA__A__B_C</c> → <c>akka.a.b-c</c> and <c>ACTORDB__A__B_C</c> → <c>actordb.a.b-c</c>: a double underscore is
/// a dot, a single underscore a dash, names are lower-cased. The value is a HOCON string, or a HOCON list when it
/// starts with <c>[</c>.</item>
/// </list>
/// The named variables are written after the generic ones, so they win over an <c>AKKA__</c> spelling of the same key.
/// Empty variables count as unset.
/// </summary>
public static class EnvironmentConfig
{
    /// <summary>The availability zones a storage node may be in.</summary>
    public static readonly IReadOnlyList<string> Zones = ["az-a", "az-b", "az-c"];

    /// <summary>The node roles ActorDb knows: <c>writer</c> (may run the writer singleton), <c>storage</c> (hosts
    /// segments) and <c>client</c> (neither: a process of a cluster that only runs transactions against its writer,
    /// such as <c>actordb bench --seeds</c>).</summary>
    public static readonly IReadOnlyList<string> Roles = ["writer", "storage", "client"];

    /// <summary>The HOCON for the process's environment variables.</summary>
    /// <exception cref="EnvironmentConfigException">a variable has an unusable value.</exception>
    public static string FromProcess()
    {
        var env = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
            env[(string)e.Key] = e.Value as string;
        return ToHocon(env);
    }

    /// <summary>The HOCON for <paramref name="environment"/> (only the variables described above; others are ignored).</summary>
    /// <exception cref="EnvironmentConfigException">a variable has an unusable value.</exception>
    public static string ToHocon(IEnumerable<KeyValuePair<string, string?>> environment)
    {
        var vars = environment.Where(kv => !string.IsNullOrWhiteSpace(kv.Value))
            .ToDictionary(kv => kv.Key, kv => kv.Value!.Trim(), StringComparer.Ordinal);
        var hocon = new StringBuilder();
        foreach (var (name, value) in vars.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var path = name.StartsWith("AKKA__", StringComparison.Ordinal) ? KeyPath("akka", name, "AKKA__".Length)
                : name.StartsWith("ACTORDB__", StringComparison.Ordinal) ? KeyPath("actordb", name, "ACTORDB__".Length)
                : null;
            if (path is null) continue;
            hocon.Append(path).Append(" = ").Append(value.StartsWith('[') ? value : Quote(value)).Append('\n');
        }

        if (vars.TryGetValue("ACTORSYSTEM", out var system))
        {
            if (!IsSystemName(system))
                throw new EnvironmentConfigException("ACTORSYSTEM", $"'{system}' is not an actor system name (letters, digits, '-' and '_', starting with a letter or digit)");
            Line(hocon, "actordb.actor-system", Quote(system));
        }
        if (vars.TryGetValue("CLUSTER_IP", out var ip)) Line(hocon, "akka.remote.dot-netty.tcp.public-hostname", Quote(ip));
        if (vars.TryGetValue("CLUSTER_PORT", out var port))
        {
            if (!int.TryParse(port, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) || p > 65535)
                throw new EnvironmentConfigException("CLUSTER_PORT", $"'{port}' is not a port number (0..65535; 0 picks a free port)");
            Line(hocon, "akka.remote.dot-netty.tcp.port", p.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        if (vars.TryGetValue("CLUSTER_SEEDS", out var seedList))
        {
            var seeds = Split(seedList.Trim('[', ']'));
            foreach (var seed in seeds)
            {
                if (!IsSeedAddress(seed))
                    throw new EnvironmentConfigException("CLUSTER_SEEDS", $"'{seed}' is not a seed address (akka.tcp://system@host:port)");
            }
            Line(hocon, "akka.cluster.seed-nodes", "[" + string.Join(", ", seeds.Select(Quote)) + "]");
        }
        if (vars.TryGetValue("ACTORDB_ROLES", out var roleList))
        {
            var roles = Split(roleList);
            foreach (var role in roles)
            {
                if (!Roles.Contains(role))
                    throw new EnvironmentConfigException("ACTORDB_ROLES", $"unknown role '{role}' (roles: writer, storage, client, comma-separated)");
            }
            if (roles.Count == 0) throw new EnvironmentConfigException("ACTORDB_ROLES", "names no role (roles: writer, storage, client, comma-separated)");
            Line(hocon, "actordb.roles", "[" + string.Join(", ", roles.Distinct().Select(Quote)) + "]");
        }
        if (vars.TryGetValue("ACTORDB_AZ", out var az))
        {
            if (!Zones.Contains(az))
                throw new EnvironmentConfigException("ACTORDB_AZ", $"'{az}' is not an availability zone (az-a, az-b or az-c)");
            Line(hocon, "actordb.az", Quote(az));
        }
        if (vars.TryGetValue("ACTORDB_DATA_DIR", out var dataDir)) Line(hocon, "actordb.data-dir", Quote(dataDir));
        return hocon.ToString();
    }

    /// <summary>"AKKA__CLUSTER__SHARDING__RETRY_INTERVAL" → "akka.cluster.sharding.retry-interval".</summary>
    private static string KeyPath(string root, string name, int prefixLength)
    {
        var rest = name[prefixLength..];
        var parts = rest.Split("__");
        if (rest.Length == 0 || parts.Any(p => p.Length == 0 || p.StartsWith('_') || p.EndsWith('_') || !p.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')))
            throw new EnvironmentConfigException(name, $"cannot be read as an {root}.* key (write {root.ToUpperInvariant()}__SECTION__KEY_NAME: '__' for '.', '_' for '-')");
        return root + "." + string.Join('.', parts.Select(p => p.ToLowerInvariant().Replace('_', '-')));
    }

    private static void Line(StringBuilder hocon, string path, string value) => hocon.Append(path).Append(" = ").Append(value).Append('\n');

    private static List<string> Split(string list) =>
        list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim('"')).ToList();

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    private static bool IsSystemName(string name) =>
        char.IsAsciiLetterOrDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    private static bool IsSeedAddress(string seed)
    {
        var scheme = seed.IndexOf("://", StringComparison.Ordinal);
        if (scheme <= 0 || !seed.StartsWith("akka", StringComparison.Ordinal)) return false;
        var rest = seed[(scheme + 3)..];
        var at = rest.IndexOf('@');
        var colon = rest.LastIndexOf(':');
        return at > 0 && IsSystemName(rest[..at]) && colon > at + 1
               && int.TryParse(rest[(colon + 1)..].TrimEnd('/'), out var port) && port is > 0 and <= 65535;
    }
}
