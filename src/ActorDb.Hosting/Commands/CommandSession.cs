using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace ActorDb.Commands;

/// <summary>
/// One client connection of the <see cref="CommandHost"/>. Reads request lines (<see cref="CommandWire"/>), at most
/// <see cref="CommandHostSettings.MaxLineBytes"/> each and one at a time (the next line is read once this one is
/// handled). The first request must be <c>auth</c> with the admin or the read token (<see cref="CommandAccess"/>); any
/// other first request, a wrong token, or none within <see cref="CommandHostSettings.AuthTimeout"/> gets one <c>end</c>
/// line with the error and the connection is closed. Then it answers <c>describe</c> with the registered palettes,
/// checks a <c>run</c> against them (<see cref="CommandParser"/>) and against the role (a read token runs only read-only
/// commands) and runs it through its palette, streaming the items back line by line and ending with an <c>end</c> line.
/// One command runs at a time; <c>cancel</c> (or the client going away) cancels it. Output waiting for a client that
/// does not read is bounded by <see cref="CommandHostSettings.MaxPendingOutputBytes"/>: over it the client is
/// disconnected. A connection idle for <see cref="CommandHostSettings.IdleTimeout"/> with no command running is closed.
/// Each refusal is reported to the host (<see cref="CommandHostProtocol.Refused"/>), which logs it.
/// </summary>
public sealed class CommandSession : ReceiveActor
{
    private sealed record LineReceived(string Line);
    private sealed record Disconnected(string Reason);
    private sealed record LineTooLong(string Error);
    private sealed record OutputOverflowed;
    private sealed record CommandFinished(long Id, CommandEnd End);
    private sealed record Flushed;

    /// <summary>How long a session that has sent its last line (a refusal) waits for the client to close before it
    /// closes the connection itself.</summary>
    public static readonly TimeSpan CloseLinger = TimeSpan.FromSeconds(2);

    private readonly TcpClient _client;
    private readonly CommandHostSettings _settings;
    private readonly CommandTokens _tokens;
    private readonly TimeSpan _askTimeout;
    private readonly string _remote;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly SessionOutput _out;
    private readonly SemaphoreSlim _handled = new(0);
    private readonly CancellationTokenSource _life = new();
    private CancellationTokenSource? _running;
    private CommandRole? _role;
    private bool _closing;
    private long _commandId;

    /// <summary>Props of a session for <paramref name="client"/>.</summary>
    public static Props Props(TcpClient client, CommandHostSettings settings, CommandTokens tokens, TimeSpan askTimeout) =>
        Akka.Actor.Props.Create(() => new CommandSession(client, settings, tokens, askTimeout));

