using System.Buffers.Binary;

namespace ActorDb.Core.Redo;

/// <summary>
/// Binary encoding of one <see cref="RedoRecord"/> as a self-delimiting, CRC-32C protected frame: the
/// unit stored in a segment log (and usable on the wire). All integers are little-endian.
/// <code>
/// frame  = [u32 bodyLength][u32 crc32c(body)][body]                   (8 + bodyLength bytes)
/// body   offset size field
///          0     8   lsn            i64, &gt;= 1
///          8     8   prevLsn        i64, 0 &lt;= prevLsn &lt; lsn
///         16     4   pg             i32, &gt;= 0
///         20     8   pageNo         i64, &gt;= -1
///         28     1   kind           u8, a defined <see cref="RedoKind"/> value
///         29     1   flags          u8, bit0 = IsCpl, bits 1..7 must be 0
///         30     8   txnId          i64
///         38     8   epoch          i64, &gt;= 0
///         46     4   payloadLength  i32, == bodyLength - 50
///         50     n   payload        payloadLength bytes
/// </code>
/// <see cref="BodyFixedSize"/> &lt;= bodyLength &lt;= <see cref="MaxBodyLength"/>, so a garbage length
/// is recognised as <see cref="DecodeResult.Corrupt"/> without reading further. The CRC covers the body
/// only; a damaged length field is caught by the range check, the CRC over the wrong span, or the
/// payloadLength cross-check. Stateless and thread-safe.
/// </summary>
public static class RedoCodec
{
    /// <summary>Size in bytes of the frame header (body length + CRC).</summary>
    public const int HeaderSize = 8;

    /// <summary>Size in bytes of the body without payload.</summary>
    public const int BodyFixedSize = 50;

    /// <summary>Largest accepted body length in bytes (1 MiB). Longer length fields are corrupt.</summary>
    public const int MaxBodyLength = 1 << 20;

    /// <summary>Largest payload in bytes: <see cref="MaxBodyLength"/> - <see cref="BodyFixedSize"/>.</summary>
    public const int MaxPayloadLength = MaxBodyLength - BodyFixedSize;

    /// <summary>Largest frame in bytes: <see cref="HeaderSize"/> + <see cref="MaxBodyLength"/>.</summary>
    public const int MaxFrameSize = HeaderSize + MaxBodyLength;

    /// <summary>Smallest frame in bytes (empty payload).</summary>
    public const int MinFrameSize = HeaderSize + BodyFixedSize;

    private const byte FlagCpl = 0x01;

    private static readonly bool[] KnownKinds = BuildKnownKinds();

    /// <summary>Encoded size in bytes of <paramref name="record"/>'s frame: 58 + payload length.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="record"/> is null.</exception>
    /// <exception cref="ArgumentException">the payload is longer than <see cref="MaxPayloadLength"/> bytes.</exception>
    public static int FrameSize(RedoRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        int n = record.Payload.Length;
        if (n > MaxPayloadLength)
            throw RedoErrors.PayloadTooLong(record.Lsn, n, MaxPayloadLength, nameof(record));
        return HeaderSize + BodyFixedSize + n;
    }

    /// <summary>
    /// Encodes <paramref name="record"/> as one frame at the start of <paramref name="dest"/>.
    /// </summary>
    /// <returns>The number of bytes written, equal to <see cref="FrameSize"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="record"/> is null.</exception>
    /// <exception cref="ArgumentException">the record violates a field rule of the layout (LSN &lt; 1,
    /// prevLsn outside [0, lsn), pg &lt; 0, pageNo &lt; -1, undefined kind, epoch &lt; 0, payload too long),
    /// so it could never be decoded; or <paramref name="dest"/> is shorter than the frame.</exception>
    public static int Encode(RedoRecord record, Span<byte> dest)
    {
        int size = FrameSize(record);
        Validate(record);
        if (dest.Length < size)
            throw RedoErrors.DestinationTooShort(dest.Length, $"the frame of LSN {record.Lsn}", size, nameof(dest));
        return EncodeValidated(record, dest, size);
    }

