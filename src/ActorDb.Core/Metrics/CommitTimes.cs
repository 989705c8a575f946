using System.Diagnostics;

namespace ActorDb.Core.Metrics;

/// <summary>
/// <see cref="Stopwatch"/> timestamps of one commit at the points it passes (0: not known): the client's request
/// (<paramref name="Requested"/>, only for a client in this process), the writer handling it, the commit MTR sealed, the
/// batch with its commit record sent, the 4th acknowledgement of that PG covering it, and VDL passing it;
/// <paramref name="FsyncTicks"/> is the duration (in Stopwatch ticks) of the fsync at the segment that gave the 4th ack.
/// </summary>
public readonly record struct CommitTimes(long Requested, long Received, long Sealed, long Shipped, long Quorum, long Durable, long FsyncTicks)
{
    /// <summary>Milliseconds between two timestamps, or null when either is unknown.</summary>
    public static double? Ms(long from, long to) => from == 0 || to == 0 ? null : Math.Max(0, to - from) * 1000.0 / Stopwatch.Frequency;
}
