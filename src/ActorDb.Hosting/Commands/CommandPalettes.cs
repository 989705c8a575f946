using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Hosting;

namespace ActorDb.Commands;

/// <summary>
/// A named group of commands served by the command host (<c>cluster</c>, <c>pg</c>, or a host application's own).
/// Register one with <see cref="ActorDbCommandsHostingExtensions.WithActorDbCommandPalette"/> or
/// <see cref="CommandPaletteRegistry.Register"/>. The host checks each command line against
/// <see cref="Definition"/> before calling <see cref="ExecuteAsync"/>, so a handler sees only commands and switches
/// its definition declares.
/// </summary>
public interface ICommandPalette
{
    /// <summary>The palette's name, commands, switches and help, as clients see them.</summary>
    PaletteDefinition Definition { get; }

    /// <summary>Runs <paramref name="command"/>, yielding its rows, text lines and footer as they are produced (a streaming
    /// command runs until <paramref name="ct"/> is cancelled: the client pressed Ctrl+C or went away). Throw
    /// <see cref="CommandException"/> for an error the operator should read (one line, exit status 1).</summary>
    IAsyncEnumerable<CommandItem> ExecuteAsync(ParsedCommand command, CommandContext context, CancellationToken ct);
}

/// <summary>What a palette's handler may use: the node's actor system and actor registry.</summary>
/// <param name="System">The node's actor system.</param>
/// <param name="Timeout">How long a handler should wait for one answer from an actor.</param>
public sealed record CommandContext(ActorSystem System, TimeSpan Timeout)
{
    /// <summary>The Akka.Hosting actor registry of <see cref="System"/>.</summary>
    public IActorRegistry Registry => ActorRegistry.For(System);
}

/// <summary>A command failed for a reason the operator should read; the message is the one line the client prints.</summary>
/// <param name="message">One line, without the command's name (the host prefixes it).</param>
public sealed class CommandException(string message) : Exception(message);

/// <summary>
/// The palettes a node's command host serves, by name (an actor system extension, like Petabridge.Cmd's plugin
/// registry). Palettes may be registered at any time; each client session reads the current set when it asks.
/// </summary>
public sealed class CommandPaletteRegistry : IExtension
{
    private readonly ConcurrentDictionary<string, ICommandPalette> _palettes = new();

    /// <summary>The registry of <paramref name="system"/>.</summary>
    public static CommandPaletteRegistry Get(ActorSystem system) => system.WithExtension<CommandPaletteRegistry, CommandPaletteRegistryProvider>();

    /// <summary>Adds <paramref name="palette"/>, replacing one of the same name.</summary>
    public CommandPaletteRegistry Register(ICommandPalette palette)
    {
        _palettes[palette.Definition.Name] = palette;
        return this;
    }

    /// <summary>The palettes registered, sorted by name.</summary>
    public IReadOnlyList<ICommandPalette> Palettes => _palettes.Values.OrderBy(p => p.Definition.Name, StringComparer.Ordinal).ToList();

    /// <summary>The palette named <paramref name="name"/>, or null.</summary>
    public ICommandPalette? Find(string name) => _palettes.TryGetValue(name, out var p) ? p : null;
}

/// <summary>Creates the <see cref="CommandPaletteRegistry"/> extension.</summary>
public sealed class CommandPaletteRegistryProvider : ExtensionIdProvider<CommandPaletteRegistry>
{
    /// <inheritdoc />
    public override CommandPaletteRegistry CreateExtension(ExtendedActorSystem system) => new();
}

/// <summary>Akka.Hosting registration of command palettes.</summary>
public static class ActorDbCommandsHostingExtensions
{
    /// <summary>Adds a palette to the node's command host (served when <c>actordb.cmd.enabled</c> is on). The factory
    /// runs once the actor system has started.</summary>
    public static AkkaConfigurationBuilder WithActorDbCommandPalette(this AkkaConfigurationBuilder builder, Func<ActorSystem, ICommandPalette> palette)
    {
        builder.AddStartup((system, _) => { CommandPaletteRegistry.Get(system).Register(palette(system)); });
        return builder;
    }
}
