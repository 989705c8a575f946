using System.Diagnostics;
using System.Text;

namespace ActorDb.Tests;

/// <summary>What a finished CLI process left: its exit code and everything it wrote.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// The real CLI (<c>actordb.dll</c>, copied next to the test assembly) as a separate process: run to completion with
/// <see cref="RunAsync(string[])"/>, or <see cref="Start"/> one and watch its stdout line by line (for a harness that
/// kills it). The process runs in the temporary directory, so relative paths in arguments must not be used.
/// </summary>
public sealed class CliProcess : IDisposable
{
    private const int TailLines = 40;
    private readonly Process _process;
    private readonly Lock _lock = new();
    private readonly List<string> _stdout = [];
    private readonly Queue<string> _stdoutTail = new();
    private readonly Action<string>? _onStdoutLine;
    private Exception? _onStdoutLineError;   // the first exception of _onStdoutLine: rethrown by WaitForExitAsync
    private readonly Queue<string> _stderrTail = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> _waiters = [];
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StringBuilder _stderr = new();

    private readonly string _program;
    private static int _started;

    private CliProcess(IReadOnlyList<string> args, Action<string>? onStdoutLine, string program = "actordb",
        IReadOnlyDictionary<string, string>? environment = null)
    {
        _onStdoutLine = onStdoutLine;
        _program = program;
        Arguments = string.Join(' ', args);
        var dll = Path.Combine(AppContext.BaseDirectory, program + ".dll");
        Assert.True(File.Exists(dll), $"{dll} not found");
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        // Every process gets a TLS folder of the tests' CA (used only by a process of a cluster), unless the test sets
        // its own TLS or turns it off.
        if (environment is null || !environment.Keys.Any(k => k.StartsWith("ACTORDB__SECURITY__", StringComparison.Ordinal)))
            psi.Environment["ACTORDB__SECURITY__TLS_DIR"] = TestCertificates.NodeDir($"{program}-{Interlocked.Increment(ref _started)}");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) psi.Environment[name] = value;
        _process = new Process { StartInfo = psi };
        _process.OutputDataReceived += (_, e) => OnStdout(e.Data);
        _process.ErrorDataReceived += (_, e) => OnStderr(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The arguments after <c>actordb</c>, space-separated (for messages).</summary>
    public string Arguments { get; }

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    /// <summary>Starts <c>actordb</c> with <paramref name="args"/>; stdout and stderr are captured as they come.</summary>
    public static CliProcess Start(params string[] args) => new(args, null);

    /// <summary>Starts another of our programs copied next to the test assembly (<c>actordb-node</c>,
    /// <c>lighthouse</c>) with <paramref name="environment"/> added to this process's environment.</summary>
    public static CliProcess StartProgram(string program, IReadOnlyDictionary<string, string> environment, params string[] args) =>
        new(args, null, program, environment);

    /// <summary>Starts <c>actordb</c> with <paramref name="args"/> and hands each stdout line to
    /// <paramref name="onStdoutLine"/> (in order, one at a time) instead of keeping it: for output too large to hold,
    /// such as a big <c>dump</c>. <see cref="WaitForLineAsync"/> and <see cref="CliResult.Stdout"/> then see nothing.</summary>
    public static CliProcess StartStreaming(Action<string> onStdoutLine, params string[] args) => new(args, onStdoutLine);

    /// <summary><c>actordb TARGET --token-file FILE pg show -g PG --json</c>: the command's result, and its segment rows
    /// (one JSON object per segment; the footer is left out).</summary>
    public static async Task<(CliResult Result, List<System.Text.Json.JsonElement> Rows)> PgShowAsync(string target, string tokenFile, int pg = 0)
    {
        var show = await RunAsync(target, "--token-file", tokenFile, "pg", "show", "-g", pg.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json");
        var rows = show.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains("\"segment\""))
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        return (show, rows);
    }

    /// <summary>Asks <see cref="PgShowAsync"/> every 500 ms until all six segments of PG 0 are <c>serving</c>, and returns
    /// their rows. Every answer must exit 0; past <paramref name="within"/> the test fails with the last output.</summary>
    public static async Task<List<System.Text.Json.JsonElement>> WaitForSixServingAsync(string target, string tokenFile, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var (show, rows) = await PgShowAsync(target, tokenFile);
            Xunit.Assert.True(show.ExitCode == 0, show.Stderr);
            if (rows.Count == 6 && rows.All(r => r.GetProperty("state").GetString() == "serving")) return rows;
            if (DateTime.UtcNow > deadline) Xunit.Assert.Fail($"not all six segments serving within {within.TotalSeconds:0} s:\n{show.Stdout}");
            await Task.Delay(500);
        }
    }

    /// <summary>Runs <c>actordb</c> with <paramref name="args"/> to completion (at most 45 s).</summary>
    public static Task<CliResult> RunAsync(params string[] args) => RunAsync(TimeSpan.FromSeconds(45), args);

    /// <summary>Runs <c>actordb</c> with <paramref name="args"/> to completion; killed and a <see cref="TimeoutException"/>
    /// after <paramref name="timeout"/>.</summary>
    public static async Task<CliResult> RunAsync(TimeSpan timeout, params string[] args)
    {
        using var cli = Start(args);
        return await cli.WaitForExitAsync(timeout);
    }

