using System.Runtime.Serialization;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Core.Metrics;
using ActorDb.Core.Recovery;
using ActorDb.Core.Redo;
using ActorDb.Core.Storage;
using ActorDb.Core.Transactions;
using ActorDb.Serialization;
using ActorDb.Recovery;
using ActorDb.Storage;
using ActorDb.Writer;
using static ActorDb.Recovery.RecoveryProtocol;
using static ActorDb.Core.Storage.SegmentProtocol;
using static ActorDb.Writer.WriterProtocol;

namespace ActorDb.Tests.Cluster;

/// <summary>
/// Every ActorDb message that crosses nodes goes through <see cref="ActorDbSerializer"/> (bound in reference.conf) and
/// comes back equal: what a client node, a standby writer and the storage nodes exchange. Built with collection
/// expressions on purpose: Akka's default JSON serializer names their compiler-generated types, which the receiving
/// process cannot load.
/// </summary>
public sealed class SerializationTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("ser", ConfigurationFactory.ParseString("akka.loglevel = WARNING")
        .WithFallback(ActorDbSettings.DefaultConfig()));

    public void Dispose() => _system.Dispose();

    private object RoundTrip(object message)
    {
        var serializer = _system.Serialization.FindSerializerFor(message);
        Assert.IsType<ActorDbSerializer>(serializer);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        var bytes = serializer.ToBinary(message);
        return _system.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
    }

    /// <summary>Records holding lists compare by reference; their JSON (System.Text.Json's defaults, every public
    /// property) compares by value.</summary>
    private static string Canonical(object o) => JsonSerializer.Serialize(o, o.GetType());

    private static RedoRecord Record(long lsn, long prev, bool cpl = false) =>
        new(new Lsn(lsn), new Lsn(prev), 0, 7, RedoKind.PageDelta, cpl, 42, 3, new byte[] { 1, 2, 3, (byte)lsn });

    public static TheoryData<string> Messages() => new(AllMessages().Select(m => m.Name));

    private static IEnumerable<(string Name, object Message)> AllMessages()
    {
        var fields = new Dictionary<string, object?> { ["c"] = "text", ["k"] = 5L, ["pad"] = new byte[] { 0, 255, 7 }, ["gone"] = null };
        var row = new Row(9L, fields);
        yield return ("insert", new ExecuteStatement(17, new InsertStatement("sbtest", 9L, fields), Commit: true, Sent: 123));
        yield return ("update", new ExecuteStatement(17, new UpdateStatement("usertable", "user42", fields)));
        yield return ("get", new ExecuteStatement(0, new GetStatement("sbtest", 9L, ForUpdate: true)));
        yield return ("scan", new ExecuteStatement(3, new ScanStatement("sbtest", long.MinValue, 100)));
        yield return ("delete", new ExecuteStatement(3, new DeleteStatement("sbtest", "k")));
        yield return ("reply-row", new StatementReply(5, row, null, false, new CommitInfo(100, 104)));
        yield return ("reply-rows", new StatementReply(5, (IReadOnlyList<Row>)[row, new Row("a", new Dictionary<string, object?>())], null, false));
        yield return ("reply-bool", new StatementReply(5, true, null, false));
        yield return ("reply-duplicate", new StatementReply(5, null, new DuplicateKeyException("key 9 exists"), false));
        yield return ("reply-deadlock", new StatementReply(5, null, new DeadlockException("cycle"), true));
        yield return ("reply-lock-timeout", new StatementReply(5, null, new LockTimeoutException("waited 2 s"), true));
        yield return ("reply-writer-stopped", new StatementReply(5, null, new WriterStoppedException("drained"), true));
        yield return ("reply-stale", new StatementReply(5, null, new StaleEpochException("fenced by 4", ambiguous: true), true));
        yield return ("commit", new CommitTransaction(8, 99));
        yield return ("commit-reply", new CommitReply(8, new CommitInfo(7, 9), null));
        yield return ("commit-reply-error", new CommitReply(8, null, new TransactionAbortedException("the writer is stopping")));
        yield return ("rollback", new RollbackTransaction(8));
        yield return ("rolled-back", new RolledBack(8));
        yield return ("create-table", new CreateTable(new TableSchema("t", [new ColumnDef("id", ColumnType.Int64), new ColumnDef("b", ColumnType.Bytes)])));
        yield return ("get-table", new GetTable("t"));
        yield return ("table-reply", new TableReply(new TableSchema("t", [new ColumnDef("id", ColumnType.String)]), null));
        yield return ("table-reply-error", new TableReply(null, new SchemaException("bad column")));
        yield return ("get-writer", GetWriter.Instance);
        yield return ("writer-unavailable", new WriterUnavailable("no writer: stopping", Fenced: false, Stopping: true));
        yield return ("redo-batch", new RedoBatch(0, 4, 3, [Record(10, 9), Record(11, 10, cpl: true)], new Lsn(9)));
        yield return ("redo-ack", new RedoAck(0, 4, 3, new Lsn(11), 950));
        yield return ("redo-rejected", new RedoRejected(0, 1, 5, "epoch 3 is stale", true));
        yield return ("segment-state", new SegmentState(new SegmentReport(0, 2, 3, new Lsn(50), new Lsn(60),
            [new CplInfo(new Lsn(50), [new Lsn(49)])], [new AnnulledRange(new Lsn(60), new Lsn(1000), 2)])));
        yield return ("get-segment-state", new GetSegmentState(0, 2, 4));
        yield return ("open-epoch", new OpenEpoch(0, 2, 4, new Lsn(50), new Lsn(1000), new Lsn(49)));
        yield return ("page-image", new PageImage(0, 1, 3, [1, 2, 3], new Lsn(40)));
        yield return ("peer-redo", new PeerRedo(0, 5, [Record(12, 11)], null, new Lsn(12)));
        yield return ("fetch-redo", new FetchRedo(0, 5, 4, new Lsn(10), new Lsn(long.MaxValue), 2));
        yield return ("fetch-pages", new FetchPages(0, 1, 4, 3, 77, 12, 1 << 20));
        yield return ("peer-pages", new PeerPages(0, 1, 77, 12, [12, 13], new byte[16], 14, 500, 480, [479], [500, 1000, 2], new Lsn(520), null));
        yield return ("fetch-page", new FetchPage(0, 1, 4, 3, 12, new Lsn(480)));
        yield return ("peer-page", new PeerPage(0, 1, 12, [1, 2, 3], new Lsn(500), null));
        yield return ("peer-page-unavailable", new PeerPage(0, 1, 12, null, new Lsn(400), "pg-0-1's own copy of page 12 is damaged"));
        yield return ("page-unavailable-damaged", new PageUnavailable(0, 1, 12, new Lsn(400), Damaged: true));
        yield return ("segment-status-pages", new SegmentStatus(0, 3, 4, new Lsn(90), new Lsn(95), 10, 9, 800, 4096, 8192, new Lsn(80), new Lsn(60), 2, 65536, null, 4,
            Pages: new PageHealth(100, 820800, 1, 2, 1, 1)));
        yield return ("segment-status", new SegmentStatus(0, 3, 4, new Lsn(90), new Lsn(95), 10, 9, 800, 4096, 8192, new Lsn(80), new Lsn(60), 2, 65536, null, 4,
            new CatchUpProgress(4, 1, DateTime.UnixEpoch, new Lsn(0), new Lsn(95), new Lsn(60), 8, 65536, 12, 900), new Lsn(95)));
        yield return ("stop", Stop.Instance);
        yield return ("writer-status", new WriterStatus("serving", 4, new Lsn(100), new Lsn(99), new Lsn(98), 10_000_000, 5, 6, 7, 8, 9, 10, 11, 1, 2,
            [new PgStatus(0, [new Lsn(1), new Lsn(2)], new Lsn(1), [3], [0L, 5L])], null,
            RecoveryRecord.Start(1, "start", new DateTime(2026, 11, 29, 0, 0, 0, DateTimeKind.Utc)).WithPhase("plan", TimeSpan.FromMilliseconds(3), "VDL 9"),
            new LatencySummary(10, 1.5, 9.25)));
        yield return ("history", new RecoveryHistoryReply([RecoveryRecord.Start(2, "writer failed", DateTime.UnixEpoch)], null));
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void A_message_comes_back_with_the_same_content(string name)
    {
        var message = AllMessages().Single(m => m.Name == name).Message;
        var back = RoundTrip(message);
        Assert.Equal(message.GetType(), back.GetType());
        Assert.Equal(Canonical(message), Canonical(back));
    }

    /// <summary>Messages that never leave their node: between the supervisor and the writer it starts (its child), or the
    /// singleton manager and the supervisor (same node), or a node's own coordinated shutdown and its writer.</summary>
    private static readonly Type[] LocalOnly =
    [
        typeof(OpenedSegment), typeof(RecoveredVolume), typeof(WriterOpened), typeof(WriterOpenFailed), typeof(WriterFenced),
        typeof(Recovered), typeof(HandOver), typeof(Drain), typeof(Drained), typeof(PgStatus),
    ];

    [Theory]
    [InlineData(typeof(SegmentProtocol))]
    [InlineData(typeof(WriterProtocol))]
    [InlineData(typeof(RecoveryProtocol))]
    public void Every_message_of_a_protocol_that_crosses_nodes_is_bound_to_the_ActorDb_serializer(Type protocol)
    {
        var unbound = protocol.GetNestedTypes()
            .Where(t => !t.IsInterface && !t.IsEnum && !LocalOnly.Contains(t))   // an enum travels inside a message
            .Where(t => _system.Serialization.FindSerializerForType(t) is not ActorDbSerializer)
            .Select(t => t.Name).ToList();
        Assert.True(unbound.Count == 0, $"mark these {nameof(IActorDbMessage)} and give them a manifest in ActorDbSerializer (or list them as local-only): {string.Join(", ", unbound)}");
    }

    /// <summary>reference.conf binds the serializer by the marker alone, and the serializer decodes only what its manifest
    /// table lists: a marked type without a manifest would fail to send, a listed type without the marker would go to
    /// Akka's default serializer. Both lists are the same, and Akka resolves each type to the serializer.</summary>
    [Fact]
    public void The_types_marked_IActorDbMessage_are_exactly_those_with_a_manifest()
    {
        var marked = new[] { typeof(ActorDbSerializer).Assembly, typeof(IActorDbMessage).Assembly }
            .SelectMany(a => a.GetTypes())
            .Where(t => typeof(IActorDbMessage).IsAssignableFrom(t) && t is { IsInterface: false, IsAbstract: false })
            .ToHashSet();
        var withoutManifest = marked.Where(t => !ActorDbSerializer.Manifests.ContainsKey(t)).Select(t => t.FullName).Order().ToList();
        var unmarked = ActorDbSerializer.Manifests.Keys.Where(t => !marked.Contains(t)).Select(t => t.FullName).Order().ToList();
        Assert.True(withoutManifest.Count == 0, $"give these a manifest in ActorDbSerializer: {string.Join(", ", withoutManifest)}");
        Assert.True(unmarked.Count == 0, $"mark these {nameof(IActorDbMessage)}: {string.Join(", ", unmarked)}");
        Assert.All(marked, t => Assert.IsType<ActorDbSerializer>(_system.Serialization.FindSerializerForType(t)));
    }

    [Fact]
    public void Column_values_keep_their_type_and_errors_their_kind_and_message()
    {
        var back = (StatementReply)RoundTrip(new StatementReply(1, new Row(9L, new Dictionary<string, object?> { ["pad"] = new byte[] { 9 }, ["k"] = 3L }), null, false));
        var row = (Row)back.Result!;
        Assert.IsType<long>(row.Key);
        Assert.Equal(new byte[] { 9 }, Assert.IsType<byte[]>(row.Fields["pad"]));
        Assert.IsType<long>(row.Fields["k"]);

        var stale = (StatementReply)RoundTrip(new StatementReply(1, null, new StaleEpochException("fenced", ambiguous: true), true));
        Assert.True(Assert.IsType<StaleEpochException>(stale.Error).Ambiguous);
        Assert.Equal("fenced", stale.Error!.Message);
    }

    [Fact]
    public void A_writer_reference_resolves_to_the_same_actor()
    {
        var writer = _system.ActorOf(Props.Empty, "writer-e4");
        var back = (CurrentWriter)RoundTrip(new CurrentWriter(writer, 4));
        Assert.Equal(writer, back.Writer);
        Assert.Equal(4, back.Epoch);
    }

    [Fact]
    public void A_redo_batch_damaged_on_the_wire_is_refused_not_delivered()
    {
        var batch = new RedoBatch(0, 1, 3, [Record(10, 9), Record(11, 10)], new Lsn(9));
        var serializer = _system.Serialization.FindSerializerFor(batch);
        var bytes = serializer.ToBinary(batch);
        bytes[^3] ^= 0x40;   // a payload byte of the last record
        var e = Assert.Throws<SerializationException>(() =>
            _system.Serialization.Deserialize(bytes, serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, batch)));
        Assert.Contains("record 1 of 2 does not decode", e.Message);
    }

    // ---------------------------------------------------------------- hostile bytes (issue 11)

    /// <summary>Decodes <paramref name="bytes"/> as <paramref name="manifest"/> expecting a SerializationException that
    /// names the manifest, and returns it with the bytes the decode allocated.</summary>
    private (SerializationException Error, long Allocated) Refused(byte[] bytes, string manifest)
    {
        _ = _system.Serialization.Deserialize([], ActorDbSerializer.SerializerId, "gw");   // warm the path
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<SerializationException>(() => _system.Serialization.Deserialize(bytes, ActorDbSerializer.SerializerId, manifest));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains($"'{manifest}'", e.Message);
        return (e, allocated);
    }

    /// <summary>Well above what the refusal itself costs (an exception and its message), far below what any of these
    /// inputs claims.</summary>
    private const long RefusalAllocationBound = 64 * 1024;

    /// <summary>A redo batch header (pg, replica, epoch, VDL) and a record count, nothing else: 28 bytes.</summary>
    private static byte[] BatchClaiming(int records)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream))
        {
            w.Write(0); w.Write(1); w.Write(3L); w.Write(9L); w.Write(records);
        }
        return stream.ToArray();
    }

    [Fact]
    public void A_28_byte_redo_batch_claiming_100_million_records_is_refused_before_allocating()
    {
        var bytes = BatchClaiming(100_000_000);
        Assert.Equal(28, bytes.Length);
        var (e, allocated) = Refused(bytes, "batch");
        Assert.Contains("records at offset 24 claims 100000000 elements", e.Message);
        Assert.True(allocated < RefusalAllocationBound, $"allocated {allocated} bytes");
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(-1)]
    [InlineData(-5)]
    public void A_record_count_out_of_range_is_a_SerializationException(int count)
    {
        var (e, allocated) = Refused(BatchClaiming(count), "batch");
        Assert.Contains($"claims {count} elements", e.Message);
        Assert.True(allocated < RefusalAllocationBound, $"allocated {allocated} bytes");
    }

    /// <summary>An insert of table "t", key 9, with one field "pad" whose value is the <paramref name="value"/> bytes
    /// (a value tag and what follows it), cut after them.</summary>
    private static byte[] InsertWithFieldCount(int fieldCount, params byte[] value)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream))
        {
            w.Write(17L); w.Write((byte)3); w.Write("t"); w.Write((byte)1); w.Write(9L); w.Write(fieldCount); w.Write("pad");
            w.Write(value);
        }
        return stream.ToArray();
    }

    [Fact]
    public void A_byte_array_claiming_a_billion_bytes_is_refused_before_allocating()
    {
        var length = BitConverter.GetBytes(1_000_000_000);
        var (e, allocated) = Refused(InsertWithFieldCount(1, [3, .. length]), "es");
        Assert.Contains("byte[] value at offset 29 claims 1000000000 elements of at least 1 bytes, but only 0 bytes are left", e.Message);
        Assert.True(allocated < RefusalAllocationBound, $"allocated {allocated} bytes");
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(-1)]
    [InlineData(-5)]
    public void A_field_count_or_a_byte_array_length_out_of_range_is_a_SerializationException(int count)
    {
        var (fields, allocated) = Refused(InsertWithFieldCount(count, 0), "es");
        Assert.Contains($"field count at offset 20 claims {count} elements", fields.Message);
        Assert.True(allocated < RefusalAllocationBound, $"allocated {allocated} bytes");

        var (bytes, _) = Refused(InsertWithFieldCount(1, [3, .. BitConverter.GetBytes(count)]), "es");
        Assert.Contains($"byte[] value at offset 29 claims {count} elements", bytes.Message);
    }

    [Fact]
    public void Bytes_after_a_complete_message_are_refused()
    {
        var bytes = _system.Serialization.FindSerializerForType(typeof(RedoAck)).ToBinary(new RedoAck(0, 1, 3, new Lsn(9)));
        var (e, _) = Refused([.. bytes, 0], "ack");
        Assert.Contains("has 1 bytes after its end", e.Message);
    }

    [Fact]
    public void An_unknown_manifest_is_a_SerializationException_naming_it()
    {
        var (e, _) = Refused([1, 2, 3], "nonsense");
        Assert.Contains("unknown manifest", e.Message);
    }

    [Theory]
    [InlineData("{\"Pg\":0,\"Replica\":1", "truncated JSON")]
    [InlineData("{\"Pg\":0}", "missing Replica")]
    [InlineData("{\"Pg\":\"zero\",\"Replica\":1}", "a string for an int")]
    [InlineData("null", "null")]
    public void A_JSON_message_that_does_not_decode_is_a_SerializationException_naming_the_manifest(string json, string why)
    {
        var (e, _) = Refused(System.Text.Encoding.UTF8.GetBytes(json), "j.GetSegmentStatus");
        Assert.False(string.IsNullOrEmpty(e.Message), why);
    }

    [Fact]
    public void A_JSON_value_the_message_refuses_is_a_SerializationException_not_its_constructor_exception()
    {
        // An annulled range whose upper bound is below its lower bound: AnnulledRange's constructor throws
        // ArgumentOutOfRangeException, which the serializer turns into a SerializationException.
        var json = "{\"Report\":{\"Pg\":0,\"Replica\":2,\"Epoch\":3,\"Scl\":50,\"MaxLsn\":60,\"Cpls\":[],\"Annulled\":[[1000,60,2]]," +
                   "\"OpenedEpoch\":null,\"JoinTarget\":0}}";
        var (e, _) = Refused(System.Text.Encoding.UTF8.GetBytes(json), "j.SegmentState");
        Assert.IsType<ArgumentOutOfRangeException>(e.InnerException);
    }
}
