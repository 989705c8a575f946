using System.Globalization;

namespace ActorDb.Core.Storage;

/// <summary>A data directory does not hold a volume of the configured shape, or its manifest is unreadable.</summary>
public sealed class VolumeManifestException(string message) : IOException(message);

/// <summary>
/// The shape a volume was created with (<see cref="VolumeGeometry"/>), kept in <c>{dataDir}/volume.manifest</c> so a
/// node started with another <c>actordb.volume.*</c> configuration is refused with a plain message instead of opening
/// segments that do not exist. Format: <c>key=value</c> lines (page-size, pg-count, pages-per-pg); written to a
/// temporary file, fsynced, and renamed into place.
/// </summary>
public static class VolumeManifest
{
    /// <summary>The manifest's file name.</summary>
    public const string FileName = "volume.manifest";

    /// <summary>Creates the manifest for a new volume, or checks that an existing one matches <paramref name="geometry"/>.</summary>
    /// <exception cref="VolumeManifestException">the volume was created with another shape (names both), or the manifest is unreadable.</exception>
    public static void CheckOrCreate(string dataDir, VolumeGeometry geometry)
    {
        var path = Path.Combine(dataDir, FileName);
        if (!File.Exists(path))
        {
            // The data folder and the manifest survive a power loss before any segment is created under them.
            DiskStorage.Instance.EnsureDirectory(dataDir, fsync: true);
            var tmp = path + ".tmp";
            using (var f = DataDirectory.OpenStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            using (var w = new StreamWriter(f))
            {
                w.Write(Format(geometry));
                w.Flush();
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
            DiskStorage.Instance.SyncParent(path);
            return;
        }
        var stored = Parse(path);
        if (stored != geometry)
            throw new VolumeManifestException(
                $"the volume in '{Path.GetFullPath(dataDir)}' was created with page-size={stored.PageSize}, pg-count={stored.PgCount}, " +
                $"pages-per-pg={stored.PagesPerPg}, but actordb.volume says page-size={geometry.PageSize}, pg-count={geometry.PgCount}, " +
                $"pages-per-pg={geometry.PagesPerPg}: use the volume's values (they are fixed when it is created) or another data directory");
    }

    private static string Format(VolumeGeometry g) => string.Create(CultureInfo.InvariantCulture,
        $"page-size={g.PageSize}\npg-count={g.PgCount}\npages-per-pg={g.PagesPerPg}\n");

    private static VolumeGeometry Parse(string path)
    {
        var values = new Dictionary<string, long>();
        foreach (var line in File.ReadAllLines(path))
        {
            var eq = line.IndexOf('=');
            if (eq <= 0) continue;
            if (!long.TryParse(line[(eq + 1)..], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
                throw new VolumeManifestException($"{path}: '{line}' is not key=number");
            values[line[..eq].Trim()] = v;
        }
        try
        {
            return new VolumeGeometry((int)values["page-size"], (int)values["pg-count"], values["pages-per-pg"]);
        }
        catch (Exception e) when (e is KeyNotFoundException or ArgumentOutOfRangeException)
        {
            throw new VolumeManifestException($"{path}: not a valid volume manifest ({e.Message})");
        }
    }
}
