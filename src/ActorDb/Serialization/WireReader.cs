using System.Buffers.Binary;
using System.Text;
using ActorDb.Core.Redo;

namespace ActorDb.Serialization;

/// <summary>
/// Reads one <see cref="ActorDbSerializer"/> binary message: the primitives <see cref="BinaryWriter"/> writes
/// (little-endian integers, 7-bit length-prefixed UTF-8 strings), checked against the bytes left BEFORE anything is
/// allocated. A count or length is refused when it is negative or when even its smallest possible elements could not
/// fit in the bytes left (count × minimum element size &gt; bytes left), so what a message allocates is bounded by a
/// small multiple of its length, whatever it claims. Every failure is a
/// <see cref="System.Runtime.Serialization.SerializationException"/> from <see cref="SerializerErrors"/> naming the
/// manifest, the field (for counts, lengths and tags) and the byte offset. Not thread-safe; one per decode.
/// </summary>
/// <param name="bytes">The whole message.</param>
/// <param name="manifest">The message's manifest, named in every error.</param>
internal sealed class WireReader(byte[] bytes, string manifest)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private int _position;

    /// <summary>The manifest of the message being read.</summary>
    public string Manifest => manifest;

    /// <summary>Offset of the next byte to read.</summary>
    public int Position => _position;

    /// <summary>Bytes not read yet.</summary>
    public int Remaining => bytes.Length - _position;

    /// <summary>Reads one byte.</summary>
    public byte ReadByte() => Take(1)[0];

    /// <summary>Reads a <see cref="BinaryWriter.Write(bool)"/> flag: exactly 0 or 1 (anything else is refused).</summary>
    /// <param name="field">The flag's name, for the error.</param>
    public bool ReadBoolean(string field)
    {
        var at = _position;
        return ReadByte() switch
        {
            0 => false,
            1 => true,
            var b => throw SerializerErrors.UnknownTag(manifest, field, b, at),
        };
    }

    /// <summary>Reads a little-endian 32-bit integer.</summary>
    public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    /// <summary>Reads a little-endian 64-bit integer.</summary>
    public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    /// <summary>
    /// Reads the 32-bit count of a collection whose every element takes at least <paramref name="minElementBytes"/>
    /// bytes of the encoding; refuses a negative count or one whose elements cannot fit in the bytes left.
    /// </summary>
    /// <param name="field">The collection's name, for the error.</param>
    /// <param name="minElementBytes">The fewest bytes one element can be encoded in, &gt;= 1.</param>
    /// <returns>A count in [0, <see cref="Remaining"/> / <paramref name="minElementBytes"/>].</returns>
    public int ReadCount(string field, int minElementBytes)
    {
        var at = _position;
        var count = ReadInt32();
        if (count < 0 || (long)count * minElementBytes > Remaining)
            throw SerializerErrors.CountOutOfRange(manifest, field, count, minElementBytes, Remaining, at);
        return count;
    }

    /// <summary>Reads a byte array written as a 32-bit length and its bytes (a fresh copy).</summary>
    /// <param name="field">The array's name, for the error.</param>
    public byte[] ReadBytes(string field)
    {
        var length = ReadCount(field, 1);
        return length == 0 ? [] : Take(length).ToArray();
    }

    /// <summary>Reads a <see cref="BinaryWriter.Write(string)"/> string: a 7-bit encoded byte length (at most 5 bytes,
    /// no more than the bytes left) and that many bytes of valid UTF-8.</summary>
    /// <param name="field">The string's name, for the error.</param>
    public string ReadString(string field)
    {
        var at = _position;
        long length = 0;
        for (var shift = 0; ; shift += 7)
        {
            if (shift > 28) throw SerializerErrors.BadLength(manifest, field, at, "its 7-bit length prefix runs past 5 bytes");
            var b = ReadByte();
            length |= (long)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) break;
        }
        if (length > Remaining) throw SerializerErrors.CountOutOfRange(manifest, field, length, 1, Remaining, at);
        var span = Take((int)length);
        try { return StrictUtf8.GetString(span); }
        catch (DecoderFallbackException e) { throw SerializerErrors.BadLength(manifest, field, at, "its bytes are not UTF-8", e); }
    }

    /// <summary>Reads record <paramref name="index"/> of <paramref name="count"/> as its CRC-32C protected log frame
    /// (<see cref="RedoCodec"/>, at most <see cref="RedoCodec.MaxFrameSize"/> bytes, checked before its payload is
    /// copied).</summary>
    public RedoRecord ReadRedoFrame(int index, int count)
    {
        var at = _position;
        var result = RedoCodec.TryDecode(bytes.AsSpan(_position), out var record, out var consumed);
        if (result != DecodeResult.Ok) throw SerializerErrors.RedoFrame(manifest, $"record {index} of {count}", result, at);
        _position += consumed;
        return record!;
    }

    /// <summary>Refuses bytes after a complete message: the writer never sends any, so they mean a damaged or forged
    /// message.</summary>
    public void ExpectEnd()
    {
        if (Remaining != 0) throw SerializerErrors.TrailingBytes(manifest, Remaining, bytes.Length);
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > Remaining) throw SerializerErrors.Truncated(manifest, bytes.Length, _position, count);
        var span = bytes.AsSpan(_position, count);
        _position += count;
        return span;
    }
}
