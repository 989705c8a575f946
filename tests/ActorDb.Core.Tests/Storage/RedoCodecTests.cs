using System.Buffers.Binary;
using ActorDb.Core.Redo;
using CsCheck;
using static ActorDb.Core.Tests.Storage.StorageTestSupport;

namespace ActorDb.Core.Tests.Storage;

public class RedoCodecTests
{
    private static RedoRecord Sample(int payload = 5) =>
        new(new Lsn(42), new Lsn(17), 3, 12345, RedoKind.PageDelta, true, 77, 9, Enumerable.Range(1, payload).Select(i => (byte)i).ToArray());

    [Fact]
    public void Layout_matches_documentation()
    {
        byte[] f = RedoCodec.Encode(Sample());
        Assert.Equal(8 + 50 + 5, f.Length);
        Assert.Equal(55u, BinaryPrimitives.ReadUInt32LittleEndian(f));
        Assert.Equal(Crc32C.Compute(f.AsSpan(8)), BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(4)));
        ReadOnlySpan<byte> body = f.AsSpan(8);
        Assert.Equal(42, BinaryPrimitives.ReadInt64LittleEndian(body));
        Assert.Equal(17, BinaryPrimitives.ReadInt64LittleEndian(body[8..]));
        Assert.Equal(3, BinaryPrimitives.ReadInt32LittleEndian(body[16..]));
        Assert.Equal(12345, BinaryPrimitives.ReadInt64LittleEndian(body[20..]));
        Assert.Equal((byte)RedoKind.PageDelta, body[28]);
        Assert.Equal(1, body[29]);
        Assert.Equal(77, BinaryPrimitives.ReadInt64LittleEndian(body[30..]));
        Assert.Equal(9, BinaryPrimitives.ReadInt64LittleEndian(body[38..]));
        Assert.Equal(5, BinaryPrimitives.ReadInt32LittleEndian(body[46..]));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, body[50..].ToArray());
    }

    [Fact]
    public void Random_records_round_trip()
    {
        GenRecord.Sample(r =>
        {
            int size = RedoCodec.FrameSize(r);
            var buf = new byte[size + 7];
            Assert.Equal(size, RedoCodec.Encode(r, buf));
            Assert.Equal(buf.AsSpan(0, size).ToArray(), RedoCodec.Encode(r));
            Assert.Equal(DecodeResult.Ok, RedoCodec.TryDecode(buf, out RedoRecord? back, out int consumed));
            Assert.Equal(size, consumed);
            Assert.True(SameRecord(r, back!));
            Assert.Equal(DecodeResult.Ok, RedoCodec.CheckFrame(buf, out int len));
            Assert.Equal(size, len);
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void Every_single_bit_flip_is_detected()
    {
        GenRecord.Sample(r =>
        {
            byte[] frame = RedoCodec.Encode(r);
            for (int bit = 0; bit < frame.Length * 8; bit++)
            {
                frame[bit / 8] ^= (byte)(1 << (bit % 8));
                DecodeResult res = RedoCodec.TryDecode(frame, out RedoRecord? back, out _);
                Assert.True(res is DecodeResult.Corrupt or DecodeResult.NeedMoreData,
                    $"bit {bit} flipped decoded as {res}: {back}");
                frame[bit / 8] ^= (byte)(1 << (bit % 8));
            }
            Assert.Equal(DecodeResult.Ok, RedoCodec.TryDecode(frame, out _, out _));
        }, iter: 20, threads: 1);
    }

    [Fact]
    public void Truncated_frames_need_more_data()
    {
        byte[] frame = RedoCodec.Encode(Sample(40));
        for (int n = 0; n < frame.Length; n++)
        {
            Assert.Equal(DecodeResult.NeedMoreData, RedoCodec.TryDecode(frame.AsSpan(0, n), out RedoRecord? r, out int consumed));
            Assert.Null(r);
            Assert.Equal(0, consumed);
        }
    }

    [Fact]
    public void Impossible_lengths_are_corrupt_without_more_data()
    {
        var header = new byte[8];
        Assert.Equal(DecodeResult.Corrupt, RedoCodec.CheckFrame(header, out _)); // zeros: length 0
        BinaryPrimitives.WriteUInt32LittleEndian(header, RedoCodec.MaxBodyLength + 1);
        Assert.Equal(DecodeResult.Corrupt, RedoCodec.CheckFrame(header, out _));
        BinaryPrimitives.WriteUInt32LittleEndian(header, 49);
        Assert.Equal(DecodeResult.Corrupt, RedoCodec.CheckFrame(header, out _));
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xFFFFFFFF);
        Assert.Equal(DecodeResult.Corrupt, RedoCodec.CheckFrame(header.AsSpan(0, 4), out _));
    }

    [Fact]
    public void Crc_valid_frame_with_impossible_fields_is_corrupt()
    {
        static byte[] Patch(Action<byte[]> change)
        {
            byte[] f = RedoCodec.Encode(Sample());
            change(f);
            BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(4), Crc32C.Compute(f.AsSpan(8)));
            return f;
        }
        Assert.Equal(DecodeResult.Corrupt, RedoCodec.CheckFrame(Patch(f => f[8 + 28] = 0), out _));        // kind 0
        Assert.Equal(DecodeResult.Corrupt, RedoCodec.CheckFrame(Patch(f => f[8 + 29] = 2), out _));        // unknown flag
        Assert.Equal(DecodeResult.Corrupt, RedoCodec.CheckFrame(Patch(f => f[8 + 46] = 6), out _));        // payload length
        Assert.Equal(DecodeResult.Corrupt, RedoCodec.CheckFrame(Patch(f => BinaryPrimitives.WriteInt64LittleEndian(f.AsSpan(16), 42)), out _)); // prev == lsn
        Assert.Equal(DecodeResult.Ok, RedoCodec.CheckFrame(Patch(_ => { }), out _));
    }

    [Fact]
    public void Encode_rejects_records_that_could_not_be_decoded()
    {
        RedoRecord ok = Sample();
        Assert.Throws<ArgumentException>(() => RedoCodec.Encode(ok with { Lsn = Lsn.Zero, PrevLsn = Lsn.Zero }));
        Assert.Throws<ArgumentException>(() => RedoCodec.Encode(ok with { PrevLsn = ok.Lsn }));
        Assert.Throws<ArgumentException>(() => RedoCodec.Encode(ok with { Pg = -1 }));
        Assert.Throws<ArgumentException>(() => RedoCodec.Encode(ok with { PageNo = -2 }));
        Assert.Throws<ArgumentException>(() => RedoCodec.Encode(ok with { Kind = (RedoKind)99 }));
        Assert.Throws<ArgumentException>(() => RedoCodec.Encode(ok with { Epoch = -1 }));
        Assert.Throws<ArgumentException>(() => RedoCodec.Encode(ok with { Payload = new byte[RedoCodec.MaxPayloadLength + 1] }));
        Assert.Throws<ArgumentException>(() => RedoCodec.Encode(ok, new byte[10]));
        Assert.Throws<ArgumentNullException>(() => RedoCodec.Encode(null!));
        Assert.Equal(RedoCodec.MaxFrameSize, RedoCodec.Encode(ok with { Payload = new byte[RedoCodec.MaxPayloadLength] }).Length);
    }

    [Fact]
    public void Decoded_payload_is_a_copy()
    {
        byte[] frame = RedoCodec.Encode(Sample());
        RedoCodec.TryDecode(frame, out RedoRecord? r, out _);
        frame[^1] ^= 0xFF;
        Assert.Equal(5, r!.Payload.Span[4]);
    }

    [Fact]
    public void Commit_payload_round_trips()
    {
        Gen.Long.Select(Gen.Long[0, long.MaxValue].Array[0, 40]).Sample((txn, lsns) =>
        {
            var p = new CommitPayload(txn, lsns.Select(l => new Lsn(l)).ToArray());
            byte[] bytes = p.Encode();
            Assert.Equal(13 + 8 * lsns.Length, bytes.Length);
            Assert.Equal(p, CommitPayload.Decode(bytes));
        }, iter: 200, threads: 1);
    }

    [Fact]
    public void Commit_payload_rejects_bad_input_with_format_exception()
    {
        byte[] good = new CommitPayload(5, [new Lsn(1), new Lsn(7)]).Encode();
        Assert.Contains("at least 13", Assert.Throws<FormatException>(() => CommitPayload.Decode(good.AsSpan(0, 12))).Message);
        Assert.Contains("needs exactly", Assert.Throws<FormatException>(() => CommitPayload.Decode(good.AsSpan(0, good.Length - 1))).Message);
        Assert.Contains("needs exactly", Assert.Throws<FormatException>(() => CommitPayload.Decode([.. good, 0])).Message);
        byte[] badVersion = (byte[])good.Clone(); badVersion[0] = 9;
        Assert.Contains("version", Assert.Throws<FormatException>(() => CommitPayload.Decode(badVersion)).Message);
        byte[] negCount = (byte[])good.Clone(); BinaryPrimitives.WriteInt32LittleEndian(negCount.AsSpan(9), -1);
        Assert.Contains("negative PG count", Assert.Throws<FormatException>(() => CommitPayload.Decode(negCount)).Message);
        byte[] negLsn = (byte[])good.Clone(); BinaryPrimitives.WriteInt64LittleEndian(negLsn.AsSpan(21), -3);
        Assert.Contains("PG 1", Assert.Throws<FormatException>(() => CommitPayload.Decode(negLsn)).Message);
        Assert.Throws<ArgumentNullException>(() => new CommitPayload(1, null!));
    }

    [Fact]
    public void Commit_record_carries_commit_payload()
    {
        var payload = new CommitPayload(11, [Lsn.Zero, new Lsn(40), new Lsn(41)]);
        var commit = new RedoRecord(new Lsn(42), new Lsn(41), 2, -1, RedoKind.Commit, true, 11, 1, payload.Encode());
        RedoCodec.TryDecode(RedoCodec.Encode(commit), out RedoRecord? back, out _);
        Assert.Equal(payload, CommitPayload.Decode(back!.Payload.Span));
    }
}
