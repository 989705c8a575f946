using ActorDb.Client;
using ActorDb.Core.Storage;
using ActorDb.Core.Tests.Storage;
using ActorDb.Hosting;

namespace ActorDb.Tests.EndToEnd;

/// <summary>
/// The data directory is the node's alone: what a node writes there is 0600 in 0700 folders, and a node (the node program,
/// <c>actordb bench</c>, <c>actordb dump</c>) on a directory of another user or one it cannot write stops with one line
/// naming the directory, exit code 1.
/// </summary>
public class DataDirectoryPermissionTests
{
    private const UnixFileMode Mode0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly TimeSpan ExitLimit = TimeSpan.FromSeconds(60);

    /// <summary>A directory owned by another user: as root, a fresh one given to uid 65534; otherwise root's "/".</summary>
    private static string ForeignDirectory(TestDirectory dir)
    {
        if (DataDirectory.EffectiveUid() != 0) return "/";
        TestCommands.Run("chown", "65534", dir.Path);
        return dir.Path;
    }

    /// <summary>actordb-node with <paramref name="dataDir"/>, its command host on a free port; <paramref name="roles"/>
    /// storage only: a node of a cluster (unreachable seed), whose segments start inside the host.</summary>
    private static async Task<CliResult> RunNodeAsync(string dataDir, string? roles = null)
    {
        var env = new Dictionary<string, string> { ["ACTORDB__CMD__PORT"] = "0", ["CLUSTER_IP"] = "127.0.0.1", ["CLUSTER_PORT"] = "0" };
        if (roles is not null)
        {
            env["ACTORDB_ROLES"] = roles;
            env["ACTORDB_AZ"] = "az-a";
            env["CLUSTER_SEEDS"] = "akka.ssl.tcp://actordb@127.0.0.1:1";
        }
        using var node = CliProcess.StartProgram("actordb-node", env, "--data-dir", dataDir);
        return await node.WaitForExitAsync(ExitLimit);
    }

    private static void AssertOneLineNaming(CliResult result, string prefix, string dataDir, string reason)
    {
        Assert.True(result.ExitCode == 1, $"exit code {result.ExitCode}; stderr:\n{result.Stderr}");
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"{lines.Length} lines on stderr:\n{result.Stderr}");
        Assert.StartsWith($"{prefix}: data directory '{dataDir}' {reason}", lines[0]);
        Assert.DoesNotContain("Exception", result.Stderr);
        Assert.DoesNotContain(" at ", result.Stderr);
        Assert.True(result.Stdout == "", $"the node started before the check; stdout:\n{result.Stdout}");   // no actor system, no remoting
    }

    [Fact]
    public async Task The_node_program_on_a_directory_of_another_user_stops_with_one_line_naming_it()
    {
        using var dir = new TestDirectory();
        var foreign = ForeignDirectory(dir);

        AssertOneLineNaming(await RunNodeAsync(foreign), "actordb-node", foreign, "is owned by uid");
        AssertOneLineNaming(await RunNodeAsync(foreign, roles: "storage"), "actordb-node", foreign, "is owned by uid");
        if (foreign == dir.Path) Assert.Empty(Directory.GetFileSystemEntries(dir.Path));   // nothing written there
    }

    [Fact]
    public async Task The_node_program_on_an_unwritable_directory_stops_with_one_line_naming_it()
    {
        using var dir = new TestDirectory();
        using (UnwritableDirectory.Make(dir.Path))
        {
            AssertOneLineNaming(await RunNodeAsync(dir.Path), "actordb-node", dir.Path, "is not writable");
            AssertOneLineNaming(await RunNodeAsync(dir.Path, roles: "storage"), "actordb-node", dir.Path, "is not writable");
        }
    }

    [Fact]
    public async Task The_node_program_on_a_path_under_a_file_stops_with_one_line_naming_it()
    {
        using var dir = new TestDirectory();
        var file = Path.Combine(dir.Path, "file");
        File.WriteAllText(file, "x");

        AssertOneLineNaming(await RunNodeAsync(Path.Combine(file, "data")), "actordb-node", Path.Combine(file, "data"), "cannot be created");
    }

    [Fact]
    public async Task Bench_and_dump_on_a_directory_of_another_user_or_an_unwritable_one_stop_with_one_line_naming_it()
    {
        using var dir = new TestDirectory();
        var foreign = ForeignDirectory(dir);
        AssertOneLineNaming(await CliProcess.RunAsync(ExitLimit, "bench", "--workload", "sysbench-write-only", "--data-dir", foreign),
            "actordb bench", foreign, "is owned by uid");
        AssertOneLineNaming(await CliProcess.RunAsync(ExitLimit, "dump", "--table", "accounts", "--data-dir", foreign),
            "actordb dump", foreign, "is owned by uid");

        using var other = new TestDirectory();
        using (UnwritableDirectory.Make(other.Path))
            AssertOneLineNaming(await CliProcess.RunAsync(ExitLimit, "bench", "--workload", "sysbench-write-only", "--data-dir", other.Path),
                "actordb bench", other.Path, "is not writable");
    }

    [Fact]
    public async Task A_node_restricts_its_data_directory_to_0700_and_writes_every_file_0600_in_0700_folders()
    {
        using var dir = new TestDirectory();
        File.SetUnixFileMode(dir.Path, Mode0700 | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var table = new TableSchema("accounts", [new ColumnDef("id", ColumnType.Int64), new ColumnDef("balance", ColumnType.Int64)]);

        await using (var node = await EmbeddedNode.StartAsync(new ActorDbOptions { DataDir = dir.Path }, "WARNING",
                         ct: new CancellationTokenSource(ExitLimit).Token))
        {
            await node.Client.CreateTableAsync(table);
            for (var i = 0; i < 20; i++)
            {
                await using var tx = node.Client.Begin();
                await tx.InsertAsync("accounts", (long)i, new Dictionary<string, object?> { ["balance"] = 10L * i });
                await tx.CommitAsync();
            }
        }

        var entries = Directory.GetFileSystemEntries(dir.Path, "*", SearchOption.AllDirectories);
        Assert.Contains(Path.Combine(dir.Path, VolumeManifest.FileName), entries);
        Assert.Contains(entries, e => e.EndsWith(SegmentLog.FileSuffix, StringComparison.Ordinal));
        Assert.Contains(entries, e => Path.GetFileName(e) == SegmentMetadata.FileName);
        foreach (var path in entries.Append(dir.Path))
        {
            var expected = Directory.Exists(path) ? Mode0700 : Mode0600;
            var actual = File.GetUnixFileMode(path);
            Assert.True(expected == actual, $"{path}: mode {DataDirectory.Octal(actual)}, expected {DataDirectory.Octal(expected)}");
        }
    }
}
