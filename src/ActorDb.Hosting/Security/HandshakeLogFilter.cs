using Akka.Event;

namespace ActorDb.Security;

/// <summary>
/// Keeps Akka.Remote's per-connection TLS handshake failures from flooding the log: DotNetty logs two or three lines
/// (with a stack trace) for every refused connection, so a stranger that retries, or a port scanner, would write
/// thousands. Of each kind of such line this filter keeps the first, then at most one per
/// <see cref="Window"/>; <see cref="ClusterTls.Validate"/> logs the refused peers with counts. Other lines pass.
/// </summary>
public sealed class HandshakeLogFilter : LogFilterBase
{
    /// <summary>At most one line of each kind per this window.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    // The kinds: DotNetty's lines for a refused TLS connection (server and client side).
    private static readonly string[] Kinds =
    [
        "TLS handshake failed",
        "due to TLS handshake failure",
        "Error caught channel",
    ];

    private readonly DateTime[] _lastKept = new DateTime[Kinds.Length];
    private readonly long[] _dropped = new long[Kinds.Length];

    /// <inheritdoc />
    public override LogFilterType FilterType => LogFilterType.Content;

    /// <summary>Lines of each kind dropped so far.</summary>
    public long Dropped => _dropped.Sum();

    /// <inheritdoc />
    public override LogFilterDecision ShouldKeepMessage(LogEvent content, string? expandedMessage = null)
    {
        if (content.LogLevel() < LogLevel.WarningLevel) return LogFilterDecision.Keep;
        var text = expandedMessage ?? content.Message?.ToString() ?? "";
        for (var i = 0; i < Kinds.Length; i++)
        {
            if (!text.Contains(Kinds[i], StringComparison.Ordinal)) continue;
            var now = DateTime.UtcNow;
            lock (_lastKept)
            {
                if (now - _lastKept[i] < Window)
                {
                    _dropped[i]++;
                    return LogFilterDecision.Drop;
                }
                _lastKept[i] = now;
            }
            return LogFilterDecision.Keep;
        }
        return LogFilterDecision.Keep;
    }
}
