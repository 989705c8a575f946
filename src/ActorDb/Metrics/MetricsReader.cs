using System.Diagnostics.Metrics;

namespace ActorDb.Metrics;

/// <summary>
/// The current values of one node's instruments, for the <c>metrics</c> command: a <see cref="MeterListener"/> started
/// with the node (so counters and histograms count from the start), listening only to this node's instruments
/// (<see cref="ActorDbMetrics.Owns"/>). Counters are summed, histograms keep their count and sum, gauges are observed
/// when <see cref="Read"/> is called. A measurement costs a lookup of its tag set among the few the instrument has seen
/// (no lock, no allocation once the tag set is known) and an <see cref="Interlocked"/> update.
/// </summary>
public sealed class MetricsReader : IDisposable
{
    /// <summary>One series: an instrument with one tag set, and its value now.</summary>
    /// <param name="Instrument">The instrument's name.</param>
    /// <param name="Kind">counter, histogram or gauge.</param>
    /// <param name="Unit">The instrument's unit.</param>
    /// <param name="Tags">The tag set, <c>key=value</c> joined by commas (empty: none).</param>
    /// <param name="Value">Counter: the total; gauge: the last observed value; histogram: the sum of the measurements.</param>
    /// <param name="Count">Histogram: how many measurements (null for counters and gauges).</param>
    public sealed record Series(string Instrument, string Kind, string? Unit, string Tags, double Value, long? Count);

    private sealed class Aggregate(KeyValuePair<string, object?>[] tags)
    {
        public readonly KeyValuePair<string, object?>[] Tags = tags;
        public long Count;
        public double Sum;   // counters and histograms: updated with a CAS loop; gauges: the last value
    }

    /// <summary>The series of one instrument; <see cref="All"/> is replaced (copy on write, under a lock) when a new tag
    /// set appears, and read without a lock.</summary>
    private sealed class Tracked(Instrument instrument)
    {
        public readonly Instrument Instrument = instrument;
        public volatile Aggregate[] All = [];
    }

    private readonly MeterListener _listener = new();
    private readonly List<Tracked> _instruments = new();
    private readonly object _gate = new();

    /// <summary>Starts listening to the instruments <paramref name="metrics"/> owns.</summary>
    public MetricsReader(ActorDbMetrics metrics)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!metrics.Owns(instrument)) return;
            var series = new Tracked(instrument);
            lock (_gate) _instruments.Add(series);
            listener.EnableMeasurementEvents(instrument, series);
        };
        _listener.MeasurementsCompleted = (instrument, _) =>
        {
            lock (_gate) _instruments.RemoveAll(s => ReferenceEquals(s.Instrument, instrument));
        };
        _listener.SetMeasurementEventCallback<double>((i, v, tags, state) => Add((Tracked)state!, v, tags));
        _listener.SetMeasurementEventCallback<long>((i, v, tags, state) => Add((Tracked)state!, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, state) => Add((Tracked)state!, v, tags));
        _listener.Start();
    }

    private static void Add(Tracked series, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var aggregate = Find(series, tags);
        if (series.Instrument.IsObservable)
        {
            Volatile.Write(ref aggregate.Sum, value);
            return;
        }
        Interlocked.Increment(ref aggregate.Count);
        double seen, sum;
        do
        {
            seen = Volatile.Read(ref aggregate.Sum);
            sum = seen + value;
        } while (Interlocked.CompareExchange(ref aggregate.Sum, sum, seen) != seen);
    }

    private static Aggregate Find(Tracked series, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var a in series.All)
            if (Same(a.Tags, tags)) return a;
        lock (series)
        {
            foreach (var a in series.All)
                if (Same(a.Tags, tags)) return a;
            var added = new Aggregate(tags.ToArray());
            series.All = [.. series.All, added];
            return added;
        }
    }

    private static bool Same(KeyValuePair<string, object?>[] known, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (known.Length != tags.Length) return false;
        for (var i = 0; i < known.Length; i++)
            if (known[i].Key != tags[i].Key || !Equals(known[i].Value, tags[i].Value)) return false;
        return true;
    }

    /// <summary>Every series now (gauges are observed first), by instrument name and tags.</summary>
    public IReadOnlyList<Series> Read()
    {
        lock (_gate)
        {
            foreach (var s in _instruments)
                if (s.Instrument.IsObservable) s.All = [];   // a gauge with no source now (no writer) shows nothing
            _listener.RecordObservableInstruments();
            var result = new List<Series>();
            foreach (var s in _instruments)
            {
                var kind = s.Instrument.IsObservable ? "gauge"
                    : s.Instrument.GetType().Name.StartsWith("Histogram", StringComparison.Ordinal) ? "histogram" : "counter";
                foreach (var a in s.All)
                    result.Add(new Series(s.Instrument.Name, kind, s.Instrument.Unit,
                        string.Join(",", a.Tags.Select(t => $"{t.Key}={t.Value}")),
                        Volatile.Read(ref a.Sum), kind == "histogram" ? Interlocked.Read(ref a.Count) : null));
            }
            return result.OrderBy(r => r.Instrument, StringComparer.Ordinal).ThenBy(r => r.Tags, StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>The names of the instruments listened to (those with no measurement yet included).</summary>
    public IReadOnlyList<string> Instruments()
    {
        lock (_gate) return _instruments.Select(s => s.Instrument.Name).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Stops listening.</summary>
    public void Dispose() => _listener.Dispose();
}