    /// <summary>Encodes a record already checked with <see cref="FrameSize"/> and <see cref="Validate"/> into a large enough span.</summary>
    internal static int EncodeValidated(RedoRecord record, Span<byte> dest, int size)
    {
        Span<byte> body = dest.Slice(HeaderSize, size - HeaderSize);
        BinaryPrimitives.WriteInt64LittleEndian(body, record.Lsn.Value);
        BinaryPrimitives.WriteInt64LittleEndian(body.Slice(8), record.PrevLsn.Value);
        BinaryPrimitives.WriteInt32LittleEndian(body.Slice(16), record.Pg);
        BinaryPrimitives.WriteInt64LittleEndian(body.Slice(20), record.PageNo);
        body[28] = (byte)record.Kind;
        body[29] = record.IsCpl ? FlagCpl : (byte)0;
        BinaryPrimitives.WriteInt64LittleEndian(body.Slice(30), record.TxnId);
        BinaryPrimitives.WriteInt64LittleEndian(body.Slice(38), record.Epoch);
        BinaryPrimitives.WriteInt32LittleEndian(body.Slice(46), record.Payload.Length);
        record.Payload.Span.CopyTo(body.Slice(BodyFixedSize));

        BinaryPrimitives.WriteUInt32LittleEndian(dest, (uint)body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(dest.Slice(4), Crc32C.Compute(body));
        return size;
    }

    /// <summary>Encodes <paramref name="record"/> into a new array of exactly <see cref="FrameSize"/> bytes.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="record"/> is null.</exception>
    /// <exception cref="ArgumentException">as for <see cref="Encode(RedoRecord, Span{byte})"/>.</exception>
    public static byte[] Encode(RedoRecord record)
    {
        var bytes = new byte[FrameSize(record)];
        Encode(record, bytes);
        return bytes;
    }

    /// <summary>
    /// Checks whether <paramref name="src"/> starts with a complete valid frame, without allocating.
    /// The checks, in order: at least 4 bytes (else NeedMoreData); body length in
    /// [<see cref="BodyFixedSize"/>, <see cref="MaxBodyLength"/>] (else Corrupt); at least
    /// 8 + bodyLength bytes (else NeedMoreData); payloadLength == bodyLength - 50, flags bits 1..7 clear,
    /// kind defined, lsn &gt;= 1, 0 &lt;= prevLsn &lt; lsn, pg &gt;= 0, pageNo &gt;= -1, epoch &gt;= 0, and
    /// the CRC-32C of the body equals the header's (else Corrupt).
    /// </summary>
    /// <param name="src">Bytes starting at a presumed frame boundary; may extend past the frame.</param>
    /// <param name="frameLength">On <see cref="DecodeResult.Ok"/>, the frame's size in bytes; else 0.</param>
    public static DecodeResult CheckFrame(ReadOnlySpan<byte> src, out int frameLength)
    {
        frameLength = 0;
        if (src.Length < 4) return DecodeResult.NeedMoreData;
        uint bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(src);
        if (bodyLength < BodyFixedSize || bodyLength > MaxBodyLength) return DecodeResult.Corrupt;
        int total = HeaderSize + (int)bodyLength;
        if (src.Length < total) return DecodeResult.NeedMoreData;

        ReadOnlySpan<byte> body = src.Slice(HeaderSize, (int)bodyLength);
        if (BinaryPrimitives.ReadInt32LittleEndian(body.Slice(46)) != (int)bodyLength - BodyFixedSize) return DecodeResult.Corrupt;
        if ((body[29] & ~FlagCpl) != 0 || !KnownKinds[body[28]]) return DecodeResult.Corrupt;
        long lsn = BinaryPrimitives.ReadInt64LittleEndian(body);
        long prev = BinaryPrimitives.ReadInt64LittleEndian(body.Slice(8));
        if (lsn < 1 || prev < 0 || prev >= lsn) return DecodeResult.Corrupt;
        if (BinaryPrimitives.ReadInt32LittleEndian(body.Slice(16)) < 0) return DecodeResult.Corrupt;
        if (BinaryPrimitives.ReadInt64LittleEndian(body.Slice(20)) < -1) return DecodeResult.Corrupt;
        if (BinaryPrimitives.ReadInt64LittleEndian(body.Slice(38)) < 0) return DecodeResult.Corrupt;
        if (Crc32C.Compute(body) != BinaryPrimitives.ReadUInt32LittleEndian(src.Slice(4))) return DecodeResult.Corrupt;

        frameLength = total;
        return DecodeResult.Ok;
    }

    /// <summary>
    /// Decodes the frame at the start of <paramref name="src"/> (see <see cref="CheckFrame"/> for the
    /// checks). The decoded record's payload is a fresh copy, independent of <paramref name="src"/>
    /// (an empty payload is <see cref="ReadOnlyMemory{T}.Empty"/>).
    /// </summary>
    /// <param name="src">Bytes starting at a presumed frame boundary; may extend past the frame.</param>
    /// <param name="record">The decoded record on <see cref="DecodeResult.Ok"/>; otherwise null.</param>
    /// <param name="consumed">The frame's size in bytes on <see cref="DecodeResult.Ok"/>; otherwise 0
    /// (on Corrupt the caller decides how to resynchronise, e.g. scan forward byte by byte).</param>
    public static DecodeResult TryDecode(ReadOnlySpan<byte> src, out RedoRecord? record, out int consumed)
    {
        record = null;
        DecodeResult result = CheckFrame(src, out consumed);
        if (result != DecodeResult.Ok) return result;

        ReadOnlySpan<byte> body = src.Slice(HeaderSize, consumed - HeaderSize);
        ReadOnlySpan<byte> payload = body.Slice(BodyFixedSize);
        record = new RedoRecord(
            new Lsn(BinaryPrimitives.ReadInt64LittleEndian(body)),
            new Lsn(BinaryPrimitives.ReadInt64LittleEndian(body.Slice(8))),
            BinaryPrimitives.ReadInt32LittleEndian(body.Slice(16)),
            BinaryPrimitives.ReadInt64LittleEndian(body.Slice(20)),
            (RedoKind)body[28],
            (body[29] & FlagCpl) != 0,
            BinaryPrimitives.ReadInt64LittleEndian(body.Slice(30)),
            BinaryPrimitives.ReadInt64LittleEndian(body.Slice(38)),
            payload.IsEmpty ? ReadOnlyMemory<byte>.Empty : payload.ToArray());
        return DecodeResult.Ok;
    }

    /// <summary>Throws <see cref="ArgumentException"/> when <paramref name="r"/> could not be encoded and decoded back.</summary>
    internal static void Validate(RedoRecord r)
    {
        if (r.Lsn.Value < 1)
            throw RedoErrors.LsnBelowOne(r.Lsn, nameof(r));
        if (r.PrevLsn.Value < 0 || r.PrevLsn.Value >= r.Lsn.Value)
            throw RedoErrors.BacklinkOutOfRange(r.Lsn, r.PrevLsn, nameof(r));
        if (r.Pg < 0)
            throw RedoErrors.NegativePg(r.Lsn, r.Pg, nameof(r));
        if (r.PageNo < -1)
            throw RedoErrors.PageNoOutOfRange(r.Lsn, r.PageNo, nameof(r));
        if (!KnownKinds[(byte)r.Kind])
            throw RedoErrors.UndefinedKind(r.Lsn, (byte)r.Kind, nameof(r));
        if (r.Epoch < 0)
            throw RedoErrors.NegativeEpoch(r.Lsn, r.Epoch, nameof(r));
    }

    private static bool[] BuildKnownKinds()
    {
        var known = new bool[256];
        foreach (RedoKind k in Enum.GetValues<RedoKind>()) known[(byte)k] = true;
        return known;
    }
}
