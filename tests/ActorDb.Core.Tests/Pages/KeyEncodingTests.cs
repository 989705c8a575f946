using System.Text;
using ActorDb.Core.Pages;
using CsCheck;

namespace ActorDb.Core.Tests.Pages;

public class KeyEncodingTests
{
    [Fact]
    public void Int64_byte_order_is_numeric_order()
    {
        Gen.Select(Gen.Long, Gen.Long).Sample((a, b) =>
        {
            var ea = KeyEncoding.EncodeInt64(a);
            var eb = KeyEncoding.EncodeInt64(b);
            Assert.Equal(Math.Sign(a.CompareTo(b)), Math.Sign(ea.AsSpan().SequenceCompareTo(eb)));
            Assert.Equal(a, KeyEncoding.DecodeInt64(ea));
        }, iter: 5000, threads: 1);
        Assert.Equal(new byte[] { 0x80, 0, 0, 0, 0, 0, 0, 0 }, KeyEncoding.EncodeInt64(0));
        Assert.Equal(new byte[8], KeyEncoding.EncodeInt64(long.MinValue));
        Assert.Equal(Enumerable.Repeat((byte)0xFF, 8), KeyEncoding.EncodeInt64(long.MaxValue));
        Assert.Throws<ArgumentException>(() => KeyEncoding.DecodeInt64(new byte[7]));
    }

    [Fact]
    public void Int32_byte_order_is_numeric_order()
    {
        Gen.Select(Gen.Int, Gen.Int).Sample((a, b) =>
        {
            var ea = KeyEncoding.EncodeInt32(a);
            Assert.Equal(Math.Sign(a.CompareTo(b)), Math.Sign(ea.AsSpan().SequenceCompareTo(KeyEncoding.EncodeInt32(b))));
            Assert.Equal(a, KeyEncoding.DecodeInt32(ea));
        }, iter: 5000, threads: 1);
    }

    private static readonly Gen<string> GenText =
        Gen.Int[0, 0x10FFFF].Where(cp => cp is < 0xD800 or > 0xDFFF)
            .Select(cp => char.ConvertFromUtf32(cp)).Array[0, 8].Select(parts => string.Concat(parts));

    private static int CompareCodePoints(string a, string b)
    {
        var ra = a.EnumerateRunes().Select(r => r.Value).ToArray();
        var rb = b.EnumerateRunes().Select(r => r.Value).ToArray();
        return ra.AsSpan().SequenceCompareTo(rb);
    }

    [Fact]
    public void String_byte_order_is_code_point_order()
    {
        Gen.Select(GenText, GenText).Sample((a, b) =>
        {
            var ea = KeyEncoding.EncodeString(a);
            Assert.Equal(Math.Sign(CompareCodePoints(a, b)), Math.Sign(ea.AsSpan().SequenceCompareTo(KeyEncoding.EncodeString(b))));
            Assert.Equal(a, KeyEncoding.DecodeString(ea));
        }, iter: 3000, threads: 1);
    }

    [Fact]
    public void Invalid_strings_and_bytes_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => KeyEncoding.EncodeString("a\uD800b"));
        Assert.Throws<ArgumentException>(() => KeyEncoding.DecodeString(new byte[] { 0xC3 }));
        Assert.Equal("héllo", KeyEncoding.DecodeString(Encoding.UTF8.GetBytes("héllo")));
    }

    [Fact]
    public void Comparer_is_unsigned_lexicographic()
    {
        var c = KeyEncoding.Comparer;
        Assert.True(c.Compare(new byte[] { 0x7F }, new byte[] { 0x80 }) < 0);
        Assert.True(c.Compare(new byte[] { 1 }, new byte[] { 1, 0 }) < 0);
        Assert.True(c.Compare(Array.Empty<byte>(), new byte[] { 0 }) < 0);
        Assert.Equal(0, c.Compare(new byte[] { 1, 2 }, new byte[] { 1, 2 }));
    }
}
