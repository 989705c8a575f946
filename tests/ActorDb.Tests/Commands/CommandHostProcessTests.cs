using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using ActorDb.Commands;
using Xunit.Abstractions;

namespace ActorDb.Tests.Commands;

/// <summary>
/// The command host of a real node under attack from local processes while a bench keeps committing: the node (the
/// bench's own, with <c>actordb.cmd</c> on and its default limits) must refuse each attack with one line, keep its
/// memory bounded and keep committing.
/// </summary>
[Collection(ProcessTests.Name)]
public partial class CommandHostProcessTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    /// <summary>How far the node's resident memory may rise above its level before the attacks, in MB. The attacks as
    /// first found raised it by 450 MB (a 64 MiB line) and 106 MB (a client not reading); the host's own bounds are a
    /// 64 KiB line and 1 MiB of output per connection, times 64 connections, so what remains is the bench's own growth.</summary>
    private const long RssBoundMb = 100;

    [GeneratedRegex(@"^\[bench\] (\d+) s: (\d+) ops, (\d+) ops/s")]
    private static partial Regex ProgressLine();

    private static long RssKb(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]);
        throw new InvalidOperationException($"/proc/{pid}/status has no VmRSS");
    }

    private static async Task<string?> ReadLineAsync(TcpClient tcp, TimeSpan timeout)
    {
        using var reader = new StreamReader(tcp.GetStream(), new UTF8Encoding(false), false, 1024, leaveOpen: true);
        try { return await reader.ReadLineAsync().WaitAsync(timeout); }
        catch (IOException) { return null; }
    }

    [Fact]
    public async Task A_long_line_a_client_that_does_not_read_and_1000_connections_are_refused_while_a_bench_keeps_committing()
    {
        var started = Stopwatch.StartNew();
        using var dir = new TestDirectory();
        var port = ProcessTests.FreePort();
        var config = Path.Combine(dir.Path, "cmd.conf");
        File.WriteAllText(config, $"actordb.cmd {{ enabled = on, port = {port} }}");
        var data = Path.Combine(dir.Path, "data");
        using var bench = CliProcess.StartProgram("actordb", new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" },
            "bench", "--workload", "sysbench-write-only", "--threads", "4", "-p", "operationcount=1000000000", "-p", "maxexecutiontime=300",
            "--unsafe-no-fsync", "--data-dir", data, "--config", config);
        await bench.WaitForLineAsync(l => l.StartsWith("[bench] first commit acknowledged"), Minute, "the bench's first commit");
        // Past the load phase: a progress sample of the run phase.
        await bench.WaitForLineAsync(l => ProgressLine().IsMatch(l) && !l.Contains("[load]"), Minute, "the bench's run phase");
        var baseline = RssKb(bench.Id);
        var peak = baseline;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, RssKb(bench.Id));
                try { await Task.Delay(100, sampling.Token); } catch (OperationCanceledException) { }
            }
        });
        var readToken = File.ReadAllText(Path.Combine(data, "cmd-read.token")).Trim();
        output.WriteLine($"bench committing after {started.ElapsedMilliseconds} ms; node RSS {baseline / 1024} MB");

        // 1. No token: cluster down is refused with one line and the connection closed; the node stays.
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync("127.0.0.1", port);
            await tcp.GetStream().WriteAsync(Encoding.UTF8.GetBytes(CommandWire.Encode(CommandRequest.Run(["cluster", "down", "-a", "akka.tcp://actordb@127.0.0.1:1"])) + "\n"));
            var end = Assert.IsType<CommandEnd>(CommandWire.DecodeItem((await ReadLineAsync(tcp, Minute))!));
            Assert.StartsWith("not authenticated: send a token first", end.Error);
            Assert.Null(await ReadLineAsync(tcp, Minute));
        }

        // 2. A 64 MiB line without a newline, before any token.
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync("127.0.0.1", port);
            var line = new byte[64 << 20];
            Array.Fill(line, (byte)'x');
            var write = tcp.GetStream().WriteAsync(line).AsTask();
            var refusal = await ReadLineAsync(tcp, Minute);
            Assert.NotNull(refusal);
            Assert.Equal("request line longer than 65536 bytes (actordb.cmd.max-line-bytes): connection closed", ((CommandEnd)CommandWire.DecodeItem(refusal)).Error);
            try { await write.WaitAsync(Minute); } catch (IOException) { /* closed while we wrote */ }
        }
        output.WriteLine($"64 MiB line refused; peak RSS {peak / 1024} MB");

        // 3. A client with the read token that pipelines requests and never reads: disconnected once its answers exceed
        // what the kernel's socket buffers hold plus the host's bound (1 MiB), long before the millionth request.
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync("127.0.0.1", port);
            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.UTF8.GetBytes(CommandWire.Encode(CommandRequest.Auth(readToken)) + "\n"));
            var sent = await CommandHostSecurityTests.WriteUntilDisconnectedAsync(stream, CommandRequest.Describe(), 1_000_000, Minute);
            output.WriteLine($"non-reading client disconnected after {sent} requests; peak RSS {peak / 1024} MB");
            Assert.True(sent < 1_000_000, $"still connected after {sent} requests never read");
        }

        // 4. 1,000 connections at once, none sending a token: 64 served (until their auth timeout), the rest refused.
        var connections = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 1000; i++)
            {
                var tcp = new TcpClient();
                await tcp.ConnectAsync("127.0.0.1", port);
                connections.Add(tcp);
            }
            var lines = await Task.WhenAll(connections.Select(c => ReadLineAsync(c, Minute)));
            var errors = lines.Select(l => l is null ? "(closed)" : ((CommandEnd)CommandWire.DecodeItem(l)).Error).ToList();
            var tooMany = errors.Count(e => e == "the command host already serves 64 connections (actordb.cmd.max-connections): try again later");
            var timedOut = errors.Count(e => e == "no token within 10 s of connecting (actordb.cmd.auth-timeout): connection closed");
            output.WriteLine($"1,000 connections: {tooMany} refused, {timedOut} served until their auth timeout; peak RSS {peak / 1024} MB");
            Assert.Equal(1000, tooMany + timedOut);
            Assert.InRange(timedOut, 1, 64);
        }
        finally
        {
            foreach (var c in connections) c.Dispose();
        }
        var attacksEnded = bench.StdoutLines.Count;

        // The bench keeps committing: a progress sample after the attacks with commits in it.
        string? after = null;
        for (var deadline = DateTime.UtcNow + Minute; after is null && DateTime.UtcNow < deadline; await Task.Delay(200))
            after = bench.StdoutLines.Skip(attacksEnded).FirstOrDefault(l => ProgressLine().Match(l) is { Success: true } m && long.Parse(m.Groups[3].Value) > 0);
        Assert.True(after is not null, $"no commits after the attacks: {bench.StdoutTail()}");
        output.WriteLine($"after the attacks: {after}");
        // And an operator with the read token is served as before.
        var status = await CliProcess.RunAsync($"127.0.0.1:{port}", "--token-file", Path.Combine(data, "cmd-read.token"), "volume", "status", "--json");
        Assert.True(status.ExitCode == 0, status.Stderr);
        Assert.Contains("\"state\":\"serving\"", status.Stdout);

        await sampling.CancelAsync();
        await sampler;
        output.WriteLine($"node RSS: {baseline / 1024} MB before the attacks, peak {peak / 1024} MB, now {RssKb(bench.Id) / 1024} MB");
        Assert.True(peak - baseline <= RssBoundMb * 1024, $"RSS rose from {baseline / 1024} MB to {peak / 1024} MB (bound: +{RssBoundMb} MB)");

        // Refusals are logged when they start and as summaries, not once each.
        var log = bench.StdoutLines.Concat(bench.StderrLines).Where(l => l.Contains("Command host: connections refused (too many)")).ToList();
        Assert.True(log.Count is >= 1 and <= 4, $"{log.Count} log lines: {string.Join("\n", log.Take(10))}\n{bench.StdoutTail()}");
        Assert.Equal(0, await bench.TerminateAsync(Minute));
        output.WriteLine($"total {started.ElapsedMilliseconds} ms");
    }
}
