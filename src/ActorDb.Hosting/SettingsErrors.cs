using Akka.Configuration;

namespace ActorDb.Hosting;

/// <summary>
/// The errors of the settings (HOCON and the keys the environment maps to): one <see cref="ConfigurationException"/>
/// shape, <c>KEY = VALUE: rule</c> or <c>KEY: why</c>, so every message starts with the key an operator must change.
/// Used by <see cref="HostingSettings"/>, <see cref="ClusterNodeSettings"/> and ActorDb's own settings.
/// </summary>
public static class SettingsErrors
{
    /// <summary><paramref name="key"/> has <paramref name="value"/>, which breaks <paramref name="rule"/>:
    /// <c>KEY = VALUE: rule</c>.</summary>
    public static ConfigurationException Invalid(string key, object? value, string? rule) => new($"{key} = {value}: {rule}");

    /// <summary><paramref name="key"/> is wrong for the reason <paramref name="why"/> (its value unreadable, missing, or
    /// wrong with others): <c>KEY: why</c>.</summary>
    public static ConfigurationException Wrong(string key, string why) => new($"{key}: {why}");

    /// <summary>A key the reference configuration does not have (<paramref name="key"/> is its full path).</summary>
    public static ConfigurationException UnknownKey(string key) =>
        Wrong(key, "unknown setting (see the actordb section of reference.conf for the keys)");
}
