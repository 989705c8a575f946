namespace ActorDb.Core.Redo;

/// <summary>What a redo record does.</summary>
public enum RedoKind : byte
{
    /// <summary>
    /// A physical change of one page: <see cref="RedoRecord.Payload"/> is a page delta
    /// (see <c>ActorDb.Core.Pages.PageDelta</c>); applying it to the page image with page LSN
    /// equal to the previous record of that page yields the page at this record's LSN.
    /// </summary>
    PageDelta = 1,

    /// <summary>
    /// The commit record of a transaction; always the last record of its mini-transaction, so
    /// always a CPL. Its payload is a <see cref="CommitPayload"/>: the transaction id and, per PG,
    /// the LSN of that PG's latest record at or below this one (what recovery needs to prove a
    /// VDL candidate complete across PGs). It changes no page (<see cref="RedoRecord.PageNo"/> is -1).
    /// </summary>
    Commit = 2,
}

/// <summary>
/// One redo record: a single change of one protection group, as shipped by the writer to the six
/// segments of that PG and as stored in each segment's log.
/// </summary>
/// <param name="Lsn">This record's LSN (volume-wide, strictly increasing).</param>
/// <param name="PrevLsn">Backlink: the LSN of the previous record of the same PG, <see cref="Lsn.Zero"/>
/// for the PG's first record. A segment's SCL follows this chain (Aurora 2017 §4.2.1).</param>
/// <param name="Pg">Protection group number, 0-based.</param>
/// <param name="PageNo">Volume page number the record changes, or -1 for records that change no page.</param>
/// <param name="Kind">What the record does.</param>
/// <param name="IsCpl">True when this record is the last record of a mini-transaction (a consistency point).</param>
/// <param name="TxnId">The writer's id of the transaction that produced the record (0 for system work).</param>
/// <param name="Epoch">The volume epoch of the writer that allocated the record.</param>
/// <param name="Payload">Kind-specific bytes (a page delta, a commit payload).</param>
public sealed record RedoRecord(
    Lsn Lsn,
    Lsn PrevLsn,
    int Pg,
    long PageNo,
    RedoKind Kind,
    bool IsCpl,
    long TxnId,
    long Epoch,
    ReadOnlyMemory<byte> Payload);
