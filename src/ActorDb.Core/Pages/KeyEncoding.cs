using System.Buffers.Binary;
using System.Text;

namespace ActorDb.Core.Pages;

/// <summary>
/// Order-preserving key encodings: for values a, b of one type, <c>a &lt; b</c> exactly when
/// <c>Encode(a)</c> sorts before <c>Encode(b)</c> in unsigned lexicographic byte order, the order
/// <see cref="BTree"/> uses.
/// </summary>
/// <remarks>
/// <para>Int64: 8 bytes, big-endian, with the sign bit flipped (so negative numbers sort first):
/// <c>long.MinValue</c> = <c>00 00 00 00 00 00 00 00</c>, <c>-1</c> = <c>7F FF FF FF FF FF FF FF</c>,
/// <c>0</c> = <c>80 00 00 00 00 00 00 00</c>. Int32 likewise with 4 bytes.</para>
/// <para>String: the UTF-8 bytes, no length prefix or terminator. UTF-8 byte order equals Unicode
/// code point order (not <see cref="string.CompareOrdinal(string, string)"/>, which compares UTF-16
/// code units and differs for supplementary characters vs. U+E000..U+FFFF). Strings are not
/// self-delimiting: to compose a string with further key parts, escape or length-prefix it.</para>
/// </remarks>
public static class KeyEncoding
{
    /// <summary>Bytes of an encoded Int64.</summary>
    public const int Int64Size = 8;
    /// <summary>Bytes of an encoded Int32.</summary>
    public const int Int32Size = 4;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Encodes <paramref name="value"/> as 8 order-preserving bytes.</summary>
    public static byte[] EncodeInt64(long value)
    {
        var bytes = new byte[Int64Size];
        WriteInt64(bytes, value);
        return bytes;
    }

    /// <summary>Writes the 8-byte order-preserving encoding of <paramref name="value"/> to <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">the destination is shorter than 8 bytes.</exception>
    public static void WriteInt64(Span<byte> destination, long value) =>
        BinaryPrimitives.WriteUInt64BigEndian(destination, (ulong)value ^ 0x8000_0000_0000_0000UL);

    /// <summary>Decodes an 8-byte order-preserving Int64.</summary>
    /// <exception cref="ArgumentException">the input is not exactly 8 bytes.</exception>
    public static long DecodeInt64(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length != Int64Size)
            throw PageErrors.EncodedIntegerSize("Int64", Int64Size, encoded.Length, nameof(encoded));
        return (long)(BinaryPrimitives.ReadUInt64BigEndian(encoded) ^ 0x8000_0000_0000_0000UL);
    }

    /// <summary>Encodes <paramref name="value"/> as 4 order-preserving bytes.</summary>
    public static byte[] EncodeInt32(int value)
    {
        var bytes = new byte[Int32Size];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)value ^ 0x8000_0000U);
        return bytes;
    }

    /// <summary>Decodes a 4-byte order-preserving Int32.</summary>
    /// <exception cref="ArgumentException">the input is not exactly 4 bytes.</exception>
    public static int DecodeInt32(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length != Int32Size)
            throw PageErrors.EncodedIntegerSize("Int32", Int32Size, encoded.Length, nameof(encoded));
        return (int)(BinaryPrimitives.ReadUInt32BigEndian(encoded) ^ 0x8000_0000U);
    }

    /// <summary>Encodes <paramref name="value"/> as UTF-8.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is null.</exception>
    /// <exception cref="ArgumentException">the string contains an unpaired surrogate (not encodable).</exception>
    public static byte[] EncodeString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        try
        {
            return StrictUtf8.GetBytes(value);
        }
        catch (EncoderFallbackException e)
        {
            throw PageErrors.UnpairedSurrogate(nameof(value), e);
        }
    }

    /// <summary>Decodes UTF-8 key bytes.</summary>
    /// <exception cref="ArgumentException">the bytes are not valid UTF-8.</exception>
    public static string DecodeString(ReadOnlySpan<byte> encoded)
    {
        try
        {
            return StrictUtf8.GetString(encoded);
        }
        catch (DecoderFallbackException e)
        {
            throw PageErrors.KeyNotUtf8(nameof(encoded), e);
        }
    }

    /// <summary>Unsigned lexicographic byte comparison: the order of <see cref="BTree"/> keys.</summary>
    public static int Compare(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a.SequenceCompareTo(b);

    /// <summary>The <see cref="BTree"/> key order as an <see cref="IComparer{T}"/> (null sorts first),
    /// e.g. for a <see cref="SortedDictionary{TKey, TValue}"/> of keys.</summary>
    public static IComparer<byte[]> Comparer { get; } = new ByteKeyComparer();

    private sealed class ByteKeyComparer : IComparer<byte[]>
    {
        public int Compare(byte[]? x, byte[]? y)
        {
            if (ReferenceEquals(x, y)) return 0;
            if (x is null) return -1;
            if (y is null) return 1;
            return x.AsSpan().SequenceCompareTo(y);
        }
    }
}
