using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ActorDb.Core.Storage;

/// <summary>
/// Durability system calls: <c>fdatasync(2)</c> of a file and <c>fsync(2)</c> of a directory on
/// Linux, with portable fallbacks elsewhere. Failures surface as <see cref="Win32Exception"/> (whose
/// message is the errno text) or <see cref="IOException"/>; callers wrap them with the path.
/// </summary>
internal static partial class NativeFileSync
{
    private const int EINTR = 4;
    private const int O_RDONLY = 0;
    private const int O_CLOEXEC = 0x80000;

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FdataSync(int fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(int fd, long offset, int whence);

    private const int SeekDataWhence = 3;   // SEEK_DATA (Linux)
    private const int ENXIO = 6;

    /// <summary>
    /// The first byte offset at or after <paramref name="offset"/> that holds data in a sparse file (lseek SEEK_DATA on
    /// Linux), or -1 when there is no data from there to the end of the file. Where holes cannot be found (another system,
    /// or a file system without SEEK_DATA) it returns <paramref name="offset"/> itself: the caller reads and looks.
    /// </summary>
    /// <exception cref="Win32Exception">lseek failed for another reason than "no data" or "not supported".</exception>
    public static long SeekData(SafeFileHandle handle, long offset)
    {
        if (!OperatingSystem.IsLinux()) return offset;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            long at = LSeek((int)handle.DangerousGetHandle(), offset, SeekDataWhence);
            if (at >= 0) return at;
            int errno = Marshal.GetLastPInvokeError();
            if (errno == ENXIO) return -1;
            if (errno == 22 /* EINVAL: whence not supported */ || errno == 95 /* EOPNOTSUPP */) return offset;
            throw new Win32Exception(errno);
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    // O_DIRECTORY differs between Linux architectures (asm-generic 0200000; arm/arm64 040000).
    private static int ODirectory => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 or Architecture.RiscV64 or Architecture.LoongArch64 => 0x10000,
        Architecture.Arm64 or Architecture.Arm or Architecture.Ppc64le => 0x4000,
        _ => 0,
    };

    /// <summary>
    /// Makes the data (and the size) of the file behind <paramref name="handle"/> durable: fdatasync on
    /// Linux, <see cref="RandomAccess.FlushToDisk"/> (fsync / FlushFileBuffers) elsewhere.
    /// </summary>
    /// <exception cref="Win32Exception">fdatasync failed (errno in <see cref="Win32Exception.NativeErrorCode"/>).</exception>
    /// <exception cref="IOException">the portable flush failed.</exception>
    public static void FlushData(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux())
        {
            RandomAccess.FlushToDisk(handle);
            return;
        }
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            while (FdataSync(fd) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != EINTR) throw new Win32Exception(errno);
            }
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>
    /// Makes directory entries (created, renamed, removed files) in <paramref name="directory"/>
    /// durable: open(O_RDONLY|O_DIRECTORY) + fsync on Linux; a no-op on other systems (Windows has no
    /// directory fsync; NTFS journals metadata).
    /// </summary>
    /// <exception cref="Win32Exception">open or fsync failed.</exception>
    public static void FsyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux()) return;
        int fd;
        while ((fd = Open(directory, O_RDONLY | ODirectory | O_CLOEXEC)) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR) throw new Win32Exception(errno);
        }
        try
        {
            while (Fsync(fd) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != EINTR) throw new Win32Exception(errno);
            }
        }
        finally
        {
            Close(fd);
        }
    }

    private const int O_RDWR = 2;
    private const int O_DSYNC = 0x1000;   // asm-generic and x86 alike
    private const int EINVAL = 22;

    // O_DIRECT differs between Linux architectures (x86 and asm-generic 040000; arm and arm64 0200000).
    private static int ODirect => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 => 0x4000,
        Architecture.Arm64 or Architecture.Arm => 0x10000,
        Architecture.RiscV64 or Architecture.LoongArch64 => 0x4000,
        _ => 0,
    };

    /// <summary>Bytes to which offsets, lengths and buffer addresses of writes through <see cref="OpenDirectSync"/>
    /// are aligned: 4096, a multiple of every logical block size Linux block devices report (512 or 4096).</summary>
    public const int DirectIoAlignment = 4096;

    /// <summary>
    /// Opens an existing file for writes that bypass the page cache and are durable when they return
    /// (open(2) with <c>O_RDWR | O_DIRECT | O_DSYNC</c>, Linux only): one system call instead of write plus fdatasync,
    /// and no page-cache copy or writeback. Every write through the handle must have its offset, length and buffer
    /// address aligned to <see cref="DirectIoAlignment"/> bytes.
    /// </summary>
    /// <returns>The handle, or null where direct I/O is not available (another system or architecture, or a file system
    /// that refuses O_DIRECT with EINVAL, such as tmpfs before Linux 6.6): the caller then writes through the page cache and fdatasyncs.</returns>
    /// <exception cref="Win32Exception">open failed for another reason (errno in <see cref="Win32Exception.NativeErrorCode"/>).</exception>
    public static SafeFileHandle? OpenDirectSync(string path)
    {
        if (!OperatingSystem.IsLinux() || ODirect == 0) return null;
        int fd;
        while ((fd = Open(path, O_RDWR | ODirect | O_DSYNC | O_CLOEXEC)) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == EINVAL) return null;
            if (errno != EINTR) throw new Win32Exception(errno);
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }
}
