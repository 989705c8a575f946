namespace ActorDb.Core;

/// <summary>The level of a log line an engine asks its shell to write (<c>RecoveryLog</c>, <c>SegmentOutput.Log</c>,
/// <c>WriterOutput.Log</c>): one scale for every engine, mapped to Akka's levels in one place by the actors' shell.</summary>
public enum EngineLogLevel
{
    /// <summary>Detail for diagnosis.</summary>
    Debug,
    /// <summary>Information.</summary>
    Info,
    /// <summary>A warning.</summary>
    Warning,
    /// <summary>An error.</summary>
    Error,
}
