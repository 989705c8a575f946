namespace ActorDb.Core.Storage;

/// <summary>
/// The storage seam under a segment (its log, page store and <c>segment.meta</c>), as FASTER's log takes an IDevice: every
/// file operation they make goes through it, so tests (and a simulator) can put a <see cref="FaultyStorage"/> under a
/// segment. <see cref="DiskStorage.Instance"/> is the real disk. Paths are full paths. Errors are those of the platform
/// (<see cref="IOException"/> with the errno in <see cref="Exception.HResult"/> on Unix,
/// <see cref="System.ComponentModel.Win32Exception"/> from the sync calls, <see cref="UnauthorizedAccessException"/>);
/// callers wrap them with the path (<see cref="SegmentLogException"/>) and classify them with <see cref="StorageErrors"/>.
/// Implementations are thread-safe.
/// </summary>
public interface IStorage
{
    /// <summary>Opens (or creates, as <paramref name="mode"/> says) a file for positional I/O; a created file gets
    /// <see cref="DataDirectory.DataFileMode"/>. Its directory entry is durable only after <see cref="FsyncDirectory"/> of its folder.</summary>
    IStorageFile Open(string path, FileMode mode, FileAccess access, FileShare share);

    /// <summary>Opens an existing file for writes that bypass the page cache and are durable when they return
    /// (O_RDWR | O_DIRECT | O_DSYNC on Linux). Offsets, lengths and buffer addresses must be aligned to
    /// <see cref="NativeFileSync.DirectIoAlignment"/> bytes. Null where that is not available (the caller then writes through
    /// the page cache and syncs).</summary>
    IStorageFile? OpenDirect(string path);

    /// <summary>Takes an exclusive advisory lock on <paramref name="path"/> (created if missing) until disposed; another
    /// holder (this or another process) makes it throw <see cref="IOException"/>.</summary>
    IDisposable Lock(string path);

    /// <summary>True when <paramref name="path"/> is an existing file.</summary>
    bool FileExists(string path);

    /// <summary>True when <paramref name="path"/> is an existing directory.</summary>
    bool DirectoryExists(string path);

    /// <summary>Length in bytes of the file at <paramref name="path"/>.</summary>
    long FileLength(string path);

    /// <summary>Creates the one directory <paramref name="path"/> (its parent exists) with <see cref="DataDirectory.DirectoryMode"/>;
    /// an existing one is left as it is. Durable only after <see cref="FsyncDirectory"/> of its parent
    /// (<see cref="StorageDurability.EnsureDirectory"/> does both).</summary>
    void CreateDirectory(string path);

    /// <summary>Makes the entries of directory <paramref name="path"/> (created, renamed, removed files) durable.</summary>
    void FsyncDirectory(string path);

    /// <summary>Renames <paramref name="from"/> to <paramref name="to"/>, replacing it when <paramref name="overwrite"/>.</summary>
    void Move(string from, string to, bool overwrite);

    /// <summary>Deletes the file <paramref name="path"/>; a missing file is no error.</summary>
    void Delete(string path);

    /// <summary>The full paths of the files in <paramref name="directory"/> matching <paramref name="pattern"/> (* and ?).</summary>
    string[] ListFiles(string directory, string pattern);

    /// <summary>Bytes free to this process on the file system of <paramref name="directory"/>; null when unknown.</summary>
    long? AvailableFreeSpace(string directory);
}

/// <summary>An open file of an <see cref="IStorage"/>: positional reads and writes, a data sync, a length. One per open.</summary>
public interface IStorageFile : IDisposable
{
    /// <summary>The file's full path.</summary>
    string Path { get; }

    /// <summary>The file's current length in bytes.</summary>
    long Length { get; }

    /// <summary>Reads up to <c>buffer.Length</c> bytes at <paramref name="offset"/>; returns how many (0 at the end).</summary>
    int Read(Span<byte> buffer, long offset);

    /// <summary>Writes all of <paramref name="data"/> at <paramref name="offset"/> (extending the file as needed).</summary>
    void Write(ReadOnlySpan<byte> data, long offset);

    /// <summary>Makes the data and size written so far durable (fdatasync on Linux).</summary>
    void Flush();

    /// <summary>Sets the length to <paramref name="length"/> bytes (cuts or zero-extends).</summary>
    void SetLength(long length);

    /// <summary>The first offset at or after <paramref name="offset"/> that holds data in a sparse file, -1 when none, or
    /// <paramref name="offset"/> itself where holes cannot be found (see <see cref="NativeFileSync.SeekData"/>).</summary>
    long SeekData(long offset);
}

/// <summary>Durable directory entries over an <see cref="IStorage"/>: the one helper that makes every creation or rename of a
/// file or folder holding durable state survive a power loss, by an fsync of its parent folder before anything depends on it.</summary>
public static class StorageDurability
{
    /// <summary>Creates <paramref name="directory"/> and its missing parents, outermost first, each followed (with
    /// <paramref name="fsync"/>) by an fsync of its parent, so the whole path survives a power loss. Returns true when it created any.</summary>
    /// <exception cref="IOException">a directory cannot be created or its parent synced.</exception>
    public static bool EnsureDirectory(this IStorage storage, string directory, bool fsync)
    {
        var missing = new Stack<string>();
        for (var dir = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar);
             !string.IsNullOrEmpty(dir) && !storage.DirectoryExists(dir); dir = Path.GetDirectoryName(dir))
            missing.Push(dir);
        var created = missing.Count > 0;
        while (missing.Count > 0)
        {
            var dir = missing.Pop();
            storage.CreateDirectory(dir);
            if (fsync) storage.SyncParent(dir);
        }
        return created;
    }

    /// <summary>Fsyncs the folder holding <paramref name="path"/>, so its creation, rename or removal there is durable.</summary>
    /// <exception cref="IOException">the fsync failed.</exception>
    public static void SyncParent(this IStorage storage, string path)
    {
        var parent = Path.GetDirectoryName(Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar));
        if (!string.IsNullOrEmpty(parent)) storage.FsyncDirectory(parent);
    }

    /// <summary>Reads the whole file at <paramref name="path"/>.</summary>
    /// <exception cref="IOException">the read failed, or the file is larger than an array can hold.</exception>
    public static byte[] ReadAllBytes(this IStorage storage, string path)
    {
        using var file = storage.Open(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var length = file.Length;
        if (length > Array.MaxLength) throw new IOException($"{path}: {length} bytes is too large to read at once");
        var bytes = new byte[length];
        var total = 0;
        while (total < bytes.Length)
        {
            var n = file.Read(bytes.AsSpan(total), total);
            if (n == 0) break;
            total += n;
        }
        return total == bytes.Length ? bytes : bytes[..total];
    }

    /// <summary>Replaces <paramref name="path"/> atomically with <paramref name="bytes"/>: writes <paramref name="path"/>.tmp,
    /// syncs it, renames it over <paramref name="path"/>, and syncs the folder (the syncs only with <paramref name="fsync"/>).
    /// A crash at any point leaves the old or the new content.</summary>
    /// <exception cref="IOException">a step failed; the previous file is then intact.</exception>
    public static void ReplaceFile(this IStorage storage, string path, ReadOnlySpan<byte> bytes, bool fsync, string tmpPath)
    {
        using (var f = storage.Open(tmpPath, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
        {
            f.Write(bytes, 0);
            if (fsync) f.Flush();
        }
        storage.Move(tmpPath, path, overwrite: true);
        if (fsync) storage.SyncParent(path);
    }
}
