using System.Diagnostics.Metrics;

namespace ActorDb.Metrics;

/// <summary>The recovery supervisor's instruments (meter <c>ActorDb.Recovery</c>).</summary>
public sealed class RecoveryMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "ActorDb.Recovery";
    /// <summary>Tag of <see cref="PhaseDuration"/>: read-quorum, plan, install-epoch or open-volume.</summary>
    public const string PhaseTag = "phase";

    /// <summary>The meter.</summary>
    public Meter Meter { get; }

    /// <summary><c>actordb.recovery.phase.duration</c> (s), tag <c>phase</c>: each finished phase of each recovery.</summary>
    public Histogram<double> PhaseDuration { get; }

    /// <summary>Creates the instruments on <paramref name="meter"/>.</summary>
    public RecoveryMetrics(Meter meter)
    {
        Meter = meter;
        PhaseDuration = meter.CreateHistogram("actordb.recovery.phase.duration", "s",
            "Duration of each recovery phase: read-quorum, plan, install-epoch, open-volume",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ActorDbMetrics.SecondsBuckets });
    }

    /// <summary>Records a finished phase (recovery is rare: the tag is made here).</summary>
    public void RecordPhase(string phase, TimeSpan duration) =>
        PhaseDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>(PhaseTag, phase));
}
