using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ActorDb.Core.Storage;

/// <summary>
/// A data directory that cannot be used: it cannot be created, is not a directory, belongs to another user, or cannot be
/// written. The message is one line naming the directory and the reason. Built only by the factory methods here.
/// </summary>
public sealed class DataDirectoryException : IOException
{
    private DataDirectoryException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>The full path of the directory.</summary>
    public string Path { get; private init; } = "";

    internal static DataDirectoryException CannotCreate(string path, Exception e) =>
        new($"data directory '{path}' cannot be created: {e.Message}", e) { Path = path };

    internal static DataDirectoryException NotADirectory(string path) =>
        new($"data directory '{path}' is not a directory") { Path = path };

    internal static DataDirectoryException NotOwned(string path, uint owner, uint euid) =>
        new($"data directory '{path}' is owned by uid {owner}, not by this process's uid {euid}: run the node as its owner or choose another --data-dir") { Path = path };

    internal static DataDirectoryException NotWritable(string path, Exception e) =>
        new($"data directory '{path}' is not writable (creating a file in it failed: {e.Message})", e) { Path = path };

    internal static DataDirectoryException CannotRestrict(string path, UnixFileMode mode, Exception e) =>
        new($"data directory '{path}' has mode {DataDirectory.Octal(mode)} and cannot be restricted to {DataDirectory.Octal(DataDirectory.DirectoryMode)}: {e.Message}", e) { Path = path };
}

/// <summary>What <see cref="DataDirectory.Prepare"/> found and did.</summary>
/// <param name="FullPath">The directory's full path.</param>
/// <param name="Created">True when the directory did not exist and was created (mode <see cref="DataDirectory.DirectoryMode"/>).</param>
/// <param name="RestrictedFrom">The directory's mode before it was restricted to <see cref="DataDirectory.DirectoryMode"/>
/// (it allowed other users in), or null when it was not changed.</param>
public sealed record DataDirectoryReport(string FullPath, bool Created, UnixFileMode? RestrictedFrom)
{
    /// <summary>A warning line for the operator when the mode was changed, else null.</summary>
    public string? Warning => RestrictedFrom is { } from
        ? $"data directory '{FullPath}' had mode {DataDirectory.Octal(from)} (other users could reach its files); restricted to {DataDirectory.Octal(DataDirectory.DirectoryMode)}"
        : null;
}

/// <summary>
/// The one place where ActorDb creates directories and files under its data directory, and the check of the data
/// directory at start. Every directory and file is private (<see cref="PrivateFiles"/>: <c>0700</c> and <c>0600</c> on
/// Unix): only the node's own user can read the volume.
/// </summary>
public static partial class DataDirectory
{
    /// <summary>Mode of every directory ActorDb creates: <c>0700</c> (<see cref="PrivateFiles.DirectoryMode"/>).</summary>
    public const UnixFileMode DirectoryMode = PrivateFiles.DirectoryMode;

    /// <summary>Mode of every file ActorDb creates: <c>0600</c> (<see cref="PrivateFiles.FileMode"/>).</summary>
    public const UnixFileMode DataFileMode = PrivateFiles.FileMode;

    private const string ProbePrefix = ".actordb-write-check-";

