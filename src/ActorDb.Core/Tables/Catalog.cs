using System.Buffers.Binary;
using System.Text;
using ActorDb.Client;
using ActorDb.Core.Pages;

namespace ActorDb.Core.Tables;

/// <summary>A table as the catalog knows it: id, fixed B+tree root page, schema.</summary>
public sealed record TableInfo(int TableId, long RootPage, TableSchema Schema);

/// <summary>
/// The volume header and table catalog, kept on page 0 (in PG 0) and changed only through tracked page writes, so
/// every change is shipped as redo like any other page change. Also the page allocator: it hands out new pages
/// round-robin to the PG with the fewest allocated pages.
/// </summary>
/// <remarks>
/// Layout after the 8-byte page LSN: magic "ADBVOL01" @8, page size i32 @16, PG count i32 @20, pages per PG i64 @24,
/// next table id i32 @32, table count i32 @36, next free page offset per PG i64 @40 + 8·pg (room for
/// <see cref="MaxPgs"/> PGs), then table entries from @<see cref="TablesOffset"/>: table id i32, root page i64,
/// name (u16 length + UTF-8), column count u16, per column type u8 and name (u16 length + UTF-8).
/// </remarks>
public sealed class Catalog
{
    /// <summary>The page number of the volume header.</summary>
    public const long HeaderPage = 0;
    /// <summary>Most PGs a volume can have (room for their allocation counters in the header).</summary>
    public const int MaxPgs = 64;
    private const int TablesOffset = 40 + 8 * MaxPgs;
    private static readonly byte[] Magic = "ADBVOL01"u8.ToArray();

    private readonly Page _page;
    private readonly VolumeGeometry _geometry;
    private readonly Dictionary<string, TableInfo> _byName = new(StringComparer.Ordinal);
    private int _tablesEnd;

    private Catalog(Page page, VolumeGeometry geometry)
    {
        _page = page;
        _geometry = geometry;
    }

    /// <summary>The tables, by name.</summary>
    public IReadOnlyDictionary<string, TableInfo> Tables => _byName;

    /// <summary>The page holding the catalog.</summary>
    public Page Page => _page;

    /// <summary>Writes an empty catalog for <paramref name="geometry"/> on <paramref name="page"/> (page 0, zeroed).
    /// The caller must have marked the page dirty in its current mini-transaction.</summary>
    public static Catalog Format(Page page, VolumeGeometry geometry)
    {
        if (geometry.PgCount > MaxPgs) throw TableErrors.TooManyPgs(MaxPgs, nameof(geometry));
        page.WriteBytes(8, Magic);
        page.WriteInt32(16, geometry.PageSize);
        page.WriteInt32(20, geometry.PgCount);
        page.WriteInt64(24, geometry.PagesPerPg);
        page.WriteInt32(32, 1);
        page.WriteInt32(36, 0);
        for (var pg = 0; pg < geometry.PgCount; pg++) page.WriteInt64(40 + 8 * pg, pg == 0 ? 1 : 0); // page 0 is taken
        var c = new Catalog(page, geometry) { _tablesEnd = TablesOffset };
        return c;
    }

    /// <summary>Reads the catalog from page 0 and checks it matches <paramref name="geometry"/>.</summary>
    /// <exception cref="InvalidDataException">not a volume header, or the configured geometry differs from the volume's.</exception>
    public static Catalog Load(Page page, VolumeGeometry geometry)
    {
        var span = page.Image.AsSpan();
        if (!span.Slice(8, 8).SequenceEqual(Magic))
            throw TableErrors.NotAVolumeHeader();
        var pageSize = BinaryPrimitives.ReadInt32LittleEndian(span[16..]);
        var pgCount = BinaryPrimitives.ReadInt32LittleEndian(span[20..]);
        var pagesPerPg = BinaryPrimitives.ReadInt64LittleEndian(span[24..]);
        if (pageSize != geometry.PageSize || pgCount != geometry.PgCount || pagesPerPg != geometry.PagesPerPg)
            throw TableErrors.GeometryMismatch(pageSize, pgCount, pagesPerPg, geometry);
        var c = new Catalog(page, geometry);
        var count = BinaryPrimitives.ReadInt32LittleEndian(span[36..]);
        var pos = TablesOffset;
        for (var i = 0; i < count; i++)
        {
            var id = BinaryPrimitives.ReadInt32LittleEndian(span[pos..]); pos += 4;
            var root = BinaryPrimitives.ReadInt64LittleEndian(span[pos..]); pos += 8;
            var name = ReadString(span, ref pos);
            var cols = BinaryPrimitives.ReadUInt16LittleEndian(span[pos..]); pos += 2;
            var defs = new List<ColumnDef>(cols);
            for (var k = 0; k < cols; k++)
            {
                var type = (ColumnType)span[pos++];
                defs.Add(new ColumnDef(ReadString(span, ref pos), type));
            }
            var schema = new TableSchema(name, defs);
            c._byName[name] = new TableInfo(id, root, schema);
        }
        c._tablesEnd = pos;
        return c;
    }

