using System.Runtime.Serialization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;
using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Core.Recovery;
using ActorDb.Core.Redo;
using ActorDb.Core.Storage;
using ActorDb.Core.Transactions;
using static ActorDb.Recovery.RecoveryProtocol;
using static ActorDb.Core.Storage.SegmentProtocol;
using static ActorDb.Writer.WriterProtocol;

namespace ActorDb.Serialization;

/// <summary>
/// Akka serializer (id <see cref="SerializerId"/>) for the messages that cross nodes on every transaction: the client
/// protocol (statements, commits, their replies and errors, finding the writer) and the redo path (<see cref="RedoBatch"/>,
/// <see cref="RedoAck"/>). Bound in ActorDb's <c>reference.conf</c> (<c>akka.actor.serialization-bindings</c>) by one
/// marker, <see cref="IActorDbMessage"/>, that every message here implements; every other ActorDb message keeps Akka's
/// default (JSON).
/// <para>Why not the default: Newtonsoft JSON with type names cannot carry the exceptions in replies (no
/// serialization constructor), loses the type of a value held as <see cref="object"/> (a <c>byte[]</c> comes back a
/// string), and names compiler-generated collection types (a C# collection expression) that only the sending
/// assembly has. This format is explicit, versioned by manifest, and compact: redo records travel as their
/// CRC-32C-protected log frames (<see cref="RedoCodec"/>), so a record damaged on the wire is refused, not stored.</para>
/// <para>The other ActorDb messages that cross nodes (segment state and recovery, page reads, peer catch-up, status
/// queries; <see cref="JsonTypes"/>) are System.Text.Json documents of their record shape, manifest <c>j.TypeName</c>:
/// collections travel as plain arrays, redo records as base64 log frames.</para>
/// <para>Layout: little-endian <see cref="BinaryWriter"/> primitives; strings length-prefixed UTF-8; a value (key or
/// field) is a tag byte (0 null, 1 <see cref="long"/>, 2 <see cref="string"/>, 3 <c>byte[]</c>) and its data.</para>
/// <para>Decoding trusts nothing (<see cref="WireReader"/>): every count and length is checked against the bytes left
/// before anything is allocated, flags are exactly 0 or 1, tags and column types must be known, a field name may not
/// repeat, and bytes after a complete binary message are refused. So a message allocates at most a small multiple of
/// its own length (itself bounded by <c>akka.remote.dot-netty.tcp.maximum-frame-size</c>), and every decoding failure,
/// binary or JSON, is one <see cref="SerializationException"/> naming the manifest (<see cref="SerializerErrors"/>).
/// JSON messages must carry every constructor parameter without a default.</para>
/// </summary>
public sealed class ActorDbSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>This serializer's id in <c>akka.actor.serialization-identifiers</c>.</summary>
    public const int SerializerId = 0x41444201;   // "ADB" 1

    private const string ExecuteStatementManifest = "es";
    private const string StatementReplyManifest = "sr";
    private const string CommitTransactionManifest = "ct";
    private const string CommitReplyManifest = "cr";
    private const string RollbackManifest = "rt";
    private const string RolledBackManifest = "rb";
    private const string CreateTableManifest = "tc";
    private const string GetTableManifest = "tg";
    private const string TableReplyManifest = "tr";
    private const string GetWriterManifest = "gw";
    private const string CurrentWriterManifest = "cw";
    private const string WriterUnavailableManifest = "wu";
    private const string RedoBatchManifest = "batch";
    private const string RedoAckManifest = "ack";

    /// <summary>The messages encoded as System.Text.Json documents (manifest <c>j.</c> + the type's name).</summary>
    public static readonly IReadOnlyList<Type> JsonTypes =
    [
        typeof(RedoRejected), typeof(GetSegmentState), typeof(SegmentState), typeof(OpenEpoch), typeof(EpochOpened),
        typeof(ReadPage), typeof(PageImage), typeof(PageUnavailable), typeof(FetchRedo), typeof(PeerRedo), typeof(FetchPages), typeof(PeerPages),
        typeof(FetchPage), typeof(PeerPage),
        typeof(GetSegmentStatus), typeof(SegmentStatus), typeof(Stop), typeof(GetWriterStatus), typeof(WriterStatus),
        typeof(GetRecoveryHistory), typeof(RecoveryHistoryReply),
    ];

    private static readonly Dictionary<string, Type> JsonTypeByManifest = JsonTypes.ToDictionary(t => "j." + t.Name);
    private static readonly Dictionary<Type, string> JsonManifestByType = JsonTypeByManifest.ToDictionary(kv => kv.Value, kv => kv.Key);

    /// <summary>The messages in this serializer's binary format and their manifests.</summary>
    private static readonly Dictionary<Type, string> BinaryManifestByType = new()
    {
        [typeof(ExecuteStatement)] = ExecuteStatementManifest,
        [typeof(StatementReply)] = StatementReplyManifest,
        [typeof(CommitTransaction)] = CommitTransactionManifest,
        [typeof(CommitReply)] = CommitReplyManifest,
        [typeof(RollbackTransaction)] = RollbackManifest,
        [typeof(RolledBack)] = RolledBackManifest,
        [typeof(CreateTable)] = CreateTableManifest,
        [typeof(GetTable)] = GetTableManifest,
        [typeof(TableReply)] = TableReplyManifest,
        [typeof(GetWriter)] = GetWriterManifest,
        [typeof(CurrentWriter)] = CurrentWriterManifest,
        [typeof(WriterUnavailable)] = WriterUnavailableManifest,
        [typeof(RedoBatch)] = RedoBatchManifest,
        [typeof(RedoAck)] = RedoAckManifest,
    };

    /// <summary>Every message type this serializer encodes, with its manifest: the binary ones (short manifests such as
    /// <c>batch</c>) and <see cref="JsonTypes"/> (<c>j.TypeName</c>). The one table <see cref="Manifest"/> and
    /// <see cref="FromBinary"/> go by; tests enumerate it so that no bound type escapes them, and check that its types are
    /// exactly those implementing <see cref="IActorDbMessage"/>.</summary>
    public static readonly IReadOnlyDictionary<Type, string> Manifests =
        BinaryManifestByType.Concat(JsonManifestByType).ToDictionary();

    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new LsnConverter(), new RedoRecordConverter(), new AnnulledRangeConverter() },
        // A message missing a field is refused, not filled with a default the sender never meant.
        RespectRequiredConstructorParameters = true,
    };

    /// <inheritdoc />
    public override int Identifier => SerializerId;

    /// <inheritdoc />
    /// <exception cref="ArgumentException"><paramref name="o"/> is not one of <see cref="Manifests"/>.</exception>
    public override string Manifest(object o) => Manifests.TryGetValue(o.GetType(), out var manifest)
        ? manifest
        : throw new ArgumentException($"ActorDbSerializer cannot serialize {o.GetType().FullName}", nameof(o));

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        if (JsonManifestByType.ContainsKey(obj.GetType())) return JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Json);
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            switch (obj)
            {
                case ExecuteStatement m:
                    w.Write(m.TxnId); WriteStatement(w, m.Statement); w.Write(m.Commit); w.Write(m.Sent);
                    break;
                case StatementReply m:
                    w.Write(m.TxnId); WriteResult(w, m.Result); WriteError(w, m.Error); w.Write(m.TxnAborted); WriteCommit(w, m.Committed);
                    break;
                case CommitTransaction m:
                    w.Write(m.TxnId); w.Write(m.Sent);
                    break;
                case CommitReply m:
                    w.Write(m.TxnId); WriteCommit(w, m.Info); WriteError(w, m.Error);
                    break;
                case RollbackTransaction m: w.Write(m.TxnId); break;
                case RolledBack m: w.Write(m.TxnId); break;
                case CreateTable m: WriteSchema(w, m.Schema); break;
                case GetTable m: w.Write(m.Name); break;
                case TableReply m:
                    w.Write(m.Schema is not null);
                    if (m.Schema is not null) WriteSchema(w, m.Schema);
                    WriteError(w, m.Error);
                    break;
                case GetWriter: break;
                case CurrentWriter m:
                    w.Write(Akka.Serialization.Serialization.SerializedActorPath(m.Writer)); w.Write(m.Epoch);
                    break;
                case WriterUnavailable m:
                    w.Write(m.Reason); w.Write(m.Fenced); w.Write(m.Stopping);
                    break;
                case RedoBatch m:
                    w.Write(m.Pg); w.Write(m.Replica); w.Write(m.Epoch); w.Write(m.WriterVdl.Value); w.Write(m.Records.Length);
                    foreach (var record in m.Records) w.Write(RedoCodec.Encode(record));
                    break;
                case RedoAck m:
                    w.Write(m.Pg); w.Write(m.Replica); w.Write(m.Epoch); w.Write(m.Scl.Value); w.Write(m.SyncMicros);
                    break;
                default:
                    throw new ArgumentException($"ActorDbSerializer cannot serialize {obj.GetType().FullName}", nameof(obj));
            }
        }
        return stream.ToArray();
    }

    /// <inheritdoc />
    /// <exception cref="SerializationException">the only exception thrown: an unknown manifest, or bytes that do not
    /// decode as that manifest's message (truncated, trailing bytes, a count or length beyond the bytes left, an unknown
    /// tag, a damaged redo frame, bad JSON, a missing field, a value the message refuses). Its message names the
    /// manifest.</exception>
    public override object FromBinary(byte[] bytes, string manifest)
    {
        try
        {
            if (JsonTypeByManifest.TryGetValue(manifest, out var jsonType))
                return JsonSerializer.Deserialize(bytes, jsonType, Json) ?? throw SerializerErrors.Null(manifest);
            var r = new WireReader(bytes, manifest);
            object message = manifest switch
            {
                ExecuteStatementManifest => new ExecuteStatement(r.ReadInt64(), ReadStatement(r), r.ReadBoolean("commit"), r.ReadInt64()),
                StatementReplyManifest => new StatementReply(r.ReadInt64(), ReadResult(r), ReadError(r), r.ReadBoolean("txnAborted"), ReadCommit(r)),
                CommitTransactionManifest => new CommitTransaction(r.ReadInt64(), r.ReadInt64()),
                CommitReplyManifest => new CommitReply(r.ReadInt64(), ReadCommit(r), ReadError(r)),
                RollbackManifest => new RollbackTransaction(r.ReadInt64()),
                RolledBackManifest => new RolledBack(r.ReadInt64()),
                CreateTableManifest => new CreateTable(ReadSchema(r)),
                GetTableManifest => new GetTable(r.ReadString("table")),
                TableReplyManifest => new TableReply(r.ReadBoolean("hasSchema") ? ReadSchema(r) : null, ReadError(r)),
                GetWriterManifest => GetWriter.Instance,
                CurrentWriterManifest => new CurrentWriter(system.Provider.ResolveActorRef(r.ReadString("writer")), r.ReadInt64()),
                WriterUnavailableManifest => new WriterUnavailable(r.ReadString("reason"), r.ReadBoolean("fenced"), r.ReadBoolean("stopping")),
                RedoBatchManifest => ReadBatch(r),
                RedoAckManifest => new RedoAck(r.ReadInt32(), r.ReadInt32(), r.ReadInt64(), new Lsn(r.ReadInt64()), r.ReadInt64()),
                _ => throw SerializerErrors.UnknownManifest(manifest, bytes.Length),
            };
            r.ExpectEnd();
            return message;
        }
        // What System.Text.Json, base64, UTF-8 and the messages' own constructors throw for input they refuse. Anything
        // else (a NullReferenceException, an IndexOutOfRangeException) is a bug here and is left to surface as one.
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or FormatException
                                      or OverflowException or InvalidOperationException or InvalidCastException)
        {
            throw SerializerErrors.DoesNotDecode(manifest, bytes.Length, e);
        }
    }

    // ---------------------------------------------------------------- redo

    private static RedoBatch ReadBatch(WireReader r)
    {
        int pg = r.ReadInt32(), replica = r.ReadInt32();
        long epoch = r.ReadInt64();
        var vdl = new Lsn(r.ReadInt64());
        var records = new RedoRecord[r.ReadCount("records", RedoCodec.MinFrameSize)];
        for (var i = 0; i < records.Length; i++) records[i] = r.ReadRedoFrame(i, records.Length);
        return new RedoBatch(pg, replica, epoch, records, vdl);
    }

    // ---------------------------------------------------------------- client protocol

    private static void WriteStatement(BinaryWriter w, Statement s)
    {
        switch (s)
        {
            case GetStatement g: w.Write((byte)1); w.Write(g.Table); WriteValue(w, g.Key); w.Write(g.ForUpdate); break;
            case ScanStatement sc: w.Write((byte)2); w.Write(sc.Table); WriteValue(w, sc.FromKey); w.Write(sc.MaxRows); break;
            case InsertStatement i: w.Write((byte)3); w.Write(i.Table); WriteValue(w, i.Key); WriteFields(w, i.Fields); break;
            case UpdateStatement u: w.Write((byte)4); w.Write(u.Table); WriteValue(w, u.Key); WriteFields(w, u.Fields); break;
            case DeleteStatement d: w.Write((byte)5); w.Write(d.Table); WriteValue(w, d.Key); break;
            default: throw new ArgumentException($"ActorDbSerializer: unknown statement {s.GetType().FullName}");
        }
    }

    private static Statement ReadStatement(WireReader r)
    {
        var at = r.Position;
        return r.ReadByte() switch
        {
            1 => new GetStatement(r.ReadString("table"), ReadValue(r)!, r.ReadBoolean("forUpdate")),
            2 => new ScanStatement(r.ReadString("table"), ReadValue(r)!, r.ReadInt32()),
            3 => new InsertStatement(r.ReadString("table"), ReadValue(r)!, ReadFields(r)),
            4 => new UpdateStatement(r.ReadString("table"), ReadValue(r)!, ReadFields(r)),
            5 => new DeleteStatement(r.ReadString("table"), ReadValue(r)!),
            var tag => throw SerializerErrors.UnknownTag(r.Manifest, "statement tag", tag, at),
        };
    }

    private static void WriteValue(BinaryWriter w, object? value)
    {
        switch (value)
        {
            case null: w.Write((byte)0); break;
            case long l: w.Write((byte)1); w.Write(l); break;
            case string s: w.Write((byte)2); w.Write(s); break;
            case byte[] b: w.Write((byte)3); w.Write(b.Length); w.Write(b); break;
            // Other integers are widened as the writer would store them (Int64 columns).
            case int i: w.Write((byte)1); w.Write((long)i); break;
            default: throw new ArgumentException($"ActorDbSerializer: a value of type {value.GetType().Name} is not a column value (long, string, byte[] or null)");
        }
    }

    /// <summary>The fewest bytes a value takes: its tag (null).</summary>
    private const int MinValueBytes = 1;

    private static object? ReadValue(WireReader r)
    {
        var at = r.Position;
        return r.ReadByte() switch
        {
            0 => null,
            1 => r.ReadInt64(),
            2 => r.ReadString("string value"),
            3 => r.ReadBytes("byte[] value"),
            var tag => throw SerializerErrors.UnknownTag(r.Manifest, "value tag", tag, at),
        };
    }

    private static void WriteFields(BinaryWriter w, IReadOnlyDictionary<string, object?> fields)
    {
        w.Write(fields.Count);
        foreach (var (name, value) in fields)
        {
            w.Write(name);
            WriteValue(w, value);
        }
    }

    /// <summary>The fewest bytes a field takes: an empty name (its length byte) and a null value.</summary>
    private const int MinFieldBytes = 1 + MinValueBytes;

    /// <summary>The fewest bytes a row takes: a null key and an empty field count.</summary>
    private const int MinRowBytes = MinValueBytes + 4;

    /// <summary>The fewest bytes a column takes: an empty name (its length byte) and its type byte.</summary>
    private const int MinColumnBytes = 1 + 1;

    private static Dictionary<string, object?> ReadFields(WireReader r)
    {
        var count = r.ReadCount("field count", MinFieldBytes);
        var fields = new Dictionary<string, object?>(count);
        for (var i = 0; i < count; i++)
        {
            var name = r.ReadString("field name");
            if (!fields.TryAdd(name, ReadValue(r))) throw SerializerErrors.Invalid(r.Manifest, $"field '{name}'", "is given twice");
        }
        return fields;
    }

    private static void WriteRow(BinaryWriter w, Row row)
    {
        WriteValue(w, row.Key);
        WriteFields(w, row.Fields);
    }

    private static Row ReadRow(WireReader r) => new(ReadValue(r)!, ReadFields(r));

    /// <summary>A statement's result: null, a bool (update/delete), a row (get) or rows (scan).</summary>
    private static void WriteResult(BinaryWriter w, object? result)
    {
        switch (result)
        {
            case null: w.Write((byte)0); break;
            case bool b: w.Write((byte)1); w.Write(b); break;
            case Row row: w.Write((byte)2); WriteRow(w, row); break;
            case IReadOnlyList<Row> rows:
                w.Write((byte)3); w.Write(rows.Count);
                foreach (var row in rows) WriteRow(w, row);
                break;
            default: throw new ArgumentException($"ActorDbSerializer: unknown statement result {result.GetType().FullName}");
        }
    }

    private static object? ReadResult(WireReader r)
    {
        var at = r.Position;
        switch (r.ReadByte())
        {
            case 0: return null;
            case 1: return r.ReadBoolean("result");
            case 2: return ReadRow(r);
            case 3:
                var rows = new Row[r.ReadCount("row count", MinRowBytes)];
                for (var i = 0; i < rows.Length; i++) rows[i] = ReadRow(r);
                return rows;
            case var tag: throw SerializerErrors.UnknownTag(r.Manifest, "result tag", tag, at);
        }
    }

    private static void WriteCommit(BinaryWriter w, CommitInfo? commit)
    {
        w.Write(commit is not null);
        if (commit is null) return;
        w.Write(commit.CommitLsn);
        w.Write(commit.Vdl);
    }

    private static CommitInfo? ReadCommit(WireReader r) => r.ReadBoolean("hasCommit") ? new CommitInfo(r.ReadInt64(), r.ReadInt64()) : null;

    private static void WriteSchema(BinaryWriter w, TableSchema schema)
    {
        w.Write(schema.Name);
        w.Write(schema.Columns.Count);
        foreach (var c in schema.Columns)
        {
            w.Write(c.Name);
            w.Write((byte)c.Type);
        }
    }

    private static TableSchema ReadSchema(WireReader r)
    {
        var name = r.ReadString("table");
        var columns = new ColumnDef[r.ReadCount("column count", MinColumnBytes)];
        for (var i = 0; i < columns.Length; i++)
        {
            var column = r.ReadString("column name");
            var at = r.Position;
            var type = (ColumnType)r.ReadByte();
            if (!Enum.IsDefined(type)) throw SerializerErrors.UnknownTag(r.Manifest, $"type of column '{column}'", (byte)type, at);
            columns[i] = new ColumnDef(column, type);
        }
        return new TableSchema(name, columns);
    }

    /// <summary>An error in a reply: its kind (the most specific of ActorDb's exception types it is) and message.
    /// The stack trace and inner exception stay on the writer's node (its log has them).</summary>
    private static void WriteError(BinaryWriter w, ActorDbException? error)
    {
        byte kind = error switch
        {
            null => 0,
            StaleEpochException s => s.Ambiguous ? (byte)8 : (byte)7,
            WriterStoppedException => 10,
            LockTimeoutException => 3,
            DeadlockException => 4,
            TransactionAbortedException => 2,
            DuplicateKeyException => 5,
            SchemaException => 6,
            AmbiguousCommitException => 9,
            _ => 1,
        };
        w.Write(kind);
        if (error is not null) w.Write(error.Message);
    }

    private static ActorDbException? ReadError(WireReader r)
    {
        var at = r.Position;
        var kind = r.ReadByte();
        if (kind == 0) return null;
        var message = r.ReadString("error message");
        return kind switch
        {
            1 => new ActorDbException(message),
            2 => new TransactionAbortedException(message),
            3 => new LockTimeoutException(message),
            4 => new DeadlockException(message),
            5 => new DuplicateKeyException(message),
            6 => new SchemaException(message),
            7 => new StaleEpochException(message, ambiguous: false),
            8 => new StaleEpochException(message, ambiguous: true),
            9 => new AmbiguousCommitException(message),
            10 => new WriterStoppedException(message),
            _ => throw SerializerErrors.UnknownTag(r.Manifest, "error kind", kind, at),
        };
    }

    // ---------------------------------------------------------------- JSON converters

    /// <summary>An LSN as a plain number.</summary>
    private sealed class LsnConverter : JsonConverter<Lsn>
    {
        public override Lsn Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => new(reader.GetInt64());

        public override void Write(Utf8JsonWriter writer, Lsn value, JsonSerializerOptions options) => writer.WriteNumberValue(value.Value);
    }

    /// <summary>A redo record as the base64 of its log frame (<see cref="RedoCodec"/>): CRC-checked when read.</summary>
    private sealed class RedoRecordConverter : JsonConverter<RedoRecord>
    {
        public override RedoRecord Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var frame = reader.GetBytesFromBase64();
            if (RedoCodec.TryDecode(frame, out var record, out var consumed) != DecodeResult.Ok || consumed != frame.Length)
                throw new JsonException("a redo record frame does not decode (damaged on the wire)");
            return record!;
        }

        public override void Write(Utf8JsonWriter writer, RedoRecord value, JsonSerializerOptions options) =>
            writer.WriteBase64StringValue(RedoCodec.Encode(value));
    }

    /// <summary>An annulled range as <c>[fromExclusive, toInclusive, epoch]</c>.</summary>
    private sealed class AnnulledRangeConverter : JsonConverter<AnnulledRange>
    {
        public override AnnulledRange Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var v = JsonSerializer.Deserialize<long[]>(ref reader, options);
            if (v is not { Length: 3 }) throw new JsonException("an annulled range is [fromExclusive, toInclusive, epoch]");
            return new AnnulledRange(new Lsn(v[0]), new Lsn(v[1]), v[2]);
        }

        public override void Write(Utf8JsonWriter writer, AnnulledRange value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize(writer, new[] { value.FromExclusive.Value, value.ToInclusive.Value, value.Epoch }, options);
    }
}
