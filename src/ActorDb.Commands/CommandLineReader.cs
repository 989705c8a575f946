using System.Text;

namespace ActorDb.Commands;

/// <summary>
/// Reads newline-terminated UTF-8 lines from a stream, never holding more than <c>maxLineBytes + 1</c> bytes: a line
/// longer than the bound is refused as soon as that many bytes have arrived without a newline, not buffered whole. The
/// buffer starts small (4 KiB) and grows only as a long line needs. A trailing <c>\r</c> is dropped. Not thread-safe.
/// </summary>
public sealed class CommandLineReader
{
    private const int InitialBytes = 4096;
    private readonly Stream _stream;
    private readonly int _maxLineBytes;
    private byte[] _buffer;
    private int _start, _end, _scanned;   // unread bytes are [_start, _end); [_start, _scanned) holds no newline

    /// <summary>A reader of <paramref name="stream"/> refusing lines over <paramref name="maxLineBytes"/> bytes (without
    /// the newline).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLineBytes"/> is below 1.</exception>
    public CommandLineReader(Stream stream, int maxLineBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineBytes, 1);
        _stream = stream;
        _maxLineBytes = maxLineBytes;
        _buffer = new byte[Math.Min(InitialBytes, maxLineBytes + 1)];
    }

    /// <summary>The bytes the reader holds now (its buffer), for tests of the bound.</summary>
    public int BufferBytes => _buffer.Length;

    /// <summary>The next line, or null at the end of the stream (an unterminated last line is dropped: a request is a
    /// whole line).</summary>
    /// <exception cref="CommandLineTooLongException">more than the bound arrived without a newline.</exception>
    /// <exception cref="IOException">the stream failed.</exception>
    public async ValueTask<string?> ReadLineAsync(CancellationToken ct)
    {
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', _scanned, _end - _scanned);
            if (newline >= 0)
            {
                var length = newline - _start;
                if (length > _maxLineBytes) throw new CommandLineTooLongException(_maxLineBytes);
                if (length > 0 && _buffer[newline - 1] == '\r') length--;
                var line = Encoding.UTF8.GetString(_buffer, _start, length);
                _start = _scanned = newline + 1;
                return line;
            }
            _scanned = _end;
            if (_end - _start > _maxLineBytes) throw new CommandLineTooLongException(_maxLineBytes);
            if (_end == _buffer.Length)
            {
                if (_start > 0)
                {
                    Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                    (_end, _scanned, _start) = (_end - _start, _scanned - _start, 0);
                }
                if (_end == _buffer.Length) Array.Resize(ref _buffer, (int)Math.Min((long)_buffer.Length * 2, _maxLineBytes + 1L));
            }
            var read = await _stream.ReadAsync(_buffer.AsMemory(_end), ct);
            if (read == 0) return null;
            _end += read;
        }
    }
}

/// <summary>A request line exceeded <see cref="CommandLineReader"/>'s bound; the message is the one line the host sends
/// (<see cref="CommandErrors.LineTooLong"/>).</summary>
/// <param name="maxLineBytes">The bound, in bytes.</param>
public sealed class CommandLineTooLongException(int maxLineBytes) : IOException(CommandErrors.LineTooLong(maxLineBytes))
{
    /// <summary>The bound, in bytes.</summary>
    public int MaxLineBytes { get; } = maxLineBytes;
}
