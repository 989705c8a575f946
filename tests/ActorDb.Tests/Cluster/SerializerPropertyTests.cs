using System.Buffers.Binary;
using System.Collections;
using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Serialization;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using CsCheck;
using Xunit.Abstractions;
using ActorDb.Core;
using ActorDb.Core.Redo;
using ActorDb.Core.Storage;
using ActorDb.Client;
using ActorDb.Core.Transactions;
using ActorDb.Serialization;
using static ActorDb.Recovery.RecoveryProtocol;
using static ActorDb.Core.Storage.SegmentProtocol;
using static ActorDb.Writer.WriterProtocol;

namespace ActorDb.Tests.Cluster;

/// <summary>
/// Property test of <see cref="ActorDbSerializer"/>'s decoding against hostile bytes. For every message type in
/// <see cref="ActorDbSerializer.Manifests"/> (so a newly bound type cannot be forgotten: it fails
/// <see cref="Every_bound_message_type_has_a_generator"/> until it has one), CsCheck generates valid instances; each is
/// encoded, then decoded unmodified (it must come back equal), truncated, extended with random bytes, corrupted (bits
/// flipped, bytes overwritten) and, for the binary format, given a huge or negative 32-bit count or length at every
/// offset. Every decode must either return a message or throw <see cref="SerializationException"/> naming the
/// manifest; anything else fails. Every decode must also allocate at most <see cref="AllocationBound"/> bytes.
/// </summary>
public sealed class SerializerPropertyTests : IDisposable
{
    /// <summary>Generated instances per message type. With the mutations of each this is a few thousand decodes per
    /// type and a few seconds in all.</summary>
    private const long Iterations = 40;

    private readonly ActorSystem _system = ActorSystem.Create("serprop", ConfigurationFactory.ParseString("akka.loglevel = WARNING")
        .WithFallback(ActorDbSettings.DefaultConfig()));

    private readonly ActorDbSerializer _serializer;
    private readonly IActorRef[] _writers;

    private readonly ITestOutputHelper _output;

    /// <summary>The decode that came closest to <see cref="AllocationBound"/>: its share of the bound and what it was.</summary>
    private (double Share, string What) _closest;

    public SerializerPropertyTests(ITestOutputHelper output)
    {
        _output = output;
        _serializer = Assert.IsType<ActorDbSerializer>(_system.Serialization.FindSerializerForType(typeof(RedoBatch)));
        _writers = [_system.ActorOf(Props.Empty, "writer-e1"), _system.ActorOf(Props.Empty, "writer-e2")];
    }

    public void Dispose()
    {
        if (_closest.What is not null) _output.WriteLine($"closest to the allocation bound: {_closest.Share:P1} of it, {_closest.What}");
        _system.Dispose();
    }

    /// <summary>
    /// The most a decode of <paramref name="inputBytes"/> may allocate: 64 bytes per input byte plus 64 KiB.
    /// Why 64: the densest valid encodings (<see cref="The_densest_valid_input_stays_within_the_allocation_bound"/>)
    /// allocate 24 bytes per input byte (a result of empty rows: a row, its dictionary and an array slot per 5 bytes),
    /// 20 (empty-named columns), 11 to 12 (short field names; System.Text.Json records and number arrays); 64 leaves
    /// room for that and for a list's growth, and no more: it refuses anything that scales with a count the input
    /// merely claims (the issue's 28-byte batch claiming 10^8 records allocated 762 MiB, 28 million times its length).
    /// The 64 KiB is fixed cost: the exception thrown, its message and stack trace, System.Text.Json's per-call state
    /// (measured: at most 12 KiB).
    /// </summary>
    private static long AllocationBound(int inputBytes) => 64L * inputBytes + 64 * 1024;

    // ---------------------------------------------------------------- the properties

    public static TheoryData<string> Manifests() => new(ActorDbSerializer.Manifests.Values.Order());

    [Fact]
    public void Every_bound_message_type_has_a_generator()
    {
        var missing = new List<string>();
        foreach (var type in ActorDbSerializer.Manifests.Keys)
        {
            try { _ = GenFor(type).Single(); }
            catch (Exception e) { missing.Add($"{type.Name}: {e.Message}"); }
        }
        Assert.True(missing.Count == 0, $"give these a generator in {nameof(SerializerPropertyTests)}: {string.Join("; ", missing)}");
    }

