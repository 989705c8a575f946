using System.Net.Sockets;
using System.Text;
using ActorDb.Commands;

namespace ActorDb.Cli.Remote;

/// <summary>A connection to a node's command host (<see cref="CommandWire"/>): describe the palettes, run a command and
/// stream its output, cancel it.</summary>
internal sealed class CommandClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly StreamReader _reader;
    private readonly StreamWriter _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    private CommandClient(TcpClient tcp)
    {
        _tcp = tcp;
        var stream = tcp.GetStream();
        _reader = new StreamReader(stream, new UTF8Encoding(false));
        _writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
    }

    /// <summary>Connects to <paramref name="host"/>:<paramref name="port"/>.</summary>
    /// <exception cref="IOException">no connection within <paramref name="timeout"/>, or refused; the message says why.</exception>
    public static async Task<CommandClient> ConnectAsync(string host, int port, TimeSpan timeout, CancellationToken ct)
    {
        var tcp = new TcpClient { NoDelay = true };
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await tcp.ConnectAsync(host, port, cts.Token);
            return new CommandClient(tcp);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            tcp.Dispose();
            var why = e is OperationCanceledException ? $"no answer within {timeout.TotalSeconds:0} s" : e.Message;
            throw new IOException($"cannot connect to {host}:{port}: {why} (is the node running with actordb.cmd.enabled = on?)", e);
        }
    }

    private async Task SendAsync(CommandRequest request, CancellationToken ct)
    {
        await _writeLock.WaitAsync(ct);
        try { await _writer.WriteLineAsync(CommandWire.Encode(request).AsMemory(), ct); }
        finally { _writeLock.Release(); }
    }

    private async Task<CommandItem> ReceiveAsync(CancellationToken ct)
    {
        var line = await _reader.ReadLineAsync(ct) ?? throw new IOException("the node closed the connection");
        try { return CommandWire.DecodeItem(line); }
        catch (FormatException e) { throw new IOException($"the node sent something else than a command response ({e.Message})", e); }
    }

    /// <summary>Authenticates the connection with <paramref name="token"/> (the node's admin or read token): the first
    /// request on a connection.</summary>
    /// <exception cref="IOException">the node refused the token (the message is its one line) or closed the connection.</exception>
    public async Task AuthenticateAsync(string token, CancellationToken ct)
    {
        await SendAsync(CommandRequest.Auth(token), ct);
        if (await ReceiveAsync(ct) is CommandEnd { Exit: not 0 } end) throw new IOException(end.Error ?? "the node refused the token");
    }

    /// <summary>The palettes the host serves.</summary>
    public async Task<CommandPalettes> DescribeAsync(CancellationToken ct)
    {
        await SendAsync(CommandRequest.Describe(), ct);
        while (true)
        {
            switch (await ReceiveAsync(ct))
            {
                case CommandPalettes p: return p;
                case CommandEnd { Error: { } error }: throw new IOException(error);
            }
        }
    }

    /// <summary>Runs <paramref name="args"/> on the host, handing each row, text and footer to <paramref name="onItem"/>
    /// as it arrives; returns the end line. <paramref name="cancel"/> asks the host to stop the command (it still
    /// answers with its end line).</summary>
    public async Task<CommandEnd> RunAsync(IReadOnlyList<string> args, Action<CommandItem> onItem, CancellationToken cancel)
    {
        await SendAsync(CommandRequest.Run(args), CancellationToken.None);
        await using var registration = cancel.Register(() => _ = SendAsync(CommandRequest.Cancel(), CancellationToken.None));
        while (true)
        {
            var item = await ReceiveAsync(CancellationToken.None);
            if (item is CommandEnd end) return end;
            onItem(item);
        }
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        _writeLock.Dispose();
        return ValueTask.CompletedTask;
    }
}
