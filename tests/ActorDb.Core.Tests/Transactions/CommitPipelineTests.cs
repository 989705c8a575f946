using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Core.Placement;
using ActorDb.Core.Redo;
using ActorDb.Core.Tables;
using ActorDb.Core.Transactions;

namespace ActorDb.Core.Tests.Transactions;

/// <summary>The writer's commit bookkeeping (<see cref="CommitPipeline"/>), driven by calls and a clock passed in.</summary>
public class CommitPipelineTests
{
    private static readonly VolumeGeometry Geometry = new(8192, 2, 4096);
    private static readonly DateTime T0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly TableSchema A = new("a", [new ColumnDef("id", ColumnType.Int64), new ColumnDef("v", ColumnType.Int64)]);
    private static readonly TableSchema B = new("b", [new ColumnDef("id", ColumnType.Int64), new ColumnDef("v", ColumnType.Int64)]);

    private sealed class Writer
    {
        public required TransactionEngine Engine { get; init; }
        public required CommitPipeline Pipeline { get; init; }
        public required SegmentLinks Links { get; init; }
        public readonly List<WriterOutput> Outputs = new();
        public DateTime Now = T0;

        /// <summary>Acks <paramref name="replicas"/> of <paramref name="pg"/> at the PG's last sent LSN; returns the outputs.</summary>
        public List<WriterOutput> Ack(int pg, IEnumerable<int> replicas, long epoch = 1)
        {
            Outputs.Clear();
            var scl = Engine.Outboxes[pg].LastSent;
            foreach (var r in replicas) Pipeline.OnAck(pg, r, epoch, scl, syncTicks: 0, Now, ticks: 1, Outputs);
            return Outputs.ToList();
        }

        public List<WriterOutput> AckAll(int replicas = 6)
        {
            var all = new List<WriterOutput>();
            for (var pg = 0; pg < Geometry.PgCount; pg++) all.AddRange(Ack(pg, Enumerable.Range(0, replicas)));
            return all;
        }

        public List<WriterOutput> Ship()
        {
            Outputs.Clear();
            Pipeline.Ship(Now, ticks: 1, Outputs);
            return Outputs.ToList();
        }

        /// <summary>Seals <paramref name="commit"/> with <paramref name="client"/> as its reply target and ships it.</summary>
        public WaitingCommit Seal(CommitOutcome outcome, object client)
        {
            var pending = Assert.IsType<CommitOutcome.Pending>(outcome);
            pending.Commit.ReplyTo = client;
            Pipeline.Sealed(pending.Commit);
            Ship();
            return pending.Commit;
        }

        /// <summary>A transaction inserting key <paramref name="key"/> into each of <paramref name="tables"/>.</summary>
        public long Insert(long key, params string[] tables)
        {
            var txn = Engine.Begin();
            foreach (var t in tables)
                Assert.IsType<StatementOutcome.Done>(Engine.Execute(txn, new InsertStatement(t, key, new Dictionary<string, object?> { ["v"] = key })));
            return txn;
        }
    }

