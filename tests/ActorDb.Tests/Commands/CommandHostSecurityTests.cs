using System.Net.Sockets;
using System.Text;
using ActorDb.Commands;
using ActorDb.Hosting;

namespace ActorDb.Tests.Commands;

/// <summary>One embedded node whose command host has small limits, so each can be reached quickly.</summary>
public sealed class LimitedCommandHostNode : IAsyncLifetime
{
    public const int MaxLineBytes = 1024, MaxConnections = 4;
    public const long MaxPendingOutputBytes = 64 << 10;
    private readonly TestDirectory _dir = new();
    public EmbeddedNode Node { get; private set; } = null!;
    public CommandHostProtocol.Endpoint Endpoint { get; private set; } = null!;
    public string AdminToken { get; private set; } = "";
    public string ReadToken { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Node = await EmbeddedNode.StartAsync(new ActorDbOptions
        {
            DataDir = _dir.Path, Fsync = false, CommandHost = true,
            Hocon = $"actordb.cmd {{ port = 0, max-line-bytes = {MaxLineBytes}, max-pending-output-bytes = {MaxPendingOutputBytes}, " +
                    $"auth-timeout = 1s, idle-timeout = 2s, max-connections = {MaxConnections} }}",
        }, "WARNING", configure: akka => akka.WithActorDbCommandPalette(_ => new DemoPalette()));
        Endpoint = (await Node.GetCommandEndpointAsync())!;
        AdminToken = File.ReadAllText(Endpoint.AdminTokenFile).Trim();
        ReadToken = File.ReadAllText(Endpoint.ReadTokenFile).Trim();
    }

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        _dir.Dispose();
    }
}

/// <summary>The command host's authentication, roles and limits, through raw connections (what any local process can send).</summary>
public class CommandHostSecurityTests(LimitedCommandHostNode fixture) : IClassFixture<LimitedCommandHostNode>
{
    private static readonly TimeSpan Liveness = TimeSpan.FromSeconds(20);

    /// <summary>A raw connection speaking the wire protocol.</summary>
    private sealed class Raw : IAsyncDisposable
    {
        public readonly TcpClient Tcp = new() { NoDelay = true };
        private StreamReader _reader = null!;

        public static async Task<Raw> ConnectAsync(CommandHostProtocol.Endpoint endpoint)
        {
            var raw = new Raw();
            await raw.Tcp.ConnectAsync(endpoint.Host, endpoint.Port);
            raw._reader = new StreamReader(raw.Tcp.GetStream(), new UTF8Encoding(false));
            return raw;
        }

        public async Task SendAsync(CommandRequest request) =>
            await Tcp.GetStream().WriteAsync(Encoding.UTF8.GetBytes(CommandWire.Encode(request) + "\n"));

        /// <summary>The next response line, or null when the host closed the connection.</summary>
        public async Task<CommandItem?> ReceiveAsync()
        {
            string? line;
            try { line = await _reader.ReadLineAsync().WaitAsync(Liveness); }
            catch (IOException) { return null; }   // reset by the host
            return line is null ? null : CommandWire.DecodeItem(line);
        }

        public async Task<CommandEnd> RunAsync(params string[] words)
        {
            await SendAsync(CommandRequest.Run(words));
            while (true)
            {
                var item = await ReceiveAsync();
                Assert.NotNull(item);
                if (item is CommandEnd end) return end;
            }
        }

