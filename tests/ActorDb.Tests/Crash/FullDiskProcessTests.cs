using System.Diagnostics;
using ActorDb.Tests.Bench;
using Xunit.Abstractions;

namespace ActorDb.Tests.Crash;

/// <summary>
/// Issue 12, item 1, for real: the CLI's bench on an embedded node whose data directory is a small tmpfs (mounting needs
/// root, as this project's machines and CI run). A filler file takes the free space: all six segments hit ENOSPC and
/// commits stop; the filler is deleted: commits resume in the same process, without a restart. Then kill -9, and every
/// acknowledged insert must be in the dump afterwards.
/// </summary>
[Collection(ProcessTests.Name)]
public sealed class FullDiskProcessTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "actordb-fulldisk-" + Guid.NewGuid().ToString("N")[..8]);
    private string Mount => Path.Combine(_root, "mnt");

    private static void Run(string file, string args, bool check = true)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, UseShellExecute = false })!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (check && p.ExitCode != 0)
            throw new InvalidOperationException($"'{file} {args}' failed ({err.Trim()}): this test needs root to mount a tmpfs");
    }

    public void Dispose()
    {
        Run("umount", Mount, check: false);
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    /// <summary>Fills the file system of <see cref="Mount"/> with <paramref name="path"/> until ENOSPC.</summary>
    private static long Fill(string path)
    {
        var chunk = new byte[64 * 1024];
        long written = 0;
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1);
        try
        {
            while (true)
            {
                f.Write(chunk);
                written += chunk.Length;
            }
        }
        catch (IOException) { }
        for (var size = chunk.Length / 2; size >= 512; size /= 2)
            try { f.Write(chunk, 0, size); written += size; } catch (IOException) { }
        return written;
    }

    [Fact]
    public async Task A_full_disk_stops_commits_freeing_it_resumes_them_without_a_restart_and_kill_nine_loses_no_acknowledged_insert()
    {
        Directory.CreateDirectory(Mount);
        Run("mount", $"-t tmpfs -o size=96m tmpfs {Mount}");
        var data = Path.Combine(Mount, "data");
        var ackLog = Path.Combine(_root, "acks.jsonl");
        var workload = Path.Combine(BenchTestPaths.RepoWorkloads(), "ycsb-insert-only");
        using var bench = CliProcess.Start("bench", "--workload", workload, "--threads", "8", "--data-dir", data, "--ack-log", ackLog,
            "-p", "operationcount=100000000", "--log-level", "WARNING");

        await AckedWrites.WaitForLinesAsync(ackLog, 500, TimeSpan.FromSeconds(60), "the first 500 acknowledged inserts");
        var filler = Path.Combine(Mount, "filler");
        var filled = Fill(filler);
        output.WriteLine($"filler: {filled} bytes");

        // Commits stop: no new acknowledgement for 3 s in a row (within 30 s: the segments first use up what they preallocated).
        var stalledAt = -1;
        var limit = Stopwatch.StartNew();
        var last = AckedWrites.CountLines(ackLog);
        var quietSince = Stopwatch.StartNew();
        while (limit.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(250);
            var now = AckedWrites.CountLines(ackLog);
            if (now != last) { last = now; quietSince.Restart(); }
            else if (quietSince.Elapsed >= TimeSpan.FromSeconds(3)) { stalledAt = now; break; }
            if (bench.HasExited) break;
        }
        Assert.False(bench.HasExited, $"bench exited on a full disk:\n{bench.StdoutTail()}");
        Assert.True(stalledAt >= 0, "commits did not stop on a full disk");

        File.Delete(filler);
        var freed = Stopwatch.StartNew();
        await AckedWrites.WaitForLinesAsync(ackLog, stalledAt + 1, TimeSpan.FromSeconds(20), "a commit after the space was freed");
        output.WriteLine($"space freed to first commit: {freed.ElapsedMilliseconds} ms (process, real ENOSPC on tmpfs)");
        await AckedWrites.WaitForLinesAsync(ackLog, stalledAt + 500, TimeSpan.FromSeconds(30), "500 more commits after the space was freed");

        await bench.KillNineAsync();
        var acks = AckedWrites.ReadLog(ackLog, dropTornLastLine: true);
        var dump = await CliProcess.RunAsync(TimeSpan.FromSeconds(120), "dump", "--data-dir", data, "--table", "usertable");
        Assert.True(dump.ExitCode == 0, $"dump failed: {dump.Stderr}");
        var rows = AckedWrites.ReadDump(dump.Stdout);
        foreach (var ack in acks)
        {
            Assert.True(rows.TryGetValue(ack.Key, out var fields), $"acknowledged key {ack.Key} (commit LSN {ack.CommitLsn}) is missing after kill -9");
            Assert.Equal(ack.Fields.Where(f => f.Value is not null).OrderBy(f => f.Key), fields!.OrderBy(f => f.Key));
        }
        output.WriteLine($"{acks.Count} acknowledged inserts all present after kill -9 ({rows.Count} rows)");
    }

    [Fact]
    public async Task After_eio_on_a_sync_commits_go_on_and_after_kill_nine_the_next_open_cuts_the_failed_range_and_loses_no_acknowledged_insert()
    {
        Directory.CreateDirectory(_root);
        var data = Path.Combine(_root, "data");
        var ackLog = Path.Combine(_root, "acks.jsonl");
        var config = Path.Combine(_root, "faults.conf");
        // From the 100th sync of pg-0-3's log on, every sync fails (direct-io off: each group commit is write + fdatasync).
        File.WriteAllText(config, "actordb.segment.direct-io = off\n" +
            $"actordb.segment.test-faults = \"eio:sync:pg-0-3{Path.DirectorySeparatorChar}redo-:after=99\"\n");
        var workload = Path.Combine(BenchTestPaths.RepoWorkloads(), "ycsb-insert-only");
        using var bench = CliProcess.Start("bench", "--workload", workload, "--threads", "8", "--data-dir", data, "--ack-log", ackLog,
            "-p", "operationcount=100000000", "--config", config, "--log-level", "WARNING");
        await AckedWrites.WaitForLinesAsync(ackLog, 3000, TimeSpan.FromSeconds(90), "3000 acknowledged inserts (5 of 6 segments)");
        await bench.KillNineAsync();

        var acks = AckedWrites.ReadLog(ackLog, dropTornLastLine: true);
        var dump = await CliProcess.RunAsync(TimeSpan.FromSeconds(120), "dump", "--data-dir", data, "--table", "usertable");
        Assert.True(dump.ExitCode == 0, $"dump failed: {dump.Stderr}");
        // The bytes whose fsync failed are never trusted: cut by an open, either the segment's own retry in place (in the
        // bench, before the kill) or the dump's open after the crash when the kill came between a failure and its retry.
        var opens = string.Join('\n', bench.StdoutLines.Concat(bench.StderrLines)) + dump.Stdout + dump.Stderr;
        Assert.Contains("cut the log at", opens);
        var rows = AckedWrites.ReadDump(dump.Stdout);
        foreach (var ack in acks)
        {
            Assert.True(rows.TryGetValue(ack.Key, out var fields), $"acknowledged key {ack.Key} (commit LSN {ack.CommitLsn}) is missing after kill -9");
            Assert.Equal(ack.Fields.Where(f => f.Value is not null).OrderBy(f => f.Key), fields!.OrderBy(f => f.Key));
        }
        output.WriteLine($"{acks.Count} acknowledged inserts all present after kill -9 ({rows.Count} rows)");
    }
}
