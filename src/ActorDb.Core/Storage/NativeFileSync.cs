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
}
