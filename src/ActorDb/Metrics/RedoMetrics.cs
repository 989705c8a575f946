using System.Diagnostics.Metrics;

namespace ActorDb.Metrics;

/// <summary>Redo volume at each layer it passes (meter <c>ActorDb.Redo</c>): recorded by the writer (network) and by the
/// segments (segment log, page store).</summary>
public sealed class RedoMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "ActorDb.Redo";
    /// <summary>Tag of <see cref="Bytes"/>: the layer.</summary>
    public const string LayerTag = "layer";
    /// <summary>Layer: redo sent by the writer to segments (every copy, six per PG).</summary>
    public const string Network = "network";
    /// <summary>Layer: bytes written to segment logs, summed over segments.</summary>
    public const string SegmentLog = "segment_log";
    /// <summary>Layer: bytes written to segment page stores by checkpoints (doublewrite included).</summary>
    public const string PageStore = "page_store";

    /// <summary>The tag of each layer, made once so that recording allocates nothing.</summary>
    public static readonly KeyValuePair<string, object?> NetworkTag = new(LayerTag, Network);
    /// <summary>The segment-log layer's tag.</summary>
    public static readonly KeyValuePair<string, object?> SegmentLogTag = new(LayerTag, SegmentLog);
    /// <summary>The page-store layer's tag.</summary>
    public static readonly KeyValuePair<string, object?> PageStoreTag = new(LayerTag, PageStore);

    /// <summary>The meter.</summary>
    public Meter Meter { get; }

    /// <summary><c>actordb.redo.bytes</c> (By), tag <c>layer</c> (network, segment_log, page_store).</summary>
    public Counter<long> Bytes { get; }

    /// <summary>Creates the instruments on <paramref name="meter"/>.</summary>
    public RedoMetrics(Meter meter)
    {
        Meter = meter;
        Bytes = meter.CreateCounter<long>("actordb.redo.bytes", "By",
            "Redo bytes by layer: network (sent to segments, every copy), segment_log (appended to logs), page_store (checkpoints)");
    }
}
