using ActorDb.Core.Recovery;
using ActorDb.Core.Redo;
using ActorDb.Core.Storage;
using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Core.Tests.Storage;

/// <summary>The segment engine driven directly, with no actor: inputs are method calls with a time, outputs are records
/// the test performs (the group commit by hand, so the test decides when an fsync completes).</summary>
public class SegmentEngineTests : IDisposable
{
    private const int Pg = 1;
    private const string Self = "akka://test";
    private static readonly VolumeGeometry Geometry = new(8192, 2, 1024);   // PG 1 holds pages 1024..2047
    private static readonly byte[] Delta = [8, 0, 1, 0, 42];                 // 1 byte at offset 8
    private static readonly DateTime T0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly SegmentSender Writer = new(Self, "akka://test/user/writer", "writer");

    private readonly TempDir _dir = new();
    private readonly List<SegmentEngine> _engines = new();
    private readonly List<SegmentOutput> _out = new();

    public void Dispose()
    {
        foreach (var e in _engines) e.Close(T0, new List<SegmentOutput>());
        _dir.Dispose();
    }

    private static SegmentEngineSettings Settings => new(Geometry, Lal: 10_000, Fsync: false, MaxFileBytes: 1 << 20, RememberedCpls: 16,
        PreallocateBytes: 0, CheckpointBytes: 1 << 20) { DirectIo = false };

    private SegmentEngine NewEngine(int replica, IStorage? storage = null)
    {
        var engine = new SegmentEngine(Pg, replica, Settings, storage ?? DiskStorage.Instance, Path.Combine(_dir.Path, $"pg-{Pg}-{replica}"), Self,
            () => NodeMembership.Standalone(Self));
        _engines.Add(engine);
        engine.Open(T0, _out);
        Assert.IsType<SegmentLifecycle.Serving>(engine.State);
        _out.Clear();
        return engine;
    }

    private static RedoRecord Record(long lsn, long prev, long epoch = 1, byte[]? payload = null) =>
        new(new Lsn(lsn), new Lsn(prev), Pg, 1024 + lsn % 7, RedoKind.PageDelta, false, 7, epoch, payload ?? Delta);

    /// <summary>Fences <paramref name="engine"/> at <paramref name="epoch"/> and opens it there.</summary>
    private void FenceAndOpen(SegmentEngine engine, int replica, long epoch, long vdl = 0, long truncateTo = 0, long pgTail = 0)
    {
        Receive(engine, new GetSegmentState(Pg, replica, epoch));
        Assert.IsType<SegmentState>(Replies().Single());
        _out.Clear();
        Receive(engine, new OpenEpoch(Pg, replica, epoch, new Lsn(vdl), new Lsn(truncateTo), new Lsn(pgTail)));
        Assert.Equal(epoch, Assert.IsType<EpochOpened>(Replies().First()).Epoch);
    }

    private void Receive(SegmentEngine engine, object message, SegmentSender? from = null) =>
        Assert.True(engine.Receive(from ?? Writer, message, T0, _out));

    private List<object> Replies() => _out.OfType<SegmentOutput.Reply>().Select(r => r.Message).ToList();

    private List<object> ToWriter() => _out.OfType<SegmentOutput.SendTo>().Where(s => s.Target == Writer).Select(s => s.Message).ToList();

    /// <summary>Performs the group commit the engine asked for (every buffered record) and reports it.</summary>
    private void RunSync(SegmentEngine engine)
    {
        var start = _out.OfType<SegmentOutput.StartSync>().Last();
        _out.Clear();
        var batch = start.SegmentLog.TakeBatch();
        start.SegmentLog.WriteAndSync(batch);
        engine.Synced(start.Generation, batch.CumulativeRecords, 5, batch.Length, T0, _out);
    }

