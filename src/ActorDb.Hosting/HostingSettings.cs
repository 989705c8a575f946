using Akka.Configuration;
using ActorDb.Commands;

namespace ActorDb.Hosting;

/// <summary>
/// The HOCON every process of a cluster reads, the lighthouse included: the defaults of <c>actordb.data-dir</c>,
/// <c>actordb.actor-system</c>, <c>actordb.security</c> and <c>actordb.cmd</c> (this assembly's embedded
/// <c>reference.conf</c>), the command host's settings, and the one way a key is read: a wrong value is a
/// <see cref="ConfigurationException"/> naming the key. ActorDb's own settings (<c>ActorDbSettings</c>) build on it.
/// </summary>
public static class HostingSettings
{
    private static readonly Lazy<Config> Reference = new(() =>
    {
        using var stream = typeof(HostingSettings).Assembly.GetManifestResourceStream("ActorDb.Hosting.reference.conf")
            ?? throw new InvalidOperationException("ActorDb.Hosting.reference.conf is not embedded");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    });

    /// <summary>The embedded <c>reference.conf</c> of hosting: <c>actordb.data-dir</c>, <c>actor-system</c>,
    /// <c>security</c> and <c>cmd</c> with their defaults.</summary>
    public static Config DefaultConfig() => Reference.Value;

    /// <summary>Reads the value of <paramref name="key"/> (a full path, e.g. <c>actordb.cmd.port</c>) with
    /// <paramref name="get"/> and checks it with <paramref name="valid"/>.</summary>
    /// <exception cref="ConfigurationException">the value has the wrong type (<c>KEY: why</c>) or breaks
    /// <paramref name="rule"/> (<c>KEY = VALUE: rule</c>).</exception>
    public static T Read<T>(string key, Func<T> get, Func<T, bool>? valid = null, string? rule = null)
    {
        T value;
        try { value = get(); }
        catch (Exception e) when (e is not ConfigurationException)
        {
            throw SettingsErrors.Wrong(key, e.Message);
        }
        if (valid is not null && !valid(value))
            throw SettingsErrors.Invalid(key, value, rule);
        return value;
    }

    /// <summary>Reads <paramref name="key"/> (a full path) of <paramref name="c"/> with <paramref name="get"/>.</summary>
    /// <exception cref="ConfigurationException">the value has the wrong type; the message names the key.</exception>
    public static T Read<T>(Config c, string key, Func<string, T> get) => Read(key, () => get(key));

    /// <summary>A key of <paramref name="config"/> that <paramref name="reference"/> does not have is a typo or a setting
    /// of another version: refuse it, naming it (<paramref name="path"/>.key), rather than run with the default.
    /// Dispatcher and mailbox sections take Akka's own keys.</summary>
    /// <exception cref="ConfigurationException">an unknown key.</exception>
    public static void RejectUnknownKeys(Config config, Config reference, string path)
    {
        var root = config.Root;
        if (root is null || !root.IsObject()) return;
        foreach (var (key, value) in root.GetObject().Items)
        {
            var full = $"{path}.{key}";
            if (!reference.HasPath(key))
                throw SettingsErrors.UnknownKey(full);
            if (key.EndsWith("-dispatcher", StringComparison.Ordinal) || key.EndsWith("-mailbox", StringComparison.Ordinal)) continue;
            if (value.IsObject()) RejectUnknownKeys(config.GetConfig(key), reference.GetConfig(key), full);
        }
    }

    /// <summary><c>actordb.data-dir</c> of <paramref name="actordb"/> (the <c>actordb</c> section, defaults included).</summary>
    /// <exception cref="ConfigurationException">empty.</exception>
    public static string DataDir(Config actordb) =>
        Read("actordb.data-dir", () => actordb.GetString("data-dir"), v => !string.IsNullOrWhiteSpace(v), "must name a directory");

    /// <summary>The command host's settings (<c>actordb.cmd</c>) of <paramref name="actordb"/> (the <c>actordb</c>
    /// section, defaults included); token files named "" are in <see cref="DataDir"/>.</summary>
    /// <exception cref="ConfigurationException">a key has a value of the wrong type or out of range; the message names it.</exception>
    public static CommandHostSettings CommandHost(Config actordb)
    {
        var c = actordb;
        T Get<T>(string key, Func<string, T> get, Func<T, bool>? valid = null, string? rule = null) =>
            Read($"actordb.{key}", () => get(key), valid, rule);
        var positive = (TimeSpan t) => t > TimeSpan.Zero;
        var dataDir = DataDir(c);
        string TokenFile(string key, string inDataDir)   // "": the file in the data directory
        {
            var file = Get(key, k => c.GetString(k) ?? "");
            return Path.GetFullPath(file.Length == 0 ? Path.Combine(dataDir, inDataDir) : file);
        }
        return new CommandHostSettings(
            Get("cmd.enabled", k => c.GetBoolean(k)),
            Get("cmd.host", k => c.GetString(k), v => !string.IsNullOrWhiteSpace(v), "must name an address"),
            Get("cmd.port", k => c.GetInt(k), v => v is >= 0 and <= 65535, "must be 0..65535 (0 picks a free port)"),
            TokenFile("cmd.admin-token-file", "cmd-admin.token"),
            TokenFile("cmd.read-token-file", "cmd-read.token"),
            (int)Get("cmd.max-line-bytes", k => c.GetByteSize(k) ?? -1, v => v is >= 256 and <= 16 << 20, "must be 256 B..16 MiB"),
            Get("cmd.max-pending-output-bytes", k => c.GetByteSize(k) ?? -1, v => v is >= 64 << 10 and <= 1L << 30, "must be 64 KiB..1 GiB"),
            Get("cmd.auth-timeout", k => c.GetTimeSpan(k), positive, "must be positive"),
            Get("cmd.idle-timeout", k => c.GetTimeSpan(k), positive, "must be positive"),
            Get("cmd.max-connections", k => c.GetInt(k), v => v is >= 1 and <= 100_000, "must be 1..100000"));
    }

    /// <summary>The command host's settings of a process that is not an ActorDb node (the lighthouse), from its whole
    /// <paramref name="config"/>: <c>actordb.cmd</c> and <c>actordb.data-dir</c> over <see cref="DefaultConfig"/>. Unknown
    /// keys under <c>actordb.cmd</c> and <c>actordb.security</c> are refused (the database's keys are not this process's
    /// to check).</summary>
    /// <exception cref="ConfigurationException">an unknown key, or a value of the wrong type or out of range; the message
    /// names the key.</exception>
    public static CommandHostSettings CommandHostOf(Config config)
    {
        var actordb = config.WithFallback(DefaultConfig()).GetConfig("actordb");
        var reference = DefaultConfig().GetConfig("actordb");
        foreach (var section in new[] { "cmd", "security" })
            RejectUnknownKeys(actordb.GetConfig(section), reference.GetConfig(section), $"actordb.{section}");
        return CommandHost(actordb);
    }
}
