using ActorDb.Core.Pages;
using CsCheck;

namespace ActorDb.Core.Tests.Pages;

public class PageTests
{
    /// <summary>One random tracked write: kind, two positions, a length and a byte.</summary>
    private readonly record struct WriteOp(int Kind, int A, int B, int Len, byte V);

    private static readonly Gen<WriteOp> GenWrite =
        Gen.Select(Gen.Int[0, 8], Gen.Int[0, 1 << 20], Gen.Int[0, 1 << 20], Gen.Int[0, 200], Gen.Byte,
            (k, a, b, len, v) => new WriteOp(k, a, b, len, v));

    private static void Apply(Page page, WriteOp op)
    {
        int body = page.Size - Page.LsnSize;
        int len = Math.Min(op.Len, body);
        int at = Page.LsnSize + op.A % (body - len + 1);
        switch (op.Kind)
        {
            case 0:
                var bytes = new byte[len];
                new Random(op.B).NextBytes(bytes);
                page.WriteBytes(at, bytes);
                break;
            case 1: page.WriteByte(Page.LsnSize + op.A % body, op.V); break;   // one byte: "at" is for len bytes, len may be 0
            case 2: page.WriteUInt16(Page.LsnSize + op.A % (body - 1), (ushort)(op.B * 7)); break;
            case 3: page.WriteInt32(Page.LsnSize + op.A % (body - 3), op.B * 31); break;
            case 4: page.WriteInt64(Page.LsnSize + op.A % (body - 7), (long)op.B * 1_000_003L); break;
            case 5:
                int src = op.B % (page.Size - len + 1); // the source may include the header
                page.Move(src, at, len);
                break;
            case 6: page.Fill(at, len, op.V); break;
            case 7: page.Clear(at, len); break;
            default: page.PageLsn = new Lsn(op.B); break; // untracked, never in a delta
        }
    }

    private static void AssertRangesWellFormed(Page page)
    {
        var ranges = page.GetTrackedRanges();
        Assert.True(ranges.Length <= Page.MaxTrackedRanges);
        for (int i = 0; i < ranges.Length; i++)
        {
            Assert.True(ranges[i].Offset >= Page.LsnSize && ranges[i].Length > 0 && ranges[i].End <= page.Size);
            if (i > 0) Assert.True(ranges[i].Offset > ranges[i - 1].End + Page.MergeGap);
        }
    }

    [Fact]
    public void Deltas_applied_to_the_original_image_reproduce_the_page()
    {
        var gen = Gen.Select(Gen.Byte.Array[4096], GenWrite.Array[0, 120], Gen.Int[1, 40]);
        gen.Sample((original, ops, takeEvery) =>
        {
            var page = Page.FromImage(7, (byte[])original.Clone());
            var storage = (byte[])original.Clone();
            for (int i = 0; i < ops.Length; i++)
            {
                Apply(page, ops[i]);
                AssertRangesWellFormed(page);
                if (i % takeEvery == 0)
                {
                    int expectedSize = page.TrackedDeltaSize;
                    var delta = page.TakeDelta();
                    Assert.Equal(expectedSize, delta.Length);
                    Assert.False(page.IsDirtyTracked);
                    PageDelta.Apply(storage, delta);
                }
            }
            PageDelta.Apply(storage, page.TakeDelta());
            // Storage owns the LSN header: copy it, then every byte must match.
            page.Image.AsSpan(0, Page.LsnSize).CopyTo(storage);
            Assert.Equal(page.Image, storage);
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void PageLsn_is_not_tracked_and_lives_in_the_first_8_bytes()
    {
        var page = Page.CreateEmpty(3, 4096);
        page.PageLsn = new Lsn(0x0102030405060708);
        Assert.False(page.IsDirtyTracked);
        Assert.Equal(0x08, page.Image[0]);
        Assert.Equal(0x01, page.Image[7]);
        Assert.Equal(new Lsn(0x0102030405060708), page.PageLsn);
        Assert.Empty(page.TakeDelta());
    }

    [Fact]
    public void Tracked_writes_cannot_touch_the_header_or_pass_the_end()
    {
        var page = Page.CreateEmpty(3, 4096);
        Assert.Throws<ArgumentOutOfRangeException>(() => page.WriteInt64(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => page.WriteByte(7, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => page.WriteUInt16(4095, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => page.Move(100, 4090, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => page.Move(4090, 100, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => page.Fill(8, -1, 0));
        Assert.False(page.IsDirtyTracked);
    }

    [Fact]
    public void Adjacent_and_near_writes_merge_into_one_range()
    {
        var page = Page.CreateEmpty(3, 4096);
        page.WriteInt32(100, 1);
        page.WriteInt32(104, 2);          // adjacent
        page.WriteInt32(112, 3);          // 4-byte gap: merged (a new range would cost 4 bytes too)
        page.WriteByte(200, 1);           // far: separate
        Assert.Equal(new[] { new PageRange(100, 16), new PageRange(200, 1) }, page.GetTrackedRanges());
        page.WriteBytes(90, new byte[120]); // covers both
        Assert.Equal(new[] { new PageRange(90, 120) }, page.GetTrackedRanges());
    }

    [Fact]
    public void Many_scattered_writes_coalesce_to_at_most_MaxTrackedRanges()
    {
        var page = Page.CreateEmpty(3, 8192);
        var original = (byte[])page.Image.Clone();
        for (int i = 0; i < 200; i++) page.WriteByte(8 + i * 37 % 8000, (byte)i);
        Assert.True(page.TrackedRangeCount <= Page.MaxTrackedRanges);
        PageDelta.Apply(original, page.TakeDelta());
        Assert.Equal(page.Image, original);
    }

    [Fact]
    public void Move_is_memmove()
    {
        var page = Page.CreateEmpty(3, 4096);
        for (int i = 0; i < 10; i++) page.WriteByte(100 + i, (byte)(i + 1));
        page.Move(100, 103, 10); // overlapping, forwards
        Assert.Equal(new byte[] { 1, 2, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, page.Read(100, 13).ToArray());
        page.Move(103, 101, 10); // overlapping, backwards
        Assert.Equal(new byte[] { 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, page.Read(100, 11).ToArray());
    }

    [Fact]
    public void FromImage_wraps_without_copying_and_tracks_nothing()
    {
        var image = new byte[4096];
        image[50] = 9;
        var page = Page.FromImage(11, image);
        Assert.Same(image, page.Image);
        Assert.Equal(11, page.PageNo);
        Assert.False(page.IsDirtyTracked);
        Assert.Equal(9, page.ReadByte(50));
        Assert.Throws<ArgumentOutOfRangeException>(() => Page.FromImage(1, new byte[10]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Page.CreateEmpty(-1, 4096));
    }
}
