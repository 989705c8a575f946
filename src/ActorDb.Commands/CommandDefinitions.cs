namespace ActorDb.Commands;

/// <summary>A switch of a command, e.g. <c>-a</c> / <c>--address</c>.</summary>
/// <param name="Name">The switch's name, used as the key of its value (<c>address</c>).</param>
/// <param name="Aliases">How it is written on the command line (<c>-a</c>, <c>--address</c>).</param>
/// <param name="Description">One line of help.</param>
/// <param name="Required">The command refuses to run without it.</param>
/// <param name="IsFlag">Takes no value (present or not).</param>
/// <param name="Values">Suggested values, offered by tab completion (may be empty).</param>
public sealed record SwitchDefinition(string Name, IReadOnlyList<string> Aliases, string Description, bool Required = false,
    bool IsFlag = false, IReadOnlyList<string>? Values = null)
{
    /// <summary>The aliases as written in help: <c>-a|--address</c>.</summary>
    public string AliasText => string.Join("|", Aliases);
}

/// <summary>One command of a palette, e.g. <c>leave</c> of <c>cluster</c>.</summary>
/// <param name="Name">The command's name.</param>
/// <param name="Description">One line of help.</param>
/// <param name="Switches">The switches it takes.</param>
/// <param name="ReadOnly">The command only reads (a status, a list): a client with the read token may run it. Every other
/// command needs the admin token (<see cref="CommandAccess"/>), so a palette that forgets to say is safe.</param>
public sealed record CommandDefinition(string Name, string Description, IReadOnlyList<SwitchDefinition> Switches, bool ReadOnly = false)
{
    /// <summary>A command without switches.</summary>
    public CommandDefinition(string name, string description) : this(name, description, []) { }

    /// <summary>A read-only command (see <see cref="ReadOnly"/>).</summary>
    public static CommandDefinition Read(string name, string description, params SwitchDefinition[] switches) =>
        new(name, description, switches, ReadOnly: true);

    /// <summary>Usage text: <c>leave -a|--address ADDRESS</c>; optional switches in brackets.</summary>
    public string Usage => string.Join(" ", new[] { Name }.Concat(Switches.Select(s =>
    {
        var text = s.IsFlag ? s.AliasText : $"{s.AliasText} {s.Name.ToUpperInvariant()}";
        return s.Required ? text : $"[{text}]";
    })));
}

/// <summary>
/// A named group of commands (<c>cluster</c>, <c>pg</c>, ...), as a command host registers it and reports it to
/// clients, which build help and tab completion from it. <paramref name="DefaultCommand"/>: the command that runs when
/// only the palette's name is given (e.g. <c>metrics</c>), or null.
/// </summary>
/// <param name="Name">The palette's name: the first word of its commands.</param>
/// <param name="Description">One line of help.</param>
/// <param name="Commands">Its commands.</param>
/// <param name="DefaultCommand">The command run by the palette's name alone, or null.</param>
public sealed record PaletteDefinition(string Name, string Description, IReadOnlyList<CommandDefinition> Commands, string? DefaultCommand = null)
{
    /// <summary>The command named <paramref name="name"/>, or null.</summary>
    public CommandDefinition? Find(string name) => Commands.FirstOrDefault(c => c.Name == name);
}

/// <summary>A command line checked against its palette: palette, command, and switch values by switch name
/// (<c>"true"</c> for a flag).</summary>
/// <param name="Palette">The palette's name.</param>
/// <param name="Command">The command's name.</param>
/// <param name="Switches">Values by switch name.</param>
public sealed record ParsedCommand(string Palette, string Command, IReadOnlyDictionary<string, string> Switches)
{
    /// <summary>The value of switch <paramref name="name"/>, or null when absent.</summary>
    public string? Get(string name) => Switches.TryGetValue(name, out var v) ? v : null;

    /// <summary>The value of a required switch (the parser has checked it is present).</summary>
    public string Required(string name) => Get(name) ?? throw CommandErrors.MissingSwitch(Palette, Command, name);

    /// <summary>The command as typed: <c>cluster leave -a ...</c>.</summary>
    public override string ToString() => $"{Palette} {Command}";
}

/// <summary>A command line that does not fit the palettes (unknown command, unknown switch, missing value); the message
/// is one line for the operator.</summary>
/// <param name="message">What is wrong, in one line.</param>
public sealed class CommandSyntaxException(string message) : Exception(message);
