namespace ActorDb.Client;

/// <summary>The type of a column. Keys may be <see cref="Int64"/> or <see cref="String"/>.</summary>
public enum ColumnType : byte
{
    /// <summary>64-bit signed integer; the CLR value is <see cref="long"/>.</summary>
    Int64 = 1,
    /// <summary>UTF-8 text; the CLR value is <see cref="string"/>.</summary>
    String = 2,
    /// <summary>Raw bytes; the CLR value is <see cref="byte"/>[].</summary>
    Bytes = 3,
}

/// <summary>One column of a table.</summary>
/// <param name="Name">Column name, unique within the table.</param>
/// <param name="Type">Column type.</param>
public sealed record ColumnDef(string Name, ColumnType Type);

/// <summary>
/// A table: a name and its columns. The first column is the primary key (type <see cref="ColumnType.Int64"/>
/// or <see cref="ColumnType.String"/>); the others are its fields. Rows are kept in a B+tree ordered by key.
/// </summary>
/// <param name="Name">Table name.</param>
/// <param name="Columns">Key column first, then the fields.</param>
public sealed record TableSchema(string Name, IReadOnlyList<ColumnDef> Columns)
{
    /// <summary>The primary-key column.</summary>
    public ColumnDef Key => Columns[0];
}

/// <summary>A row as the client sees it: its key (<see cref="long"/> or <see cref="string"/>) and its fields by name
/// (values are <see cref="long"/>, <see cref="string"/>, <see cref="byte"/>[] or null).</summary>
public sealed record Row(object Key, IReadOnlyDictionary<string, object?> Fields);

/// <summary>What a successful commit returns.</summary>
/// <param name="CommitLsn">The LSN of the transaction's commit record; 0 for a transaction that changed nothing.</param>
/// <param name="Vdl">The volume durable LSN when the commit was acknowledged (&gt;= <paramref name="CommitLsn"/>).</param>
public sealed record CommitInfo(long CommitLsn, long Vdl);
