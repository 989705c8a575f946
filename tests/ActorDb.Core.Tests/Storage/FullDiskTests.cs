using System.Diagnostics;
using ActorDb.Core.Redo;
using ActorDb.Core.Storage;

namespace ActorDb.Core.Tests.Storage;

/// <summary>A real full disk: a 1 MiB tmpfs (mounting needs root, as this project's machines and CI run).</summary>
public sealed class FullDiskTests : IDisposable
{
    private readonly string _mount = Path.Combine(Path.GetTempPath(), "actordb-full-" + Guid.NewGuid().ToString("N")[..8]);

    public FullDiskTests()
    {
        Directory.CreateDirectory(_mount);
        Run("mount", $"-t tmpfs -o size=1m tmpfs {_mount}");
    }

    public void Dispose()
    {
        Run("umount", _mount, check: false);
        try { Directory.Delete(_mount, recursive: true); } catch (IOException) { }
    }

    private static void Run(string file, string args, bool check = true)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, UseShellExecute = false })!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (check && p.ExitCode != 0)
            throw new InvalidOperationException($"'{file} {args}' failed ({err.Trim()}): this test needs root to mount a tmpfs");
    }

    [Fact]
    public void A_full_disk_is_a_clear_error_naming_the_file_and_synced_records_survive()
    {
        var dir = Path.Combine(_mount, "pg-0-0");
        var records = StorageTestSupport.Chain(4000, payloadBytes: 400);
        var synced = 0;
        SegmentLogException? error = null;
        using (var log = SegmentLog.Open(dir, new SegmentLogOptions(Fsync: true, PreallocateBytes: 64 * 1024)))
        {
            try
            {
                for (var i = 0; i < records.Count; i += 50)
                {
                    log.Append(records.Skip(i).Take(50).ToList());
                    log.Sync();
                    synced = i + 50;
                }
            }
            catch (SegmentLogException e)
            {
                error = e;
            }
        }
        Assert.NotNull(error);
        Assert.Contains(Path.Combine(dir, SegmentLog.FileName(1)), error!.Message);
        Assert.Contains("NOT durable", error.Message);
        Assert.True(synced > 0 && synced < records.Count);

        // Everything that was synced before the disk filled reads back whole.
        using var reopened = SegmentLog.Open(dir, new SegmentLogOptions(Fsync: true, PreallocateBytes: 0));
        var back = reopened.ReadAll().ToList();
        Assert.True(back.Count >= synced, $"{back.Count} records read back, {synced} were synced");
        for (var i = 0; i < synced; i++) Assert.Equal(records[i].Lsn, back[i].Lsn);
    }
}