    [Fact]
    public void Redo_is_acknowledged_only_after_its_sync()
    {
        var engine = NewEngine(0);
        FenceAndOpen(engine, 0, 1);
        _out.Clear();

        Receive(engine, new RedoBatch(Pg, 0, 1, [Record(10, 0), Record(20, 10), Record(30, 20)], Lsn.Zero));
        Assert.Single(_out.OfType<SegmentOutput.StartSync>());
        Assert.Empty(Replies());
        Assert.Empty(ToWriter());
        Assert.Equal(Lsn.Zero, engine.DurableScl);

        RunSync(engine);
        var ack = Assert.IsType<RedoAck>(ToWriter().Single());
        Assert.Equal((1L, new Lsn(30), 5L), (ack.Epoch, ack.Scl, ack.SyncMicros));
        Assert.Equal(new Lsn(30), engine.DurableScl);
    }

    [Fact]
    public void A_hole_stops_the_scl_until_it_is_filled()
    {
        var engine = NewEngine(0);
        FenceAndOpen(engine, 0, 1);
        _out.Clear();
        Receive(engine, new RedoBatch(Pg, 0, 1, [Record(10, 0), Record(20, 10), Record(40, 30)], Lsn.Zero));
        RunSync(engine);
        Assert.Equal(new Lsn(20), Assert.IsType<RedoAck>(ToWriter().Single()).Scl);

        _out.Clear();
        Receive(engine, new RedoBatch(Pg, 0, 1, [Record(30, 20)], Lsn.Zero));
        RunSync(engine);
        Assert.Equal(new Lsn(40), Assert.IsType<RedoAck>(ToWriter().Single()).Scl);
    }

    [Fact]
    public void The_same_lsn_with_other_content_is_refused_and_changes_nothing()
    {
        var engine = NewEngine(0);
        FenceAndOpen(engine, 0, 1);
        _out.Clear();
        Receive(engine, new RedoBatch(Pg, 0, 1, [Record(10, 0), Record(30, 20)], Lsn.Zero));   // 30 is held above the hole
        RunSync(engine);
        _out.Clear();

        Receive(engine, new RedoBatch(Pg, 0, 1, [Record(20, 10), Record(30, 20, payload: [8, 0, 1, 0, 43])], Lsn.Zero));
        var rejected = Assert.IsType<RedoRejected>(Replies().Single());
        Assert.False(rejected.StaleEpoch);
        Assert.Contains("record LSN 30", rejected.Reason);
        Assert.Contains("one LSN has one content", rejected.Reason);
        Assert.Empty(_out.OfType<SegmentOutput.StartSync>());   // nothing of the batch was stored, 20 included
        Assert.Equal(new Lsn(10), engine.DurableScl);
    }

    [Fact]
    public void After_a_fence_older_epochs_are_refused_and_records_in_sync_are_not_acknowledged()
    {
        var engine = NewEngine(0);
        FenceAndOpen(engine, 0, 1);
        _out.Clear();
        Receive(engine, new RedoBatch(Pg, 0, 1, [Record(10, 0)], Lsn.Zero));
        var pendingSync = _out.ToList();

        _out.Clear();
        Receive(engine, new GetSegmentState(Pg, 0, FenceEpoch: 2));
        Assert.Equal(2, Assert.IsType<SegmentState>(Replies().Single()).Report.Epoch);

        _out.Clear();
        _out.AddRange(pendingSync);
        RunSync(engine);   // the sync of epoch 1's record completes after the fence
        var stale = Assert.IsType<RedoRejected>(ToWriter().Single());
        Assert.True(stale.StaleEpoch);
        Assert.Equal(2, stale.SegmentEpoch);

        _out.Clear();
        Receive(engine, new RedoBatch(Pg, 0, 1, [Record(20, 10)], Lsn.Zero));
        Assert.True(Assert.IsType<RedoRejected>(Replies().Single()).StaleEpoch);
        Assert.Empty(_out.OfType<SegmentOutput.StartSync>());
    }

