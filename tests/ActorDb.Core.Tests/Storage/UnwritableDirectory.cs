using System.Diagnostics;
using ActorDb.Core.Storage;

namespace ActorDb.Core.Tests.Storage;

// Shared with ActorDb.Tests (linked there): the process tests make unwritable and foreign-owned data directories too.

/// <summary>Runs the system's commands (chown, chattr, mount) for test set-up.</summary>
internal static class TestCommands
{
    /// <summary>Runs <paramref name="program"/>; fails the test with its stderr unless it exits 0.</summary>
    public static void Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)}: exit {p.ExitCode} {stderr}");
    }
}

/// <summary>
/// Makes a directory one that this process cannot create a file in, undone on dispose. Root writes through mode bits,
/// so as root the directory is marked immutable (<c>chattr +i</c>), or, where the file system has no such attribute, a
/// read-only tmpfs is mounted on it; any other user gets mode 0500.
/// </summary>
internal sealed class UnwritableDirectory : IDisposable
{
    private readonly string _path;
    private readonly string _undo;

    private UnwritableDirectory(string path, string undo) => (_path, _undo) = (path, undo);

    public static UnwritableDirectory Make(string path)
    {
        if (DataDirectory.EffectiveUid() != 0)
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            return new UnwritableDirectory(path, "chmod");
        }
        try
        {
            TestCommands.Run("chattr", "+i", path);
            return new UnwritableDirectory(path, "chattr");
        }
        catch (Exception e) when (e is Xunit.Sdk.XunitException or System.ComponentModel.Win32Exception)
        {
            TestCommands.Run("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", path);
            return new UnwritableDirectory(path, "mount");
        }
    }

    public void Dispose()
    {
        switch (_undo)
        {
            case "chmod": File.SetUnixFileMode(_path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); break;
            case "chattr": TestCommands.Run("chattr", "-i", _path); break;
            case "mount": TestCommands.Run("umount", _path); break;
        }
    }
}