    /// <summary>
    /// Checks <paramref name="directory"/> before a node uses it: creates it (<see cref="DirectoryMode"/>, parents
    /// included) when missing; refuses a path that is not a directory, a directory owned by another uid than this
    /// process's effective uid (Linux), and one in which a file cannot be created (checked by creating and deleting one,
    /// so a read-only mount or an immutable directory is refused for root too); restricts a directory that other users
    /// may enter to <see cref="DirectoryMode"/> (the report says so, for a warning). Files already in it are not changed.
    /// </summary>
    /// <exception cref="DataDirectoryException">the directory cannot be used; the message is one line naming it and why.</exception>
    public static DataDirectoryReport Prepare(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var full = Path.GetFullPath(directory);
        if (File.Exists(full)) throw DataDirectoryException.NotADirectory(full);
        var created = false;
        if (!Directory.Exists(full))
        {
            try
            {
                DiskStorage.Instance.EnsureDirectory(full, fsync: true);   // each new folder durable in its parent
                created = true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw DataDirectoryException.CannotCreate(full, e);
            }
        }
        if (OwnerUid(full) is { } owner && owner != EffectiveUid()) throw DataDirectoryException.NotOwned(full, owner, EffectiveUid());

        try
        {
            using var probe = File.OpenHandle(Path.Combine(full, ProbePrefix + Environment.ProcessId), System.IO.FileMode.CreateNew,
                FileAccess.Write, FileShare.None, FileOptions.DeleteOnClose);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw DataDirectoryException.NotWritable(full, e);
        }

        UnixFileMode? restrictedFrom = null;
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(full);
            if ((mode & ~DirectoryMode) != 0)
            {
                try { File.SetUnixFileMode(full, mode & DirectoryMode); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw DataDirectoryException.CannotRestrict(full, mode, e); }
                restrictedFrom = mode;
            }
        }
        return new DataDirectoryReport(full, created, restrictedFrom);
    }

    /// <summary>Creates a directory under the data directory: <see cref="PrivateFiles.CreateDirectory"/>.</summary>
    /// <exception cref="IOException">it cannot be created (e.g. a parent is a file).</exception>
    /// <exception cref="UnauthorizedAccessException">permission denied.</exception>
    public static DirectoryInfo CreateDirectory(string path) => PrivateFiles.CreateDirectory(path);

    /// <summary>Opens or creates a file under the data directory: <see cref="PrivateFiles.OpenFile"/>.</summary>
    /// <exception cref="IOException">it cannot be opened or created.</exception>
    /// <exception cref="UnauthorizedAccessException">permission denied.</exception>
    public static SafeFileHandle OpenFile(string path, System.IO.FileMode mode, FileAccess access, FileShare share, FileOptions options = FileOptions.None) =>
        PrivateFiles.OpenFile(path, mode, access, share, options);

    /// <summary>As <see cref="OpenFile"/>, as a stream: <see cref="PrivateFiles.OpenStream"/>.</summary>
    /// <exception cref="IOException">it cannot be opened or created.</exception>
    /// <exception cref="UnauthorizedAccessException">permission denied.</exception>
    public static FileStream OpenStream(string path, System.IO.FileMode mode, FileAccess access, FileShare share, int bufferSize = 4096) =>
        PrivateFiles.OpenStream(path, mode, access, share, bufferSize);

    /// <summary>Replaces a file's content: <see cref="PrivateFiles.WriteAllText"/>.</summary>
    /// <exception cref="IOException">it cannot be written.</exception>
    /// <exception cref="UnauthorizedAccessException">permission denied.</exception>
    public static void WriteAllText(string path, string text) => PrivateFiles.WriteAllText(path, text);

    /// <summary>A mode as octal digits, e.g. <c>0755</c>: <see cref="PrivateFiles.Octal"/>.</summary>
    public static string Octal(UnixFileMode mode) => PrivateFiles.Octal(mode);

    /// <summary>The uid owning <paramref name="path"/> (<c>statx(2)</c>), or null where it cannot be known (not Linux, or a
    /// C library without statx): the owner check is then skipped.</summary>
    /// <exception cref="IOException">statx failed (the message is the errno text).</exception>
    internal static uint? OwnerUid(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        Span<byte> buffer = stackalloc byte[StatxSize];
        int rc;
        try { rc = Statx(AtFdCwd, path, 0, StatxUid, ref MemoryMarshal.GetReference(buffer)); }
        catch (EntryPointNotFoundException) { return null; }
        if (rc != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == ENOSYS) return null;
            throw new IOException($"{path}: statx failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        if ((BitConverter.ToUInt32(buffer[..4]) & StatxUid) == 0) return null;   // stx_mask: the uid was not filled in
        return BitConverter.ToUInt32(buffer.Slice(StatxUidOffset, 4));
    }

    /// <summary>This process's effective uid (<c>geteuid(2)</c>); 0 where there is none (Windows).</summary>
    public static uint EffectiveUid() => OperatingSystem.IsWindows() ? 0 : GetEuid();

    // struct statx is the same on every Linux architecture: stx_mask (u32) at 0, stx_uid (u32) at 20; 256 bytes in all.
    private const int StatxSize = 256;
    private const int StatxUidOffset = 20;
    private const uint StatxUid = 0x8;
    private const int AtFdCwd = -100;
    private const int ENOSYS = 38;

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, ref byte buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();
}
