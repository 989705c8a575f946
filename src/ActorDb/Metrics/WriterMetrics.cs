using System.Diagnostics;
using System.Diagnostics.Metrics;
using ActorDb.Core;
using ActorDb.Core.Metrics;

namespace ActorDb.Metrics;

/// <summary>
/// The writer's instruments (meter <c>ActorDb.Writer</c>). Histograms are recorded where the work happens (the writer,
/// the commit coordinators); the gauges read a <see cref="WriterGaugeSource"/> the serving writer publishes into, never
/// the writer's own state.
/// </summary>
public sealed class WriterMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "ActorDb.Writer";

    /// <summary>Tag of <see cref="CommitPhaseDuration"/>: which part of the commit.</summary>
    public const string PhaseTag = "phase";
    /// <summary>Tag of the PG (an integer id).</summary>
    public const string PgTag = "actordb.pg";
    /// <summary>Tag of the segment (its entity id, <c>pg-N-R</c>).</summary>
    public const string SegmentTag = "actordb.segment";

    /// <summary>The commit phases, in order; each commit's <see cref="CommitDuration"/> is their sum (queue only when the
    /// client is in this process).</summary>
    public static readonly IReadOnlyList<string> Phases = [Queue, Execute, Batch, Network, Fsync, Vdl, Reply];
    /// <summary>From the client's request to the writer handling it (its mailbox, and waits for locks, pages or LAL).</summary>
    public const string Queue = "queue";
    /// <summary>From the writer handling the request to the commit MTR sealed (the last statement, redo generation).</summary>
    public const string Execute = "execute";
    /// <summary>From the MTR sealed to the batch holding its commit record sent to the 6 segments (a free in-flight slot).</summary>
    public const string Batch = "batch";
    /// <summary>From the batch sent to the 4th acknowledgement of the commit record's PG, less that segment's fsync:
    /// messages both ways and waiting for the segment's sync thread.</summary>
    public const string Network = "network";
    /// <summary>The log write + fdatasync at the segment whose acknowledgement was the 4th.</summary>
    public const string Fsync = "fsync";
    /// <summary>From the 4th acknowledgement to VDL passing the commit LSN (earlier commits, other PGs).</summary>
    public const string Vdl = "vdl";
    /// <summary>From VDL passing the commit LSN to the reply sent by the commit coordinator.</summary>
    public const string Reply = "reply";

    private static readonly KeyValuePair<string, object?>[] PhaseTags = Phases.Select(p => new KeyValuePair<string, object?>(PhaseTag, p)).ToArray();
    private WriterGaugeSource? _source;   // read and written with Volatile / Interlocked

    /// <summary>The meter.</summary>
    public Meter Meter { get; }

    /// <summary><c>actordb.commit.duration</c> (s): a durable commit, from the client's request (the writer's receipt for
    /// a client in another process) to the reply. Read-only commits are not counted.</summary>
    public Histogram<double> CommitDuration { get; }

    /// <summary><c>actordb.commit.phase.duration</c> (s), tag <c>phase</c> (<see cref="Phases"/>): where each durable
    /// commit's time went.</summary>
    public Histogram<double> CommitPhaseDuration { get; }

    /// <summary><c>actordb.redo.batch.records</c> ({record}): redo records per batch sent to a PG's segments.</summary>
    public Histogram<long> BatchRecords { get; }

    /// <summary><c>actordb.redo.batch.size</c> (By): bytes of one copy of a batch (frames as on disk).</summary>
    public Histogram<long> BatchSize { get; }

    /// <summary>The durable commits of the last minute, as <see cref="CommitDuration"/> records them, kept for the
    /// percentiles of <c>volume status</c> (a histogram instrument's buckets are the exporter's, not readable here).</summary>
    public LatencyWindow RecentCommits { get; } = new();

    /// <summary>Creates the instruments on <paramref name="meter"/>.</summary>
    public WriterMetrics(Meter meter)
    {
        Meter = meter;
        CommitDuration = meter.CreateHistogram("actordb.commit.duration", "s",
            "Durable commit latency, from the client's request to the reply", tags: null, advice: SecondsAdvice);
        CommitPhaseDuration = meter.CreateHistogram("actordb.commit.phase.duration", "s",
            "Where a durable commit's time went: queue, execute, batch, network, fsync, vdl, reply", tags: null, advice: SecondsAdvice);
        BatchRecords = meter.CreateHistogram("actordb.redo.batch.records", "{record}",
            "Redo records per batch sent to a PG's six segments",
            tags: null, advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384] });
        BatchSize = meter.CreateHistogram("actordb.redo.batch.size", "By",
            "Bytes of one copy of a redo batch (it is sent to six segments)",
            tags: null, advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216] });

        meter.CreateObservableGauge("actordb.volume.vdl", () => Read(s => s.Vdl), "{lsn}", "Volume durable LSN: the highest commit point at or below VCL");
        meter.CreateObservableGauge("actordb.volume.vcl", () => Read(s => s.Vcl), "{lsn}", "Volume complete LSN: every record at or below it is on a write quorum");
        meter.CreateObservableGauge("actordb.volume.allocated_lsn", () => Read(s => s.Allocated), "{lsn}", "Highest LSN the writer allocated");
        meter.CreateObservableGauge("actordb.volume.epoch", () => Read(s => s.Epoch), "{epoch}", "The writer's volume epoch");
        meter.CreateObservableGauge("actordb.redo.backlog", () => Read(s => s.Backlog), "{lsn}", "Redo allocated and not yet durable: allocated LSN - VDL (from the top of the annulled range right after a recovery)");
        meter.CreateObservableGauge("actordb.redo.headroom", () => Read(s => s.Headroom), "{lsn}",
            "LSNs left before the LSN allocation limit (LAL) stops new commits: VDL + LAL - allocated LSN");
        meter.CreateObservableGauge("actordb.segment.lag", () => Volatile.Read(ref _source)?.Lag() ?? Array.Empty<Measurement<long>>(), "{lsn}",
            "Per segment: the writer's latest LSN sent to the PG - the segment's SCL as last acknowledged");
    }

    private static readonly InstrumentAdvice<double> SecondsAdvice = new() { HistogramBucketBoundaries = ActorDbMetrics.SecondsBuckets };

    private IEnumerable<Measurement<long>> Read(Func<WriterGaugeSource, long> value) =>
        Volatile.Read(ref _source) is { } s ? new[] { new Measurement<long>(value(s)) } : Array.Empty<Measurement<long>>();

    /// <summary>Makes <paramref name="source"/> (the serving writer's) what the gauges report.</summary>
    public void Attach(WriterGaugeSource source) => Volatile.Write(ref _source, source);

    /// <summary>Stops the gauges reporting <paramref name="source"/>, unless a newer writer attached its own since.</summary>
    public void Detach(WriterGaugeSource source) => Interlocked.CompareExchange(ref _source, null, source);

    /// <summary>Records one durable commit's phases and total; arguments are <see cref="Stopwatch"/> timestamps, 0 when
    /// unknown (a phase with an unknown start or end is not recorded).</summary>
    public void RecordCommit(in CommitTimes t, long replied)
    {
        var start = t.Requested != 0 ? t.Requested : t.Received;
        if (start == 0) return;
        CommitDuration.Record(Seconds(start, replied));
        RecentCommits.Record(replied, (long)(Seconds(start, replied) * 1_000_000));
        if (t.Requested != 0 && t.Received != 0) RecordPhase(0, t.Requested, t.Received);
        if (t.Received != 0 && t.Sealed != 0) RecordPhase(1, t.Received, t.Sealed);
        if (t.Sealed != 0 && t.Shipped != 0) RecordPhase(2, t.Sealed, t.Shipped);
        if (t.Shipped != 0 && t.Quorum != 0)
        {
            var replicate = Math.Max(0, t.Quorum - t.Shipped);
            var fsync = Math.Clamp(t.FsyncTicks, 0, replicate);
            var network = replicate - fsync;
            CommitPhaseDuration.Record((double)network / Stopwatch.Frequency, PhaseTags[3]);
            CommitPhaseDuration.Record((double)fsync / Stopwatch.Frequency, PhaseTags[4]);
        }
        if (t.Quorum != 0 && t.Durable != 0) RecordPhase(5, t.Quorum, t.Durable);
        if (t.Durable != 0) RecordPhase(6, t.Durable, replied);
    }

    private void RecordPhase(int phase, long from, long to) => CommitPhaseDuration.Record(Seconds(from, to), PhaseTags[phase]);

    private static double Seconds(long from, long to) => Math.Max(0, to - from) / (double)Stopwatch.Frequency;
}

