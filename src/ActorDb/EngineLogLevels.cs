using Akka.Event;
using ActorDb.Core;

namespace ActorDb;

/// <summary>The one mapping of the engines' <see cref="EngineLogLevel"/> to Akka's <see cref="LogLevel"/>, used by every
/// actor that performs an engine's log outputs.</summary>
internal static class EngineLogLevels
{
    /// <summary>Akka's level for <paramref name="level"/>.</summary>
    public static LogLevel ToAkka(this EngineLogLevel level) => level switch
    {
        EngineLogLevel.Debug => LogLevel.DebugLevel,
        EngineLogLevel.Info => LogLevel.InfoLevel,
        EngineLogLevel.Warning => LogLevel.WarningLevel,
        _ => LogLevel.ErrorLevel,
    };
}
