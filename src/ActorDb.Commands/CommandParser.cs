using System.Text;

namespace ActorDb.Commands;

/// <summary>
/// Splits a command line into words and checks it against the palettes a host reports: <c>palette command [switch
/// value]...</c>. The host parses every request with it (it is the authority on what runs); the client uses the same
/// palettes for help and tab completion (<see cref="CommandCompleter"/>).
/// </summary>
public static class CommandParser
{
    /// <summary>Splits <paramref name="line"/> at whitespace; double quotes group words (<c>"a b"</c>), and a backslash
    /// escapes a quote inside them.</summary>
    /// <exception cref="CommandSyntaxException">a quote is not closed.</exception>
    public static IReadOnlyList<string> Tokenize(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool inQuotes = false, hasWord = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (inQuotes)
            {
                if (c == '\\' && i + 1 < line.Length && line[i + 1] == '"') word.Append(line[++i]);
                else if (c == '"') inQuotes = false;
                else word.Append(c);
            }
            else if (c == '"') { inQuotes = true; hasWord = true; }
            else if (char.IsWhiteSpace(c))
            {
                if (hasWord) words.Add(word.ToString());
                word.Clear();
                hasWord = false;
            }
            else { word.Append(c); hasWord = true; }
        }
        if (inQuotes) throw CommandErrors.QuoteNotClosed();
        if (hasWord) words.Add(word.ToString());
        return words;
    }

    /// <summary>Checks <paramref name="words"/> against <paramref name="palettes"/>.</summary>
    /// <exception cref="CommandSyntaxException">unknown palette or command, unknown switch, a switch without its value,
    /// a missing required switch, or a stray word; the message says which, in one line.</exception>
    public static ParsedCommand Parse(IReadOnlyList<string> words, IReadOnlyList<PaletteDefinition> palettes)
    {
        if (words.Count == 0) throw CommandErrors.NoCommand();
        var palette = palettes.FirstOrDefault(p => p.Name == words[0])
            ?? throw CommandErrors.UnknownPalette(words[0], palettes);
        var at = 1;
        CommandDefinition? command;
        if (words.Count > 1 && !words[1].StartsWith('-'))
        {
            command = palette.Find(words[1])
                ?? throw CommandErrors.UnknownCommand(palette, words[1]);
            at = 2;
        }
        else
        {
            command = palette.DefaultCommand is { } d ? palette.Find(d) : null;
            if (command is null)
                throw CommandErrors.WhichCommand(palette);
        }

        var name = $"{palette.Name} {command.Name}";
        var values = new Dictionary<string, string>();
        for (; at < words.Count; at++)
        {
            var word = words[at];
            if (!word.StartsWith('-'))
                throw CommandErrors.UnexpectedArgument(palette, command, word);
            var sw = command.Switches.FirstOrDefault(s => s.Aliases.Contains(word))
                ?? throw CommandErrors.UnknownSwitch(palette, command, word);
            if (sw.IsFlag)
            {
                values[sw.Name] = "true";
                continue;
            }
            if (at + 1 >= words.Count || (words[at + 1].StartsWith('-') && words[at + 1].Length > 1 && !char.IsDigit(words[at + 1][1])))
                throw CommandErrors.SwitchNeedsValue(name, word, sw);
            values[sw.Name] = words[++at];
        }
        foreach (var sw in command.Switches.Where(s => s.Required && !values.ContainsKey(s.Name)))
            throw CommandErrors.MissingSwitch(name, sw);
        return new ParsedCommand(palette.Name, command.Name, values);
    }
}

/// <summary>Tab completion from the palettes a host reports: what may follow the words typed so far.</summary>
public static class CommandCompleter
{
    /// <summary>The candidates for the last word of <paramref name="line"/> (the word being typed; empty after a space),
    /// sorted: palette names first, then a palette's commands, then a command's switches not yet given, or a switch's
    /// suggested values.</summary>
    public static IReadOnlyList<string> Complete(string line, IReadOnlyList<PaletteDefinition> palettes, IEnumerable<string>? extra = null)
    {
        IReadOnlyList<string> words;
        try { words = CommandParser.Tokenize(line); }
        catch (CommandSyntaxException) { return []; }
        var typing = line.Length == 0 || char.IsWhiteSpace(line[^1]) ? "" : words[^1];
        var done = typing == "" ? words : words.Take(words.Count - 1).ToList();

        IEnumerable<string> candidates;
        if (done.Count == 0)
            candidates = palettes.Select(p => p.Name).Concat(extra ?? []);
        else if (palettes.FirstOrDefault(p => p.Name == done[0]) is not { } palette)
            candidates = [];
        else if (done.Count == 1)
            candidates = palette.Commands.Select(c => c.Name);
        else if (palette.Find(done[1]) is not { } command)
            candidates = [];
        else
        {
            var last = done[^1];
            var pending = command.Switches.FirstOrDefault(s => !s.IsFlag && s.Aliases.Contains(last));
            if (pending is not null && done.Count > 2)
                candidates = pending.Values ?? [];
            else
            {
                var given = command.Switches.Where(s => s.Aliases.Any(done.Contains)).ToHashSet();
                candidates = command.Switches.Where(s => !given.Contains(s)).Select(s => s.Aliases.First(a => a.StartsWith("--", StringComparison.Ordinal) || a == s.Aliases[^1]));
                if (typing.StartsWith('-'))
                    candidates = command.Switches.Where(s => !given.Contains(s)).SelectMany(s => s.Aliases);
            }
        }
        return candidates.Where(c => c.StartsWith(typing, StringComparison.Ordinal)).Distinct().Order(StringComparer.Ordinal).ToList();
    }

    /// <summary><paramref name="line"/> with the word being typed replaced by <paramref name="completion"/> (a candidate
    /// from <see cref="Complete"/>, or their common prefix); a full candidate (<paramref name="final"/>) gets a space after it.</summary>
    public static string Apply(string line, string completion, bool final)
    {
        var start = line.Length;
        while (start > 0 && !char.IsWhiteSpace(line[start - 1])) start--;
        return line[..start] + completion + (final ? " " : "");
    }

    /// <summary>The longest prefix shared by every candidate ("" for none).</summary>
    public static string CommonPrefix(IReadOnlyList<string> candidates)
    {
        if (candidates.Count == 0) return "";
        var prefix = candidates[0];
        foreach (var c in candidates.Skip(1))
        {
            var n = 0;
            while (n < prefix.Length && n < c.Length && prefix[n] == c[n]) n++;
            prefix = prefix[..n];
        }
        return prefix;
    }
}