    [Theory]
    [MemberData(nameof(Manifests))]
    public void Every_encoding_round_trips_and_every_damaged_one_decodes_or_throws_SerializationException(string manifest)
    {
        var type = ActorDbSerializer.Manifests.Single(kv => kv.Value == manifest).Key;
        var binary = !manifest.StartsWith("j.", StringComparison.Ordinal);
        var gen = GenFor(type).Select(Gen.UInt, (message, seed) => (message, seed));
        gen.Sample(t =>
        {
            var (message, seed) = t;
            var bytes = _serializer.ToBinary(message);
            Assert.Equal(manifest, _serializer.Manifest(message));
            var back = Decode(bytes, manifest, "unmodified");
            Assert.NotNull(back);
            AssertSame(message, back);

            var random = new Random((int)seed);
            // (a) truncated: a binary message at every length; a JSON one (longer, and parsed by System.Text.Json) at 32
            // random lengths, none and all but its last byte.
            var cuts = binary ? Enumerable.Range(0, bytes.Length)
                : Enumerable.Range(0, 32).Select(_ => random.Next(bytes.Length)).Append(0).Append(bytes.Length - 1);
            foreach (var cut in cuts)
            {
                var decoded = Decode(bytes[..cut], manifest, $"truncated to {cut} of {bytes.Length}");
                // A binary message has no optional tail: every byte of it is needed.
                if (binary && decoded is not null) Assert.Fail($"'{manifest}' truncated to {cut} of {bytes.Length} bytes decoded as {decoded}");
            }
            // (b) extended with 1 to 16 random bytes: trailing bytes after a binary message are refused.
            for (var i = 0; i < 4; i++)
            {
                var extra = new byte[random.Next(1, 17)];
                random.NextBytes(extra);
                var decoded = Decode([.. bytes, .. extra], manifest, $"extended by {Convert.ToHexString(extra)}");
                if (binary && decoded is not null) Assert.Fail($"'{manifest}' with {extra.Length} trailing bytes decoded as {decoded}");
            }
            if (bytes.Length == 0) return;
            // (c) corrupted: 1 to 3 bits flipped, or 1 to 3 bytes overwritten with random values.
            for (var i = 0; i < 16; i++)
            {
                var damaged = (byte[])bytes.Clone();
                for (var n = random.Next(1, 4); n > 0; n--)
                {
                    var at = random.Next(damaged.Length);
                    if (i % 2 == 0) damaged[at] ^= (byte)(1 << random.Next(8));
                    else damaged[at] = (byte)random.Next(256);
                }
                Decode(damaged, manifest, $"corrupted to {Convert.ToHexString(damaged)}");
            }
            // (d) a huge or negative 32-bit count or length written over the 4 bytes at every offset (binary format), so
            // that every count and length field of the message gets one.
            if (!binary) return;
            for (var at = 0; at + 4 <= bytes.Length; at++)
            {
                var count = HostileCounts[random.Next(HostileCounts.Length)];
                var damaged = (byte[])bytes.Clone();
                BinaryPrimitives.WriteInt32LittleEndian(damaged.AsSpan(at), count);
                Decode(damaged, manifest, $"count {count} written at offset {at}");
            }
        }, iter: Iterations, threads: 1);
    }

    /// <summary>The densest encodings the formats allow, about 256 KiB each: what a message can make the decoder
    /// allocate per byte it sends, against <see cref="AllocationBound"/>'s 64 bytes per byte.</summary>
    public static TheoryData<string> DenseInputs() => new("es", "sr", "tc", "j.SegmentState", "j.PeerPages", "j.WriterStatus");

    [Theory]
    [MemberData(nameof(DenseInputs))]
    public void The_densest_valid_input_stays_within_the_allocation_bound(string manifest)
    {
        const int n = 256 * 1024;
        var bytes = Dense(manifest, n);
        Assert.NotNull(Decode(bytes, manifest, "dense"));   // warm: a type's first decode builds its JSON metadata
        var (message, allocated) = DecodeMeasured(bytes, manifest, "dense");
        Assert.NotNull(message);
        _output.WriteLine($"'{manifest}' of {bytes.Length} bytes allocated {allocated} bytes, {(double)allocated / bytes.Length:F1} per byte");
        Assert.True(allocated <= AllocationBound(bytes.Length), $"{allocated} bytes allocated, above {AllocationBound(bytes.Length)}");
    }

