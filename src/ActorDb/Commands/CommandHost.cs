using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using ActorDb.Core.Commands;

namespace ActorDb.Commands;

/// <summary>Registry key of the <see cref="CommandHost"/>.</summary>
public sealed class CommandHostKey;

/// <summary>Messages of the <see cref="CommandHost"/>.</summary>
public static class CommandHostProtocol
{
    /// <summary>Asks for the address the host listens on. Reply: <see cref="Endpoint"/>.</summary>
    public sealed record GetEndpoint
    {
        /// <summary>The instance.</summary>
        public static readonly GetEndpoint Instance = new();
    }

    /// <summary>Where the command host listens (the port actually bound, also when <c>actordb.cmd.port = 0</c>).</summary>
    /// <param name="Host">The address bound.</param>
    /// <param name="Port">The port bound.</param>
    public sealed record Endpoint(string Host, int Port)
    {
        /// <summary><c>HOST:PORT</c>, as <c>actordb HOST:PORT</c> takes it.</summary>
        public override string ToString() => $"{Host}:{Port}";
    }
}

/// <summary>
/// The command host (<c>/user/actordb-cmd</c>): accepts TCP connections of <c>actordb HOST:PORT</c> clients on the
/// listener it is given and starts one <see cref="CommandSession"/> child per connection. The palettes come from
/// the <see cref="CommandPaletteRegistry"/>. Stopping it closes the listener and, through its children, every session.
/// </summary>
public sealed class CommandHost : ReceiveActor
{
    private sealed record Accepted(TcpClient Client);
    private sealed record AcceptFailed(Exception Error);

    private readonly TcpListener _listener;
    private readonly CommandHostProtocol.Endpoint _endpoint;
    private readonly TimeSpan _askTimeout;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private long _sessions;

    /// <summary>Props of a host serving the started <paramref name="listener"/>; <paramref name="askTimeout"/> bounds each
    /// wait of a command for an actor's answer.</summary>
    public static Props Props(TcpListener listener, TimeSpan askTimeout) => Akka.Actor.Props.Create(() => new CommandHost(listener, askTimeout));

    /// <summary>Binds <paramref name="settings"/>' host and port (0: a free port).</summary>
    /// <exception cref="IOException">the address cannot be bound (in use, not an address of this machine); the message names it.</exception>
    public static TcpListener Listen(CommandHostSettings settings)
    {
        try
        {
            var address = IPAddress.TryParse(settings.Host, out var ip) ? ip : Dns.GetHostAddresses(settings.Host).First();
            var listener = new TcpListener(address, settings.Port);
            listener.Start();
            return listener;
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException)
        {
            throw new IOException($"actordb.cmd: cannot listen on {settings.Host}:{settings.Port}: {e.Message}", e);
        }
    }

    /// <summary>Where the command host of <paramref name="system"/> listens, or null when it has none
    /// (<c>actordb.cmd.enabled = off</c>).</summary>
    public static async Task<CommandHostProtocol.Endpoint?> GetEndpointAsync(ActorSystem system, CancellationToken ct = default)
    {
        if (!ActorRegistry.For(system).TryGet<CommandHostKey>(out var host)) return null;
        return await host.Ask<CommandHostProtocol.Endpoint>(CommandHostProtocol.GetEndpoint.Instance, TimeSpan.FromSeconds(10), ct);
    }

    /// <summary>Use <see cref="Props"/>.</summary>
    public CommandHost(TcpListener listener, TimeSpan askTimeout)
    {
        _listener = listener;
        _askTimeout = askTimeout;
        var bound = (IPEndPoint)listener.LocalEndpoint;
        _endpoint = new CommandHostProtocol.Endpoint(bound.Address.ToString(), bound.Port);

        Receive<CommandHostProtocol.GetEndpoint>(_ => Sender.Tell(_endpoint));
        Receive<Accepted>(a =>
        {
            var id = ++_sessions;
            var remote = a.Client.Client.RemoteEndPoint?.ToString() ?? "?";
            _log.Debug("Command client {0} connected (session {1})", remote, id);
            Context.ActorOf(CommandSession.Props(a.Client, _askTimeout), $"session-{id}");
            AcceptNext();
        });
        Receive<AcceptFailed>(f =>
        {
            _log.Warning("Command host: accept failed: {0}", f.Error.Message);
            AcceptNext();
        });
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        _log.Info("ActorDb command host listening on {0} (actordb {0})", _endpoint);
        AcceptNext();
    }

    /// <inheritdoc />
    protected override void PostStop() => _listener.Stop();

    /// <summary>A supervisor that stops a failed session (its client is gone or misbehaved) instead of restarting it.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    private void AcceptNext()
    {
        _listener.AcceptTcpClientAsync().ContinueWith<object>(t => t.IsCompletedSuccessfully
                ? new Accepted(t.Result)
                : new AcceptFailed(t.Exception?.GetBaseException() ?? new OperationCanceledException()),
            TaskContinuationOptions.ExecuteSynchronously)
            .PipeTo(Self);
    }
}
