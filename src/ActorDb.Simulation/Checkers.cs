using ActorDb.Core;

namespace ActorDb.Simulation;

/// <summary>A broken rule: which check, and the facts that break it.</summary>
public sealed record Violation(string Check, string Detail)
{
    /// <inheritdoc />
    public override string ToString() => $"{Check}: {Detail}";
}

/// <summary>
/// The checks run after every simulated run (issue 17, item 3), each a pure function of the <see cref="Observations"/>.
/// Names are stable: a failing run prints them, and regression tests name them.
/// </summary>
public static class Checkers
{
    public const string AckedWritePresent = "acked-write-present";
    public const string NoPhantomWrite = "no-phantom-write";
    public const string TruncatedStaysGone = "truncated-stays-gone";
    public const string NoStaleEpochAck = "no-stale-epoch-ack";
    public const string BadCrcNeverApplied = "bad-crc-never-applied";
    public const string OneContentPerLsn = "one-content-per-lsn";
    public const string BankSum = "bank-sum";
    public const string Liveness = "liveness";
    /// <summary>The run threw: an engine (or the simulator) failed with an exception nothing handles.</summary>
    public const string NoException = "no-exception";

    /// <summary>Every check over <paramref name="o"/>, at most <paramref name="perCheck"/> violations each.</summary>
    public static List<Violation> All(Observations o, int perCheck = 3)
    {
        var all = new List<Violation>();
        foreach (var check in new Func<Observations, IEnumerable<Violation>>[]
                 { AckedWrites, Phantoms, Truncations, StaleEpochAcks, BadCrc, LsnContents, Bank, Live })
            all.AddRange(check(o).Take(perCheck));
        return all;
    }

    /// <summary>Every insert acknowledged Ok is present with its value.</summary>
    public static IEnumerable<Violation> AckedWrites(Observations o)
    {
        if (o.FinalRows is null) yield break;   // liveness reports the missing read
        foreach (var op in o.Ops.Where(op => op is { IsTransfer: false, Outcome: Outcome.Ok }))
        {
            if (!o.FinalRows.TryGetValue(op.Key!, out var value))
                yield return new Violation(AckedWritePresent, $"{op} (acknowledged by epoch {op.AckEpoch}) is missing");
            else if (value != op.Value)
                yield return new Violation(AckedWritePresent, $"{op} reads back {value}");
        }
    }

    /// <summary>No row is present that no client attempted with that value, nor one whose insert failed.</summary>
    public static IEnumerable<Violation> Phantoms(Observations o)
    {
        if (o.FinalRows is null) yield break;
        var attempted = new Dictionary<string, ClientOp>(StringComparer.Ordinal);
        foreach (var op in o.Ops.Where(op => !op.IsTransfer)) attempted[op.Key!] = op;
        foreach (var (key, value) in o.FinalRows.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            if (!attempted.TryGetValue(key, out var op))
                yield return new Violation(NoPhantomWrite, $"row {key}={value} was never written by a client");
            else if (op.Value != value)
                yield return new Violation(NoPhantomWrite, $"row {key}={value}, but {op}");
            else if (op.Outcome == Outcome.Failed)
                yield return new Violation(NoPhantomWrite, $"row {key}={value} is present although {op} ({op.Reason})");
        }
    }

    /// <summary>A record of an older epoch inside a range a later epoch truncated is annulled on every segment that is in
    /// that epoch or a later one (a segment that never installed it is still behind; it is opened before it serves).</summary>
    public static IEnumerable<Violation> Truncations(Observations o)
    {
        foreach (var t in o.Truncations.Where(t => t.TruncateTo > t.Vdl))
        foreach (var r in o.Held.Where(r => !r.Annulled && r.Epoch < t.Epoch && r.Lsn > t.Vdl && r.Lsn <= t.TruncateTo
                                            && o.SegmentEpochs.GetValueOrDefault(r.Segment, long.MaxValue) >= t.Epoch))
            yield return new Violation(TruncatedStaysGone,
                $"segment {r.Segment} holds LSN {r.Lsn} of epoch {r.Epoch} unannulled, inside ({t.Vdl}, {t.TruncateTo}] truncated by epoch {t.Epoch}");
    }