        public ValueTask DisposeAsync()
        {
            Tcp.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private async Task<Raw> AuthenticatedAsync(string token)
    {
        var raw = await Raw.ConnectAsync(fixture.Endpoint);
        await raw.SendAsync(CommandRequest.Auth(token));
        Assert.Equal(new CommandEnd(0, null), await raw.ReceiveAsync());
        return raw;
    }

    private string SelfAddress => Akka.Cluster.Cluster.Get(fixture.Node.System).SelfAddress.ToString();

    private void AssertStillUp() =>
        Assert.Equal(Akka.Cluster.MemberStatus.Up, Akka.Cluster.Cluster.Get(fixture.Node.System).SelfMember.Status);

    [Fact]
    public async Task A_request_without_a_token_gets_one_line_naming_the_token_files_and_the_connection_is_closed()
    {
        await using var raw = await Raw.ConnectAsync(fixture.Endpoint);
        await raw.SendAsync(CommandRequest.Run(["cluster", "down", "-a", SelfAddress]));
        var end = Assert.IsType<CommandEnd>(await raw.ReceiveAsync());
        Assert.Equal(1, end.Exit);
        Assert.StartsWith("not authenticated: send a token first (actordb HOST:PORT --token-file FILE", end.Error);
        Assert.Contains(fixture.Endpoint.AdminTokenFile, end.Error);
        Assert.Contains(fixture.Endpoint.ReadTokenFile, end.Error);
        Assert.Null(await raw.ReceiveAsync());   // closed
        AssertStillUp();
    }

    [Fact]
    public async Task A_wrong_token_is_refused_and_the_connection_is_closed()
    {
        await using var raw = await Raw.ConnectAsync(fixture.Endpoint);
        await raw.SendAsync(CommandRequest.Auth(CommandAccess.NewToken()));
        var end = Assert.IsType<CommandEnd>(await raw.ReceiveAsync());
        Assert.Equal(1, end.Exit);
        Assert.StartsWith("not authenticated: the token matches neither this node's admin nor its read token", end.Error);
        Assert.Null(await raw.ReceiveAsync());
    }

    [Fact]
    public async Task The_read_token_runs_read_only_commands_and_is_refused_admin_ones_without_effect()
    {
        await using var raw = await AuthenticatedAsync(fixture.ReadToken);
        Assert.Equal(0, (await raw.RunAsync("cluster", "show")).Exit);
        var down = await raw.RunAsync("cluster", "down", "-a", SelfAddress);
        Assert.Equal(new CommandEnd(1, "'cluster down' needs the admin token (this connection has the read token, which runs only read-only commands)"), down);
        Assert.Equal(1, (await raw.RunAsync("cluster", "leave", "-a", SelfAddress)).Exit);
        Assert.Equal(1, (await raw.RunAsync("demo", "echo", "-t", "x")).Exit);   // not declared read-only: admin
        AssertStillUp();
        Assert.Equal(0, (await raw.RunAsync("volume", "status")).Exit);   // the connection still serves
    }

    [Fact]
    public async Task The_admin_token_runs_admin_commands()
    {
        await using var raw = await AuthenticatedAsync(fixture.AdminToken);
        await raw.SendAsync(CommandRequest.Run(["demo", "echo", "-t", "hi"]));
        var row = Assert.IsType<CommandRow>(await raw.ReceiveAsync());
        Assert.Equal("hi", row["echo"]);
        Assert.Equal(new CommandEnd(0, null), await raw.ReceiveAsync());
    }

    [Fact]
    public async Task The_cli_without_a_token_prints_the_hosts_one_line_and_exits_1()
    {
        var r = await CliProcess.RunAsync(fixture.Endpoint.ToString(), "cluster", "show");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("", r.Stdout);
        var error = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("actordb: not authenticated: send a token first", error);

        var read = await CliProcess.RunAsync(fixture.Endpoint.ToString(), "--token-file", fixture.Endpoint.ReadTokenFile, "cluster", "down", "-a", SelfAddress);
        Assert.Equal(1, read.ExitCode);
        Assert.Equal("actordb: 'cluster down' needs the admin token (this connection has the read token, which runs only read-only commands)", read.Stderr.Trim());
        AssertStillUp();
    }

    [Fact]
    public async Task A_line_over_the_bound_is_refused_with_one_line_and_the_connection_closed()
    {
        await using var raw = await AuthenticatedAsync(fixture.AdminToken);
        var flood = new byte[1 << 20];   // 1 MiB of 'x', no newline: 1,024 times the bound
        Array.Fill(flood, (byte)'x');
        var write = raw.Tcp.GetStream().WriteAsync(flood).AsTask();
        var end = Assert.IsType<CommandEnd>(await raw.ReceiveAsync());
        Assert.Equal(new CommandEnd(1, $"request line longer than {LimitedCommandHostNode.MaxLineBytes} bytes (actordb.cmd.max-line-bytes): connection closed"), end);
        Assert.Null(await raw.ReceiveAsync());
        try { await write.WaitAsync(Liveness); } catch (IOException) { /* the host closed while we wrote */ }
    }

    [Fact]
    public async Task A_client_that_pipelines_requests_and_never_reads_is_disconnected()
    {
        await using var raw = await AuthenticatedAsync(fixture.AdminToken);
        var answer = Encoding.UTF8.GetByteCount(CommandWire.Encode(new CommandPalettes(
            CommandPaletteRegistry.Get(fixture.Node.System).Palettes.Select(p => p.Definition).ToList(), SelfAddress)) + "\n");
        var sent = await WriteUntilDisconnectedAsync(raw.Tcp.GetStream(), CommandRequest.Describe(), 1_000_000, Liveness);
        Assert.True(sent < 1_000_000, $"still connected after {sent} requests ({sent * answer} bytes of answers) never read");
    }

    /// <summary>Sends <paramref name="request"/> over and over (in batches, never reading an answer) until the host drops
    /// the connection or <paramref name="max"/> are sent; returns how many were sent. Fails after <paramref name="timeout"/>.</summary>
    internal static async Task<long> WriteUntilDisconnectedAsync(Stream stream, CommandRequest request, long max, TimeSpan timeout)
    {
        var line = Encoding.UTF8.GetBytes(CommandWire.Encode(request) + "\n");
        const int perBatch = 1000;
        var batch = new byte[line.Length * perBatch];
        for (var i = 0; i < perBatch; i++) line.CopyTo(batch, i * line.Length);
        var sent = 0L;
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            while (sent < max)
            {
                await stream.WriteAsync(batch, deadline.Token);
                sent += perBatch;
            }
        }
        catch (IOException) { }   // reset by the host
        return sent;
    }

