using Microsoft.Win32.SafeHandles;

namespace ActorDb.Core.Storage;

/// <summary>
/// The real disk behind <see cref="IStorage"/>: <see cref="File.OpenHandle(string, FileMode, FileAccess, FileShare, FileOptions, long)"/>
/// and <see cref="RandomAccess"/> for file I/O, fdatasync / O_DIRECT | O_DSYNC / directory fsync through
/// <see cref="NativeFileSync"/>, the modes of <see cref="DataDirectory"/>. Every call is one system call (or the same ones
/// as before the seam): no copies, no allocations on the write path.
/// </summary>
public sealed class DiskStorage : IStorage
{
    /// <summary>The one instance (it holds no state).</summary>
    public static DiskStorage Instance { get; } = new();

    private DiskStorage() { }

    /// <inheritdoc />
    public IStorageFile Open(string path, FileMode mode, FileAccess access, FileShare share) =>
        new DiskFile(path, DataDirectory.OpenFile(path, mode, access, share));

    /// <inheritdoc />
    public IStorageFile? OpenDirect(string path) => NativeFileSync.OpenDirectSync(path) is { } h ? new DiskFile(path, h) : null;

    /// <inheritdoc />
    public IDisposable Lock(string path) => DataDirectory.OpenStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);

    /// <inheritdoc />
    public bool FileExists(string path) => File.Exists(path);

    /// <inheritdoc />
    public bool DirectoryExists(string path) => Directory.Exists(path);

    /// <inheritdoc />
    public long FileLength(string path) => new FileInfo(path).Length;

    /// <inheritdoc />
    public void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(path);
        else Directory.CreateDirectory(path, DataDirectory.DirectoryMode);
    }

    /// <inheritdoc />
    public void FsyncDirectory(string path) => NativeFileSync.FsyncDirectory(path);

    /// <inheritdoc />
    public void Move(string from, string to, bool overwrite) => File.Move(from, to, overwrite);

    /// <inheritdoc />
    public void Delete(string path) => File.Delete(path);

    /// <inheritdoc />
    public string[] ListFiles(string directory, string pattern) => Directory.GetFiles(directory, pattern);

    /// <inheritdoc />
    public long? AvailableFreeSpace(string directory)
    {
        try
        {
            return new DriveInfo(directory).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    private sealed class DiskFile(string path, SafeFileHandle handle) : IStorageFile
    {
        public string Path { get; } = path;
        public long Length => RandomAccess.GetLength(handle);
        public int Read(Span<byte> buffer, long offset) => RandomAccess.Read(handle, buffer, offset);
        public void Write(ReadOnlySpan<byte> data, long offset) => RandomAccess.Write(handle, data, offset);
        public void Flush() => NativeFileSync.FlushData(handle);
        public void SetLength(long length) => RandomAccess.SetLength(handle, length);
        public long SeekData(long offset) => NativeFileSync.SeekData(handle, offset);
        public void Dispose() => handle.Dispose();
    }
}
