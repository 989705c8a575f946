using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Writer;

/// <summary>The words the writer's stall line and <c>pg show</c> use for a <see cref="SegmentFault"/>.</summary>
public static class SegmentFaultText
{
    /// <summary>"disk full", "I/O error", "failed open"; null for <see cref="SegmentFault.None"/> (and an unknown value).</summary>
    public static string? Describe(this SegmentFault fault) => fault switch
    {
        SegmentFault.DiskFull => "disk full",
        SegmentFault.IoError => "I/O error",
        SegmentFault.OpenFailed => "failed open",
        _ => null,
    };
}
