using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ActorDb.Commands;

/// <summary>What a client asks a command host: <c>auth</c> with a token (the first request of every connection),
/// <c>describe</c> (the palettes), <c>run</c> a command line given as words, or <c>cancel</c> the command running (a
/// streaming one such as <c>cluster tail</c>).</summary>
/// <param name="Op">auth, describe, run or cancel.</param>
/// <param name="Args">The words of the command line, for run.</param>
/// <param name="Token">The token, for auth.</param>
public sealed record CommandRequest(string Op, IReadOnlyList<string> Args, string? Token = null)
{
    /// <summary>Authenticates the connection with <paramref name="token"/> (the admin or the read token).</summary>
    public static CommandRequest Auth(string token) => new("auth", [], token);
    /// <summary>Not the token in logs and messages.</summary>
    public override string ToString() => $"{Op} [{string.Join(" ", Args)}]{(Token is null ? "" : " (token)")}";
    /// <summary>Asks for the palettes.</summary>
    public static CommandRequest Describe() => new("describe", []);
    /// <summary>Runs a command line.</summary>
    public static CommandRequest Run(IReadOnlyList<string> args) => new("run", args);
    /// <summary>Stops the command running.</summary>
    public static CommandRequest Cancel() => new("cancel", []);
}

/// <summary>One item a command produces: a row of named values, a line of text, or the footer that ends its table
/// (<c>Count: 3 nodes</c>).</summary>
public abstract record CommandItem;

/// <summary>A row of named values, in order. Values are strings, whole numbers (long), doubles, booleans or null.
/// <paramref name="Vertical"/>: one record shown as <c>name | value</c> lines (a status), not one pipe-delimited line.
/// <paramref name="Header"/>: a table whose columns need names (numbers); text output prints the names once above it.</summary>
/// <param name="Fields">The values by name, in display order.</param>
/// <param name="Vertical">Shown one field per line.</param>
/// <param name="Header">Text output names the columns above the first such row.</param>
public sealed record CommandRow(IReadOnlyList<KeyValuePair<string, object?>> Fields, bool Vertical = false, bool Header = false) : CommandItem
{
    /// <summary>This row with its column names printed above it in text output.</summary>
    public CommandRow WithHeader() => this with { Header = true };

    /// <summary>A row from (name, value) pairs: strings, numbers, booleans and null as they are; any other value as its
    /// invariant text (pass a database value such as an LSN as its number, <c>lsn.Value</c>).</summary>
    public static CommandRow Of(params (string Name, object? Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, object?>(f.Name, Normalize(f.Value))).ToList());

    /// <summary>A vertical row (a record shown one field per line) from (name, value) pairs.</summary>
    public static CommandRow Record(params (string Name, object? Value)[] fields) => Of(fields) with { Vertical = true };

    /// <summary>The value named <paramref name="name"/> (null when absent).</summary>
    public object? this[string name] => Fields.FirstOrDefault(f => f.Key == name).Value;

    private static object? Normalize(object? v) => v switch
    {
        null or string or long or double or bool => v,
        int i => (long)i,
        uint u => (long)u,
        float f => (double)f,
        decimal d => (double)d,
        _ => Convert.ToString(v, CultureInfo.InvariantCulture),
    };
}

/// <summary>A line of text (a confirmation, a note).</summary>
/// <param name="Text">The line.</param>
public sealed record CommandText(string Text) : CommandItem;

/// <summary>The footer of a table, printed after its rows (<c>Count: 3 nodes</c>).</summary>
/// <param name="Text">The footer.</param>
public sealed record CommandFooter(string Text) : CommandItem;

/// <summary>The last line of every response: exit status 0 (done), 1 (the command failed) or 2 (the command line did
/// not parse), with the error in one line.</summary>
/// <param name="Exit">The exit status.</param>
/// <param name="Error">The error, or null.</param>
public sealed record CommandEnd(int Exit, string? Error) : CommandItem;

/// <summary>The host's answer to <c>describe</c>.</summary>
/// <param name="Palettes">Every palette registered.</param>
/// <param name="Node">The node's address (for the client's messages).</param>
public sealed record CommandPalettes(IReadOnlyList<PaletteDefinition> Palettes, string Node) : CommandItem;

/// <summary>
/// The command host's wire protocol: UTF-8 text, one JSON object per line, both ways. A client sends
/// <see cref="CommandRequest"/>s: first <c>{"op":"auth","token":"..."}</c>, answered by an <c>end</c> line (exit 0, or
/// exit 1 with the error, after which the host closes the connection), then e.g.
/// <c>{"op":"run","args":["cluster","show"]}</c>; the host answers <c>describe</c> with one
/// <c>{"kind":"palettes",...}</c> line, and <c>run</c> with any number of <c>row</c>, <c>text</c> and <c>footer</c>
/// lines, streamed as they are produced, then one <c>{"kind":"end","exit":N}</c> line. Akka-free, so the client and the
/// tests use it without an actor system.
/// </summary>
public static class CommandWire
{
    /// <summary>The protocol version the host reports with its palettes.</summary>
    public const int Version = 1;

