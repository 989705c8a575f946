using ActorDb.Cli.Bench;
using ActorDb.Client;
using ActorDb.Core.Storage;
using ActorDb.Hosting;
using ActorDb.Storage;

namespace ActorDb.Tests.EndToEnd;

/// <summary>Bad input at the edges: a data directory in use, a damaged segment log tail, a malformed workload file.</summary>
public class BadInputTests
{
    private static readonly TableSchema Accounts = new("accounts", [new ColumnDef("id", ColumnType.Int64), new ColumnDef("balance", ColumnType.Int64), new ColumnDef("owner", ColumnType.String)]);

    /// <summary>Bounds a node start (host start and writer registration have no timeout of their own).</summary>
    private static CancellationToken StartLimit() => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    [Fact]
    public async Task A_data_directory_held_by_a_running_node_is_refused_to_another_process()
    {
        using var dir = new TestDirectory();
        await using var node = await EmbeddedNode.StartAsync(new ActorDbOptions { DataDir = dir.Path }, "WARNING", ct: StartLimit());
        await node.Client.CreateTableAsync(Accounts);

        var result = await CliProcess.RunAsync("dump", "--data-dir", dir.Path, "--table", "accounts");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("in use", result.Stderr);
        Assert.Contains(Path.GetFullPath(dir.Path), result.Stderr);
        Assert.StartsWith("actordb dump: ", result.Stderr);
        Assert.DoesNotContain("Unhandled exception", result.Stderr);

        // The running node was not disturbed.
        await using var tx = node.Client.Begin();
        await tx.InsertAsync("accounts", 1L, new Dictionary<string, object?> { ["balance"] = 5L });
        var info = await tx.CommitAsync();
        Assert.True(info.Vdl >= info.CommitLsn && info.CommitLsn > 0);
    }

    [Fact]
    public async Task A_second_node_in_this_process_on_a_directory_in_use_fails_and_the_first_keeps_its_lock_and_data()
    {
        using var dir = new TestDirectory();
        await using var node = await EmbeddedNode.StartAsync(new ActorDbOptions { DataDir = dir.Path }, "WARNING", ct: StartLimit());
        await node.Client.CreateTableAsync(Accounts);

        // DataDirectoryLock is re-entrant within a process, so this is not refused up front: the second node's segments
        // cannot lock their logs (redo.lock) and its writer never opens the volume.
        var e = await Assert.ThrowsAnyAsync<Exception>(() =>
            EmbeddedNode.StartAsync(new ActorDbOptions { DataDir = dir.Path }, "OFF", TimeSpan.FromSeconds(5), StartLimit()));
        Assert.True(e is IOException or ActorDbException, e.ToString());

        // The failed start released only its own hold: another process is still refused.
        var result = await CliProcess.RunAsync("dump", "--data-dir", dir.Path, "--table", "accounts");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("in use", result.Stderr);

        await using var tx = node.Client.Begin();
        await tx.InsertAsync("accounts", 1L, new Dictionary<string, object?> { ["balance"] = 5L });
        var info = await tx.CommitAsync();
        Assert.True(info.Vdl >= info.CommitLsn && info.CommitLsn > 0);
    }

    // Regression (fixed in 3498523): the holder's pid was read from the flock'ed LOCK file, which another process cannot
    // open on Linux (.NET emulates FileShare with flock), so the message always said "pid unknown".
    [Fact]
    public async Task The_in_use_message_names_the_pid_of_the_process_holding_the_directory()
    {
        using var dir = new TestDirectory();
        await using var node = await EmbeddedNode.StartAsync(new ActorDbOptions { DataDir = dir.Path }, "WARNING", ct: StartLimit());

        var result = await CliProcess.RunAsync("dump", "--data-dir", dir.Path, "--table", "accounts");

        Assert.NotEqual(0, result.ExitCode);
        Assert.True(result.Stderr.Contains($"(pid {Environment.ProcessId})"), result.Stderr);
    }

    public static TheoryData<string> Damage => new() { "garbage-appended", "last-bytes-cut" };

