using System.Text;
using ActorDb.Commands;

namespace ActorDb.Cli.Remote;

/// <summary>
/// A small line editor for the REPL on an interactive console: typing and Backspace at the end of the line, Up/Down
/// through the history, Tab completion (one candidate completes, several are listed and their common prefix is
/// filled in), Ctrl+C clears the line, Ctrl+D on an empty line ends the REPL. No cursor movement inside the line.
/// </summary>
internal static class LineEditor
{
    /// <summary>Reads one line; null at Ctrl+D on an empty line.</summary>
    public static string? ReadLine(string prompt, IReadOnlyList<string> history, Func<string, IReadOnlyList<string>> complete)
    {
        var line = new StringBuilder();
        var index = history.Count;
        var treat = Console.TreatControlCAsInput;
        Console.TreatControlCAsInput = true;
        Console.Write(prompt);
        try
        {
            while (true)
            {
                var key = Console.ReadKey(intercept: true);
                if (key.Modifiers.HasFlag(ConsoleModifiers.Control) && key.Key == ConsoleKey.C)
                {
                    Console.WriteLine("^C");
                    line.Clear();
                    index = history.Count;
                    Console.Write(prompt);
                    continue;
                }
                if (key.Modifiers.HasFlag(ConsoleModifiers.Control) && key.Key == ConsoleKey.D && line.Length == 0)
                {
                    Console.WriteLine();
                    return null;
                }
                switch (key.Key)
                {
                    case ConsoleKey.Enter:
                        Console.WriteLine();
                        return line.ToString();
                    case ConsoleKey.Backspace:
                        if (line.Length > 0)
                        {
                            line.Length--;
                            Console.Write("\b \b");
                        }
                        break;
                    case ConsoleKey.UpArrow when index > 0:
                        Replace(prompt, line, history[--index]);
                        break;
                    case ConsoleKey.DownArrow when index < history.Count:
                        index++;
                        Replace(prompt, line, index == history.Count ? "" : history[index]);
                        break;
                    case ConsoleKey.Tab:
                        var text = line.ToString();
                        var candidates = complete(text);
                        if (candidates.Count == 1)
                            Replace(prompt, line, CommandCompleter.Apply(text, candidates[0], final: true));
                        else if (candidates.Count > 1)
                        {
                            var extended = CommandCompleter.Apply(text, CommandCompleter.CommonPrefix(candidates), final: false);
                            if (extended.Length > text.Length) Replace(prompt, line, extended);
                            else
                            {
                                Console.WriteLine();
                                Console.WriteLine(string.Join("  ", candidates));
                                Console.Write(prompt + text);
                            }
                        }
                        break;
                    default:
                        if (!char.IsControl(key.KeyChar))
                        {
                            line.Append(key.KeyChar);
                            Console.Write(key.KeyChar);
                        }
                        break;
                }
            }
        }
        finally
        {
            Console.TreatControlCAsInput = treat;
        }
    }

    private static void Replace(string prompt, StringBuilder line, string text)
    {
        line.Clear().Append(text);
        Console.Write("\r" + prompt + text + "\u001b[K");
    }
}