    [Fact]
    public void Open_epoch_annuls_the_range_above_vdl_durably()
    {
        var engine = NewEngine(0);
        FenceAndOpen(engine, 0, 1);
        _out.Clear();
        Receive(engine, new RedoBatch(Pg, 0, 1, [Record(10, 0), Record(20, 10), Record(30, 20), Record(40, 30), Record(50, 40)], Lsn.Zero));
        RunSync(engine);
        Assert.Equal(new Lsn(50), engine.DurableScl);

        _out.Clear();
        FenceAndOpen(engine, 0, 2, vdl: 30, truncateTo: 100, pgTail: 30);
        Assert.Equal(new Lsn(30), Assert.IsType<EpochOpened>(Replies().Single()).Scl);
        Assert.Equal(new Lsn(30), engine.DurableScl);

        // An old epoch's record in the annulled range is never taken again (a resend is only re-acknowledged at the SCL).
        _out.Clear();
        Receive(engine, new RedoBatch(Pg, 0, 2, [Record(40, 30, epoch: 2)], new Lsn(30)));
        Assert.Equal(new Lsn(30), Assert.IsType<RedoAck>(Replies().Single()).Scl);
        Assert.Empty(_out.OfType<SegmentOutput.StartSync>());

        // Epoch 2 writes above the truncation point, its first record backlinked to the VDL.
        _out.Clear();
        Receive(engine, new RedoBatch(Pg, 0, 2, [Record(110, 30, epoch: 2)], new Lsn(30)));
        RunSync(engine);
        Assert.Equal(new Lsn(110), Assert.IsType<RedoAck>(ToWriter().Single()).Scl);

        // Reopened from disk: the truncation holds (40 and 50 do not come back), 110 does.
        _out.Clear();
        engine.Close(T0, _out);
        _engines.Remove(engine);
        var reopened = NewEngine(0);
        _out.Clear();
        Receive(reopened, new GetSegmentState(Pg, 0));
        var report = Assert.IsType<SegmentState>(Replies().Single()).Report;
        Assert.Equal((2L, new Lsn(110), new Lsn(110)), (report.Epoch, report.Scl, report.MaxLsn));
        var annulled = Assert.Single(report.Annulled);
        Assert.Equal((new Lsn(30), new Lsn(100), 2L), (annulled.FromExclusive, annulled.ToInclusive, annulled.Epoch));
    }

    [Fact]
    public void A_segment_below_its_pg_catches_up_from_a_peer()
    {
        var source = NewEngine(0);
        FenceAndOpen(source, 0, 1);
        _out.Clear();
        Receive(source, new RedoBatch(Pg, 0, 1, [Record(10, 0), Record(20, 10), Record(30, 20)], new Lsn(30)));
        RunSync(source);

        // Replica 5 was down: it opens below the PG's tail and asks its next peer (replica 0) at once.
        var lagging = NewEngine(5);
        _out.Clear();
        FenceAndOpen(lagging, 5, 1, vdl: 30, truncateTo: 30, pgTail: 30);
        var fetch = Assert.IsType<FetchRedo>(_out.OfType<SegmentOutput.SendToPeer>().Single(p => p.Replica == 0).Message);
        Assert.Equal((0, 5, Lsn.Zero), (fetch.Replica, fetch.RequesterReplica, fetch.FromExclusive));

        _out.Clear();
        var peer5 = new SegmentSender(Self, "akka://test/user/pg-1-5", "pg-1-5");
        Receive(source, fetch, peer5);
        var answer = Assert.IsType<PeerRedo>(Replies().Single());
        Assert.Null(answer.Unavailable);
        Assert.Equal([10L, 20L, 30L], answer.Records.Select(r => r.Lsn.Value));

        _out.Clear();
        var peer0 = new SegmentSender(Self, "akka://test/user/pg-1-0", "pg-1-0");
        Receive(lagging, answer, peer0);
        Assert.Equal(Lsn.Zero, lagging.DurableScl);   // taken, not yet durable
        RunSync(lagging);
        Assert.Equal(new Lsn(30), lagging.DurableScl);
    }

