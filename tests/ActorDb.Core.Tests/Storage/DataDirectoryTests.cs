using ActorDb.Core.Recovery;
using ActorDb.Core.Storage;
using static ActorDb.Core.Tests.Storage.StorageTestSupport;

namespace ActorDb.Core.Tests.Storage;

/// <summary>Modes of what ActorDb creates under a data directory, and the check of the data directory at start.</summary>
public class DataDirectoryTests
{
    private const UnixFileMode Mode0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public void Every_folder_and_file_of_the_segment_log_page_store_metadata_manifest_and_lock_is_0700_or_0600()
    {
        using var dir = new TempDir();
        // The umask of this process lets group and others read what File.WriteAllText creates; otherwise this test
        // would pass whatever ActorDb did.
        File.WriteAllText(dir.File("control"), "x");
        Assert.True((File.GetUnixFileMode(dir.File("control")) & ~Mode0600) != 0,
            $"umask makes a plain file {DataDirectory.Octal(File.GetUnixFileMode(dir.File("control")))}: this test cannot tell ActorDb's modes apart");
        File.Delete(dir.File("control"));

        var data = Path.Combine(dir.Path, "data");   // missing: created by the lock, as at a node's start
        using (var dataLock = DataDirectoryLock.Acquire(data))
        {
            Assert.True(dataLock.Report.Created);
            VolumeManifest.CheckOrCreate(data, new VolumeGeometry(4096, 1, 100));
            var segment = Path.Combine(data, "az-a", "pg-0-0");   // two levels created by the log at once
            // Rolling by creating the next file itself (no preallocation).
            using (var log = SegmentLog.Open(segment, new SegmentLogOptions(Fsync: false, MaxFileBytes: 1024, PreallocateBytes: 0)))
            {
                var records = Chain(60);
                for (var i = 0; i < 60; i += 3)
                {
                    log.Append(records.Skip(i).Take(3).ToList());
                    log.Sync();
                }
                Assert.True(log.FileCount > 2, $"{log.FileCount} log files");
            }
            // Rolling into the file zero-filled in the background (redo-next.tmp renamed).
            var preallocated = Path.Combine(data, "az-a", "pg-0-1");
            using (var log = SegmentLog.Open(preallocated, new SegmentLogOptions(Fsync: false, MaxFileBytes: 8192, PreallocateBytes: 4096)))
            {
                var records = Chain(200, payloadBytes: 100);
                for (var i = 0; i < 200; i += 5)
                {
                    Assert.True(SpinWait.SpinUntil(() => log.NextFileReady, TimeSpan.FromSeconds(10)), "the next file was never prepared");
                    log.Append(records.Skip(i).Take(5).ToList());
                    log.Sync();
                }
                Assert.True(log.PreparedFilesUsed > 0, "no roll used a prepared file");
            }
            using (var store = PageStore.Open(segment, 512, 0, 100, fsync: false))
                store.Write([new(0, new byte[512]), new(7, new byte[512])]);   // writes the doublewrite file too
            SegmentMetadata.Default.WithFence(3).Save(segment, fsync: false);
            SegmentMetadata.Default.WithFence(4).Save(segment, fsync: false);   // over an existing file

            var created = Directory.GetFileSystemEntries(data, "*", SearchOption.AllDirectories).Append(data).ToList();
            foreach (var name in new[] { "LOCK", "LOCK.owner", VolumeManifest.FileName, Path.Combine("az-a", "pg-0-0", SegmentMetadata.FileName),
                         Path.Combine("az-a", "pg-0-0", PageStore.FileName), Path.Combine("az-a", "pg-0-0", PageStore.DoubleWriteFileName),
                         Path.Combine("az-a", "pg-0-0", SegmentLog.LockFileName), Path.Combine("az-a", "pg-0-1", SegmentLog.FileName(2)) })
                Assert.Contains(Path.Combine(data, name), created);
            foreach (var path in created)
            {
                var expected = Directory.Exists(path) ? Mode0700 : Mode0600;
                var actual = File.GetUnixFileMode(path);
                Assert.True(expected == actual, $"{path}: mode {DataDirectory.Octal(actual)}, expected {DataDirectory.Octal(expected)}");
            }
        }
    }

    [Fact]
    public void A_data_directory_other_users_may_enter_is_restricted_to_0700_and_reported()
    {
        using var dir = new TempDir();
        File.SetUnixFileMode(dir.Path, Mode0700 | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        var report = DataDirectory.Prepare(dir.Path);

        Assert.Equal(Mode0700, File.GetUnixFileMode(dir.Path));
        Assert.False(report.Created);
        Assert.Equal("0755", DataDirectory.Octal(report.RestrictedFrom!.Value));
        Assert.Contains($"'{dir.Path}' had mode 0755", report.Warning);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));   // the write check left nothing behind
        Assert.Null(DataDirectory.Prepare(dir.Path).Warning);   // nothing more to do the second time
    }

    [Fact]
    public void A_data_directory_of_another_user_is_refused_naming_it_and_both_uids()
    {
        using var dir = new TempDir();
        string foreign;
        uint owner;
        if (DataDirectory.EffectiveUid() == 0)
        {
            TestCommands.Run("chown", "65534", dir.Path);
            (foreign, owner) = (dir.Path, 65534);
        }
        else
        {
            (foreign, owner) = ("/", 0);   // root's: refused before anything is written there
        }

        var e = Assert.Throws<DataDirectoryException>(() => DataDirectory.Prepare(foreign));

        Assert.Equal(foreign, e.Path);
        Assert.Contains($"data directory '{foreign}' is owned by uid {owner}, not by this process's uid {DataDirectory.EffectiveUid()}", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        if (foreign == dir.Path) Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void An_unwritable_data_directory_is_refused_naming_it()
    {
        using var dir = new TempDir();
        using var unwritable = UnwritableDirectory.Make(dir.Path);

        var e = Assert.Throws<DataDirectoryException>(() => DataDirectory.Prepare(dir.Path));

        Assert.StartsWith($"data directory '{dir.Path}' is not writable", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_data_directory_that_cannot_be_created_or_is_a_file_is_refused_naming_it()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("file"), "x");

        var under = Assert.Throws<DataDirectoryException>(() => DataDirectory.Prepare(Path.Combine(dir.File("file"), "data")));
        var file = Assert.Throws<DataDirectoryException>(() => DataDirectory.Prepare(dir.File("file")));

        Assert.StartsWith($"data directory '{Path.Combine(dir.File("file"), "data")}' cannot be created", under.Message);
        Assert.Equal($"data directory '{dir.File("file")}' is not a directory", file.Message);
    }
}
