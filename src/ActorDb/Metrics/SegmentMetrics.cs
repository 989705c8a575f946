using ActorDb.Core;
using System.Diagnostics.Metrics;

namespace ActorDb.Metrics;

/// <summary>The storage segments' instruments (meter <c>ActorDb.Segment</c>): fsync latency and peer repairs.</summary>
public sealed class SegmentMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "ActorDb.Segment";

    /// <summary>The meter.</summary>
    public Meter Meter { get; }

    /// <summary><c>actordb.segment.fsync.duration</c> (s), tags <c>actordb.pg</c> and <c>actordb.segment</c>: one group
    /// commit of a segment log, write + fdatasync (write only with fsync off).</summary>
    public Histogram<double> FsyncDuration { get; }

    /// <summary><c>actordb.gossip.repairs</c> ({record}), tags <c>actordb.pg</c> and <c>actordb.segment</c> (the segment
    /// repaired): redo records a segment appended from a PG peer to fill its chain (catch-up, FetchRedo).</summary>
    public Counter<long> GossipRepairs { get; }

    /// <summary><c>actordb.segment.scrub.bytes</c> (By), tags <c>actordb.pg</c> and <c>actordb.segment</c>: page-store
    /// slot bytes the background scrub read and verified (its rate is MB/s; slots = bytes / (page size + 16)).</summary>
    public Counter<long> ScrubbedBytes { get; }

    /// <summary><c>actordb.segment.pages.damaged</c> ({page}), same tags: damaged page-store slots found (by a read, the
    /// materialization or the scrub).</summary>
    public Counter<long> DamagedPages { get; }

    /// <summary><c>actordb.segment.pages.repaired</c> ({page}), same tags: damaged pages repaired from a peer's image.</summary>
    public Counter<long> RepairedPages { get; }

    /// <summary>Creates the instruments on <paramref name="meter"/>.</summary>
    public SegmentMetrics(Meter meter)
    {
        Meter = meter;
        FsyncDuration = meter.CreateHistogram("actordb.segment.fsync.duration", "s",
            "One group commit of a segment log: write and fdatasync", tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ActorDbMetrics.SecondsBuckets });
        GossipRepairs = meter.CreateCounter<long>("actordb.gossip.repairs", "{record}",
            "Redo records a segment appended from a PG peer to fill holes in its chain");
        ScrubbedBytes = meter.CreateCounter<long>("actordb.segment.scrub.bytes", "By", "Page-store slot bytes the background scrub read and verified");
        DamagedPages = meter.CreateCounter<long>("actordb.segment.pages.damaged", "{page}", "Damaged page-store slots found");
        RepairedPages = meter.CreateCounter<long>("actordb.segment.pages.repaired", "{page}", "Damaged pages repaired from a peer's image");
    }

    /// <summary>The tags of one segment, made once per segment so that recording allocates nothing.</summary>
    public static (KeyValuePair<string, object?> Pg, KeyValuePair<string, object?> Segment) Tags(int pg, int replica) =>
        (new(WriterMetrics.PgTag, pg), new(WriterMetrics.SegmentTag, new SegmentId(pg, replica).EntityId));
}
