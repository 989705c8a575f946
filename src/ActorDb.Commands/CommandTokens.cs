
namespace ActorDb.Commands;

/// <summary>
/// The command host's two tokens and the files they come from (<c>actordb.cmd.admin-token-file</c> and
/// <c>read-token-file</c>, by default <c>cmd-admin.token</c> and <c>cmd-read.token</c> in the data directory). A missing
/// file is created with a new random token (<see cref="CommandAccess.NewToken"/>), mode 0600, its directory 0700 when it
/// creates that too; an existing one is read as it is (an operator's own token, a mounted secret).
/// </summary>
/// <param name="AdminToken">The admin token.</param>
/// <param name="ReadToken">The read token.</param>
/// <param name="AdminFile">The admin token's file (full path).</param>
/// <param name="ReadFile">The read token's file (full path).</param>
public sealed record CommandTokens(string AdminToken, string ReadToken, string AdminFile, string ReadFile)
{
    /// <summary>Not the tokens in logs and messages.</summary>
    public override string ToString() => $"tokens in {AdminFile} (admin) and {ReadFile} (read)";

    /// <summary>Reads the tokens of <paramref name="settings"/>, creating a missing file.</summary>
    /// <exception cref="IOException">a file cannot be read or created, holds no valid token, or both files hold the same
    /// token; the message names the setting and the file.</exception>
    public static CommandTokens Load(CommandHostSettings settings)
    {
        var admin = LoadOrCreate("actordb.cmd.admin-token-file", settings.AdminTokenFile);
        var read = LoadOrCreate("actordb.cmd.read-token-file", settings.ReadTokenFile);
        if (CommandAccess.Authenticate(read, admin, admin) is not null)
            throw CommandErrors.SameToken(settings);
        return new CommandTokens(admin, read, settings.AdminTokenFile, settings.ReadTokenFile);
    }

    private static string LoadOrCreate(string key, string path)
    {
        try
        {
            if (!File.Exists(path)) Create(path);
            return CommandAccess.ParseTokenFile(File.ReadAllText(path));
        }
        catch (FormatException e)
        {
            throw CommandErrors.BadTokenFile(key, path, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CommandErrors.TokenFileUnreadable(key, path, e);
        }
    }

    /// <summary>Writes a new token to a temporary file and moves it into place, so a process starting at the same time
    /// reads either no file or a whole one; when one appeared meanwhile, that one is kept.</summary>
    private static void Create(string path)
    {
        PrivateFiles.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = $"{path}.{Environment.ProcessId}.tmp";
        PrivateFiles.WriteAllText(temp, CommandAccess.NewToken() + "\n");
        try { File.Move(temp, path, overwrite: false); }
        catch (IOException) when (File.Exists(path)) { File.Delete(temp); }
    }
}