/// <summary>
/// What the writer's gauges read: the serving writer publishes here (single writer thread, volatile stores) and the
/// metrics thread reads (volatile loads), so no gauge ever touches the writer's own state. Each value is read
/// atomically; values of one scrape may come from neighbouring moments.
/// </summary>
public sealed class WriterGaugeSource
{
    private long _epoch, _allocated, _vcl, _vdl, _backlog, _headroom;
    private readonly long[] _lastSent;   // per PG
    private readonly long[] _scl;        // per PG x 6
    private readonly KeyValuePair<string, object?>[][] _segmentTags;

    /// <summary>A source for a volume of <paramref name="pgCount"/> PGs.</summary>
    public WriterGaugeSource(int pgCount)
    {
        _lastSent = new long[pgCount];
        _scl = new long[pgCount * VolumeGeometry.SegmentsPerPg];
        _segmentTags = Enumerable.Range(0, _scl.Length).Select(i =>
        {
            var segment = new SegmentId(i / VolumeGeometry.SegmentsPerPg, i % VolumeGeometry.SegmentsPerPg);
            return new[]
            {
                new KeyValuePair<string, object?>(WriterMetrics.PgTag, segment.Pg),
                new KeyValuePair<string, object?>(WriterMetrics.SegmentTag, segment.EntityId),
            };
        }).ToArray();
    }

