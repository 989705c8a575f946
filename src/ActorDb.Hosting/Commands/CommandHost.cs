using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.Hosting;

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

    /// <summary>Where the command host listens (the port actually bound, also when <c>actordb.cmd.port = 0</c>), and where
    /// its tokens are.</summary>
    /// <param name="Host">The address bound.</param>
    /// <param name="Port">The port bound.</param>
    /// <param name="AdminTokenFile">The file holding the admin token.</param>
    /// <param name="ReadTokenFile">The file holding the read token.</param>
    public sealed record Endpoint(string Host, int Port, string AdminTokenFile, string ReadTokenFile)
    {
        /// <summary><c>HOST:PORT</c>, as <c>actordb HOST:PORT</c> takes it.</summary>
        public override string ToString() => $"{Host}:{Port}";

        /// <summary>How an operator reaches it: <c>actordb HOST:PORT --token-file ADMIN-FILE</c>.</summary>
        public string ClientCommand => $"actordb {this} --token-file {AdminTokenFile}";
    }

    /// <summary>A session tells its host it refused or dropped its client (the host logs these without flooding).</summary>
    /// <param name="Kind">What happened, one of <see cref="CommandHost"/>'s refusal kinds.</param>
    /// <param name="Remote">The client's address.</param>
    /// <param name="Detail">The line the client was sent.</param>
    public sealed record Refused(string Kind, string Remote, string Detail);
}

/// <summary>
/// The command host (<c>/user/actordb-cmd</c>): accepts TCP connections of <c>actordb HOST:PORT</c> clients on the
/// listener it is given and starts one <see cref="CommandSession"/> child per connection, at most
/// <see cref="CommandHostSettings.MaxConnections"/> at once (the next client is sent one line and closed). The palettes
/// come from the <see cref="CommandPaletteRegistry"/>. Refusals (too many connections, a missing or wrong token, a read
/// token on an admin command, a line too long, a client that does not read, an idle client) are logged per kind when
/// they start, as a summary every <see cref="RepeatedConditions.DefaultInterval"/> while they go on, and when they end. Stopping it
/// closes the listener and, through its children, every session.
/// </summary>
public sealed class CommandHost : ReceiveActor, IWithTimers
{
    /// <summary>Refusal kind: the host already served <see cref="CommandHostSettings.MaxConnections"/> clients.</summary>
    public const string TooManyConnections = "connections refused (too many)";
    /// <summary>Refusal kind: no token, or a wrong one.</summary>
    public const string NotAuthenticated = "clients not authenticated";
    /// <summary>Refusal kind: a read token on a command that needs the admin token.</summary>
    public const string NotAdmin = "admin commands refused to a read token";
    /// <summary>Refusal kind: a request line over <see cref="CommandHostSettings.MaxLineBytes"/>.</summary>
    public const string LineTooLong = "clients dropped for a request line too long";
    /// <summary>Refusal kind: more than <see cref="CommandHostSettings.MaxPendingOutputBytes"/> queued for a client.</summary>
    public const string NotReading = "clients dropped for not reading their output";
    /// <summary>Refusal kind: no token within <see cref="CommandHostSettings.AuthTimeout"/>, or idle for
    /// <see cref="CommandHostSettings.IdleTimeout"/>.</summary>
    public const string TimedOut = "clients dropped for being idle";

    private sealed record Accepted(TcpClient Client);
    private sealed record AcceptFailed(Exception Error);
    private sealed record LogTick;

