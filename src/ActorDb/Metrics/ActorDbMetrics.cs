using System.Diagnostics.Metrics;
using Akka.Actor;
using Akka.DependencyInjection;

namespace ActorDb.Metrics;

/// <summary>
/// ActorDb's instruments for one actor system (one node), one <see cref="Meter"/> per component: <see cref="Writer"/>
/// (<c>ActorDb.Writer</c>), <see cref="Segment"/> (<c>ActorDb.Segment</c>), <see cref="Redo"/> (<c>ActorDb.Redo</c>) and
/// <see cref="Recovery"/> (<c>ActorDb.Recovery</c>). An Akka extension, so every actor of the node records into the same
/// instruments (<see cref="For"/>), while two nodes in one process (tests) stay apart: a listener tells them apart with
/// <see cref="Owns"/>. The meters come from the host's <see cref="IMeterFactory"/> when the actor system was started
/// through Akka.Hosting (they are disposed with the host's services), otherwise they are created here and disposed when
/// the actor system terminates.
/// </summary>
public sealed class ActorDbMetrics : IExtension
{
    /// <summary>The version the meters carry.</summary>
    public const string MeterVersion = "1.0";

    /// <summary>The names of ActorDb's meters, for an exporter's <c>AddMeter</c>.</summary>
    public static readonly IReadOnlyList<string> MeterNames =
        [WriterMetrics.MeterName, SegmentMetrics.MeterName, RedoMetrics.MeterName, RecoveryMetrics.MeterName];

    /// <summary>The writer's instruments: commit latency and its phases, redo batches, LSN gauges, segment lag.</summary>
    public WriterMetrics Writer { get; }
    /// <summary>The segments' instruments: fsync latency, records repaired from PG peers.</summary>
    public SegmentMetrics Segment { get; }
    /// <summary>Redo bytes by layer (network, segment log, page store).</summary>
    public RedoMetrics Redo { get; }
    /// <summary>Recovery phase durations.</summary>
    public RecoveryMetrics Recovery { get; }

    /// <summary>Creates the instruments on meters from <paramref name="factory"/>, or on new meters when it is null
    /// (then <see cref="Dispose"/> disposes them).</summary>
    public ActorDbMetrics(IMeterFactory? factory = null)
    {
        _ownsMeters = factory is null;
        Meter Create(string name) => factory?.Create(new MeterOptions(name) { Version = MeterVersion })
                                     ?? new Meter(new MeterOptions(name) { Version = MeterVersion, Scope = this });
        Writer = new WriterMetrics(Create(WriterMetrics.MeterName));
        Segment = new SegmentMetrics(Create(SegmentMetrics.MeterName));
        Redo = new RedoMetrics(Create(RedoMetrics.MeterName));
        Recovery = new RecoveryMetrics(Create(RecoveryMetrics.MeterName));
        Reader = new MetricsReader(this);
    }

    /// <summary>The current values of these instruments, read by a listener of this node's own (the <c>metrics</c>
    /// command).</summary>
    public MetricsReader Reader { get; }

    private readonly bool _ownsMeters;

    /// <summary>The instruments of <paramref name="system"/> (created on first use).</summary>
    public static ActorDbMetrics For(ActorSystem system) => system.WithExtension<ActorDbMetrics, ActorDbMetricsProvider>();

    /// <summary>True when <paramref name="instrument"/> is one of this node's (not another node's in the same process).</summary>
    public bool Owns(Instrument instrument) =>
        ReferenceEquals(instrument.Meter, Writer.Meter) || ReferenceEquals(instrument.Meter, Segment.Meter)
        || ReferenceEquals(instrument.Meter, Redo.Meter) || ReferenceEquals(instrument.Meter, Recovery.Meter);

    /// <summary>Stops <see cref="Reader"/> and disposes the meters this object created itself (not those of a factory:
    /// the factory owns them).</summary>
    public void Dispose()
    {
        Reader.Dispose();
        if (!_ownsMeters) return;
        Writer.Meter.Dispose();
        Segment.Meter.Dispose();
        Redo.Meter.Dispose();
        Recovery.Meter.Dispose();
    }

    /// <summary>Bucket boundaries, in seconds, for latencies from 10 µs to 60 s.</summary>
    internal static readonly IReadOnlyList<double> SecondsBuckets =
    [
        0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05,
        0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60,
    ];
}

/// <summary>Creates <see cref="ActorDbMetrics"/> for an actor system.</summary>
public sealed class ActorDbMetricsProvider : ExtensionIdProvider<ActorDbMetrics>
{
    /// <inheritdoc />
    public override ActorDbMetrics CreateExtension(ExtendedActorSystem system)
    {
        IMeterFactory? factory = null;
        try
        {
            if (system.Settings.Setup.Get<DependencyResolverSetup>().HasValue)
                factory = DependencyResolver.For(system).Resolver.GetService(typeof(IMeterFactory)) as IMeterFactory;
        }
        catch (Exception)
        {
            // No usable service provider: the meters are created here instead.
        }
        var metrics = new ActorDbMetrics(factory);
        system.RegisterOnTermination(metrics.Dispose);
        return metrics;
    }
}
