using System.Security.Cryptography;
using System.Text;

namespace ActorDb.Commands;

/// <summary>What a command-host client may do: run read-only commands, or every command.</summary>
public enum CommandRole
{
    /// <summary>Authenticated with the read token: only commands declared <see cref="CommandDefinition.ReadOnly"/>.</summary>
    Read,
    /// <summary>Authenticated with the admin token: every command (<c>cluster down</c>, <c>cluster leave</c>, ...).</summary>
    Admin,
}

/// <summary>
/// The command host's access rules: which token a client presented, and whether its role may run a command. A node has
/// two tokens, admin and read, each the contents of a file (<see cref="NewToken"/>: 32 random bytes as 64 hex digits).
/// Tokens are compared in constant time.
/// </summary>
public static class CommandAccess
{
    /// <summary>The fewest characters a token file's token may have (a shorter one is refused at start).</summary>
    public const int MinTokenChars = 32;

    /// <summary>A new token: 32 random bytes as 64 lower-case hex digits.</summary>
    public static string NewToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    /// <summary>The token held by a token file's text: the text without surrounding whitespace (a trailing newline is
    /// common).</summary>
    /// <exception cref="FormatException">shorter than <see cref="MinTokenChars"/>, or has whitespace or control
    /// characters inside; the message says which (the caller names the file).</exception>
    public static string ParseTokenFile(string text)
    {
        var token = text.Trim();
        if (token.Length < MinTokenChars)
            throw new FormatException($"holds a token of {token.Length} characters; at least {MinTokenChars} are needed (e.g. 64 hex digits: openssl rand -hex 32)");
        if (token.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            throw new FormatException("holds more than one word: a token is one line without spaces");
        return token;
    }

    /// <summary>The role <paramref name="presented"/> authenticates, or null when it matches neither token (or is null).
    /// Both comparisons run, in constant time, whatever matches.</summary>
    public static CommandRole? Authenticate(string? presented, string adminToken, string readToken)
    {
        if (presented is null) return null;
        var given = Encoding.UTF8.GetBytes(presented);
        var admin = CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(adminToken));
        var read = CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(readToken));
        return admin ? CommandRole.Admin : read ? CommandRole.Read : null;
    }

    /// <summary>Whether <paramref name="role"/> may run <paramref name="command"/>: the admin role runs everything, the
    /// read role only read-only commands.</summary>
    public static bool MayRun(CommandRole role, CommandDefinition command) => role == CommandRole.Admin || command.ReadOnly;
}

/// <summary>
/// The one-line errors of the command host (the <c>error</c> of an <c>end</c> line, which <c>actordb HOST:PORT</c> prints
/// after <c>actordb: </c>). Each names the setting that bounds it, so an operator knows what to change.
/// </summary>
public static class CommandHostErrors
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
}