    private readonly TcpListener _listener;
    private readonly CommandHostSettings _settings;
    private readonly CommandTokens _tokens;
    private readonly CommandHostProtocol.Endpoint _endpoint;
    private readonly TimeSpan _askTimeout;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly RepeatedConditions _refusals = new();
    private long _sessions;
    private int _live;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props of a host serving the started <paramref name="listener"/> with <paramref name="settings"/>' limits,
    /// authenticating clients with <paramref name="tokens"/>; <paramref name="askTimeout"/> bounds each wait of a command
    /// for an actor's answer.</summary>
    public static Props Props(TcpListener listener, CommandHostSettings settings, CommandTokens tokens, TimeSpan askTimeout) =>
        Akka.Actor.Props.Create(() => new CommandHost(listener, settings, tokens, askTimeout));

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
            throw CommandErrors.CannotListen(settings, e);
        }
    }

    /// <summary>What a process checks before it starts its actor system, so that a problem is one line naming it rather
    /// than a failed start later: the port can be bound (when fixed) and the token files can be read or created.</summary>
    /// <exception cref="IOException">the port is in use, or a token file cannot be read or created or holds no token.</exception>
    public static void CheckCanStart(CommandHostSettings settings)
    {
        if (settings.Port > 0) Listen(settings).Stop();
        CommandTokens.Load(settings);
    }

    /// <summary>Where the command host of <paramref name="system"/> listens, or null when it has none
    /// (<c>actordb.cmd.enabled = off</c>).</summary>
    public static async Task<CommandHostProtocol.Endpoint?> GetEndpointAsync(ActorSystem system, CancellationToken ct = default)
    {
        if (!ActorRegistry.For(system).TryGet<CommandHostKey>(out var host)) return null;
        return await host.Ask<CommandHostProtocol.Endpoint>(CommandHostProtocol.GetEndpoint.Instance, TimeSpan.FromSeconds(10), ct);
    }

    /// <summary>Use <see cref="Props"/>.</summary>
    public CommandHost(TcpListener listener, CommandHostSettings settings, CommandTokens tokens, TimeSpan askTimeout)
    {
        _listener = listener;
        _settings = settings;
        _tokens = tokens;
        _askTimeout = askTimeout;
        var bound = (IPEndPoint)listener.LocalEndpoint;
        _endpoint = new CommandHostProtocol.Endpoint(bound.Address.ToString(), bound.Port, tokens.AdminFile, tokens.ReadFile);

        Receive<CommandHostProtocol.GetEndpoint>(_ => Sender.Tell(_endpoint));
        Receive<Accepted>(a =>
        {
            var remote = a.Client.Client.RemoteEndPoint?.ToString() ?? "?";
            if (_live >= _settings.MaxConnections)
            {
                var line = CommandErrors.TooManyConnections(_settings.MaxConnections);
                CommandSession.Refuse(a.Client, line);
                OnRefused(new CommandHostProtocol.Refused(TooManyConnections, remote, line));
            }
            else
            {
                var id = ++_sessions;
                _log.Debug("Command client {0} connected (session {1})", remote, id);
                Context.Watch(Context.ActorOf(CommandSession.Props(a.Client, _settings, _tokens, _askTimeout), $"session-{id}"));
                _live++;
            }
            AcceptNext();
        });
        Receive<Terminated>(_ => _live--);
        Receive<CommandHostProtocol.Refused>(OnRefused);
        Receive<LogTick>(_ =>
        {
            foreach (var line in _refusals.Due(DateTime.UtcNow))
            {
                if (line.Ended)
                    _log.Info("Command host: no more {0} ({1} since the first)", line.Key, line.Total);
                else
                    _log.Warning("Command host: {0}: {1} more in the last {2:0} s ({3} since the first)", line.Key, line.Count, _refusals.SummaryEvery.TotalSeconds, line.Total);
            }
            if (_refusals.Count == 0) Timers.Cancel(nameof(LogTick));
        });
        Receive<AcceptFailed>(f =>
        {
            _log.Warning("Command host: accept failed: {0}", f.Error.Message);
            AcceptNext();
        });
    }

    private void OnRefused(CommandHostProtocol.Refused r)
    {
        if (!_refusals.Occurred(r.Kind, DateTime.UtcNow)) return;
        _log.Warning("Command host: {0}: {1} was sent '{2}'; further ones are counted, summarized every {3:0} s", r.Kind, r.Remote, r.Detail, _refusals.SummaryEvery.TotalSeconds);
        if (!Timers.IsTimerActive(nameof(LogTick))) Timers.StartPeriodicTimer(nameof(LogTick), new LogTick(), _refusals.SummaryEvery);
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        _log.Info("ActorDb command host listening on {0} ({1}; the read-only token is in {2})", _endpoint, _endpoint.ClientCommand, _endpoint.ReadTokenFile);
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
