using ActorDb.Core.Storage;
using CsCheck;

namespace ActorDb.Core.Tests.Storage;

public class SegmentMetadataTests
{
    [Fact]
    public void Absent_file_loads_defaults()
    {
        using var dir = new TempDir();
        SegmentMetadata m = SegmentMetadata.Load(dir.Path);
        Assert.Equal(SegmentMetadata.Default, m);
        Assert.Equal(0, m.Epoch);
        Assert.Equal(Lsn.Zero, m.Vdl);
        Assert.Empty(m.Annulled);
        Assert.Equal(SegmentMetadata.Default, SegmentMetadata.Load(Path.Combine(dir.Path, "missing")));
    }

    [Fact]
    public void Save_and_load_round_trip()
    {
        using var dir = new TempDir();
        SegmentMetadata m = SegmentMetadata.Default
            .WithEpoch(3, new Lsn(1000))
            .WithAnnulled(new AnnulledRange(new Lsn(1000), new Lsn(1000 + 500), 3));
        m.Save(dir.Path, fsync: true);
        Assert.Equal(m, SegmentMetadata.Load(dir.Path));
        Assert.False(File.Exists(dir.File(SegmentMetadata.TempFileName)));

        SegmentMetadata m2 = m.WithEpoch(4, new Lsn(1700)).WithAnnulled(new AnnulledRange(new Lsn(1700), new Lsn(2200), 4));
        m2.Save(dir.Path, fsync: false);
        SegmentMetadata back = SegmentMetadata.Load(dir.Path);
        Assert.Equal(m2, back);
        Assert.Equal(2, back.Annulled.Count);
        Assert.True(back.IsAnnulled(new Lsn(1001)));
        Assert.True(back.IsAnnulled(new Lsn(2200)));
        Assert.False(back.IsAnnulled(new Lsn(900)));
        Assert.False(back.IsAnnulled(new Lsn(1600)));
        Assert.False(back.IsAnnulled(new Lsn(2201)));
    }

    [Fact]
    public void Serialization_round_trips_random_states()
    {
        Gen.Long[0, long.MaxValue].Select(Gen.Long[0, long.MaxValue], Gen.Long[0, 1L << 40].Select(Gen.Long[1, 1000], Gen.Long[0, 100]).Array[0, 6])
            .Sample((epoch, vdl, ranges) =>
            {
                var m = new SegmentMetadata(epoch, new Lsn(vdl),
                    ranges.Select(r => new AnnulledRange(new Lsn(r.Item1), new Lsn(r.Item1 + r.Item2), r.Item3)).ToArray());
                Assert.Equal(m, SegmentMetadata.Deserialize(m.Serialize(), "test"));
            }, iter: 200, threads: 1);
    }

    [Fact]
    public void Corrupt_file_throws_naming_the_file()
    {
        using var dir = new TempDir();
        SegmentMetadata.Default.WithEpoch(2, new Lsn(50)).WithAnnulled(new AnnulledRange(new Lsn(50), new Lsn(90), 2)).Save(dir.Path, fsync: false);
        string path = dir.File(SegmentMetadata.FileName);
        byte[] good = File.ReadAllBytes(path);
        for (int i = 0; i < good.Length; i++)
        {
            byte[] bad = (byte[])good.Clone();
            bad[i] ^= 0x10;
            File.WriteAllBytes(path, bad);
            var ex = Assert.Throws<InvalidDataException>(() => SegmentMetadata.Load(dir.Path));
            Assert.Contains(path, ex.Message);
        }
        File.WriteAllBytes(path, good[..^1]);
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => SegmentMetadata.Load(dir.Path)).Message);
        File.WriteAllBytes(path, []);
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => SegmentMetadata.Load(dir.Path)).Message);
    }

    [Fact]
    public void Leftover_temp_file_is_ignored()
    {
        using var dir = new TempDir();
        SegmentMetadata m = SegmentMetadata.Default.WithEpoch(1, new Lsn(5));
        m.Save(dir.Path, fsync: false);
        File.WriteAllBytes(dir.File(SegmentMetadata.TempFileName), [1, 2, 3]);
        Assert.Equal(m, SegmentMetadata.Load(dir.Path));
        m.WithEpoch(2, new Lsn(9)).Save(dir.Path, fsync: true);
        Assert.Equal(2, SegmentMetadata.Load(dir.Path).Epoch);
    }

    [Fact]
    public void Updates_are_validated_and_idempotent()
    {
        SegmentMetadata m = SegmentMetadata.Default.WithEpoch(5, new Lsn(10));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.WithEpoch(4, new Lsn(10)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AnnulledRange(new Lsn(10), new Lsn(10), 1));
        var r = new AnnulledRange(new Lsn(10), new Lsn(20), 5);
        SegmentMetadata once = m.WithAnnulled(r);
        Assert.Same(once, once.WithAnnulled(r));
        Assert.Single(once.Annulled);
        Assert.Empty(m.Annulled);
        Assert.Equal(m with { }, m);
    }
}
