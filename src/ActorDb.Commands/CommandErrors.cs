namespace ActorDb.Commands;

/// <summary>
/// The errors of the command subsystem, in one place: the one-line refusals of the command host (the <c>error</c> of an
/// <c>end</c> line, which <c>actordb HOST:PORT</c> prints after <c>actordb: </c>; each names the setting that bounds it,
/// so an operator knows what to change), the command-line syntax errors, and the token-file and wire-format errors.
/// </summary>
public static class CommandErrors
{
    /// <summary>A request before (or without) a token, or with a wrong one.</summary>
    /// <param name="presented">Whether the client sent a token at all.</param>
    /// <param name="adminTokenFile">Where the node keeps its admin token.</param>
    /// <param name="readTokenFile">Where it keeps its read token.</param>
    public static string NotAuthenticated(bool presented, string adminTokenFile, string readTokenFile) =>
        (presented ? "not authenticated: the token matches neither this node's admin nor its read token" : "not authenticated: send a token first") +
        $" (actordb HOST:PORT --token-file FILE, or ACTORDB_CMD_TOKEN_FILE; this node's tokens are in {adminTokenFile} and {readTokenFile})";

    /// <summary>A read-only client ran a command that needs the admin token.</summary>
    public static string NeedsAdmin(ParsedCommand command) =>
        $"'{command}' needs the admin token (this connection has the read token, which runs only read-only commands)";

    /// <summary>A request line longer than <paramref name="maxLineBytes"/>.</summary>
    public static string LineTooLong(int maxLineBytes) =>
        $"request line longer than {maxLineBytes} bytes (actordb.cmd.max-line-bytes): connection closed";

    /// <summary>The host already serves <paramref name="maxConnections"/> clients.</summary>
    public static string TooManyConnections(int maxConnections) =>
        $"the command host already serves {maxConnections} connections (actordb.cmd.max-connections): try again later";

    /// <summary>No token within <paramref name="timeout"/> of connecting.</summary>
    public static string AuthTimeout(TimeSpan timeout) =>
        $"no token within {timeout.TotalSeconds:0.#} s of connecting (actordb.cmd.auth-timeout): connection closed";

    /// <summary>No request for <paramref name="timeout"/> and no command running.</summary>
    public static string Idle(TimeSpan timeout) =>
        $"idle for {timeout.TotalSeconds:0.#} s (actordb.cmd.idle-timeout): connection closed";

    /// <summary>A request sent after a refusal that closes the connection, or while one command runs.</summary>
    public static string Busy => "a command is still running on this connection (cancel it first)";

    // ---------------------------------------------------------------- command lines (CommandParser)

    /// <summary>A quoted word without its closing quote.</summary>
    public static CommandSyntaxException QuoteNotClosed() => new("a quote (\") is not closed");

    /// <summary>An empty command line.</summary>
    public static CommandSyntaxException NoCommand() => new("no command (help lists them)");

    /// <summary>The first word names no palette of <paramref name="palettes"/>.</summary>
    public static CommandSyntaxException UnknownPalette(string word, IEnumerable<PaletteDefinition> palettes) =>
        new($"unknown command '{word}' (known: {string.Join(", ", palettes.Select(p => p.Name))}; help lists them)");

    /// <summary>The second word names no command of <paramref name="palette"/>.</summary>
    public static CommandSyntaxException UnknownCommand(PaletteDefinition palette, string word) =>
        new($"{palette.Name}: unknown command '{word}' (known: {string.Join(", ", palette.Commands.Select(c => c.Name))})");

    /// <summary>A palette without a default command, given no command.</summary>
    public static CommandSyntaxException WhichCommand(PaletteDefinition palette) =>
        new($"{palette.Name}: which command? ({string.Join(", ", palette.Commands.Select(c => c.Name))})");

    /// <summary>A word that is not a switch where only switches may follow.</summary>
    public static CommandSyntaxException UnexpectedArgument(PaletteDefinition palette, CommandDefinition command, string word) =>
        new($"{palette.Name} {command.Name}: unexpected argument '{word}' (usage: {palette.Name} {command.Usage})");

    /// <summary>A switch <paramref name="command"/> does not declare.</summary>
    public static CommandSyntaxException UnknownSwitch(PaletteDefinition palette, CommandDefinition command, string word) =>
        new(command.Switches.Count == 0
            ? $"{palette.Name} {command.Name}: unknown switch '{word}' (the command takes none)"
            : $"{palette.Name} {command.Name}: unknown switch '{word}' (usage: {palette.Name} {command.Usage})");

    /// <summary>A switch that takes a value, given none.</summary>
    public static CommandSyntaxException SwitchNeedsValue(string command, string word, SwitchDefinition sw) =>
        new($"{command}: switch {word} needs a value ({sw.Description})");

    /// <summary>A required switch not given.</summary>
    public static CommandSyntaxException MissingSwitch(string command, SwitchDefinition sw) =>
        new($"{command}: missing {sw.AliasText} ({sw.Description})");

    /// <summary>A handler asked for a required switch the command line lacks.</summary>
    public static CommandSyntaxException MissingSwitch(string palette, string command, string name) =>
        new($"{palette} {command}: missing switch '{name}'");

    // ---------------------------------------------------------------- token files (CommandAccess, CommandTokens)

    /// <summary>A token file whose token is shorter than <paramref name="minChars"/> (the caller prefixes the key and file).</summary>
    public static FormatException TokenTooShort(int length, int minChars) =>
        new($"holds a token of {length} characters; at least {minChars} are needed (e.g. 64 hex digits: openssl rand -hex 32)");

    /// <summary>A token file with more than one word.</summary>
    public static FormatException TokenNotOneWord() => new("holds more than one word: a token is one line without spaces");

    /// <summary>The read token's file holds the admin token.</summary>
    public static IOException SameToken(CommandHostSettings settings) =>
        new($"actordb.cmd.read-token-file: {settings.ReadTokenFile} holds the admin token (of {settings.AdminTokenFile}): the two roles need different tokens");

    /// <summary>The token file of <paramref name="key"/> holds no valid token (<paramref name="error"/> says why).</summary>
    public static IOException BadTokenFile(string key, string path, FormatException error) => new($"{key}: {path} {error.Message}", error);

    /// <summary>The token file of <paramref name="key"/> cannot be read or created.</summary>
    public static IOException TokenFileUnreadable(string key, string path, Exception error) =>
        new($"{key}: cannot read or create {path}: {error.Message}", error);

    // ---------------------------------------------------------------- the host's port (CommandHost.Listen)

    /// <summary>The command host's address cannot be bound.</summary>
    public static IOException CannotListen(CommandHostSettings settings, Exception error) =>
        new($"actordb.cmd: cannot listen on {settings.Host}:{settings.Port}: {error.Message}", error);
}