    [Fact]
    public void A_failed_sync_acknowledges_nothing_and_faults_the_segment()
    {
        var engine = NewEngine(0);
        FenceAndOpen(engine, 0, 1);
        _out.Clear();
        Receive(engine, new RedoBatch(Pg, 0, 1, [Record(10, 0)], Lsn.Zero));
        var start = _out.OfType<SegmentOutput.StartSync>().Single();
        _out.Clear();
        engine.SyncFailed(start.Generation, StorageErrors.WriteFailed(StorageErrors.Enospc, "redo.log"), T0, _out);
        Assert.Empty(ToWriter());
        Assert.Equal(Lsn.Zero, engine.DurableScl);
        var faulted = Assert.IsType<SegmentLifecycle.Faulted>(engine.State);
        Assert.Equal(StorageFailureKind.DiskFull, faulted.Kind);
        Assert.Contains(_out.OfType<SegmentOutput.ScheduleTick>(), t => t.Timer == SegmentTimer.Heal);

        _out.Clear();
        Receive(engine, new RedoBatch(Pg, 0, 1, [Record(10, 0)], Lsn.Zero));
        Assert.Equal(SegmentFault.DiskFull, Assert.IsType<RedoRejected>(Replies().Single()).Fault);
    }

    [Fact]
    public void A_graceful_stop_waits_for_the_last_sync_and_acknowledges_it()
    {
        var engine = NewEngine(0);
        FenceAndOpen(engine, 0, 1);
        _out.Clear();
        Receive(engine, new RedoBatch(Pg, 0, 1, [Record(10, 0)], Lsn.Zero));
        var pendingSync = _out.ToList();

        _out.Clear();
        Receive(engine, Stop.Instance);
        Assert.Empty(_out.OfType<SegmentOutput.Stopped>());
        Assert.IsType<SegmentLifecycle.Stopping>(engine.State);
        Receive(engine, new RedoBatch(Pg, 0, 1, [Record(20, 10)], Lsn.Zero));
        Assert.Equal("segment is stopping", Assert.IsType<RedoRejected>(Replies().Single()).Reason);

        _out.Clear();
        _out.AddRange(pendingSync);
        RunSync(engine);
        Assert.Equal(new Lsn(10), Assert.IsType<RedoAck>(ToWriter().Single()).Scl);
        Assert.Single(_out.OfType<SegmentOutput.Stopped>());
    }

    [Fact]
    public void A_checkpoint_is_asked_for_once_enough_log_arrived_and_a_reopen_starts_from_it()
    {
        var settings = Settings with { CheckpointBytes = 1 };
        var engine = new SegmentEngine(Pg, 0, settings, DiskStorage.Instance, Path.Combine(_dir.Path, "pg-1-0"), Self, () => NodeMembership.Standalone(Self));
        engine.Open(T0, _out);
        FenceAndOpen(engine, 0, 1);
        _out.Clear();
        // WriterVdl 40 lets the segment materialize what is durable; the checkpoint waits for a sync with enough backlog.
        Receive(engine, new RedoBatch(Pg, 0, 1, [Record(10, 0), Record(20, 10), Record(30, 20), Record(40, 30)], new Lsn(40)));
        RunSync(engine);
        Receive(engine, new ReadPage(Pg, 0, 1024 + 40 % 7, new Lsn(40), new Lsn(40)));   // materializes up to 40
        Assert.IsType<PageImage>(Replies().Single());
        _out.Clear();
        Receive(engine, new RedoBatch(Pg, 0, 1, [Record(50, 40)], new Lsn(40)));
        RunSync(engine);
        var checkpoint = _out.OfType<SegmentOutput.StartCheckpoint>().Single();
        Assert.Equal(new Lsn(40), checkpoint.Materialized);
        checkpoint.Store.Write(checkpoint.Pages);
        _out.Clear();
        engine.CheckpointWritten(checkpoint, 10, T0, _out);
        Receive(engine, new GetSegmentStatus(Pg, 0));
        Assert.Equal(new Lsn(40), Assert.IsType<SegmentStatus>(Replies().Single()).Checkpoint);
        engine.Close(T0, new List<SegmentOutput>());

        var reopened = new SegmentEngine(Pg, 0, settings, DiskStorage.Instance, Path.Combine(_dir.Path, "pg-1-0"), Self, () => NodeMembership.Standalone(Self));
        _engines.Add(reopened);
        _out.Clear();
        reopened.Open(T0, _out);
        var opened = _out.OfType<SegmentOutput.Log>().Single(l => l.Template.Contains("opened in"));
        Assert.Equal(new Lsn(50), reopened.DurableScl);
        Assert.True(((Lsn)opened.Args[4]).Value >= 40, $"the open read from checkpoint {opened.Args[4]}");
    }
}