    /// <summary>A request as one line (no newline).</summary>
    public static string Encode(CommandRequest request) => Write(w =>
    {
        w.WriteString("op", request.Op);
        if (request.Token is not null) w.WriteString("token", request.Token);
        w.WriteStartArray("args");
        foreach (var a in request.Args) w.WriteStringValue(a);
        w.WriteEndArray();
    });

    /// <summary>Reads a request line.</summary>
    /// <exception cref="FormatException">not a request.</exception>
    public static CommandRequest DecodeRequest(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            var op = root.GetProperty("op").GetString() ?? throw new FormatException("op is null");
            var args = root.TryGetProperty("args", out var a) && a.ValueKind == JsonValueKind.Array
                ? a.EnumerateArray().Select(e => e.GetString() ?? "").ToList()
                : [];
            var token = root.TryGetProperty("token", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            return new CommandRequest(op, args, token);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException($"not a command request: {e.Message}", e);
        }
    }

    /// <summary>An item of a response as one line (no newline).</summary>
    public static string Encode(CommandItem item) => Write(w =>
    {
        switch (item)
        {
            case CommandRow row:
                w.WriteString("kind", "row");
                if (row.Vertical) w.WriteBoolean("vertical", true);
                if (row.Header) w.WriteBoolean("header", true);
                w.WritePropertyName("fields");
                WriteFields(w, row);
                break;
            case CommandText text:
                w.WriteString("kind", "text");
                w.WriteString("text", text.Text);
                break;
            case CommandFooter footer:
                w.WriteString("kind", "footer");
                w.WriteString("text", footer.Text);
                break;
            case CommandEnd end:
                w.WriteString("kind", "end");
                w.WriteNumber("exit", end.Exit);
                if (end.Error is not null) w.WriteString("error", end.Error);
                break;
            case CommandPalettes p:
                w.WriteString("kind", "palettes");
                w.WriteNumber("version", Version);
                w.WriteString("node", p.Node);
                w.WriteStartArray("palettes");
                foreach (var palette in p.Palettes) WritePalette(w, palette);
                w.WriteEndArray();
                break;
            default:
                throw new ArgumentException($"unknown item {item.GetType().Name}", nameof(item));
        }
    });

    /// <summary>Reads a response line.</summary>
    /// <exception cref="FormatException">not a response item.</exception>
    public static CommandItem DecodeItem(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            var kind = root.GetProperty("kind").GetString();
            return kind switch
            {
                "row" => new CommandRow(root.GetProperty("fields").EnumerateObject()
                        .Select(p => new KeyValuePair<string, object?>(p.Name, ReadValue(p.Value))).ToList(),
                    root.TryGetProperty("vertical", out var v) && v.GetBoolean(),
                    root.TryGetProperty("header", out var h) && h.GetBoolean()),
                "text" => new CommandText(root.GetProperty("text").GetString() ?? ""),
                "footer" => new CommandFooter(root.GetProperty("text").GetString() ?? ""),
                "end" => new CommandEnd(root.GetProperty("exit").GetInt32(),
                    root.TryGetProperty("error", out var e) ? e.GetString() : null),
                "palettes" => new CommandPalettes(root.GetProperty("palettes").EnumerateArray().Select(ReadPalette).ToList(),
                    root.TryGetProperty("node", out var n) ? n.GetString() ?? "" : ""),
                _ => throw new FormatException($"unknown kind '{kind}'"),
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException($"not a command response: {e.Message}", e);
        }
    }

    /// <summary>A row as one JSON object of its fields (what <c>--json</c> prints).</summary>
    public static string RowJson(CommandRow row) => Write(w => WriteFieldsInline(w, row));

    private static void WriteFields(Utf8JsonWriter w, CommandRow row)
    {
        w.WriteStartObject();
        WriteFieldsInline(w, row);
        w.WriteEndObject();
    }

