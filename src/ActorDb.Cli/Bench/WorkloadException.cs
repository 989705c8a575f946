namespace ActorDb.Cli.Bench;

/// <summary>
/// A workload definition is invalid (unknown property, malformed value, unsupported distribution, missing file), or a
/// benchmark could not run at all (every operation of a phase failed). The message names the source (file and line,
/// or the <c>-p</c> override) and the property involved.
/// </summary>
public sealed class WorkloadException(string message, Exception? inner = null) : Exception(message, inner);
