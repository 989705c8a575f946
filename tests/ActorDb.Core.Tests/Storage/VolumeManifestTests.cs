using ActorDb.Core.Storage;

namespace ActorDb.Core.Tests.Storage;

public class VolumeManifestTests
{
    [Fact]
    public void A_volume_keeps_its_shape_and_another_configuration_is_refused_naming_both()
    {
        using var dir = new TempDir();
        VolumeManifest.CheckOrCreate(dir.Path, new VolumeGeometry(8192, 1, 1024));
        VolumeManifest.CheckOrCreate(dir.Path, new VolumeGeometry(8192, 1, 1024));   // same shape: fine
        var e = Assert.Throws<VolumeManifestException>(() => VolumeManifest.CheckOrCreate(dir.Path, new VolumeGeometry(8192, 2, 1024)));
        Assert.Contains("pg-count=1", e.Message);
        Assert.Contains("pg-count=2", e.Message);
    }

    [Fact]
    public void A_damaged_manifest_is_a_clear_error_naming_the_file()
    {
        using var dir = new TempDir();
        File.WriteAllText(Path.Combine(dir.Path, VolumeManifest.FileName), "page-size=abc\n");
        var e = Assert.Throws<VolumeManifestException>(() => VolumeManifest.CheckOrCreate(dir.Path, new VolumeGeometry(8192, 1, 1024)));
        Assert.Contains(VolumeManifest.FileName, e.Message);
    }
}