    /// <summary>The epoch.</summary>
    public long Epoch => Volatile.Read(ref _epoch);
    /// <summary>The allocated LSN.</summary>
    public long Allocated => Volatile.Read(ref _allocated);
    /// <summary>VCL.</summary>
    public long Vcl => Volatile.Read(ref _vcl);
    /// <summary>VDL.</summary>
    public long Vdl => Volatile.Read(ref _vdl);
    /// <summary>Allocated LSN - VDL (from the top of the annulled range right after a recovery).</summary>
    public long Backlog => Volatile.Read(ref _backlog);
    /// <summary>LSNs left before LAL: VDL (or the allocation floor after a recovery) + LAL - allocated LSN.</summary>
    public long Headroom => Volatile.Read(ref _headroom);

    /// <summary>Publishes the volume's LSNs (writer thread only).</summary>
    public void PublishVolume(long epoch, Lsn allocated, Lsn vcl, Lsn vdl, long backlog, long headroom)
    {
        Volatile.Write(ref _epoch, epoch);
        Volatile.Write(ref _allocated, allocated.Value);
        Volatile.Write(ref _vcl, vcl.Value);
        Volatile.Write(ref _vdl, vdl.Value);
        Volatile.Write(ref _backlog, backlog);
        Volatile.Write(ref _headroom, headroom);
    }

    /// <summary>Publishes the latest LSN sent to <paramref name="pg"/> (writer thread only).</summary>
    public void PublishSent(int pg, Lsn lastSent) => Volatile.Write(ref _lastSent[pg], lastSent.Value);

    /// <summary>Publishes a segment's SCL as the writer last learned it (writer thread only).</summary>
    public void PublishScl(int pg, int replica, Lsn scl) => Volatile.Write(ref _scl[pg * VolumeGeometry.SegmentsPerPg + replica], scl.Value);

    /// <summary>The lag of every segment: the PG's latest LSN sent minus the segment's SCL (never below 0).</summary>
    public IEnumerable<Measurement<long>> Lag()
    {
        var result = new Measurement<long>[_scl.Length];
        for (var i = 0; i < _scl.Length; i++)
        {
            var scl = Volatile.Read(ref _scl[i]);
            var sent = Volatile.Read(ref _lastSent[i / VolumeGeometry.SegmentsPerPg]);
            result[i] = new Measurement<long>(Math.Max(0, sent - scl), _segmentTags[i]);
        }
        return result;
    }
}
