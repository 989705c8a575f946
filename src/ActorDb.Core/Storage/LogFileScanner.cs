using System.Buffers;
using System.Buffers.Binary;
using ActorDb.Core.Redo;

namespace ActorDb.Core.Storage;

/// <summary>What <see cref="LogFileScanner.Next"/> found.</summary>
internal enum ScanItem
{
    /// <summary>No more bytes before the limit.</summary>
    End,
    /// <summary>A valid frame.</summary>
    Frame,
    /// <summary>A damaged range: from a frame boundary that does not decode to the next offset where a
    /// valid frame starts, or to the limit.</summary>
    Damage,
}

/// <summary>
/// Sequential reader of the frames of one log file, up to a byte limit, resynchronising after damage by
/// scanning forward byte by byte (runs of zero bytes at once) for the next offset where
/// <see cref="RedoCodec.CheckFrame"/> succeeds.
/// Reads with a pooled buffer of at most 2 * <see cref="RedoCodec.MaxFrameSize"/> bytes; opens the
/// file with FileShare.ReadWrite | Delete so it can run while the log appends. Not thread-safe.
/// </summary>
internal sealed class LogFileScanner : IDisposable
{
    private readonly IStorageFile _file;
    private byte[] _buf;
    private long _bufStart; // file offset of _buf[0]
    private int _bufLen;    // valid bytes in _buf
    private long _pos;      // next frame boundary to examine
    private long _limit;

    public LogFileScanner(IStorage storage, string path, long limit)
    {
        Path = path;
        _file = storage.Open(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        _limit = Math.Min(limit, _file.Length);
        int size = (int)Math.Clamp(_limit, 1, 2L * RedoCodec.MaxFrameSize);
        _buf = ArrayPool<byte>.Shared.Rent(size);
    }

    public string Path { get; }

    /// <summary>The scan limit (the smaller of the requested limit and the file's length at open).</summary>
    public long Limit => _limit;

    /// <summary>
    /// Advances to the next item. For <see cref="ScanItem.Frame"/>, <paramref name="frame"/> holds the
    /// frame's bytes, valid until the next call. For <see cref="ScanItem.Damage"/>, offset and length
    /// describe the damaged range and <paramref name="frame"/> is empty.
    /// </summary>
    /// <exception cref="IOException">a read failed.</exception>
    public ScanItem Next(out long offset, out long length, out ReadOnlySpan<byte> frame)
    {
        frame = default;
        offset = _pos;
        length = 0;
        if (_pos >= _limit) return ScanItem.End;

        ReadOnlySpan<byte> at = Window(_pos);
        if (RedoCodec.CheckFrame(at, out int frameLength) == DecodeResult.Ok)
        {
            frame = at.Slice(0, frameLength);
            length = frameLength;
            _pos += frameLength;
            return ScanItem.Frame;
        }

        long p = _pos + 1;
        while (p < _limit)
        {
            ReadOnlySpan<byte> w = Window(p);
            // A frame starts with its body length (>= BodyFixedSize), never with 4 zero bytes: jump over runs of zeros
            // (the preallocated, never-written end of a log file after a crash) instead of trying every offset.
            if (w.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(w) == 0)
            {
                int nonZero = w.IndexOfAnyExcept((byte)0);
                p += nonZero < 0 ? w.Length : nonZero - 3;
                continue;
            }
            if (RedoCodec.CheckFrame(w, out _) == DecodeResult.Ok) break;
            p++;
        }
        p = Math.Min(p, _limit);
        length = p - _pos;
        _pos = p;
        return ScanItem.Damage;
    }

    // The bytes from file offset p: at least min(MaxFrameSize, limit - p) of them, so a frame that
    // does not fit is truly cut off by the limit.
    private ReadOnlySpan<byte> Window(long p)
    {
        long need = Math.Min(RedoCodec.MaxFrameSize, _limit - p);
        if (p + need > _bufStart + _bufLen)
        {
            int keep = (int)(_bufStart + _bufLen - p);
            if (keep > 0) Buffer.BlockCopy(_buf, (int)(p - _bufStart), _buf, 0, keep);
            else keep = 0;
            _bufStart = p;
            _bufLen = keep;
            while (_bufLen < need)
            {
                int want = (int)Math.Min(_buf.Length - _bufLen, _limit - (_bufStart + _bufLen));
                int n = _file.Read(_buf.AsSpan(_bufLen, want), _bufStart + _bufLen);
                if (n == 0)
                {
                    _limit = _bufStart + _bufLen; // file shorter than expected
                    break;
                }
                _bufLen += n;
            }
        }
        return _buf.AsSpan((int)(p - _bufStart), (int)(_bufStart + _bufLen - p));
    }

    /// <summary>
    /// The end of the last non-zero byte of <paramref name="path"/> in [<paramref name="from"/>, <paramref name="to"/>),
    /// or <paramref name="from"/> when every byte there is zero: what a cut tail holds beyond its written bytes is
    /// preallocated zeros never written, while the bytes before that end are a torn or corrupt record. Reads the range
    /// in 1 MiB chunks (a tail cut happens only after a crash: a clean close gives the padding back).
    /// </summary>
    /// <exception cref="IOException">a read failed.</exception>
    public static long NonZeroEnd(IStorage storage, string path, long from, long to)
    {
        if (to <= from) return from;
        using var file = storage.Open(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        to = Math.Min(to, file.Length);
        var buf = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long end = from;
            for (long p = from; p < to;)
            {
                int n = file.Read(buf.AsSpan(0, (int)Math.Min(buf.Length, to - p)), p);
                if (n == 0) break;
                int last = buf.AsSpan(0, n).LastIndexOfAnyExcept((byte)0);
                if (last >= 0) end = p + last + 1;
                p += n;
            }
            return end;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
    }

    public void Dispose()
    {
        _file.Dispose();
        if (_buf.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buf);
            _buf = [];
        }
    }
}