    private static void WriteFieldsInline(Utf8JsonWriter w, CommandRow row)
    {
        foreach (var (name, value) in row.Fields)
        {
            w.WritePropertyName(name);
            switch (value)
            {
                case null: w.WriteNullValue(); break;
                case long l: w.WriteNumberValue(l); break;
                case double d when double.IsFinite(d): w.WriteNumberValue(d); break;
                case double d: w.WriteStringValue(d.ToString(CultureInfo.InvariantCulture)); break;
                case bool b: w.WriteBooleanValue(b); break;
                default: w.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture)); break;
            }
        }
    }

    private static object? ReadValue(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Number => e.TryGetInt64(out var l) ? (object)l : e.GetDouble(),   // (object): else the ternary makes every long a double
        JsonValueKind.String => e.GetString(),
        _ => e.GetRawText(),
    };

    private static void WritePalette(Utf8JsonWriter w, PaletteDefinition p)
    {
        w.WriteStartObject();
        w.WriteString("name", p.Name);
        w.WriteString("description", p.Description);
        if (p.DefaultCommand is not null) w.WriteString("default", p.DefaultCommand);
        w.WriteStartArray("commands");
        foreach (var c in p.Commands)
        {
            w.WriteStartObject();
            w.WriteString("name", c.Name);
            w.WriteString("description", c.Description);
            if (c.ReadOnly) w.WriteBoolean("read-only", true);
            w.WriteStartArray("switches");
            foreach (var s in c.Switches)
            {
                w.WriteStartObject();
                w.WriteString("name", s.Name);
                w.WriteStartArray("aliases");
                foreach (var a in s.Aliases) w.WriteStringValue(a);
                w.WriteEndArray();
                w.WriteString("description", s.Description);
                w.WriteBoolean("required", s.Required);
                w.WriteBoolean("flag", s.IsFlag);
                w.WriteStartArray("values");
                foreach (var v in s.Values ?? []) w.WriteStringValue(v);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static PaletteDefinition ReadPalette(JsonElement p) => new(
        p.GetProperty("name").GetString()!,
        p.GetProperty("description").GetString() ?? "",
        p.GetProperty("commands").EnumerateArray().Select(c => new CommandDefinition(
            c.GetProperty("name").GetString()!,
            c.GetProperty("description").GetString() ?? "",
            c.GetProperty("switches").EnumerateArray().Select(s => new SwitchDefinition(
                s.GetProperty("name").GetString()!,
                s.GetProperty("aliases").EnumerateArray().Select(a => a.GetString()!).ToList(),
                s.GetProperty("description").GetString() ?? "",
                s.GetProperty("required").GetBoolean(),
                s.GetProperty("flag").GetBoolean(),
                s.GetProperty("values").EnumerateArray().Select(v => v.GetString()!).ToList())).ToList(),
            c.TryGetProperty("read-only", out var r) && r.GetBoolean())).ToList(),
        p.TryGetProperty("default", out var d) ? d.GetString() : null);

    private static string Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}

/// <summary>
/// Text output in Petabridge.Cmd's style: a row is its values joined by <c> | </c> (<c>akka.tcp://actordb@127.0.0.1:4053
/// | [storage,writer] | up |</c> when the last value, the reachability, is empty), a footer follows its rows (<c>Count: 1 nodes</c>), and a vertical row (a status) is
/// one <c>name | value</c> line per field with the names aligned.
/// </summary>
public static class CommandFormatter
{
    /// <summary>The lines that show <paramref name="item"/> (none for <see cref="CommandEnd"/> and <see cref="CommandPalettes"/>).</summary>
    public static IEnumerable<string> Text(CommandItem item)
    {
        switch (item)
        {
            case CommandRow { Vertical: true } row:
                var width = row.Fields.Count == 0 ? 0 : row.Fields.Max(f => f.Key.Length);
                foreach (var (name, value) in row.Fields) yield return $"{name.PadRight(width)} | {Value(value)}";
                break;
            case CommandRow row:
                yield return string.Join(" | ", row.Fields.Select(f => Value(f.Value))).TrimEnd();   // pbm: "... | up |" when the last value is empty
                break;
            case CommandText text:
                yield return text.Text;
                break;
            case CommandFooter footer:
                yield return footer.Text;
                break;
        }
    }

    /// <summary>The column names of a <see cref="CommandRow.Header"/> row, as a line to print above it when they differ
    /// from <paramref name="previous"/> (the last header printed); null when none is due.</summary>
    public static string? Header(CommandItem item, string? previous)
    {
        if (item is not CommandRow { Header: true, Vertical: false } row) return null;
        var header = string.Join(" | ", row.Fields.Select(f => f.Key));
        return header == previous ? null : header;
    }

    /// <summary>The line(s) <c>--json</c> prints for <paramref name="item"/>: a row as one JSON object of its fields,
    /// text and footers as <c>{"text": ...}</c> and <c>{"footer": ...}</c>.</summary>
    public static IEnumerable<string> Json(CommandItem item)
    {
        switch (item)
        {
            case CommandRow row: yield return CommandWire.RowJson(row); break;
            case CommandText text: yield return CommandWire.RowJson(CommandRow.Of(("text", text.Text))); break;
            case CommandFooter footer: yield return CommandWire.RowJson(CommandRow.Of(("footer", footer.Text))); break;
        }
    }

    /// <summary>A value as shown: invariant numbers (doubles to 2 decimals), empty for null.</summary>
    public static string Value(object? value) => value switch
    {
        null => "",
        double d => d.ToString("0.##", CultureInfo.InvariantCulture),
        bool b => b ? "yes" : "no",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>Help text for the palettes: one line per command with its usage and description; a command that needs
    /// the admin token ends with <c>(admin)</c>.</summary>
    public static IEnumerable<string> Help(IReadOnlyList<PaletteDefinition> palettes)
    {
        foreach (var p in palettes)
        {
            yield return $"{p.Name}: {p.Description}";
            foreach (var c in p.Commands)
                yield return $"  {p.Name} {c.Usage}{(p.DefaultCommand == c.Name ? "   (also: " + p.Name + ")" : "")}  -- {c.Description}{(c.ReadOnly ? "" : " (admin)")}";
        }
    }
}