    [Fact]
    public async Task The_connection_after_the_last_allowed_one_gets_one_line_and_a_closed_one_frees_its_place()
    {
        var open = new List<Raw>();
        try
        {
            for (var i = 0; i < LimitedCommandHostNode.MaxConnections; i++) open.Add(await AuthenticatedAsync(fixture.ReadToken));
            await using (var extra = await Raw.ConnectAsync(fixture.Endpoint))
            {
                var end = Assert.IsType<CommandEnd>(await extra.ReceiveAsync());
                Assert.Equal(new CommandEnd(1, $"the command host already serves {LimitedCommandHostNode.MaxConnections} connections (actordb.cmd.max-connections): try again later"), end);
                Assert.Null(await extra.ReceiveAsync());
            }
            Assert.Equal(0, (await open[0].RunAsync("cluster", "show")).Exit);   // the ones served still are

            await open[0].DisposeAsync();
            open.RemoveAt(0);
            var deadline = DateTime.UtcNow + Liveness;
            while (true)   // the host frees the place once the session has stopped
            {
                await using var next = await Raw.ConnectAsync(fixture.Endpoint);
                await next.SendAsync(CommandRequest.Auth(fixture.ReadToken));
                if (await next.ReceiveAsync() is CommandEnd { Exit: 0 }) break;
                Assert.True(DateTime.UtcNow < deadline, "no place freed");
                await Task.Delay(100);
            }
        }
        finally
        {
            foreach (var raw in open) await raw.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_connection_without_a_token_or_idle_is_closed_after_its_timeout_with_one_line()
    {
        await using var silent = await Raw.ConnectAsync(fixture.Endpoint);
        await using var idle = await AuthenticatedAsync(fixture.ReadToken);
        Assert.Equal(new CommandEnd(1, "no token within 1 s of connecting (actordb.cmd.auth-timeout): connection closed"), await silent.ReceiveAsync());
        Assert.Null(await silent.ReceiveAsync());
        Assert.Equal(new CommandEnd(1, "idle for 2 s (actordb.cmd.idle-timeout): connection closed"), await idle.ReceiveAsync());
        Assert.Null(await idle.ReceiveAsync());
    }

    [Fact]
    public async Task A_streaming_command_is_not_idle()
    {
        await using var raw = await AuthenticatedAsync(fixture.ReadToken);
        await raw.SendAsync(CommandRequest.Run(["cluster", "tail"]));
        Assert.IsType<CommandRow>(await raw.ReceiveAsync());   // the current members, as events
        await Task.Delay(TimeSpan.FromSeconds(3));   // past idle-timeout (2 s)
        await raw.SendAsync(CommandRequest.Cancel());
        CommandItem? item;
        do item = await raw.ReceiveAsync();
        while (item is CommandRow);
        Assert.Equal(new CommandEnd(0, null), item);
    }
}
