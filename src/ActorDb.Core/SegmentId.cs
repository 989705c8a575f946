using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace ActorDb.Core;

/// <summary>
/// One segment of the volume: replica <see cref="Replica"/> (0..<see cref="VolumeGeometry.SegmentsPerPg"/> - 1) of
/// protection group <see cref="Pg"/> (0 or more). Its <see cref="EntityId"/>, <c>pg-{pg}-{replica}</c>, is the
/// segment's sharding entity and shard id, its metrics tag, and the name of its folder on disk
/// (<c>DATA/az-x/pg-N-R</c>), so the format never changes.
/// </summary>
public readonly record struct SegmentId
{
    /// <summary>A segment id.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pg"/> below 0, or <paramref name="replica"/> outside
    /// 0..<see cref="VolumeGeometry.SegmentsPerPg"/> - 1.</exception>
    public SegmentId(int pg, int replica)
    {
        if (pg < 0)
            throw new ArgumentOutOfRangeException(nameof(pg), pg, "a protection group number is 0 or more");
        if (replica is < 0 or >= VolumeGeometry.SegmentsPerPg)
            throw new ArgumentOutOfRangeException(nameof(replica), replica, $"a PG has replicas 0..{VolumeGeometry.SegmentsPerPg - 1}");
        Pg = pg;
        Replica = replica;
    }

    /// <summary>The protection group, 0 or more.</summary>
    public int Pg { get; }

    /// <summary>The replica within the PG, 0..<see cref="VolumeGeometry.SegmentsPerPg"/> - 1.</summary>
    public int Replica { get; }

    /// <summary>The entity id <c>pg-{pg}-{replica}</c> (e.g. <c>pg-0-2</c>).</summary>
    public string EntityId => $"pg-{Pg}-{Replica}";

    /// <summary>The availability zone of this replica (<see cref="VolumeGeometry.AzOf"/>: az-a, az-b or az-c).</summary>
    public string Az => VolumeGeometry.AzOf(Replica);

    /// <summary>Splits the id into its two numbers, for <c>var (pg, replica) = id;</c>.</summary>
    public void Deconstruct(out int pg, out int replica)
    {
        pg = Pg;
        replica = Replica;
    }

    /// <summary>The <see cref="EntityId"/>.</summary>
    public override string ToString() => EntityId;

    /// <summary>Parses an <see cref="EntityId"/>: exactly <c>pg-N-R</c> as <see cref="EntityId"/> writes it (N 0 or more,
    /// R in 0..5, decimal digits without sign, spaces or leading zeros).</summary>
    /// <exception cref="FormatException">anything else, naming the text.</exception>
    public static SegmentId Parse(string id) =>
        TryParse(id, out var segment) ? segment : throw new FormatException($"'{id}' is not a segment id (pg-N-R, R in 0..5)");

    /// <summary>Parses an <see cref="EntityId"/> as <see cref="Parse"/> does; false (and <c>default</c>) for anything else,
    /// including null.</summary>
    public static bool TryParse([NotNullWhen(true)] string? id, out SegmentId segment)
    {
        segment = default;
        if (id is null) return false;
        var parts = id.Split('-');
        if (parts.Length != 3 || parts[0] != "pg"
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var pg)
            || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var replica)
            || replica >= VolumeGeometry.SegmentsPerPg)
            return false;
        var parsed = new SegmentId(pg, replica);
        if (parsed.EntityId != id) return false;   // leading zeros: one segment, one spelling
        segment = parsed;
        return true;
    }

    /// <summary>All <see cref="VolumeGeometry.SegmentsPerPg"/> segments of <paramref name="pg"/>, replica 0 first.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pg"/> below 0.</exception>
    public static SegmentId[] OfPg(int pg)
    {
        var all = new SegmentId[VolumeGeometry.SegmentsPerPg];
        for (var r = 0; r < all.Length; r++) all[r] = new SegmentId(pg, r);
        return all;
    }
}