    /// <summary>Waits for the process to exit and for its output to be read; kills it and throws
    /// <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public async Task<CliResult> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            KillNow();
            throw new TimeoutException($"{_program} {Arguments} did not exit within {timeout.TotalSeconds:0} s; stderr tail:\n{StderrTail()}");
        }
        if (_onStdoutLineError is { } lineError) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(lineError);
        lock (_lock) return new CliResult(_process.ExitCode, string.Concat(_stdout.Select(l => l + "\n")), _stderr.ToString());
    }

    /// <summary>
    /// The first stdout line (already written or still to come) that <paramref name="match"/> accepts. Throws
    /// <see cref="InvalidOperationException"/> if stdout closes first (the process exited) and
    /// <see cref="TimeoutException"/> after <paramref name="timeout"/>; both messages carry the output's tails.
    /// </summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string what)
    {
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            var seen = _stdout.FirstOrDefault(match);
            if (seen is not null) return seen;
            _waiters.Add((match, found));
        }
        var done = await Task.WhenAny(found.Task, _stdoutClosed.Task, Task.Delay(timeout));
        if (done == found.Task) return await found.Task;
        lock (_lock) _waiters.RemoveAll(w => w.Found == found);
        if (found.Task.IsCompletedSuccessfully) return found.Task.Result;
        if (done == _stdoutClosed.Task)
        {
            await _process.WaitForExitAsync();
            throw new InvalidOperationException(
                $"{_program} {Arguments} exited with code {_process.ExitCode} before {what}; stdout tail:\n{StdoutTail()}\nstderr tail:\n{StderrTail()}");
        }
        throw new TimeoutException($"{_program} {Arguments}: no {what} within {timeout.TotalSeconds:0} s; stdout tail:\n{StdoutTail()}\nstderr tail:\n{StderrTail()}");
    }

    /// <summary>
    /// Kills the process with SIGKILL (what <see cref="Process.Kill()"/> sends on Linux: no handler, no flush, no
    /// clean stop) and waits until it is gone. Returns the exit code the runtime reports: 137 (128 + 9) for SIGKILL.
    /// Returns null when the process had already exited by itself before the kill.
    /// </summary>
    public async Task<int?> KillNineAsync()
    {
        Assert.True(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "kill -9 needs a Unix (Process.Kill sends SIGKILL there)");
        if (_process.HasExited) return null;
        try
        {
            _process.Kill();   // kill(pid, SIGKILL): the dotnet host runs the app in this very process, there is no child
        }
        catch (InvalidOperationException)
        {
            return null;   // exited between the check and the kill
        }
        await _process.WaitForExitAsync();
        return _process.ExitCode;
    }

    /// <summary>
    /// Sends SIGTERM (a clean stop: what Docker and systemd send) and waits for the exit; returns the exit code.
    /// Throws <see cref="TimeoutException"/> (and kills the process) if it has not exited after <paramref name="timeout"/>.
    /// </summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        Assert.True(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "SIGTERM needs a Unix");
        if (!_process.HasExited && SendSignal(_process.Id, 15) != 0 && !_process.HasExited)
            Assert.Fail($"kill -TERM {_process.Id} failed (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
        return (await WaitForExitAsync(timeout)).ExitCode;
    }

    /// <summary>Freezes the process with SIGSTOP (what a long GC pause or a VM stall looks like from outside: it neither
    /// sends nor answers anything) until <see cref="Resume"/>.</summary>
    public void Pause()
    {
        Assert.True(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "SIGSTOP needs a Unix");
        Assert.True(SendSignal(_process.Id, 19) == 0, $"kill -STOP {_process.Id} failed");
    }

    /// <summary>Lets a process frozen by <see cref="Pause"/> run on (SIGCONT): it resumes with everything it held.</summary>
    public void Resume()
    {
        Assert.True(SendSignal(_process.Id, 18) == 0, $"kill -CONT {_process.Id} failed");
    }

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    /// <summary>stdout lines so far.</summary>
    public IReadOnlyList<string> StdoutLines
    {
        get { lock (_lock) return _stdout.ToList(); }
    }

    /// <summary>The last stdout lines, for messages.</summary>
    public string StdoutTail()
    {
        lock (_lock) return string.Join('\n', _stdoutTail);
    }

    /// <summary>Every stderr line so far.</summary>
    public IReadOnlyList<string> StderrLines
    {
        get { lock (_lock) return _stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries); }
    }

    /// <summary>The last stderr lines, for messages.</summary>
    public string StderrTail()
    {
        lock (_lock) return string.Join('\n', _stderrTail);
    }

    private void OnStdout(string? line)
    {
        if (line is null)
        {
            _stdoutClosed.TrySetResult();
            return;
        }
        List<TaskCompletionSource<string>> hits = [];
        lock (_lock)
        {
            _stdoutTail.Enqueue(line);
            while (_stdoutTail.Count > TailLines) _stdoutTail.Dequeue();
        }
        if (_onStdoutLine is not null)
        {
            if (_onStdoutLineError is not null) return;
            try { _onStdoutLine(line); }   // DataReceived events come one at a time, in order
            catch (Exception e) { _onStdoutLineError = e; }   // thrown here it would end the test host
            return;
        }
        lock (_lock)
        {
            _stdout.Add(line);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (!_waiters[i].Match(line)) continue;
                hits.Add(_waiters[i].Found);
                _waiters.RemoveAt(i);
            }
        }
        foreach (var hit in hits) hit.TrySetResult(line);
    }

    private void OnStderr(string? line)
    {
        if (line is null)
        {
            _stderrClosed.TrySetResult();
            return;
        }
        lock (_lock)
        {
            _stderr.Append(line).Append('\n');
            _stderrTail.Enqueue(line);
            while (_stderrTail.Count > TailLines) _stderrTail.Dequeue();
        }
    }

    private void KillNow()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
    }

    /// <summary>Kills the process if it still runs (a test that failed half-way leaves no stray node behind).</summary>
    public void Dispose()
    {
        KillNow();
        _process.Dispose();
    }
}