    private static byte[] Dense(string manifest, int n)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream))
        {
            switch (manifest)
            {
                case "es":   // an insert of n / 4 fields with distinct short names and null values
                    w.Write(1L); w.Write((byte)3); w.Write("t"); w.Write((byte)1); w.Write(9L);
                    w.Write(n / 4);
                    for (var i = 0; i < n / 4; i++) { w.Write(i.ToString("x")); w.Write((byte)0); }
                    w.Write(false); w.Write(0L);
                    break;
                case "sr":   // n / 5 rows, each a null key and no fields
                    w.Write(1L); w.Write((byte)3); w.Write(n / 5);
                    for (var i = 0; i < n / 5; i++) { w.Write((byte)0); w.Write(0); }
                    w.Write((byte)0); w.Write(false); w.Write(false);
                    break;
                case "tc":   // n / 2 columns, each an empty name and a type
                    w.Write("t"); w.Write(n / 2);
                    for (var i = 0; i < n / 2; i++) { w.Write(""); w.Write((byte)1); }
                    break;
                case "j.SegmentState":   // CPLs with empty tails
                    w.Write(Utf8("{\"Report\":{\"Pg\":0,\"Replica\":0,\"Epoch\":0,\"Scl\":0,\"MaxLsn\":0,\"Cpls\":[" +
                                 string.Join(',', Enumerable.Repeat("{\"Lsn\":0,\"PgTail\":[]}", n / 24)) + "]}}"));
                    break;
                case "j.PeerPages":   // page numbers of one digit
                    w.Write(Utf8("{\"Pg\":0,\"FromReplica\":0,\"Session\":0,\"FromPageNo\":0,\"PageNos\":[" + string.Join(',', Enumerable.Repeat("0", n / 2)) +
                                 "],\"Images\":\"\",\"NextPageNo\":0,\"Checkpoint\":0,\"CheckpointCpl\":0,\"CheckpointCplTails\":[],\"Annulled\":[]," +
                                 "\"PeerScl\":0,\"Unavailable\":null}"));
                    break;
                case "j.WriterStatus":   // PG statuses with empty lists
                    w.Write(Utf8("{\"State\":\"\",\"Epoch\":0,\"Allocated\":0,\"Vcl\":0,\"Vdl\":0,\"Lal\":0,\"Commits\":0,\"RedoRecords\":0,\"RedoBytes\":0," +
                                 "\"RedoBytesShipped\":0,\"Batches\":0,\"AvgBatchQuorumMicros\":0,\"BusyMicros\":0,\"OpenTransactions\":0,\"CommitsInFlight\":0," +
                                 "\"Failure\":null,\"Pgs\":[" +
                                 string.Join(',', Enumerable.Repeat("{\"Pg\":0,\"Scl\":[],\"QuorumLsn\":0,\"StalledReplicas\":[]}", n / 48)) + "]}"));
                    break;
                default: throw new ArgumentException(manifest);
            }
        }
        return stream.ToArray();
    }

    private static byte[] Utf8(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    private static readonly int[] HostileCounts = [int.MaxValue, int.MinValue, -1, -5, 100_000_000, 1_000_000_000, 65_536, 255];

    /// <summary>
    /// Decodes <paramref name="bytes"/>: returns the message, or null when it threw <see cref="SerializationException"/>
    /// naming the manifest; fails on any other exception or an allocation above <see cref="AllocationBound"/>. An
    /// allocation above the bound is measured once more on the same bytes, so that a one-time cost (a type's JSON
    /// metadata, an exception's resource string) is not counted against a message.
    /// </summary>
    private object? Decode(byte[] bytes, string manifest, string mutation)
    {
        var (message, allocated) = DecodeMeasured(bytes, manifest, mutation);
        if (allocated > AllocationBound(bytes.Length)) (message, allocated) = DecodeMeasured(bytes, manifest, mutation);
        if (allocated > AllocationBound(bytes.Length))
            Assert.Fail($"'{manifest}' {mutation}: decoding {bytes.Length} bytes allocated {allocated} bytes, above the bound of {AllocationBound(bytes.Length)}");
        var share = (double)allocated / AllocationBound(bytes.Length);
        if (share > _closest.Share) _closest = (share, $"'{manifest}' of {bytes.Length} bytes ({mutation}) allocated {allocated} bytes");
        return message;
    }

    private (object? Message, long Allocated) DecodeMeasured(byte[] bytes, string manifest, string mutation)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            var message = _serializer.FromBinary(bytes, manifest);
            return (message, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        catch (SerializationException e)
        {
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Contains($"'{manifest}'", e.Message);
            return (null, allocated);
        }
        catch (Exception e)
        {
            Assert.Fail($"'{manifest}' {mutation}: {e.GetType().Name} instead of a SerializationException: {e}");
            throw;
        }
    }

    private void AssertSame(object expected, object actual)
    {
        Assert.Equal(expected.GetType(), actual.GetType());
        switch (expected)
        {
            case CurrentWriter w:
                Assert.Equal(w.Writer, ((CurrentWriter)actual).Writer);
                Assert.Equal(w.Epoch, ((CurrentWriter)actual).Epoch);
                return;
            case StatementReply r: Assert.Equal(r.Error?.GetType(), ((StatementReply)actual).Error?.GetType()); break;
            case CommitReply r: Assert.Equal(r.Error?.GetType(), ((CommitReply)actual).Error?.GetType()); break;
            case TableReply r: Assert.Equal(r.Error?.GetType(), ((TableReply)actual).Error?.GetType()); break;
        }
        // Records holding lists compare by reference; their JSON (every public property) compares by value.
        Assert.Equal(JsonSerializer.Serialize(expected, expected.GetType()), JsonSerializer.Serialize(actual, actual.GetType()));
    }

    // ---------------------------------------------------------------- generators

    private static readonly Gen<string> Text = Gen.String[Gen.Char, 0, 12];
    private static readonly Gen<Lsn> GenLsn = Gen.Long[0, long.MaxValue].Select(v => new Lsn(v));

    private static readonly Gen<RedoRecord> GenRecord =
        Gen.Select(Gen.Long[1, long.MaxValue], Gen.Int[0, int.MaxValue], Gen.Long[-1, long.MaxValue], Gen.Enum<RedoKind>(), Gen.Bool,
                Gen.Long, Gen.Long[0, long.MaxValue], Gen.Byte.Array[0, 48])
            .SelectMany(t => Gen.Long[0, t.Item1 - 1].Select(prev =>
                new RedoRecord(new Lsn(t.Item1), new Lsn(prev), t.Item2, t.Item3, t.Item4, t.Item5, t.Item6, t.Item7, t.Item8)));

    private static readonly Gen<AnnulledRange> GenAnnulled =
        Gen.Select(Gen.Long[0, long.MaxValue - 1], Gen.Long[0, long.MaxValue])
            .SelectMany(t => Gen.Long[t.Item1 + 1, long.MaxValue].Select(to => new AnnulledRange(new Lsn(t.Item1), new Lsn(to), t.Item2)));

    /// <summary>A key: <see cref="long"/> or <see cref="string"/>.</summary>
    private static readonly Gen<object> GenKey = Gen.OneOf<object>(Gen.Long.Select(v => (object)v), Text.Select(s => (object)s));

    /// <summary>A field value: null, <see cref="long"/>, <see cref="string"/> or <c>byte[]</c>.</summary>
    private static readonly Gen<object?> GenValue = Gen.OneOf<object?>(Gen.Const((object?)null), Gen.Long.Select(v => (object?)v),
        Text.Select(s => (object?)s), Gen.Byte.Array[0, 24].Select(b => (object?)b));

    private static readonly Gen<IReadOnlyDictionary<string, object?>> GenFields =
        Gen.Select(Text, GenValue).Array[0, 5].Select(IReadOnlyDictionary<string, object?> (pairs) =>
        {
            var fields = new Dictionary<string, object?>();
            foreach (var (name, value) in pairs) fields.TryAdd(name, value);
            return fields;
        });

    private static readonly Gen<Row> GenRow = Gen.Select(GenKey, GenFields, (key, fields) => new Row(key, fields));

    private static readonly Gen<Statement> GenStatement = Gen.OneOf<Statement>(
        Gen.Select(Text, GenKey, Gen.Bool, (t, k, u) => (Statement)new GetStatement(t, k, u)),
        Gen.Select(Text, GenKey, Gen.Int, (t, k, n) => (Statement)new ScanStatement(t, k, n)),
        Gen.Select(Text, GenKey, GenFields, (t, k, f) => (Statement)new InsertStatement(t, k, f)),
        Gen.Select(Text, GenKey, GenFields, (t, k, f) => (Statement)new UpdateStatement(t, k, f)),
        Gen.Select(Text, GenKey, (t, k) => (Statement)new DeleteStatement(t, k)));

    private static readonly Gen<object?> GenResult = Gen.OneOf<object?>(Gen.Const((object?)null), Gen.Bool.Select(b => (object?)b),
        GenRow.Select(r => (object?)r), GenRow.Array[0, 4].Select(rows => (object?)(IReadOnlyList<Row>)rows));

    private static readonly Gen<ActorDbException?> GenError = Gen.OneOf<ActorDbException?>(Gen.Const((ActorDbException?)null),
        Text.SelectMany(m => Gen.OneOfConst<ActorDbException?>(new ActorDbException(m), new TransactionAbortedException(m),
            new LockTimeoutException(m), new DeadlockException(m), new DuplicateKeyException(m), new SchemaException(m),
            new StaleEpochException(m, ambiguous: false), new StaleEpochException(m, ambiguous: true), new AmbiguousCommitException(m),
            new WriterStoppedException(m))));

    private static readonly Gen<CommitInfo?> GenCommit = Gen.Select(Gen.Long, Gen.Long, (c, v) => new CommitInfo(c, v)).Null();

    private static readonly Gen<TableSchema> GenSchema =
        Gen.Select(Text, Gen.Select(Text, Gen.Enum<ColumnType>(), (n, t) => new ColumnDef(n, t)).Array[1, 5], (n, c) => new TableSchema(n, c));

    /// <summary>The binary messages, whose fields (an <see cref="object"/> key, an abstract statement, an error) need
    /// more than their declared types to generate.</summary>
    private Dictionary<Type, Gen<object>> BinaryGens() => new()
    {
        [typeof(ExecuteStatement)] = Gen.Select(Gen.Long, GenStatement, Gen.Bool, Gen.Long, (id, s, c, sent) => (object)new ExecuteStatement(id, s, c, sent)),
        [typeof(StatementReply)] = Gen.Select(Gen.Long, GenResult, GenError, Gen.Bool, GenCommit, (id, r, e, a, c) => (object)new StatementReply(id, r, e, a, c)),
        [typeof(CommitTransaction)] = Gen.Select(Gen.Long, Gen.Long, (id, sent) => (object)new CommitTransaction(id, sent)),
        [typeof(CommitReply)] = Gen.Select(Gen.Long, GenCommit, GenError, (id, c, e) => (object)new CommitReply(id, c, e)),
        [typeof(RollbackTransaction)] = Gen.Long.Select(id => (object)new RollbackTransaction(id)),
        [typeof(RolledBack)] = Gen.Long.Select(id => (object)new RolledBack(id)),
        [typeof(CreateTable)] = GenSchema.Select(s => (object)new CreateTable(s)),
        [typeof(GetTable)] = Text.Select(t => (object)new GetTable(t)),
        [typeof(TableReply)] = Gen.Select(GenSchema.Null(), GenError, (s, e) => (object)new TableReply(s, e)),
        [typeof(GetWriter)] = Gen.Const<object>(GetWriter.Instance),
        [typeof(CurrentWriter)] = Gen.Select(Gen.OneOfConst(_writers), Gen.Long, (w, e) => (object)new CurrentWriter(w, e)),
        [typeof(WriterUnavailable)] = Gen.Select(Text, Gen.Bool, Gen.Bool, (r, f, s) => (object)new WriterUnavailable(r, f, s)),
        [typeof(RedoBatch)] = Gen.Select(Gen.Int, Gen.Int, Gen.Long, GenRecord.Array[0, 4], GenLsn, (pg, r, e, records, vdl) => (object)new RedoBatch(pg, r, e, records, vdl)),
        [typeof(RedoAck)] = Gen.Select(Gen.Int, Gen.Int, Gen.Long, GenLsn, Gen.Long, (pg, r, e, scl, us) => (object)new RedoAck(pg, r, e, scl, us)),
    };

    /// <summary>A generator of valid instances of <paramref name="type"/>: its own for a binary message, else one
    /// built from its record shape (<see cref="GenShape"/>).</summary>
    private Gen<object> GenFor(Type type) =>
        BinaryGens().TryGetValue(type, out var gen) ? gen : GenShape(type, nullable: false).Select(o => o!);

    private static readonly NullabilityInfoContext Nullability = new();

    /// <summary>
    /// A generator of any value of <paramref name="type"/> built from its shape: primitives, LSNs, arrays and lists,
    /// enums, nullables, singletons (a static <c>Instance</c>) and records (their widest constructor, each parameter
    /// generated by its type), so that a JSON message added to <see cref="ActorDbSerializer.JsonTypes"/> is covered
    /// without writing its generator. Throws <see cref="NotSupportedException"/> for a type it cannot build.
    /// </summary>
    private static Gen<object?> GenShape(Type type, bool nullable)
    {
        if (Nullable.GetUnderlyingType(type) is { } inner) return GenShape(inner, nullable: false).Null();
        var gen = Simple(type);
        if (gen is null && type.IsArray) gen = ArrayOf(type.GetElementType()!, 0, 4);
        if (gen is null && type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>))
            gen = ArrayOf(type.GetGenericArguments()[0], 0, 4);
        if (gen is null && type.IsEnum)
            gen = Gen.OneOfConst(Enum.GetValues(type).Cast<object?>().ToArray());
        if (gen is null && type.GetField("Instance", BindingFlags.Public | BindingFlags.Static) is { } instance && instance.FieldType == type)
            gen = Gen.Const(instance.GetValue(null));
        if (gen is null && type.IsClass && !type.IsAbstract)
        {
            var ctor = type.GetConstructors().MaxBy(c => c.GetParameters().Length)
                ?? throw new NotSupportedException($"{type.Name} has no public constructor");
            var args = ctor.GetParameters()
                .Select(p => GenShape(p.ParameterType, p.ParameterType.IsValueType ? false : Nullability.Create(p).WriteState == NullabilityState.Nullable))
                .Aggregate(Gen.Const(ImmutableList<object?>.Empty), (all, g) => all.SelectMany(list => g.Select(list.Add)));
            gen = args.Select(list => (object?)ctor.Invoke([.. list]));
        }
        if (gen is null) throw new NotSupportedException($"no generator for {type.Name}");
        return nullable ? gen.Null() : gen;
    }

    private static Gen<object?>? Simple(Type type) =>
        type == typeof(int) ? Gen.Int.Select(v => (object?)v)
        : type == typeof(long) ? Gen.Long.Select(v => (object?)v)
        : type == typeof(bool) ? Gen.Bool.Select(v => (object?)v)
        : type == typeof(double) ? Gen.Double[-1e9, 1e9].Select(v => (object?)v)
        : type == typeof(string) ? Text.Select(v => (object?)v)
        : type == typeof(byte[]) ? Gen.Byte.Array[0, 48].Select(v => (object?)v)
        : type == typeof(DateTime) ? Gen.Long[0, DateTime.MaxValue.Ticks].Select(t => (object?)new DateTime(t, DateTimeKind.Utc))
        : type == typeof(TimeSpan) ? Gen.Long.Select(t => (object?)TimeSpan.FromTicks(t))
        : type == typeof(Lsn) ? GenLsn.Select(v => (object?)v)
        : type == typeof(RedoRecord) ? GenRecord.Select(v => (object?)v)
        : type == typeof(AnnulledRange) ? GenAnnulled.Select(v => (object?)v)
        : null;

    private static Gen<object?> ArrayOf(Type element, int min, int max) =>
        GenShape(element, nullable: false).Array[min, max].Select(items =>
        {
            var array = Array.CreateInstance(element, items.Length);
            for (var i = 0; i < items.Length; i++) array.SetValue(items[i], i);
            return (object?)array;
        });
}