    /// <summary>Allocates a fresh page number in the PG that has the fewest allocated pages.</summary>
    /// <exception cref="InvalidOperationException">every PG is full.</exception>
    public long AllocatePageNo()
    {
        var span = _page.Image.AsSpan();
        int best = -1;
        long bestUsed = long.MaxValue;
        for (var pg = 0; pg < _geometry.PgCount; pg++)
        {
            var used = BinaryPrimitives.ReadInt64LittleEndian(span[(40 + 8 * pg)..]);
            if (used < _geometry.PagesPerPg && used < bestUsed) { best = pg; bestUsed = used; }
        }
        if (best < 0) throw TableErrors.VolumeFull();
        _page.WriteInt64(40 + 8 * best, bestUsed + 1);
        return _geometry.FirstPageOf(best) + bestUsed;
    }

    /// <summary>Pages allocated so far in <paramref name="pg"/>.</summary>
    public long AllocatedPages(int pg) => BinaryPrimitives.ReadInt64LittleEndian(_page.Image.AsSpan((40 + 8 * pg)..));

    /// <summary>Adds a table whose B+tree root is <paramref name="rootPage"/>.</summary>
    /// <exception cref="SchemaException">invalid schema, or no room left on the catalog page.</exception>
    public TableInfo AddTable(TableSchema schema, long rootPage)
    {
        Validate(schema);
        var span = _page.Image.AsSpan();
        var id = BinaryPrimitives.ReadInt32LittleEndian(span[32..]);
        var entry = new List<byte>();
        entry.AddRange(BitConverter.GetBytes(id));
        entry.AddRange(BitConverter.GetBytes(rootPage));
        AddString(entry, schema.Name);
        entry.AddRange(BitConverter.GetBytes((ushort)schema.Columns.Count));
        foreach (var col in schema.Columns)
        {
            entry.Add((byte)col.Type);
            AddString(entry, col.Name);
        }
        if (_tablesEnd + entry.Count > _geometry.PageSize)
            throw TableErrors.CatalogFull(schema);
        _page.WriteBytes(_tablesEnd, entry.ToArray());
        _tablesEnd += entry.Count;
        _page.WriteInt32(32, id + 1);
        _page.WriteInt32(36, _byName.Count + 1);
        var info = new TableInfo(id, rootPage, schema);
        _byName[schema.Name] = info;
        return info;
    }

    /// <summary>Checks a schema: a name, a key column of type Int64 or String first, unique column names.</summary>
    /// <exception cref="SchemaException">what is wrong, naming the table and column.</exception>
    public static void Validate(TableSchema schema)
    {
        if (string.IsNullOrWhiteSpace(schema.Name) || Encoding.UTF8.GetByteCount(schema.Name) > 255)
            throw TableErrors.BadTableName();
        if (schema.Columns.Count < 1)
            throw TableErrors.NoKeyColumn(schema);
        if (schema.Key.Type is not (ColumnType.Int64 or ColumnType.String))
            throw TableErrors.BadKeyType(schema);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in schema.Columns)
        {
            if (string.IsNullOrEmpty(c.Name)) throw TableErrors.UnnamedColumn(schema);
            if (!Enum.IsDefined(c.Type)) throw TableErrors.UnknownColumnType(schema, c.Name);
            if (!names.Add(c.Name)) throw TableErrors.DuplicateColumn(schema, c.Name);
        }
    }

    /// <summary>True when two schemas have the same name and the same columns in the same order.</summary>
    public static bool SameShape(TableSchema a, TableSchema b) =>
        a.Name == b.Name && a.Columns.Count == b.Columns.Count && a.Columns.Zip(b.Columns).All(p => p.First == p.Second);

    private static void AddString(List<byte> buffer, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        buffer.AddRange(BitConverter.GetBytes((ushort)bytes.Length));
        buffer.AddRange(bytes);
    }

    private static string ReadString(ReadOnlySpan<byte> span, ref int pos)
    {
        var len = BinaryPrimitives.ReadUInt16LittleEndian(span[pos..]);
        pos += 2;
        var s = Encoding.UTF8.GetString(span.Slice(pos, len));
        pos += len;
        return s;
    }
}