    /// <summary>Sends <paramref name="error"/> as one <c>end</c> line to a client the host does not serve and closes the
    /// connection, without blocking the caller (the line is short and the socket's send buffer empty; a client that
    /// does not read gets nothing).</summary>
    public static void Refuse(TcpClient client, string error)
    {
        var bytes = Encoding.UTF8.GetBytes(CommandWire.Encode(new CommandEnd(1, error)) + "\n");
        _ = Task.Run(async () =>
        {
            try
            {
                client.Client.Blocking = false;
                client.Client.Send(bytes);
                client.Client.Shutdown(SocketShutdown.Send);
                // Read (and drop) what the client sent until it closes, briefly, so that closing does not reset the
                // connection before the client has read the line.
                using var linger = new CancellationTokenSource(CloseLinger);
                var scratch = new byte[1024];
                while (await client.Client.ReceiveAsync(scratch, SocketFlags.None, linger.Token) > 0) { }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
            finally { client.Dispose(); }
        });
    }

    /// <summary>Use <see cref="Props"/>.</summary>
    public CommandSession(TcpClient client, CommandHostSettings settings, CommandTokens tokens, TimeSpan askTimeout)
    {
        _client = client;
        _settings = settings;
        _tokens = tokens;
        _askTimeout = askTimeout;
        _remote = client.Client.RemoteEndPoint?.ToString() ?? "?";
        var self = Self;
        _out = new SessionOutput(settings.MaxPendingOutputBytes, () => self.Tell(new OutputOverflowed()));

        Receive<LineReceived>(m =>
        {
            if (!_closing) OnLine(m.Line);
            _handled.Release();
        });
        Receive<CommandFinished>(m =>
        {
            if (m.Id != _commandId) return;
            _running?.Dispose();
            _running = null;
            // Written here, after the state change, so a client that sends its next command on reading it finds the
            // session ready. The command's own lines were all queued before its task completed.
            Send(m.End);
        });
        Receive<LineTooLong>(m => Close(CommandHost.LineTooLong, m.Error));
        Receive<OutputOverflowed>(_ =>
        {
            Report(CommandHost.NotReading, $"more than {_settings.MaxPendingOutputBytes} bytes of output unread (actordb.cmd.max-pending-output-bytes): disconnected");
            Context.Stop(Self);
        });
        Receive<ReceiveTimeout>(_ =>
        {
            if (_closing) return;
            if (_role is null) Close(CommandHost.TimedOut, CommandErrors.AuthTimeout(_settings.AuthTimeout));
            else if (_running is null) Close(CommandHost.TimedOut, CommandErrors.Idle(_settings.IdleTimeout));
        });
        Receive<Flushed>(_ =>
        {
            // The last line is out: tell the client we are done, and give it a moment to read and close.
            try { _client.Client.Shutdown(SocketShutdown.Send); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { Context.Stop(Self); }
        });
        Receive<Disconnected>(m =>
        {
            _log.Debug("Command client {0} went away: {1}", _remote, m.Reason);
            Context.Stop(Self);
        });
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        Context.SetReceiveTimeout(_settings.AuthTimeout);
        _client.NoDelay = true;
        var stream = _client.GetStream();
        var self = Self;
        var ct = _life.Token;
        var maxLine = _settings.MaxLineBytes;
        _ = Task.Run(async () =>
        {
            try
            {
                var reader = new CommandLineReader(stream, maxLine);
                while (await reader.ReadLineAsync(ct) is { } line)
                {
                    self.Tell(new LineReceived(line));
                    await _handled.WaitAsync(ct);   // one line at a time: a client that pipelines waits on its socket
                }
                self.Tell(new Disconnected("end of stream"));
            }
            catch (CommandLineTooLongException e)
            {
                self.Tell(new LineTooLong(e.Message));
                // Drop the rest of the line until the session closes, so the client can read the refusal first.
                try
                {
                    var scratch = new byte[4096];
                    while (await stream.ReadAsync(scratch, ct) > 0) { }
                }
                catch (Exception) { /* closed */ }
            }
            catch (Exception e) { self.Tell(new Disconnected(e.Message)); }
        }, CancellationToken.None);
        _ = Task.Run(async () =>
        {
            try
            {
                await _out.PumpAsync(stream, ct);
                self.Tell(new Flushed());
            }
            catch (Exception e) { self.Tell(new Disconnected(e.Message)); }
        }, CancellationToken.None);
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _running?.Cancel();
        _out.Close();
        _life.Cancel();
        _client.Dispose();
    }

    private void Send(CommandItem item) => _out.Write(item);

    /// <summary>Sends <paramref name="error"/> as the last line, reports it to the host as <paramref name="kind"/>, and
    /// closes the connection once the line is out (or after <see cref="CloseLinger"/>).</summary>
    private void Close(string kind, string error)
    {
        Report(kind, error);
        _running?.Cancel();
        _closing = true;
        _out.Write(new CommandEnd(1, error));
        _out.Close();
        Context.SetReceiveTimeout(null);
        Context.System.Scheduler.ScheduleTellOnce(CloseLinger, Self, new Disconnected("closed after a refusal"), Self);
    }

    private void Report(string kind, string detail) => Context.Parent.Tell(new CommandHostProtocol.Refused(kind, _remote, detail));

    private void OnLine(string line)
    {
        if (string.IsNullOrWhiteSpace(line)) return;
        CommandRequest request;
        try { request = CommandWire.DecodeRequest(line); }
        catch (FormatException e)
        {
            if (_role is null) Close(CommandHost.NotAuthenticated, CommandErrors.NotAuthenticated(false, _tokens.AdminFile, _tokens.ReadFile));
            else Send(new CommandEnd(2, e.Message));
            return;
        }
        if (_role is null)
        {
            Authenticate(request);
            return;
        }
        var registry = CommandPaletteRegistry.Get(Context.System);
        switch (request.Op)
        {
            case "describe":
                Send(new CommandPalettes(registry.Palettes.Select(p => p.Definition).ToList(), NodeAddress()));
                break;
            case "cancel":
                _running?.Cancel();
                break;
            case "run" when _running is not null:
                Send(new CommandEnd(1, CommandErrors.Busy));
                break;
            case "run":
                Run(request.Args, registry);
                break;
            case "auth":
                Send(new CommandEnd(2, "already authenticated (one token per connection)"));
                break;
            default:
                Send(new CommandEnd(2, $"unknown request '{request.Op}' (auth, describe, run, cancel)"));
                break;
        }
    }

    private void Authenticate(CommandRequest request)
    {
        var role = request.Op == "auth" ? CommandAccess.Authenticate(request.Token, _tokens.AdminToken, _tokens.ReadToken) : null;
        if (role is null)
        {
            Close(CommandHost.NotAuthenticated, CommandErrors.NotAuthenticated(request is { Op: "auth", Token: not null }, _tokens.AdminFile, _tokens.ReadFile));
            return;
        }
        _role = role;
        Context.SetReceiveTimeout(_settings.IdleTimeout);
        _log.Debug("Command client {0} authenticated ({1})", _remote, role);
        Send(new CommandEnd(0, null));
    }

    private string NodeAddress()
    {
        try { return Cluster.Get(Context.System).SelfAddress.ToString(); }
        catch (Exception) { return Context.System.Name; }
    }

    private void Run(IReadOnlyList<string> args, CommandPaletteRegistry registry)
    {
        ParsedCommand parsed;
        try { parsed = CommandParser.Parse(args, registry.Palettes.Select(p => p.Definition).ToList()); }
        catch (CommandSyntaxException e)
        {
            Send(new CommandEnd(2, e.Message));
            return;
        }
        var palette = registry.Find(parsed.Palette)!;
        if (!CommandAccess.MayRun(_role!.Value, palette.Definition.Find(parsed.Command)!))
        {
            var error = CommandErrors.NeedsAdmin(parsed);
            Report(CommandHost.NotAdmin, error);
            Send(new CommandEnd(1, error));
            return;
        }
        var id = ++_commandId;
        var cts = _running = CancellationTokenSource.CreateLinkedTokenSource(_life.Token);
        var context = new CommandContext(Context.System, _askTimeout);
        var output = _out;
        var log = _log;   // the actor's logger: thread-safe to use from the command's task
        RunAsync().PipeTo(Self, success: end => new CommandFinished(id, end),
            failure: e => new CommandFinished(id, new CommandEnd(1, $"{parsed}: {e.Message}")));
        return;

        async Task<CommandEnd> RunAsync()
        {
            CommandEnd end;
            try
            {
                await foreach (var item in palette.ExecuteAsync(parsed, context, cts.Token).WithCancellation(cts.Token))
                {
                    // Over the output bound the session is stopping: stop producing.
                    if (!output.Write(item)) return new CommandEnd(1, "output limit");
                }
                end = new CommandEnd(0, null);
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested)
            {
                end = new CommandEnd(0, null);   // stopped on request (Ctrl+C of a streaming command): not an error
            }
            catch (CommandException e)
            {
                end = new CommandEnd(1, $"{parsed}: {e.Message}");
            }
            catch (AskTimeoutException e)
            {
                end = new CommandEnd(1, $"{parsed}: no answer in time ({e.Message})");
            }
            catch (Exception e)
            {
                log.Warning(e, "Command '{0}' failed", parsed);
                end = new CommandEnd(1, $"{parsed}: {e.GetType().Name}: {e.Message}");
            }
            return end;
        }
    }
}

/// <summary>
/// The lines waiting to go to one client, as encoded bytes, with their total bounded: a write that would take the
/// total over the bound is refused, and the owner is told once (it disconnects the client). Written from the session
/// and from its running command's task; sent by <see cref="PumpAsync"/>, which batches what has queued meanwhile.
/// </summary>
/// <param name="maxPendingBytes">The bound, in bytes.</param>
/// <param name="onOverflow">Called once, on the first refused write.</param>
internal sealed class SessionOutput(long maxPendingBytes, Action onOverflow)
{
    private readonly Channel<byte[]> _lines = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private long _pending;
    private int _overflowed;

    /// <summary>Queues <paramref name="item"/> as one line; false when over the bound (nothing queued) or closed.</summary>
    public bool Write(CommandItem item)
    {
        if (Volatile.Read(ref _overflowed) != 0) return false;
        var bytes = Encoding.UTF8.GetBytes(CommandWire.Encode(item) + "\n");
        if (Interlocked.Add(ref _pending, bytes.Length) > maxPendingBytes)
        {
            if (Interlocked.Exchange(ref _overflowed, 1) == 0)
            {
                _lines.Writer.TryComplete();
                onOverflow();
            }
            return false;
        }
        return _lines.Writer.TryWrite(bytes);
    }

    /// <summary>No more lines: <see cref="PumpAsync"/> ends once the queued ones are sent.</summary>
    public void Close() => _lines.Writer.TryComplete();

    /// <summary>Sends the lines to <paramref name="stream"/> until <see cref="Close"/>d and drained.</summary>
    public async Task PumpAsync(Stream stream, CancellationToken ct)
    {
        var batch = new MemoryStream();
        await foreach (var line in _lines.Reader.ReadAllAsync(ct))
        {
            batch.SetLength(0);
            batch.Write(line);
            var bytes = (long)line.Length;
            while (batch.Length < 64 << 10 && _lines.Reader.TryRead(out var more))   // lines queued meanwhile go out in the same write
            {
                batch.Write(more);
                bytes += more.Length;
            }
            await stream.WriteAsync(batch.GetBuffer().AsMemory(0, (int)batch.Length), ct);
            Interlocked.Add(ref _pending, -bytes);
            if (Volatile.Read(ref _overflowed) != 0) return;
        }
    }
}
