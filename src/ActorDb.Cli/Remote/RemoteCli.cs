using ActorDb.Commands;

namespace ActorDb.Cli.Remote;

/// <summary>
/// <c>actordb HOST:PORT [--token-file FILE] [command...] [--json]</c>: the operator's client of a node's command host, in
/// the style of Petabridge.Cmd's <c>pbm</c>. It authenticates with the token in <c>--token-file</c>, else in the file
/// named by <c>ACTORDB_CMD_TOKEN_FILE</c>, else the token in <c>ACTORDB_CMD_TOKEN</c> (the node's admin token runs every
/// command, its read token the read-only ones); with none, the node answers with one line saying where its tokens are. With a command it runs it and exits with the command's status (0 done, 1 failed,
/// 2 the command line did not parse); without one it opens a REPL with the prompt <c>[HOST:PORT] actordb&gt;</c>,
/// history, and tab completion from the palettes the node reports. <c>--json</c> prints each row as a JSON object
/// per line. Errors are one line on stderr.
/// </summary>
internal static class RemoteCli
{
    private const string Usage = "usage: actordb HOST:PORT [--token-file FILE] [COMMAND...] [--json]   (no command: a REPL; 'help' lists the commands;\n" +
                                 "       the token: --token-file FILE, or ACTORDB_CMD_TOKEN_FILE=FILE, or ACTORDB_CMD_TOKEN=TOKEN)";
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>True when the first argument is a <c>HOST:PORT</c> target rather than a subcommand.</summary>
    public static bool IsTarget(string[] args) =>
        args.Length > 0 && !args[0].StartsWith('-') && args[0].LastIndexOf(':') is var colon and > 0 &&
        int.TryParse(args[0][(colon + 1)..], out _);

    private static int Error(string message)
    {
        Console.Error.WriteLine($"actordb: {message}");
        return 1;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var target = args[0];
        var colon = target.LastIndexOf(':');
        var host = target[..colon].Trim('[', ']');
        if (!int.TryParse(target[(colon + 1)..], out var port) || port is < 1 or > 65535)
            return Error($"'{target}' is not HOST:PORT (port 1..65535)");
        var rest = args.Skip(1).ToList();
        var json = rest.Remove("--json");
        if (rest.Contains("-h") || rest.Contains("--help"))
        {
            Console.WriteLine(Usage);
            return 0;
        }
        string? token;
        try { token = ReadToken(rest); }
        catch (IOException e) { return Error(e.Message); }

        CommandClient client;
        try { client = await CommandClient.ConnectAsync(host, port, ConnectTimeout, CancellationToken.None); }
        catch (IOException e) { return Error(e.Message); }
        await using (client)
        {
            try
            {
                if (token is not null) await client.AuthenticateAsync(token, CancellationToken.None);
                if (rest.Count == 0) return await ReplAsync(client, target, json);
                if (rest is ["help"])
                {
                    foreach (var line in CommandFormatter.Help((await client.DescribeAsync(CancellationToken.None)).Palettes)) Console.WriteLine(line);
                    return 0;
                }
                return await RunOneAsync(client, rest, json);
            }
            catch (IOException e)
            {
                return Error($"{target}: {e.Message}");
            }
        }
    }

    /// <summary>The token to send: from <c>--token-file FILE</c> (removed from <paramref name="rest"/>), else the file
    /// <c>ACTORDB_CMD_TOKEN_FILE</c> names, else <c>ACTORDB_CMD_TOKEN</c>; null when none is given.</summary>
    /// <exception cref="IOException">--token-file without a file, or the file cannot be read or holds no token.</exception>
    private static string? ReadToken(List<string> rest)
    {
        string? file = null, source = null;
        var at = rest.IndexOf("--token-file");
        if (at >= 0)
        {
            if (at + 1 >= rest.Count) throw new IOException("--token-file needs a file (the node's cmd-admin.token or cmd-read.token)");
            (file, source) = (rest[at + 1], "--token-file");
            rest.RemoveRange(at, 2);
        }
        else if (Environment.GetEnvironmentVariable("ACTORDB_CMD_TOKEN_FILE") is { Length: > 0 } envFile)
            (file, source) = (envFile, "ACTORDB_CMD_TOKEN_FILE");
        if (file is null) return Environment.GetEnvironmentVariable("ACTORDB_CMD_TOKEN") is { Length: > 0 } token ? token.Trim() : null;
        try { return CommandAccess.ParseTokenFile(File.ReadAllText(file)); }
        catch (FormatException e) { throw new IOException($"{source} {file} {e.Message}", e); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new IOException($"{source} {file}: cannot read it: {e.Message}", e); }
    }

    /// <summary>Runs one command; Ctrl+C stops a streaming one (the node ends it and the exit status is 0).</summary>
    private static async Task<int> RunOneAsync(CommandClient client, IReadOnlyList<string> words, bool json)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cancel.IsCancellationRequested) return;   // a second Ctrl+C ends the process
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            string? header = null;
            var end = await client.RunAsync(words, item =>
            {
                if (!json && CommandFormatter.Header(item, header) is { } names) Console.WriteLine(header = names);
                Print(item, json);
            }, cancel.Token);
            if (end.Error is not null) Console.Error.WriteLine($"actordb: {end.Error}");
            return end.Exit;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static void Print(CommandItem item, bool json)
    {
        foreach (var line in json ? CommandFormatter.Json(item) : CommandFormatter.Text(item)) Console.WriteLine(line);
    }

    private static async Task<int> ReplAsync(CommandClient client, string target, bool json)
    {
        var described = await client.DescribeAsync(CancellationToken.None);
        var palettes = described.Palettes;
        var prompt = $"[{target}] actordb> ";
        var history = new List<string>();
        string[] builtIns = ["help", "exit", "quit", "history"];
        var interactive = !Console.IsInputRedirected;
        if (interactive) Console.WriteLine($"Connected to {described.Node}. 'help' lists the commands, Tab completes, 'exit' or Ctrl+D leaves.");
        while (true)
        {
            string? line;
            if (interactive) line = LineEditor.ReadLine(prompt, history, text => CommandCompleter.Complete(text, palettes, builtIns));
            else
            {
                Console.Write(prompt);
                line = Console.ReadLine();
                if (line is not null) Console.WriteLine();
            }
            if (line is null) return 0;
            line = line.Trim();
            if (line.Length == 0) continue;
            if (history.Count == 0 || history[^1] != line) history.Add(line);
            switch (line)
            {
                case "exit" or "quit":
                    return 0;
                case "help" or "?":
                    foreach (var help in CommandFormatter.Help(palettes)) Console.WriteLine(help);
                    continue;
                case "history":
                    for (var i = 0; i < history.Count; i++) Console.WriteLine($"{i + 1,4}  {history[i]}");
                    continue;
            }
            IReadOnlyList<string> words;
            try { words = CommandParser.Tokenize(line); }
            catch (CommandSyntaxException e)
            {
                Console.Error.WriteLine($"actordb: {e.Message}");
                continue;
            }
            await RunOneAsync(client, words, json);
        }
    }
}
