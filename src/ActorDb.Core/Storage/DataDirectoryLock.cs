namespace ActorDb.Core.Storage;

/// <summary>
/// Exclusive ownership of a data directory by one process: an OS file lock on <c>{dir}/LOCK</c> (flock on Linux),
/// held until disposed or the process dies (kill -9 releases it). The holder's pid is written to <c>{dir}/LOCK.owner</c>
/// (a plain file: the locked one cannot be read by another process) for the error message. Re-acquiring in the same
/// process is refused too: one data directory, one node. Before locking, the directory is checked and created with
/// <see cref="DataDirectory.Prepare"/> (owner, writable, mode 0700).
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    private static readonly HashSet<string> Held = new();
    private readonly FileStream _file;
    private readonly string _path;

    private DataDirectoryLock(string path, FileStream file, DataDirectoryReport report)
    {
        _path = path;
        _file = file;
        Report = report;
    }

    /// <summary>What the check of the directory found (e.g. a mode it restricted, for a warning).</summary>
    public DataDirectoryReport Report { get; }

    /// <summary>Takes the lock of <paramref name="directory"/>, creating the directory if needed.</summary>
    /// <exception cref="DataDirectoryException">the directory cannot be used (see <see cref="DataDirectory.Prepare"/>).</exception>
    /// <exception cref="IOException">another process holds it; the message names the directory and that process's pid.</exception>
    public static DataDirectoryLock Acquire(string directory)
    {
        var full = Path.GetFullPath(directory);
        lock (Held)
        {
            if (Held.Contains(full))
                throw new IOException($"data directory '{full}' is in use by another ActorDb node in this process (pid {Environment.ProcessId}); stop it or choose another --data-dir");
            var report = DataDirectory.Prepare(full);
            var path = Path.Combine(full, "LOCK");
            FileStream file;
            try
            {
                file = DataDirectory.OpenStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e)
            {
                string owner;
                try { owner = File.ReadAllText(path + ".owner").Trim(); } catch (IOException) { owner = "unknown"; }
                throw new IOException($"data directory '{full}' is in use by another ActorDb process (pid {owner}); stop it or choose another --data-dir", e);
            }
            try
            {
                DataDirectory.WriteAllText(path + ".owner", Environment.ProcessId.ToString());
            }
            catch
            {
                file.Dispose();   // not held: the next attempt may lock it again
                throw;
            }
            Held.Add(full);
            return new DataDirectoryLock(full, file, report);
        }
    }

    /// <summary>Releases the lock.</summary>
    public void Dispose()
    {
        lock (Held)
        {
            if (!Held.Remove(_path)) return;
            _file.Dispose();
        }
    }
}
