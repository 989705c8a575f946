using System.Buffers.Binary;

namespace ActorDb.Core.Redo;

/// <summary>
/// The payload of a <see cref="RedoKind.Commit"/> record. Encoded little-endian as
/// <code>
/// offset size field
///   0     1   version       u8, currently 1
///   1     8   txnId         i64
///   9     4   pgCount       i32, &gt;= 0
///  13   8*n   highWater[i]  i64 per PG i (0 .. pgCount-1), each &gt;= 0
/// </code>
/// Total size 13 + 8 * pgCount bytes. Equality compares <see cref="PgHighWater"/> element by element.
/// </summary>
/// <param name="TxnId">The committing transaction's id.</param>
/// <param name="PgHighWater">Indexed by PG number: the LSN of that PG's latest record at or below the
/// commit record (<see cref="Lsn.Zero"/> when the PG has no record yet). Recovery uses it to prove a VDL
/// candidate complete across PGs. The array is not copied; do not mutate it after construction.</param>
public sealed record CommitPayload(long TxnId, Lsn[] PgHighWater)
{
    /// <summary>The format version written by <see cref="Encode()"/>.</summary>
    public const byte Version = 1;

    /// <summary>Size in bytes of the fixed part (version, txnId, pgCount).</summary>
    public const int FixedSize = 13;

    /// <summary>The per-PG high-water LSNs (see the record parameter).</summary>
    /// <exception cref="ArgumentNullException">on construction with a null array.</exception>
    public Lsn[] PgHighWater { get; init; } = PgHighWater ?? throw new ArgumentNullException(nameof(PgHighWater));

    /// <summary>Encoded size in bytes: 13 + 8 * PG count.</summary>
    public int EncodedSize => FixedSize + 8 * PgHighWater.Length;

    /// <summary>Encodes into a new array of <see cref="EncodedSize"/> bytes.</summary>
    /// <exception cref="ArgumentException">a high-water LSN is negative.</exception>
    public byte[] Encode()
    {
        var bytes = new byte[EncodedSize];
        Encode(bytes);
        return bytes;
    }

    /// <summary>Encodes into the start of <paramref name="dest"/>.</summary>
    /// <returns>The number of bytes written (<see cref="EncodedSize"/>).</returns>
    /// <exception cref="ArgumentException">a high-water LSN is negative, or <paramref name="dest"/> is
    /// shorter than <see cref="EncodedSize"/>.</exception>
    public int Encode(Span<byte> dest)
    {
        int size = EncodedSize;
        if (dest.Length < size)
            throw RedoErrors.DestinationTooShort(dest.Length, $"the commit payload of txn {TxnId}", size, nameof(dest));
        dest[0] = Version;
        BinaryPrimitives.WriteInt64LittleEndian(dest.Slice(1), TxnId);
        BinaryPrimitives.WriteInt32LittleEndian(dest.Slice(9), PgHighWater.Length);
        for (int i = 0; i < PgHighWater.Length; i++)
        {
            long v = PgHighWater[i].Value;
            if (v < 0)
                throw RedoErrors.NegativeHighWater(TxnId, v, i, nameof(PgHighWater));
            BinaryPrimitives.WriteInt64LittleEndian(dest.Slice(FixedSize + 8 * i), v);
        }
        return size;
    }

    /// <summary>Decodes a payload produced by <see cref="Encode()"/>; <paramref name="src"/> must be exactly the payload.</summary>
    /// <exception cref="FormatException">fewer than 13 bytes, an unknown version, a negative PG count,
    /// a length other than 13 + 8 * pgCount, or a negative LSN; the message says which and where.</exception>
    public static CommitPayload Decode(ReadOnlySpan<byte> src)
    {
        if (src.Length < FixedSize)
            throw RedoErrors.CommitPayloadTooShort(src.Length, FixedSize);
        if (src[0] != Version)
            throw RedoErrors.CommitPayloadVersion(src[0], Version);
        long txnId = BinaryPrimitives.ReadInt64LittleEndian(src.Slice(1));
        int count = BinaryPrimitives.ReadInt32LittleEndian(src.Slice(9));
        if (count < 0)
            throw RedoErrors.NegativePgCount(txnId, count);
        long expected = FixedSize + 8L * count;
        if (src.Length != expected)
            throw RedoErrors.CommitPayloadLength(txnId, src.Length, count, expected);
        var highWater = new Lsn[count];
        for (int i = 0; i < count; i++)
        {
            long v = BinaryPrimitives.ReadInt64LittleEndian(src.Slice(FixedSize + 8 * i));
            if (v < 0)
                throw RedoErrors.NegativeLsn(txnId, v, i, FixedSize + 8 * i);
            highWater[i] = new Lsn(v);
        }
        return new CommitPayload(txnId, highWater);
    }

    /// <summary>Value equality: same transaction id and the same high-water LSNs in the same order.</summary>
    public bool Equals(CommitPayload? other) =>
        other is not null && TxnId == other.TxnId && PgHighWater.AsSpan().SequenceEqual(other.PgHighWater);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(TxnId);
        foreach (Lsn l in PgHighWater) h.Add(l);
        return h.ToHashCode();
    }
}
