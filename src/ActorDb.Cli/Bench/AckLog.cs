using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace ActorDb.Cli.Bench;

/// <summary>One row change a transaction made, to be logged once its commit is acknowledged.</summary>
/// <param name="Table">Table name.</param>
/// <param name="Op"><c>insert</c>, <c>update</c> or <c>delete</c>.</param>
/// <param name="Key">Row key (<see cref="long"/> or <see cref="string"/>).</param>
/// <param name="Fields">The values written (for an update, only the fields set; empty for a delete).</param>
public sealed record AckWrite(string Table, string Op, object Key, IReadOnlyDictionary<string, object?> Fields);

/// <summary>
/// The acknowledged-writes log: one JSON line per row change of every acknowledged commit,
/// <c>{"table":..,"op":"insert|update|delete","key":..,"fields":{..},"commitLsn":N}</c>, appended only after
/// <c>CommitAsync</c> returned. The lines of one commit are written together (contiguous, in statement order) with a
/// single write system call, straight to the operating system (no user-space buffer), so a kill -9 of the
/// process loses no line that was written. Lines of different commits may be out of commit order (commits are
/// acknowledged concurrently): to rebuild the expected state, stable-sort by <c>commitLsn</c> and apply in order.
/// Thread-safe.
/// </summary>
public sealed class AckLog : IDisposable
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly FileStream _file;
    private readonly Lock _lock = new();
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);
    private long _lines;

    /// <summary>Opens (creates or appends to) the log at <paramref name="path"/>.</summary>
    public AckLog(string path)
    {
        Path = path;
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);
    }

    /// <summary>The log file.</summary>
    public string Path { get; }

    /// <summary>Lines written so far.</summary>
    public long Lines => Interlocked.Read(ref _lines);

    /// <summary>Appends the writes of one acknowledged commit.</summary>
    public void Append(IReadOnlyList<AckWrite> writes, long commitLsn)
    {
        if (writes.Count == 0) return;
        lock (_lock)
        {
            _buffer.ResetWrittenCount();
            using (var json = new Utf8JsonWriter(_buffer, Options))
            {
                foreach (var w in writes)
                {
                    json.Reset(_buffer);
                    json.WriteStartObject();
                    json.WriteString("table", w.Table);
                    json.WriteString("op", w.Op);
                    RowJson.WriteKeyAndFields(json, w.Key, w.Fields);
                    json.WriteNumber("commitLsn", commitLsn);
                    json.WriteEndObject();
                    json.Flush();
                    _buffer.Write("\n"u8);
                }
            }
            _file.Write(_buffer.WrittenSpan);
            _file.Flush();
            _lines += writes.Count;
        }
    }

    /// <summary>Closes the file.</summary>
    public void Dispose()
    {
        lock (_lock) _file.Dispose();
    }
}