    [Theory]
    [MemberData(nameof(Damage))]
    public async Task A_damaged_segment_log_tail_is_cut_on_open_and_every_committed_row_is_present(string damage)
    {
        using var dir = new TestDirectory();
        var options = new ActorDbOptions { DataDir = dir.Path };
        await using (var node = await EmbeddedNode.StartAsync(options, "WARNING", ct: StartLimit()))
        {
            await node.Client.CreateTableAsync(Accounts);
            for (var i = 0; i < 100; i++)
            {
                await using var tx = node.Client.Begin();
                await tx.InsertAsync("accounts", (long)i, new Dictionary<string, object?> { ["balance"] = 10L * i, ["owner"] = $"owner-{i}" });
                var info = await tx.CommitAsync();
                Assert.True(info.Vdl >= info.CommitLsn);
            }
        }

        var segmentDir = SegmentActor.DirectoryOf(dir.Path, 0, 0);
        Assert.Equal(Path.Combine(dir.Path, "az-a", "pg-0-0"), segmentDir);
        var newest = Directory.GetFiles(segmentDir, SegmentLog.FilePrefix + "*" + SegmentLog.FileSuffix).OrderBy(f => f, StringComparer.Ordinal).Last();
        var original = new FileInfo(newest).Length;
        Assert.True(original > 100, $"{newest} holds only {original} bytes");
        if (damage == "garbage-appended")
        {
            using var f = new FileStream(newest, FileMode.Append, FileAccess.Write);
            f.Write(Enumerable.Range(0, 61).Select(i => (byte)(0xA5 ^ (i * 37))).ToArray());
        }
        else
        {
            using var f = new FileStream(newest, FileMode.Open, FileAccess.Write);
            f.SetLength(original - 5);   // a torn last frame
        }

        await using (var node = await EmbeddedNode.StartAsync(options, "WARNING", ct: StartLimit()))
        {
            await using var tx = node.Client.Begin();
            var rows = await tx.ScanAsync("accounts", 0L, 1000);
            Assert.Equal(Enumerable.Range(0, 100).Select(i => (object)(long)i), rows.Select(r => r.Key));
            foreach (var r in rows)
            {
                var i = (long)r.Key;
                Assert.Equal(10L * i, r.Fields["balance"]);
                Assert.Equal($"owner-{i}", r.Fields["owner"]);
            }
            await tx.CommitAsync();

            var statuses = await node.GetSegmentStatusesAsync(TimeSpan.FromSeconds(10));
            var damaged = Assert.Single(statuses, s => s.Pg == 0 && s.Replica == 0);
            Assert.Null(damaged.Failure);
        }

        // The damage was cut back to the last whole frame; what the segment wrote since (records it fetched back from its
        // peers) follows it whole: the log now opens with no tail to cut and no hole.
        using (var log = SegmentLog.Open(Path.GetDirectoryName(newest)!, new SegmentLogOptions { Fsync = false }))
        {
            Assert.Equal(0, log.Recovery.TailBytesCut);
            Assert.Empty(log.Recovery.CorruptRanges);
        }

        // The log goes on from the cut: new commits, then one more reopen sees old and new rows.
        await using (var node = await EmbeddedNode.StartAsync(options, "WARNING", ct: StartLimit()))
        {
            for (var i = 100; i < 110; i++)
            {
                await using var tx = node.Client.Begin();
                await tx.InsertAsync("accounts", (long)i, new Dictionary<string, object?> { ["balance"] = 10L * i, ["owner"] = $"owner-{i}" });
                await tx.CommitAsync();
            }
        }
        await using (var node = await EmbeddedNode.StartAsync(options, "WARNING", ct: StartLimit()))
        {
            await using var tx = node.Client.Begin();
            var rows = await tx.ScanAsync("accounts", 0L, 1000);
            Assert.Equal(Enumerable.Range(0, 110).Select(i => (object)(long)i), rows.Select(r => r.Key));
            Assert.Equal(1090L, (await tx.GetAsync("accounts", 109L))!.Fields["balance"]);
            await tx.CommitAsync();
        }
    }

    [Fact]
    public async Task A_malformed_workload_file_is_reported_with_file_line_and_key_before_any_node_starts()
    {
        using var dir = new TestDirectory();
        var badValue = Path.Combine(dir.Path, "bad-value.properties");
        await File.WriteAllTextAsync(badValue, "# a workload\noperationcount=10\nrecordcount=abc\n");
        var unknownKey = Path.Combine(dir.Path, "unknown-key.properties");
        await File.WriteAllTextAsync(unknownKey, "recordcount=10\n\nrecordcont=5\n");

        // In process: the path names the file in the message.
        var e = Assert.Throws<WorkloadException>(() => WorkloadProperties.Resolve(badValue));
        Assert.StartsWith($"{badValue}: line 3: ", e.Message);
        Assert.Contains("recordcount", e.Message);

        // The real CLI: exit code 1, one clear line on stderr, and no data directory created.
        var dataDir = Path.Combine(dir.Path, "never-created");
        var r1 = await CliProcess.RunAsync("bench", "--workload", badValue, "--data-dir", dataDir);
        Assert.Equal(1, r1.ExitCode);
        Assert.StartsWith($"actordb bench: {badValue}: line 3: ", r1.Stderr);
        Assert.Contains("recordcount", r1.Stderr);
        Assert.Contains("abc", r1.Stderr);

        var r2 = await CliProcess.RunAsync("bench", "--workload", unknownKey, "--data-dir", dataDir);
        Assert.Equal(1, r2.ExitCode);
        Assert.StartsWith($"actordb bench: {unknownKey}: line 3: unknown property 'recordcont'", r2.Stderr);
        Assert.False(Directory.Exists(dataDir), "the bench started a node before validating its workload");
    }

    [Theory]
    [InlineData("bench", "--workload", "sysbench-write-only", "--seeds", "notanaddress", "actordb bench: --seeds: 'notanaddress' is not an address (akka.ssl.tcp://SYSTEM@HOST:PORT)")]
    [InlineData("bench", "--workload", "sysbench-write-only", "--seeds", "akka.ssl.tcp://a@127.0.0.1:1,akka.ssl.tcp://b@127.0.0.1:2", "actordb bench: --seeds: the seeds name different actor systems (a, b)")]
    [InlineData("dump", "--table", "t", "--seeds", "akka.ssl.tcp://actordb", "actordb dump: --seeds: 'akka.ssl.tcp://actordb' has no host and port (akka.ssl.tcp://SYSTEM@HOST:PORT)")]
    public async Task A_wrong_seed_list_is_one_line_naming_it(string command, string a1, string a2, string seedsFlag, string seeds, string expected)
    {
        var result = await CliProcess.RunAsync(command, a1, a2, seedsFlag, seeds);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal(expected, result.Stderr.Trim());
    }

    [Fact]
    public async Task Seeds_and_a_data_directory_together_are_refused_and_nothing_is_created()
    {
        using var dir = new TestDirectory();
        var dataDir = Path.Combine(dir.Path, "never-created");
        var result = await CliProcess.RunAsync("bench", "--workload", "sysbench-write-only", "--seeds", "akka.ssl.tcp://actordb@127.0.0.1:4053", "--data-dir", dataDir);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("actordb bench: --data-dir cannot be used with --seeds: the cluster's storage nodes own the volume and its settings", result.Stderr.Trim());
        Assert.False(Directory.Exists(dataDir));
    }
}
