using ActorDb.Core;

namespace ActorDb.Simulation;

/// <summary>How a client's operation ended, as the client saw it.</summary>
public enum Outcome
{
    /// <summary>No answer yet.</summary>
    Pending,
    /// <summary>The writer acknowledged the commit: it must be durable.</summary>
    Ok,
    /// <summary>The writer said it did not commit (rolled back before commit): it must not be present.</summary>
    Failed,
    /// <summary>No verdict (timeout, the writer crashed or stepped down mid-commit): present or not, never half.</summary>
    Ambiguous,
}

/// <summary>One client operation: a unique-key insert (<see cref="Key"/> = <see cref="Value"/>), or a bank transfer of
/// <see cref="Amount"/> from account <see cref="From"/> to <see cref="To"/> (one transaction). Mutable while it runs.</summary>
public sealed class ClientOp(int id, int client, string? key, long value, int from, int to, long amount, DateTime started)
{
    public int Id { get; } = id;
    public int Client { get; } = client;
    /// <summary>The inserted key, null for a transfer.</summary>
    public string? Key { get; } = key;
    public long Value { get; } = value;
    public int From { get; } = from;
    public int To { get; } = to;
    public long Amount { get; } = amount;
    public DateTime Started { get; } = started;
    public Outcome Outcome { get; set; } = Outcome.Pending;
    public DateTime? Ended { get; set; }
    /// <summary>The epoch of the writer that acknowledged it (0 unless Ok).</summary>
    public long AckEpoch { get; set; }
    /// <summary>Why it failed or is ambiguous.</summary>
    public string? Reason { get; set; }

    /// <summary>True for a bank transfer.</summary>
    public bool IsTransfer => Key is null;

    /// <inheritdoc />
    public override string ToString() => IsTransfer
        ? $"op {Id} (client {Client}): transfer {Amount} from account {From} to {To}: {Outcome}"
        : $"op {Id} (client {Client}): insert {Key}={Value}: {Outcome}";
}

/// <summary>A record as a segment holds it at the end of a run (from its durable state after the last restart).</summary>
/// <param name="Segment">pg-P-R.</param>
/// <param name="Annulled">Inside a range the segment annulled by an epoch's truncation (held but never applied).</param>
/// <param name="ContentHash">A hash of the record's full content (header and payload).</param>
/// <param name="CrcValid">Whether the record's checksum matches its content.</param>
public sealed record HeldRecord(string Segment, Lsn Lsn, long Epoch, bool Annulled, ulong ContentHash, bool CrcValid);

/// <summary>An epoch installed with its truncation: records in (<paramref name="Vdl"/>, <paramref name="TruncateTo"/>]
/// of older epochs are annulled from then on.</summary>
public sealed record Truncation(long Epoch, Lsn Vdl, Lsn TruncateTo, DateTime At);

/// <summary>A segment answered a fence at <paramref name="Epoch"/>: from then on it acknowledges nothing of an older epoch.</summary>
public sealed record FenceAnswered(string Segment, long Epoch, DateTime At);

/// <summary>A segment acknowledged redo of <paramref name="Epoch"/> up to <paramref name="Scl"/>.</summary>
public sealed record AckSent(string Segment, long Epoch, Lsn Scl, DateTime At);

/// <summary>Everything a run observed, for the <see cref="Checkers"/>: the clients' history, what the segments hold at
/// the end, what crossed the network (fences, acks), and the final rows read back through the writer.</summary>
public sealed class Observations
{
    public List<ClientOp> Ops { get; } = new();
    public List<HeldRecord> Held { get; } = new();
    public List<Truncation> Truncations { get; } = new();
    public List<FenceAnswered> Fences { get; } = new();
    public List<AckSent> Acks { get; } = new();
    /// <summary>Content hashes of every record a writer sent (<see cref="RecordHash"/>): a held record outside it was
    /// made by no writer (a damaged record taken for a good one).</summary>
    public HashSet<ulong> Produced { get; } = new();
    /// <summary>Each segment's epoch at the end (its segment.meta).</summary>
    public Dictionary<string, long> SegmentEpochs { get; } = new(StringComparer.Ordinal);
    /// <summary>Segments whose durable state could not be read at the end, with the error.</summary>
    public List<string> Unreadable { get; } = new();
    /// <summary>Rows read back after the quiet phase (key → value), null when they could not be read.</summary>
    public Dictionary<string, long>? FinalRows { get; set; }
    /// <summary>Account balances read back after the quiet phase, null when they could not be read.</summary>
    public long[]? FinalBalances { get; set; }
    /// <summary>Accounts and each one's opening balance.</summary>
    public int Accounts { get; set; }
    /// <inheritdoc cref="Accounts"/>
    public long OpeningBalance { get; set; }
    /// <summary>When the quiet phase began (faults stopped, network healed), null if the run never got there.</summary>
    public DateTime? QuietFrom { get; set; }
    /// <summary>The longest the quiet phase may go without a commit being acknowledged.</summary>
    public TimeSpan LivenessBound { get; set; }
}
