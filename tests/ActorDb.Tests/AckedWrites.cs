using System.Text.Json;

namespace ActorDb.Tests;

/// <summary>
/// Reads the bench's acknowledged-writes log and <c>actordb dump</c> output: the expected table state is the ack log
/// replayed in commit-LSN order (stable), and it must equal the dump exactly.
/// </summary>
internal static class AckedWrites
{
    /// <summary>A JSON scalar as a comparable value: long, string or null (the two writers escape differently).</summary>
    public static object? Scalar(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.Number => e.GetInt64(),
        JsonValueKind.String => e.GetString(),
        _ => throw new InvalidDataException($"unexpected JSON value {e.GetRawText()}"),
    };

    public static Dictionary<string, object?> Fields(JsonElement fields) =>
        fields.EnumerateObject().ToDictionary(p => p.Name, p => Scalar(p.Value));

    public sealed record Ack(string Table, string Op, object Key, Dictionary<string, object?> Fields, long CommitLsn);

    /// <summary>Complete lines in the ack log at <paramref name="path"/> so far (0 when it does not exist yet), read while
    /// the bench may still append to it: one line per acknowledged row change.</summary>
    public static int CountLines(string path)
    {
        if (!File.Exists(path)) return 0;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var count = 0;
        int b;
        while ((b = stream.ReadByte()) >= 0) if (b == '\n') count++;
        return count;
    }

    /// <summary>Polls (every 100 ms) until the ack log at <paramref name="path"/> holds <paramref name="atLeast"/> lines;
    /// <see cref="TimeoutException"/> naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task WaitForLinesAsync(string path, int atLeast, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var lines = CountLines(path);
            if (lines >= atLeast) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: {lines} acknowledged writes after {timeout.TotalSeconds:0} s, wanted {atLeast}");
            await Task.Delay(100);
        }
    }

    /// <summary>Reads an ack log. Every line must parse, except that with <paramref name="dropTornLastLine"/> a last line
    /// without its newline (a write cut by kill -9) is left out.</summary>
    public static List<Ack> ReadLog(string path, bool dropTornLastLine = false) => ReadLog(path, dropTornLastLine, out _);

    /// <inheritdoc cref="ReadLog(string, bool)"/>
    /// <param name="path">The log file.</param>
    /// <param name="dropTornLastLine">Leave out a last line without its newline.</param>
    /// <param name="tornBytes">Bytes of the torn last line that were left out (0 if none).</param>
    public static List<Ack> ReadLog(string path, bool dropTornLastLine, out int tornBytes)
    {
        var text = File.ReadAllText(path);
        tornBytes = 0;
        if (dropTornLastLine && text.Length > 0 && text[^1] != '\n')
        {
            var cut = text.LastIndexOf('\n') + 1;
            tornBytes = System.Text.Encoding.UTF8.GetByteCount(text.AsSpan(cut));
            text = text[..cut];
        }
        var acks = new List<Ack>();
        var lineNo = 0;
        foreach (var l in text.Split('\n'))
        {
            lineNo++;
            if (l.Length == 0) continue;
            acks.Add(ParseLine(l, $"{path}: line {lineNo}"));
        }
        return acks;
    }

    /// <summary>Parses one line of an ack log; <paramref name="where"/> names it in the error.</summary>
    /// <exception cref="InvalidDataException">the line is not an ack record.</exception>
    public static Ack ParseLine(string line, string where)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            return new Ack(r.GetProperty("table").GetString()!, r.GetProperty("op").GetString()!, Scalar(r.GetProperty("key"))!,
                Fields(r.GetProperty("fields")), r.GetProperty("commitLsn").GetInt64());
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"{where} is not an ack record ({e.Message}): {line}", e);
        }
    }

    /// <summary>The table state the acknowledged writes imply (null fields dropped).</summary>
    public static Dictionary<object, Dictionary<string, object?>> Replay(IEnumerable<Ack> acks, string table)
    {
        var state = new Dictionary<object, Dictionary<string, object?>>();
        foreach (var a in acks.Where(a => a.Table == table).OrderBy(a => a.CommitLsn))   // OrderBy is stable
        {
            switch (a.Op)
            {
                case "insert":
                    Assert.False(state.ContainsKey(a.Key), $"ack log inserts key {a.Key} twice without a delete");
                    state[a.Key] = new Dictionary<string, object?>(a.Fields);
                    break;
                case "update":
                    Assert.True(state.ContainsKey(a.Key), $"ack log updates key {a.Key} that does not exist");
                    foreach (var (k, v) in a.Fields) state[a.Key][k] = v;
                    break;
                case "delete":
                    Assert.True(state.Remove(a.Key), $"ack log deletes key {a.Key} that does not exist");
                    break;
                default:
                    throw new InvalidDataException($"unknown op {a.Op}");
            }
        }
        foreach (var fields in state.Values)
            foreach (var k in fields.Where(f => f.Value is null).Select(f => f.Key).ToList()) fields.Remove(k);
        return state;
    }

    /// <summary>Parses <c>actordb dump</c> lines into key -> fields (null fields dropped), checking keys are unique and sorted.</summary>
    public static Dictionary<object, Dictionary<string, object?>> ReadDump(string dump)
    {
        var rows = new Dictionary<object, Dictionary<string, object?>>();
        object? previous = null;
        foreach (var line in dump.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            using var doc = JsonDocument.Parse(line);
            var key = Scalar(doc.RootElement.GetProperty("key"))!;
            if (previous is not null)
                Assert.True(Comparer<object>.Create(CompareKeys).Compare(previous, key) < 0, $"dump keys out of order: {previous} then {key}");
            previous = key;
            var fields = Fields(doc.RootElement.GetProperty("fields"));
            foreach (var k in fields.Where(f => f.Value is null).Select(f => f.Key).ToList()) fields.Remove(k);
            Assert.True(rows.TryAdd(key, fields), $"dump has key {key} twice");
        }
        return rows;
    }

    private static int CompareKeys(object a, object b) => (a, b) switch
    {
        (long x, long y) => x.CompareTo(y),
        (string x, string y) => string.CompareOrdinal(x, y),
        _ => throw new InvalidDataException($"keys of different types: {a}, {b}"),
    };

    /// <summary>Asserts the dump holds exactly the expected rows with exactly their field values.</summary>
    public static void AssertSameRows(Dictionary<object, Dictionary<string, object?>> expected, Dictionary<object, Dictionary<string, object?>> actual)
    {
        var missing = expected.Keys.Where(k => !actual.ContainsKey(k)).Take(5).ToList();
        Assert.True(missing.Count == 0, $"acknowledged keys missing after reopen: {string.Join(", ", missing)}");
        var extra = actual.Keys.Where(k => !expected.ContainsKey(k)).Take(5).ToList();
        Assert.True(extra.Count == 0, $"keys present that no acknowledged write explains: {string.Join(", ", extra)}");
        foreach (var (key, fields) in expected)
        {
            var got = actual[key];
            Assert.True(fields.Count == got.Count && fields.All(f => got.TryGetValue(f.Key, out var v) && Equals(v, f.Value)),
                $"key {key}: expected {{{string.Join(", ", fields.Select(f => $"{f.Key}={f.Value}"))}}} got {{{string.Join(", ", got.Select(f => $"{f.Key}={f.Value}"))}}}");
        }
    }
}
