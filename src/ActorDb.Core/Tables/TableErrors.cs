using ActorDb.Client;

namespace ActorDb.Core.Tables;

/// <summary>
/// The one place the table layer's errors are built (<see cref="Catalog"/>, <see cref="RowCodec"/>): a schema or a value
/// a client sent that the table refuses (<see cref="SchemaException"/>, which reaches the client), and bytes on a page
/// that are not a catalog or a row (<see cref="InvalidDataException"/>, <see cref="FormatException"/>: a damaged or
/// foreign volume). Every message names the table and, where there is one, the column.
/// </summary>
public static class TableErrors
{
    // ---------------------------------------------------------------- schemas

    /// <summary>A table name that is empty, blank or over 255 UTF-8 bytes.</summary>
    public static SchemaException BadTableName() => new("a table needs a name of 1 to 255 bytes");

    /// <summary>A schema with no column at all.</summary>
    public static SchemaException NoKeyColumn(TableSchema schema) => new($"table '{schema.Name}' needs at least a key column");

    /// <summary>A key column that is neither Int64 nor String.</summary>
    public static SchemaException BadKeyType(TableSchema schema) =>
        new($"table '{schema.Name}': key column '{schema.Key.Name}' must be Int64 or String");

    /// <summary>A column with an empty name.</summary>
    public static SchemaException UnnamedColumn(TableSchema schema) => new($"table '{schema.Name}': a column has no name");

    /// <summary>A column whose <see cref="ColumnType"/> is not defined.</summary>
    public static SchemaException UnknownColumnType(TableSchema schema, string column) =>
        new($"table '{schema.Name}': column '{column}' has an unknown type");

    /// <summary>Two columns of one name.</summary>
    public static SchemaException DuplicateColumn(TableSchema schema, string column) =>
        new($"table '{schema.Name}': column '{column}' appears twice");

    /// <summary>The catalog page has no room for another table's entry.</summary>
    public static SchemaException CatalogFull(TableSchema schema) =>
        new($"the catalog page is full: cannot add table '{schema.Name}'");

    // ---------------------------------------------------------------- values

    /// <summary>A key of the wrong CLR type for a String key column.</summary>
    public static SchemaException KeyNotString(TableSchema schema, ColumnDef key, object? value) =>
        new($"table '{schema.Name}': key '{key.Name}' is a string, got {Describe(value)}");

    /// <summary>A schema whose key column has a type keys cannot have (a schema that skipped <see cref="Catalog.Validate"/>).</summary>
    public static SchemaException KeyColumnType(TableSchema schema) =>
        new($"table '{schema.Name}': key column must be Int64 or String");

    /// <summary>A field naming the key column (a key is never set as a field).</summary>
    public static SchemaException KeyAsField(TableSchema schema, string name) =>
        new($"table '{schema.Name}': the key column '{name}' cannot be set as a field");

    /// <summary>A field naming no column of the table.</summary>
    public static SchemaException NoSuchColumn(TableSchema schema, string name) => new($"table '{schema.Name}' has no column '{name}'");

    /// <summary>A value of the wrong CLR type for its column (<paramref name="typeName"/>: <c>a string</c>, <c>bytes</c>,
    /// <c>Int64</c>, as the messages say).</summary>
    public static SchemaException WrongValueType(TableSchema schema, ColumnDef column, string typeName, object? value) =>
        new($"table '{schema.Name}': column '{column.Name}' is {typeName}, got {Describe(value)}");

    // ---------------------------------------------------------------- stored bytes

    /// <summary>A stored row that ends before column <paramref name="column"/>.</summary>
    public static FormatException RowTruncated(TableSchema schema, string column) =>
        new($"table '{schema.Name}': row ends before column '{column}'");

    /// <summary>A stored row whose value tag for <paramref name="column"/> has no meaning.</summary>
    public static FormatException BadValueTag(TableSchema schema, byte tag, string column) =>
        new($"table '{schema.Name}': bad value tag {tag} for column '{column}'");

    /// <summary>A stored length (7-bit varint) longer than 5 bytes.</summary>
    public static FormatException VarintTooLong() => new("varint too long");

    /// <summary>Page 0 does not start with the volume header's magic.</summary>
    public static InvalidDataException NotAVolumeHeader() => new("page 0 is not an ActorDb volume header");

    /// <summary>The volume header's geometry differs from <c>actordb.volume</c>.</summary>
    public static InvalidDataException GeometryMismatch(int pageSize, int pgCount, long pagesPerPg, VolumeGeometry configured) =>
        new($"the volume was created with page-size={pageSize}, pg-count={pgCount}, pages-per-pg={pagesPerPg} " +
            $"but actordb.volume says page-size={configured.PageSize}, pg-count={configured.PgCount}, pages-per-pg={configured.PagesPerPg}");

    /// <summary>A volume geometry with more PGs than the header's table of PG high-water marks holds.</summary>
    public static ArgumentOutOfRangeException TooManyPgs(int maxPgs, string paramName) => new(paramName, $"at most {maxPgs} PGs");

    /// <summary>No protection group has a page left to allocate.</summary>
    public static InvalidOperationException VolumeFull() =>
        new("the volume is full: every protection group has allocated all its pages");

    /// <summary>A value as the messages show it: its CLR type and text, or <c>null</c>.</summary>
    private static string Describe(object? v) => v is null ? "null" : $"{v.GetType().Name} '{v}'";
}