    /// <summary>A formatted volume (LAL <paramref name="lal"/>: 25 lets one single-row commit allocate and makes the
    /// next wait) with tables a (root in PG 1) and b (root in PG 0), all durable, every segment live.</summary>
    private static Writer NewWriter(long lal = 10_000, int maxBatchesInFlight = 4)
    {
        var engine = new TransactionEngine(new EngineOptions(Geometry, CachePages: 64, lal, MaxRetainedBytesPerPg: 1 << 20), epoch: 1, Lsn.Zero, Lsn.Zero, new Lsn[Geometry.PgCount]);
        var links = new SegmentLinks(Geometry.PgCount, VolumeGeometry.SegmentsPerPg, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));
        for (var pg = 0; pg < Geometry.PgCount; pg++)
            for (var r = 0; r < VolumeGeometry.SegmentsPerPg; r++) links.Heard(pg, r, $"node-{r}", null, T0);
        var w = new Writer { Engine = engine, Pipeline = new CommitPipeline(engine, links, maxBatchesInFlight, T0), Links = links };
        var format = engine.FormatVolume();
        var opened = false;
        w.Seal(format, (Action)(() => opened = true));
        foreach (var o in w.AckAll()) if (o is WriterOutput.SystemMtrDurable { Commit.ReplyTo: Action a }) a();
        Assert.True(opened);
        w.Pipeline.MoveTo(WriterState.Serving.Instance);
        foreach (var schema in new[] { A, B })
        {
            w.Seal(engine.CreateTable(schema).Commit!, "ddl");
            Assert.Contains(w.AckAll(), o => o is WriterOutput.SystemMtrDurable);
        }
        Assert.Equal(1, Geometry.PgOf(engine.Catalog!.Tables["a"].RootPage));
        Assert.Equal(0, Geometry.PgOf(engine.Catalog!.Tables["b"].RootPage));
        return w;
    }

    private static IReadOnlyList<WaitingCommit> Durable(IEnumerable<WriterOutput> outputs) =>
        outputs.OfType<WriterOutput.CommitsDurable>().SelectMany(d => d.Commits).ToList();

    [Fact]
    public void A_commit_is_answered_only_once_its_lsn_is_on_a_write_quorum_of_every_pg_it_touched()
    {
        var w = NewWriter();
        var txn = w.Insert(1, "a", "b");
        var commit = w.Seal(w.Engine.Commit(txn), "client");
        Assert.True(w.Engine.Outboxes[0].LastSent > Lsn.Zero && w.Engine.Outboxes[1].LastSent > Lsn.Zero);

        // A full quorum in the PG of the commit record, none in the other PG it wrote: not durable.
        Assert.Empty(Durable(w.Ack(commit.Pg, [0, 1, 2, 3, 4, 5])));
        Assert.True(w.Engine.Vdl < commit.CommitLsn);
        Assert.False(commit.Answered);

        var outputs = w.Ack(1 - commit.Pg, [0, 2, 4, 5]);
        var durable = Assert.Single(outputs.OfType<WriterOutput.CommitsDurable>());
        Assert.Same(commit, Assert.Single(durable.Commits));
        Assert.True(durable.Vdl >= commit.CommitLsn);
        Assert.Equal("client", commit.ReplyTo);
        Assert.True(commit.Answered);
        Assert.Equal(1, commit.Times.Durable);
    }

    [Fact]
    public void Three_acks_in_a_pg_never_commit_and_the_fourth_does()
    {
        var w = NewWriter();
        var commit = w.Seal(w.Engine.Commit(w.Insert(7, "a")), "client");
        Assert.Empty(Durable(w.Ack(commit.Pg, [5, 1, 3])));
        Assert.Empty(Durable(w.Ack(commit.Pg, [5, 1, 3])));   // repeated acks are not a quorum either
        Assert.Equal(0, w.Engine.DurableCommits);
        Assert.Same(commit, Assert.Single(Durable(w.Ack(commit.Pg, [0]))));
        Assert.Equal(1, w.Engine.DurableCommits);
        Assert.Empty(Durable(w.Ack(commit.Pg, [2, 4])));   // answered once
    }

    [Fact]
    public void An_ack_of_another_epoch_is_ignored()
    {
        var w = NewWriter();
        var commit = w.Seal(w.Engine.Commit(w.Insert(7, "a")), "client");
        Assert.Empty(w.Ack(commit.Pg, [0, 1, 2, 3, 4, 5], epoch: 2));
        Assert.True(w.Engine.Vdl < commit.CommitLsn);
    }

    [Fact]
    public void A_rejection_with_a_newer_epoch_steps_the_writer_down_and_abandons_every_waiting_commit_as_ambiguous()
    {
        var w = NewWriter(lal: 25);
        var first = w.Seal(w.Engine.Commit(w.Insert(1, "a")), "first");
        Assert.IsType<CommitOutcome.Backpressure>(w.Engine.Commit(w.Insert(2, "a")));
        w.Pipeline.WaitForLal("second");

        Assert.Equal(RedoRejectionVerdict.Fenced, CommitPipeline.Judge(refused: false, staleEpoch: true, segmentEpoch: 2, writerEpoch: 1));
        var outputs = new List<WriterOutput>();
        var parked = w.Pipeline.StepDown(2, "fenced by epoch 2", outputs);

        var fenced = Assert.IsType<WriterState.Fenced>(w.Pipeline.State);
        Assert.Equal(2, fenced.ByEpoch);
        Assert.Equal("fenced", fenced.Name);
        var abandoned = Assert.IsType<WriterOutput.CommitsAbandoned>(Assert.Single(outputs));
        Assert.Same(first, Assert.Single(abandoned.Commits));
        Assert.Equal(2, abandoned.FencedByEpoch);
        Assert.Equal(new object[] { "second" }, parked);
        Assert.Equal(0, w.Pipeline.WaitingForLal);

        // A quorum arriving after the fence acknowledges nothing: the commit was answered (ambiguous) already.
        Assert.Empty(Durable(w.Ack(first.Pg, [0, 1, 2, 3, 4, 5])));
        Assert.Throws<InvalidOperationException>(() => w.Pipeline.MoveTo(WriterState.Serving.Instance));
    }

    [Theory]
    [InlineData(true, false, 1L, 1L, RedoRejectionVerdict.Refused)]
    [InlineData(true, true, 5L, 1L, RedoRejectionVerdict.Refused)]
    [InlineData(false, true, 2L, 1L, RedoRejectionVerdict.Fenced)]
    [InlineData(false, true, 1L, 1L, RedoRejectionVerdict.Rejecting)]
    [InlineData(false, false, 2L, 1L, RedoRejectionVerdict.Rejecting)]
    [InlineData(false, false, 0L, 1L, RedoRejectionVerdict.Reopen)]
    [InlineData(false, true, 0L, 1L, RedoRejectionVerdict.Reopen)]
    public void A_rejection_is_judged_by_refusal_then_a_newer_stale_epoch_then_a_segment_behind(
        bool refused, bool staleEpoch, long segmentEpoch, long writerEpoch, RedoRejectionVerdict expected) =>
        Assert.Equal(expected, CommitPipeline.Judge(refused, staleEpoch, segmentEpoch, writerEpoch));

    [Fact]
    public void Lal_makes_a_new_commit_wait_until_vdl_advances_then_it_runs_again_after_the_durable_commit()
    {
        var w = NewWriter(lal: 25);
        var first = w.Seal(w.Engine.Commit(w.Insert(1, "a")), "first");
        var secondTxn = w.Insert(2, "a");
        Assert.IsType<CommitOutcome.Backpressure>(w.Engine.Commit(secondTxn));
        w.Pipeline.WaitForLal("second");
        Assert.Equal(1, w.Pipeline.WaitingForLal);

        Assert.DoesNotContain(w.Ack(first.Pg, [0, 1, 2]), o => o is WriterOutput.RetryWaiting);
        var outputs = w.Ack(first.Pg, [3]);
        var durableAt = outputs.FindIndex(o => o is WriterOutput.CommitsDurable);
        var retryAt = outputs.FindIndex(o => o is WriterOutput.RetryWaiting);
        Assert.True(durableAt >= 0 && retryAt > durableAt, string.Join(", ", outputs));
        Assert.Equal(new object[] { "second" }, ((WriterOutput.RetryWaiting)outputs[retryAt]).Requests);
        Assert.Equal(0, w.Pipeline.WaitingForLal);
        Assert.IsType<CommitOutcome.Pending>(w.Engine.Commit(secondTxn));
    }

    [Fact]
    public void A_full_in_flight_window_holds_a_pgs_redo_back_until_an_ack_frees_a_slot_then_it_leaves_as_one_batch()
    {
        var w = NewWriter(maxBatchesInFlight: 1);
        var first = w.Seal(w.Engine.Commit(w.Insert(1, "a")), "first");
        var sentFirst = w.Engine.Outboxes[first.Pg].LastSent;
        w.Pipeline.Sealed(Assert.IsType<CommitOutcome.Pending>(w.Engine.Commit(w.Insert(2, "a"))).Commit);
        w.Pipeline.Sealed(Assert.IsType<CommitOutcome.Pending>(w.Engine.Commit(w.Insert(3, "a"))).Commit);
        Assert.Empty(w.Ship());
        Assert.Equal(sentFirst, w.Engine.Outboxes[first.Pg].LastSent);

        Assert.DoesNotContain(w.Ack(first.Pg, [0, 1, 2]), o => o is WriterOutput.ShipBatch);
        var outputs = w.Ack(first.Pg, [3]);
        var batch = Assert.Single(outputs.OfType<WriterOutput.ShipBatch>());
        Assert.Equal(first.Pg, batch.Pg);
        Assert.Equal(2, batch.Records.Count(r => r.Kind == RedoKind.Commit));
        Assert.Equal(0b111111, batch.Replicas);
        Assert.True(outputs.FindIndex(o => o is WriterOutput.CommitsDurable) < outputs.IndexOf(batch));
    }

    [Fact]
    public void A_batch_goes_only_to_the_segments_live_now()
    {
        var w = NewWriter();
        w.Links.Lost(1, 2, w.Now);
        w.Links.Heard(1, 4, "node-4", "disk full", w.Now);
        var txn = w.Insert(1, "a");
        w.Pipeline.Sealed(Assert.IsType<CommitOutcome.Pending>(w.Engine.Commit(txn)).Commit);
        var batch = Assert.Single(w.Ship().OfType<WriterOutput.ShipBatch>());
        Assert.Equal(1, batch.Pg);
        Assert.Equal(0b101011, batch.Replicas);
        Assert.True(batch.FrameBytes > 0);
    }

    [Fact]
    public void Abandoning_answers_each_client_commit_once_and_leaves_system_mtrs_out()
    {
        var w = NewWriter();
        var commit = w.Seal(w.Engine.Commit(w.Insert(1, "a")), "client");
        w.Seal(w.Engine.CreateTable(new TableSchema("c", [new ColumnDef("id", ColumnType.Int64), new ColumnDef("v", ColumnType.Int64)])).Commit!, "ddl");
        var outputs = new List<WriterOutput>();
        w.Pipeline.Abandon("the writer stopped", fencedByEpoch: 0, outputs);
        var abandoned = Assert.IsType<WriterOutput.CommitsAbandoned>(Assert.Single(outputs));
        Assert.Same(commit, Assert.Single(abandoned.Commits));
        outputs.Clear();
        w.Pipeline.Abandon("again", fencedByEpoch: 0, outputs);
        Assert.Empty(outputs);
        Assert.Throws<InvalidOperationException>(commit.MarkAnswered);
    }

    [Fact]
    public void The_writer_life_cycle_allows_only_its_own_moves()
    {
        WriterState opening = WriterState.Opening.Instance;
        Assert.IsType<WriterState.Serving>(opening.Transition(WriterState.Serving.Instance));
        Assert.IsType<WriterState.Failed>(opening.Transition(new WriterState.Failed("no header")));
        var draining = WriterState.Serving.Instance.Transition(new WriterState.Draining(T0));
        Assert.IsType<WriterState.Draining>(draining.Transition(new WriterState.Draining(T0.AddSeconds(1))));
        Assert.IsType<WriterState.Stopped>(draining.Transition(WriterState.Stopped.Instance));
        Assert.IsType<WriterState.Fenced>(draining.Transition(new WriterState.Fenced(3, "fenced")));

        var illegal = Assert.Throws<InvalidOperationException>(() => WriterState.Serving.Instance.Transition(WriterState.Opening.Instance));
        Assert.Contains("from serving to opening", illegal.Message);
        Assert.Throws<InvalidOperationException>(() => WriterState.Serving.Instance.Transition(WriterState.Stopped.Instance));
        Assert.Throws<InvalidOperationException>(() => new WriterState.Failed("x").Transition(WriterState.Serving.Instance));
        Assert.Throws<InvalidOperationException>(() => WriterState.Stopped.Instance.Transition(new WriterState.Fenced(3, "late")));
        Assert.Equal("no header", new WriterState.Failed("no header").Failure);
        Assert.Null(WriterState.Serving.Instance.Failure);
    }
}
