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
            throw CommandErrors.TokenTooShort(token.Length, MinTokenChars);
        if (token.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            throw CommandErrors.TokenNotOneWord();
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
