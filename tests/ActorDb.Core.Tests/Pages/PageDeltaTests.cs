using System.Buffers.Binary;
using ActorDb.Core.Pages;
using CsCheck;

namespace ActorDb.Core.Tests.Pages;

public class PageDeltaTests
{
    private const int Size = 4096;

    private static byte[] Entry(int offset, int length, byte fill = 0xAB)
    {
        var e = new byte[4 + length];
        BinaryPrimitives.WriteUInt16LittleEndian(e, (ushort)offset);
        BinaryPrimitives.WriteUInt16LittleEndian(e.AsSpan(2), (ushort)length);
        e.AsSpan(4).Fill(fill);
        return e;
    }

    [Fact]
    public void Encode_then_apply_reproduces_the_ranges()
    {
        // Random original and target images; the ranges cover every differing byte.
        var gen = Gen.Select(Gen.Byte.Array[Size], Gen.Select(Gen.Int[8, Size - 1], Gen.Int[1, 300]).Array[0, 12]);
        gen.Sample((original, rawRanges) =>
        {
            var target = (byte[])original.Clone();
            var ranges = rawRanges
                .Select(r => new PageRange(r.Item1, Math.Min(r.Item2, Size - r.Item1)))
                .ToArray();
            foreach (var r in ranges)
                for (int i = r.Offset; i < r.End; i++) target[i] = (byte)(target[i] * 31 + 7);

            var delta = PageDelta.Encode(target, ranges);
            Assert.Equal(PageDelta.EncodedSize(ranges), delta.Length);
            Assert.Equal(ranges.Length, PageDelta.Validate(delta, Size));
            Assert.Equal(ranges, PageDelta.GetRanges(delta, Size));

            var copy = (byte[])original.Clone();
            PageDelta.Apply(copy, delta);
            Assert.Equal(target, copy);
        }, iter: 200, threads: 1);
    }

    [Fact]
    public void Empty_delta_is_a_no_op()
    {
        var image = new byte[Size];
        image[100] = 5;
        PageDelta.Apply(image, ReadOnlySpan<byte>.Empty);
        Assert.Equal(5, image[100]);
        Assert.Empty(PageDelta.Encode(image, Array.Empty<PageRange>()));
    }

    [Fact]
    public void Later_entries_win_on_overlap()
    {
        var delta = Entry(100, 10, 1).Concat(Entry(105, 10, 2)).ToArray();
        var image = new byte[Size];
        PageDelta.Apply(image, delta);
        Assert.Equal(1, image[104]);
        Assert.Equal(2, image[105]);
        Assert.Equal(2, image[114]);
        Assert.Equal(0, image[115]);
    }

    public static TheoryData<string, byte[], string> Malformed => new()
    {
        { "truncated header", new byte[] { 8, 0, 4 }, "truncated" },
        { "truncated data", Entry(100, 10).AsSpan(0, 9).ToArray(), "offset 100, length 10" },
        { "empty range", Entry(100, 0), "offset 100 and length 0" },
        { "into the LSN header", Entry(4, 8), "offset 4, length 8" },
        { "past the page", Entry(Size - 4, 8), $"offset {Size - 4}, length 8" },
        { "second entry bad", Entry(100, 4).Concat(Entry(Size, 1)).ToArray(), $"offset {Size}, length 1" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_deltas_throw_FormatException_and_leave_the_image_unchanged(string why, byte[] delta, string message)
    {
        var image = new byte[Size];
        new Random(1).NextBytes(image);
        var before = (byte[])image.Clone();
        var ex = Assert.Throws<FormatException>(() => PageDelta.Apply(image, delta));
        Assert.Contains(message, ex.Message);
        Assert.Equal(before, image);
        _ = why;
    }

    [Fact]
    public void Encode_rejects_ranges_outside_the_writable_part()
    {
        var image = new byte[Size];
        Assert.Throws<ArgumentException>(() => PageDelta.Encode(image, new[] { new PageRange(0, 4) }));
        Assert.Throws<ArgumentException>(() => PageDelta.Encode(image, new[] { new PageRange(Size - 2, 4) }));
    }
}
