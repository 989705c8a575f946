using Microsoft.Win32.SafeHandles;

namespace ActorDb;

/// <summary>
/// How ActorDb creates the directories and files only its own user may read (the data directory's volume, the command
/// host's token files, TLS keys): on Unix every directory <c>0700</c> (<see cref="DirectoryMode"/>), parents included,
/// and every file <c>0600</c> (<see cref="FileMode"/>). A file is created with the process's umask and restricted with
/// <c>fchmod</c> before anything is written to it; it is never reachable by another user meanwhile, since its directory is
/// already <c>0700</c>. On Windows the modes do not apply (the directory's ACL is inherited).
/// </summary>
public static class PrivateFiles
{
    /// <summary>Mode of every directory ActorDb creates: <c>0700</c>.</summary>
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Mode of every file ActorDb creates: <c>0600</c>.</summary>
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates <paramref name="path"/> and its missing parents with <see cref="DirectoryMode"/>; an existing
    /// directory is left as it is. Returns the directory.</summary>
    /// <exception cref="IOException">it cannot be created (e.g. a parent is a file).</exception>
    /// <exception cref="UnauthorizedAccessException">permission denied.</exception>
    public static DirectoryInfo CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows()) return Directory.CreateDirectory(path);
        // Directory.CreateDirectory(path, mode) gives the mode to the last directory only: its missing parents would get
        // the umask's. So each missing one is created here, outermost first.
        var missing = new Stack<string>();
        for (var dir = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar); !string.IsNullOrEmpty(dir) && !Directory.Exists(dir); dir = Path.GetDirectoryName(dir))
            missing.Push(dir);
        while (missing.Count > 0) Directory.CreateDirectory(missing.Pop(), DirectoryMode);
        return new DirectoryInfo(path);
    }

    /// <summary>Opens (and, as <paramref name="mode"/> says, creates) a file as <see cref="File.OpenHandle"/> does, then
    /// restricts it to <see cref="FileMode"/> if it allows more.</summary>
    /// <exception cref="IOException">it cannot be opened or created.</exception>
    /// <exception cref="UnauthorizedAccessException">permission denied.</exception>
    public static SafeFileHandle OpenFile(string path, System.IO.FileMode mode, FileAccess access, FileShare share, FileOptions options = FileOptions.None)
    {
        var handle = File.OpenHandle(path, mode, access, share, options);
        try
        {
            if (!OperatingSystem.IsWindows() && File.GetUnixFileMode(handle) != FileMode) File.SetUnixFileMode(handle, FileMode);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>As <see cref="OpenFile"/>, as a stream (<paramref name="bufferSize"/> bytes of buffer; 0 or 1: none).</summary>
    /// <exception cref="IOException">it cannot be opened or created.</exception>
    /// <exception cref="UnauthorizedAccessException">permission denied.</exception>
    public static FileStream OpenStream(string path, System.IO.FileMode mode, FileAccess access, FileShare share, int bufferSize = 4096) =>
        new(OpenFile(path, mode, access, share), access, bufferSize);

    /// <summary>Replaces the content of <paramref name="path"/> with <paramref name="text"/> (UTF-8), the file having
    /// <see cref="FileMode"/>.</summary>
    /// <exception cref="IOException">it cannot be written.</exception>
    /// <exception cref="UnauthorizedAccessException">permission denied.</exception>
    public static void WriteAllText(string path, string text)
    {
        using var stream = OpenStream(path, System.IO.FileMode.Create, FileAccess.Write, FileShare.Read);
        stream.Write(System.Text.Encoding.UTF8.GetBytes(text));
    }

    /// <summary>A mode as octal digits, e.g. <c>0755</c>.</summary>
    public static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0xFFF, 8).PadLeft(3, '0');
}