    /// <summary>After a segment answered a fence at epoch E, it acknowledges no redo of an epoch below E.</summary>
    public static IEnumerable<Violation> StaleEpochAcks(Observations o)
    {
        var fencedAt = new Dictionary<string, FenceAnswered>(StringComparer.Ordinal);
        var events = o.Fences.Select(f => (f.At, Order: 0, Fence: f, Ack: (AckSent?)null))
            .Concat(o.Acks.Select(a => (a.At, Order: 1, Fence: (FenceAnswered?)null, Ack: (AckSent?)a)))
            .OrderBy(e => e.At).ThenBy(e => e.Order);
        foreach (var e in events)
        {
            if (e.Fence is { } f)
            {
                if (!fencedAt.TryGetValue(f.Segment, out var prev) || prev.Epoch < f.Epoch) fencedAt[f.Segment] = f;
            }
            else if (e.Ack is { } a && fencedAt.TryGetValue(a.Segment, out var fence) && a.Epoch < fence.Epoch)
                yield return new Violation(NoStaleEpochAck,
                    $"segment {a.Segment} acknowledged epoch {a.Epoch} up to {a.Scl} at {Ms(a.At)} after answering the fence at epoch {fence.Epoch} at {Ms(fence.At)}");
        }
    }

    /// <summary>No segment holds a record whose checksum fails, nor one no writer sent (damaged bytes taken for a record),
    /// and every segment's durable state can be read.</summary>
    public static IEnumerable<Violation> BadCrc(Observations o) =>
        o.Held.Where(r => !r.CrcValid || (o.Produced.Count > 0 && !o.Produced.Contains(r.ContentHash)))
            .Select(r => new Violation(BadCrcNeverApplied, r.CrcValid
                ? $"segment {r.Segment} holds LSN {r.Lsn} (epoch {r.Epoch}) with a content no writer sent"
                : $"segment {r.Segment} holds LSN {r.Lsn} (epoch {r.Epoch}) whose checksum fails"))
            .Concat(o.Unreadable.Select(u => new Violation(BadCrcNeverApplied, $"unreadable at the end: {u}")));

    /// <summary>Across every segment, an LSN not annulled holds one content.</summary>
    public static IEnumerable<Violation> LsnContents(Observations o)
    {
        foreach (var group in o.Held.Where(r => !r.Annulled).GroupBy(r => r.Lsn).OrderBy(g => g.Key))
        {
            var distinct = group.DistinctBy(r => r.ContentHash).ToList();
            if (distinct.Count > 1)
                yield return new Violation(OneContentPerLsn,
                    $"LSN {group.Key} holds {distinct.Count} contents: {string.Join("; ", distinct.Select(r => $"{r.Segment} epoch {r.Epoch} hash {r.ContentHash:x16}"))}");
        }
    }

    /// <summary>The balances read back sum to what the accounts opened with.</summary>
    public static IEnumerable<Violation> Bank(Observations o)
    {
        if (o.FinalBalances is null || o.Accounts == 0) yield break;
        var expected = o.Accounts * o.OpeningBalance;
        var sum = o.FinalBalances.Sum();
        if (sum != expected)
            yield return new Violation(BankSum, $"the {o.Accounts} accounts sum to {sum}, not {expected} ({o.Ops.Count(op => op is { IsTransfer: true, Outcome: Outcome.Ok })} transfers acknowledged)");
    }

    /// <summary>Once the quiet phase began, a commit is acknowledged within the bound, and the final state was readable.</summary>
    public static IEnumerable<Violation> Live(Observations o)
    {
        if (o.QuietFrom is not { } quiet)
        {
            yield return new Violation(Liveness, "the run never reached its quiet phase");
            yield break;
        }
        var first = o.Ops.Where(op => op.Outcome == Outcome.Ok && op.Ended >= quiet).Select(op => op.Ended!.Value).DefaultIfEmpty().Min();
        if (first == default || first - quiet > o.LivenessBound)
            yield return new Violation(Liveness, first == default
                ? $"no commit was acknowledged in the quiet phase from {Ms(quiet)} (bound {o.LivenessBound.TotalSeconds:F1} s)"
                : $"the first commit of the quiet phase from {Ms(quiet)} came at {Ms(first)}, past the bound of {o.LivenessBound.TotalSeconds:F1} s");
        if (o.FinalRows is null) yield return new Violation(Liveness, "the final rows could not be read back after the quiet phase");
    }

    private static string Ms(DateTime t) => $"{(t - SimScheduler.Origin).TotalMilliseconds:F3} ms";
}
