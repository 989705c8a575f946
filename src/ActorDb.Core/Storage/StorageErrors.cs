using System.ComponentModel;

namespace ActorDb.Core.Storage;

/// <summary>What kind of storage failure an exception is, for the segment's answer and its healing.</summary>
public enum StorageFailureKind
{
    /// <summary>Not a storage error (a bug, a bad argument): nothing to heal.</summary>
    Other = 0,
    /// <summary>No space left (ENOSPC, EDQUOT; ERROR_DISK_FULL, ERROR_HANDLE_DISK_FULL): nothing written can be trusted,
    /// but the file system is sound; retry once space is free.</summary>
    DiskFull = 1,
    /// <summary>Any other I/O error (EIO, ...): the bytes of the failed write or sync are never trusted again (fsyncgate).</summary>
    IoError = 2,
}

/// <summary>
/// The storage seam's error factory and classifier: the errors <see cref="FaultyStorage"/> throws are built here, exactly as
/// the platform throws them for a real disk (so the code above cannot tell them apart), and <see cref="Classify"/> tells
/// a full disk from an I/O error for both.
/// </summary>
public static class StorageErrors
{
    /// <summary>errno ENOSPC.</summary>
    public const int Enospc = 28;
    /// <summary>errno EIO.</summary>
    public const int Eio = 5;
    private const int Edquot = 122;
    private const int Eexist = 17, Ewouldblock = 11, Einval = 22;
    private const int WinDiskFull = 112, WinHandleDiskFull = 39;

    /// <summary>The exception a positional write fails with on errno <paramref name="errno"/> (.NET on Unix: an
    /// <see cref="IOException"/> whose HResult is the errno).</summary>
    public static IOException WriteFailed(int errno, string path) =>
        new($"{Text(errno)} : '{path}'", errno);

    /// <summary>The exception fdatasync / fsync fails with on errno <paramref name="errno"/> (<see cref="NativeFileSync"/>).</summary>
    public static Win32Exception SyncFailed(int errno) => new(errno, Text(errno));

    /// <summary>The exception every operation fails with after a simulated power loss, until power is back.</summary>
    public static IOException PoweredOff(string path) => new($"{Text(Eio)} (simulated power loss: the storage is off) : '{path}'", Eio);

    /// <summary>A file that does not exist, as .NET throws it for open, length and rename.</summary>
    public static FileNotFoundException FileNotFound(string path) => new($"Could not find file '{path}'.", path);

    /// <summary>A directory on the path that does not exist, as .NET throws it.</summary>
    public static DirectoryNotFoundException DirectoryNotFound(string path) => new($"Could not find a part of the path '{path}'.");

    /// <summary>A file that exists where a new one was asked for (errno EEXIST).</summary>
    public static IOException AlreadyExists(string path) => new($"The file '{path}' already exists.", Eexist);

    /// <summary>A path that is a directory where a file was asked for, or the other way round (.NET: access denied).</summary>
    public static UnauthorizedAccessException AccessDenied(string path) => new($"Access to the path '{path}' is denied.");

    /// <summary>An exclusive lock held by another handle (errno EWOULDBLOCK, as .NET reports a FileShare.None conflict).</summary>
    public static IOException Locked(string path) =>
        new($"The process cannot access the file '{path}' because it is being used by another process.", Ewouldblock);

    /// <summary>An O_DIRECT write whose offset or length is not aligned (errno EINVAL).</summary>
    public static IOException Misaligned(string path, long offset, int length) =>
        new($"{Text(Einval)} (O_DIRECT write of {length} bytes at offset {offset} is not aligned to {NativeFileSync.DirectIoAlignment} bytes) : '{path}'", Einval);

    /// <summary>Classifies <paramref name="error"/> (or the first storage error among its inner exceptions).</summary>
    public static StorageFailureKind Classify(Exception? error)
    {
        var kind = StorageFailureKind.Other;
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is AggregateException { InnerException: { } inner }) { e = inner; }
            var code = e switch
            {
                Win32Exception w => w.NativeErrorCode,
                IOException io => io.HResult & 0xFFFF,
                _ => -1,
            };
            if (e is IOException or Win32Exception or UnauthorizedAccessException)
            {
                if (code is Enospc or Edquot or WinDiskFull or WinHandleDiskFull
                    || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)
                    || e.Message.Contains("quota exceeded", StringComparison.OrdinalIgnoreCase))
                    return StorageFailureKind.DiskFull;
                kind = StorageFailureKind.IoError;
            }
        }
        return kind;
    }

    private static string Text(int errno) => errno switch
    {
        Enospc => "No space left on device",
        Eio => "Input/output error",
        Einval => "Invalid argument",
        _ => $"errno {errno}",
    };
}
