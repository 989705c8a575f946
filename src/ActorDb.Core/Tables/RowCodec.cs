using System.Buffers.Binary;
using System.Text;
using ActorDb.Client;
using ActorDb.Core.Pages;

namespace ActorDb.Core.Tables;

/// <summary>
/// Encodes rows for the B+tree: the key with the order-preserving <see cref="KeyEncoding"/>, the fields as a value.
/// Value layout, one entry per non-key column in schema order: tag u8 (0 null, 1 Int64, 2 String, 3 Bytes), then for
/// Int64 8 bytes little-endian, for String/Bytes a 7-bit-varint length and the bytes (UTF-8 for strings).
/// </summary>
public static class RowCodec
{
    /// <summary>Encodes a key value of the table's key column.</summary>
    /// <exception cref="SchemaException">the value's CLR type does not match the key column.</exception>
    public static byte[] EncodeKey(TableSchema schema, object key)
    {
        var col = schema.Key;
        return col.Type switch
        {
            ColumnType.Int64 => KeyEncoding.EncodeInt64(ToInt64(schema, col, key)),
            ColumnType.String => key is string s
                ? KeyEncoding.EncodeString(s)
                : throw TableErrors.KeyNotString(schema, col, key),
            _ => throw TableErrors.KeyColumnType(schema),
        };
    }

    /// <summary>Decodes a key encoded by <see cref="EncodeKey"/>.</summary>
    public static object DecodeKey(TableSchema schema, ReadOnlySpan<byte> key) =>
        schema.Key.Type == ColumnType.Int64 ? KeyEncoding.DecodeInt64(key) : KeyEncoding.DecodeString(key);

    /// <summary>
    /// Encodes the fields of a row. Columns absent from <paramref name="fields"/> take their value from
    /// <paramref name="baseRow"/> (an update) or null (an insert).
    /// </summary>
    /// <exception cref="SchemaException">a field names no column of the table, or its value has the wrong type.</exception>
    public static byte[] EncodeFields(TableSchema schema, IReadOnlyDictionary<string, object?> fields, IReadOnlyDictionary<string, object?>? baseRow = null)
    {
        foreach (var name in fields.Keys)
        {
            var found = false;
            for (var i = 1; i < schema.Columns.Count; i++)
                if (schema.Columns[i].Name == name) { found = true; break; }
            if (!found)
                throw name == schema.Key.Name ? TableErrors.KeyAsField(schema, name) : TableErrors.NoSuchColumn(schema, name);
        }

        var buffer = new List<byte>(64);
        Span<byte> scratch = stackalloc byte[10];
        for (var i = 1; i < schema.Columns.Count; i++)
        {
            var col = schema.Columns[i];
            object? value = null;
            if (!fields.TryGetValue(col.Name, out value)) baseRow?.TryGetValue(col.Name, out value);
            if (value is null) { buffer.Add(0); continue; }
            switch (col.Type)
            {
                case ColumnType.Int64:
                    buffer.Add(1);
                    BinaryPrimitives.WriteInt64LittleEndian(scratch, ToInt64(schema, col, value));
                    buffer.AddRange(scratch[..8]);
                    break;
                case ColumnType.String:
                    if (value is not string s) throw TableErrors.WrongValueType(schema, col, "a string", value);
                    buffer.Add(2);
                    AddBytes(buffer, Encoding.UTF8.GetBytes(s));
                    break;
                case ColumnType.Bytes:
                    if (value is not byte[] b) throw TableErrors.WrongValueType(schema, col, "bytes", value);
                    buffer.Add(3);
                    AddBytes(buffer, b);
                    break;
            }
        }
        return buffer.ToArray();
    }

    /// <summary>Decodes fields encoded by <see cref="EncodeFields"/> into a name-to-value map.</summary>
    /// <exception cref="FormatException">the bytes are not a row of this schema.</exception>
    public static Dictionary<string, object?> DecodeFields(TableSchema schema, ReadOnlySpan<byte> value)
    {
        var result = new Dictionary<string, object?>(schema.Columns.Count - 1);
        var pos = 0;
        for (var i = 1; i < schema.Columns.Count; i++)
        {
            if (pos >= value.Length) throw TableErrors.RowTruncated(schema, schema.Columns[i].Name);
            var tag = value[pos++];
            switch (tag)
            {
                case 0: result[schema.Columns[i].Name] = null; break;
                case 1:
                    result[schema.Columns[i].Name] = BinaryPrimitives.ReadInt64LittleEndian(value.Slice(pos, 8));
                    pos += 8;
                    break;
                case 2 or 3:
                    var len = ReadVarint(value, ref pos);
                    var bytes = value.Slice(pos, len);
                    pos += len;
                    result[schema.Columns[i].Name] = tag == 2 ? Encoding.UTF8.GetString(bytes) : bytes.ToArray();
                    break;
                default: throw TableErrors.BadValueTag(schema, tag, schema.Columns[i].Name);
            }
        }
        return result;
    }

    private static long ToInt64(TableSchema schema, ColumnDef col, object value) => value switch
    {
        long l => l,
        int i => i,
        short s => s,
        byte b => b,
        _ => throw TableErrors.WrongValueType(schema, col, "Int64", value),
    };

    private static void AddBytes(List<byte> buffer, byte[] bytes)
    {
        var n = (uint)bytes.Length;
        while (n >= 0x80) { buffer.Add((byte)(n | 0x80)); n >>= 7; }
        buffer.Add((byte)n);
        buffer.AddRange(bytes);
    }

    private static int ReadVarint(ReadOnlySpan<byte> span, ref int pos)
    {
        int result = 0, shift = 0;
        while (true)
        {
            var b = span[pos++];
            result |= (b & 0x7F) << shift;
            if (b < 0x80) return result;
            shift += 7;
            if (shift > 28) throw TableErrors.VarintTooLong();
        }
    }
}
