namespace ActorDb.Core;

/// <summary>
/// The fixed shape of a volume: page size, how many protection groups, and how many pages each PG
/// holds. PG <c>n</c> owns the page range <c>[n * PagesPerPg, (n + 1) * PagesPerPg)</c>. The shape is
/// written into the volume header and never changes for the life of the volume.
/// </summary>
public sealed record VolumeGeometry
{
    /// <summary>Segments per PG (V in Aurora's quorum notation).</summary>
    public const int SegmentsPerPg = 6;
    /// <summary>Write quorum Vw: a record is durable in its PG once this many segments hold it.</summary>
    public const int WriteQuorum = 4;
    /// <summary>Read quorum Vr: any this many segments of a PG include one that saw every durable record.</summary>
    public const int ReadQuorum = 3;

    /// <summary>Creates a geometry.</summary>
    /// <exception cref="ArgumentOutOfRangeException">page size not a power of two in [4096, 65536],
    /// PG count below 1, or fewer than 16 pages per PG.</exception>
    public VolumeGeometry(int pageSize, int pgCount, long pagesPerPg)
    {
        if (pageSize < 4096 || pageSize > 65536 || (pageSize & (pageSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(pageSize), pageSize, "page size must be a power of two between 4096 and 65536 bytes");
        if (pgCount < 1)
            throw new ArgumentOutOfRangeException(nameof(pgCount), pgCount, "a volume needs at least one protection group");
        if (pagesPerPg < 16)
            throw new ArgumentOutOfRangeException(nameof(pagesPerPg), pagesPerPg, "a protection group needs at least 16 pages");
        PageSize = pageSize;
        PgCount = pgCount;
        PagesPerPg = pagesPerPg;
    }

    /// <summary>Page size in bytes (default 8192).</summary>
    public int PageSize { get; }
    /// <summary>Number of protection groups.</summary>
    public int PgCount { get; }
    /// <summary>Pages per protection group.</summary>
    public long PagesPerPg { get; }

    /// <summary>The protection group that owns <paramref name="pageNo"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">the page lies outside the volume.</exception>
    public int PgOf(long pageNo)
    {
        if (pageNo < 0 || pageNo >= PagesPerPg * PgCount)
            throw new ArgumentOutOfRangeException(nameof(pageNo), pageNo, "page number outside the volume");
        return (int)(pageNo / PagesPerPg);
    }

    /// <summary>The first page number of protection group <paramref name="pg"/>.</summary>
    public long FirstPageOf(int pg) => pg * PagesPerPg;

    /// <summary>Availability zone name of segment <paramref name="replica"/> (0..5): 2 per AZ, az-a, az-b, az-c.</summary>
    public static string AzOf(int replica) => replica switch
    {
        0 or 1 => "az-a",
        2 or 3 => "az-b",
        4 or 5 => "az-c",
        _ => throw new ArgumentOutOfRangeException(nameof(replica), replica, "a PG has replicas 0..5"),
    };
}
