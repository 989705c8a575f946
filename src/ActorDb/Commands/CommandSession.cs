using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using ActorDb.Core.Commands;

namespace ActorDb.Commands;

/// <summary>
/// One client connection of the <see cref="CommandHost"/>. Reads request lines (<see cref="CommandWire"/>), answers
/// <c>describe</c> with the registered palettes, checks a <c>run</c> against them (<see cref="CommandParser"/>) and runs
/// it through its palette, streaming the items back line by line and ending with an <c>end</c> line. One command runs at
/// a time; <c>cancel</c> (or the client going away) cancels it. Stops when the client disconnects.
/// </summary>
public sealed class CommandSession : ReceiveActor
{
    private sealed record LineReceived(string Line);
    private sealed record Disconnected(string Reason);
    private sealed record CommandFinished(long Id, CommandEnd End);

    private readonly TcpClient _client;
    private readonly TimeSpan _askTimeout;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Channel<string> _out = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _life = new();
    private CancellationTokenSource? _running;
    private long _commandId;

    /// <summary>Props of a session for <paramref name="client"/>.</summary>
    public static Props Props(TcpClient client, TimeSpan askTimeout) => Akka.Actor.Props.Create(() => new CommandSession(client, askTimeout));

    /// <summary>Use <see cref="Props"/>.</summary>
    public CommandSession(TcpClient client, TimeSpan askTimeout)
    {
        _client = client;
        _askTimeout = askTimeout;
        Receive<LineReceived>(m => OnLine(m.Line));
        Receive<CommandFinished>(m =>
        {
            if (m.Id != _commandId) return;
            _running?.Dispose();
            _running = null;
            // Written here, after the state change, so a client that sends its next command on reading it finds the
            // session ready. The command's own lines were all queued before its task completed.
            Send(m.End);
        });
        Receive<Disconnected>(m =>
        {
            _log.Debug("Command client went away: {0}", m.Reason);
            Context.Stop(Self);
        });
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        _client.NoDelay = true;
        var stream = _client.GetStream();
        var self = Self;
        var ct = _life.Token;
        _ = Task.Run(async () =>
        {
            try
            {
                using var reader = new StreamReader(stream, new UTF8Encoding(false), false, 4096, leaveOpen: true);
                while (await reader.ReadLineAsync(ct) is { } line) self.Tell(new LineReceived(line));
                self.Tell(new Disconnected("end of stream"));
            }
            catch (Exception e) { self.Tell(new Disconnected(e.Message)); }
        }, CancellationToken.None);
        _ = Task.Run(async () =>
        {
            try
            {
                var bytes = new MemoryStream();
                await foreach (var line in _out.Reader.ReadAllAsync(ct))
                {
                    bytes.SetLength(0);
                    bytes.Write(Encoding.UTF8.GetBytes(line));
                    bytes.WriteByte((byte)'\n');
                    // Lines queued meanwhile go out in the same write.
                    while (_out.Reader.TryRead(out var more))
                    {
                        bytes.Write(Encoding.UTF8.GetBytes(more));
                        bytes.WriteByte((byte)'\n');
                    }
                    await stream.WriteAsync(bytes.GetBuffer().AsMemory(0, (int)bytes.Length), ct);
                }
            }
            catch (Exception e) { self.Tell(new Disconnected(e.Message)); }
        }, CancellationToken.None);
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _running?.Cancel();
        _out.Writer.TryComplete();
        _life.Cancel();
        _client.Dispose();
    }

    private void Send(CommandItem item) => _out.Writer.TryWrite(CommandWire.Encode(item));

    private void OnLine(string line)
    {
        if (string.IsNullOrWhiteSpace(line)) return;
        CommandRequest request;
        try { request = CommandWire.DecodeRequest(line); }
        catch (FormatException e)
        {
            Send(new CommandEnd(2, e.Message));
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
                Send(new CommandEnd(1, "a command is still running on this connection (cancel it first)"));
                break;
            case "run":
                Run(request.Args, registry);
                break;
            default:
                Send(new CommandEnd(2, $"unknown request '{request.Op}' (describe, run, cancel)"));
                break;
        }
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
        var id = ++_commandId;
        var cts = _running = CancellationTokenSource.CreateLinkedTokenSource(_life.Token);
        var context = new CommandContext(Context.System, _askTimeout);
        var output = _out.Writer;
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
                    output.TryWrite(CommandWire.Encode(item));
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
