namespace ActorDb.Core.Redo;

/// <summary>
/// The one place the redo layer's errors are built (<see cref="RedoCodec"/>, <see cref="CommitPayload"/>): a record or
/// payload that breaks a rule of its layout and so could never be decoded (<see cref="ArgumentException"/>, a bug of the
/// caller), and commit-payload bytes that do not decode (<see cref="FormatException"/>: damaged or foreign). Every
/// message names the record's LSN or the transaction, and for bytes the offset.
/// </summary>
public static class RedoErrors
{
    // ---------------------------------------------------------------- records (encoding)

    /// <summary>A record's payload over <see cref="RedoCodec.MaxPayloadLength"/>, bytes.</summary>
    public static ArgumentException PayloadTooLong(Lsn lsn, int bytes, int maxBytes, string paramName) =>
        new($"redo record LSN {lsn}: payload of {bytes} bytes exceeds the maximum of {maxBytes} bytes", paramName);

    /// <summary>A destination span shorter than what is encoded into it: <paramref name="what"/> (e.g. <c>the frame of
    /// LSN 5</c>) needs <paramref name="needed"/> bytes.</summary>
    public static ArgumentException DestinationTooShort(int length, string what, int needed, string paramName) =>
        new($"destination has {length} bytes, {what} needs {needed}", paramName);

    /// <summary>A record LSN below 1 (LSN 0 means "nothing").</summary>
    public static ArgumentException LsnBelowOne(Lsn lsn, string paramName) => Record(lsn, "LSN must be >= 1", paramName);

    /// <summary>A backlink outside [0, LSN).</summary>
    public static ArgumentException BacklinkOutOfRange(Lsn lsn, Lsn prevLsn, string paramName) =>
        Record(lsn, $"backlink {prevLsn} must be in [0, {lsn})", paramName);

    /// <summary>A negative PG.</summary>
    public static ArgumentException NegativePg(Lsn lsn, int pg, string paramName) => Record(lsn, $"PG {pg} must be >= 0", paramName);

    /// <summary>A page number below -1 (-1: a record of no page).</summary>
    public static ArgumentException PageNoOutOfRange(Lsn lsn, long pageNo, string paramName) =>
        Record(lsn, $"page number {pageNo} must be >= -1", paramName);

    /// <summary>A <see cref="RedoKind"/> the layout does not define.</summary>
    public static ArgumentException UndefinedKind(Lsn lsn, byte kind, string paramName) => Record(lsn, $"undefined kind {kind}", paramName);

    /// <summary>A negative epoch.</summary>
    public static ArgumentException NegativeEpoch(Lsn lsn, long epoch, string paramName) => Record(lsn, $"epoch {epoch} must be >= 0", paramName);

    private static ArgumentException Record(Lsn lsn, string rule, string paramName) => new($"redo record LSN {lsn}: {rule}", paramName);

    // ---------------------------------------------------------------- commit payloads

    /// <summary>A negative high-water LSN in a commit payload being encoded.</summary>
    public static ArgumentException NegativeHighWater(long txnId, long lsn, int pg, string paramName) =>
        new($"commit payload of txn {txnId}: high-water LSN {lsn} of PG {pg} is negative", paramName);

    /// <summary>Fewer bytes than a commit payload's fixed part.</summary>
    public static FormatException CommitPayloadTooShort(int length, int fixedSize) =>
        new($"commit payload: {length} bytes, at least {fixedSize} expected");

    /// <summary>A commit payload version this code does not know (at offset 0).</summary>
    public static FormatException CommitPayloadVersion(byte version, byte expected) =>
        new($"commit payload: unknown version {version} at offset 0, expected {expected}");

    /// <summary>A negative PG count (at offset 9).</summary>
    public static FormatException NegativePgCount(long txnId, int count) =>
        new($"commit payload of txn {txnId}: negative PG count {count} at offset 9");

    /// <summary>A length other than the one the PG count implies.</summary>
    public static FormatException CommitPayloadLength(long txnId, int length, int count, long expected) =>
        new($"commit payload of txn {txnId}: {length} bytes, but a PG count of {count} needs exactly {expected}");

    /// <summary>A negative LSN for PG <paramref name="pg"/> at byte <paramref name="offset"/>.</summary>
    public static FormatException NegativeLsn(long txnId, long lsn, int pg, int offset) =>
        new($"commit payload of txn {txnId}: negative LSN {lsn} for PG {pg} at offset {offset}");
}
