using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ActorDb.Metrics;

namespace ActorDb.Tests;

/// <summary>Records every measurement of one node's ActorDb instruments (another node's in the same process are ignored)
/// through a <see cref="MeterListener"/>: what any exporter would see.</summary>
public sealed class MetricsCapture : IDisposable
{
    public sealed record Measured(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);

    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<Measured> _measured = new();

    public MetricsCapture(ActorDbMetrics metrics)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (metrics.Owns(instrument)) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
        _listener.Start();
    }

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>();
        foreach (var t in tags) copy[t.Key] = t.Value;
        _measured.Enqueue(new Measured(instrument.Name, value, copy));
    }

    /// <summary>Every measurement of <paramref name="instrument"/> so far (optionally only those with tag = value).</summary>
    public IReadOnlyList<Measured> Of(string instrument, string? tag = null, object? value = null) =>
        _measured.Where(m => m.Instrument == instrument && (tag is null || Equals(m.Tags.GetValueOrDefault(tag), value))).ToList();

    /// <summary>Reads the observable gauges now and returns their values (the last of each, per tag set).</summary>
    public IReadOnlyList<Measured> Observe(string instrument)
    {
        var before = _measured.Count(m => m.Instrument == instrument);
        _listener.RecordObservableInstruments();
        return Of(instrument).Skip(before).ToList();
    }

    public void Dispose() => _listener.Dispose();
}
