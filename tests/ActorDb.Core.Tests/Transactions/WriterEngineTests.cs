using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Core.Pages;
using ActorDb.Core.Placement;
using ActorDb.Core.Recovery;
using ActorDb.Core.Redo;
using ActorDb.Core.Tables;
using ActorDb.Core.Transactions;

namespace ActorDb.Core.Tests.Transactions;

/// <summary>The writer as a state machine (<see cref="WriterEngine"/>), driven by calls and a clock passed in, with no actor.</summary>
public class WriterEngineTests
{
    private static readonly VolumeGeometry Geometry = new(8192, 2, 4096);
    private static readonly DateTime T0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly TableSchema A = new("a", [new ColumnDef("id", ColumnType.Int64), new ColumnDef("v", ColumnType.Int64)]);
    private static readonly WriterEngineSettings Settings = new(
        BufferCachePages: 64, Lal: 10_000, RetainedRedoBytesPerPg: 1 << 20, MaxBatchesInFlightPerPg: 4, LockTimeout: TimeSpan.FromSeconds(1),
        ResendAfter: TimeSpan.FromSeconds(1), SilentAfter: TimeSpan.FromSeconds(5), ProbeMaxInterval: TimeSpan.FromSeconds(10),
        StallWarningAfter: TimeSpan.FromSeconds(5), DrainTimeout: TimeSpan.FromSeconds(5));

    /// <summary>A writer engine and a stand-in for its segments' page stores: every batch shipped is applied to page
    /// images in LSN order, so a second writer can read the volume back.</summary>
    private sealed class Harness
    {
        private long _ticks;
        public readonly WriterEngine Writer;
        public readonly Dictionary<long, byte[]> Pages;
        public readonly Lsn[] Tail;
        public DateTime Now = T0;

        public Harness(RecoveryPlan plan, Dictionary<long, byte[]>? pages = null, WriterEngineSettings? settings = null)
        {
            Writer = new WriterEngine(settings ?? Settings, Geometry, plan, () => ++_ticks, ticksPerSecond: 1_000_000, T0);
            Pages = pages ?? new();
            Tail = plan.PgTail.ToArray();
        }

        /// <summary>Runs one input; returns its outputs (batches shipped are applied to the page images).</summary>
        public List<WriterOutput> Run(Action<List<WriterOutput>> input)
        {
            var outputs = new List<WriterOutput>();
            input(outputs);
            foreach (var b in outputs.OfType<WriterOutput.ShipBatch>())
                foreach (var r in b.Records)
                {
                    if (r.Kind == RedoKind.PageDelta)
                    {
                        if (!Pages.TryGetValue(r.PageNo, out var image)) Pages[r.PageNo] = image = new byte[Geometry.PageSize];
                        PageDelta.Apply(image, r.Payload.Span);
                        BitConverter.TryWriteBytes(image.AsSpan(0, 8), r.Lsn.Value);
                    }
                    Tail[r.Pg] = r.Lsn;
                }
            return outputs;
        }

        /// <summary>Acks <paramref name="replicas"/> of every PG at the PG's last sent LSN.</summary>
        public List<WriterOutput> Ack(IEnumerable<int> replicas) => Run(o =>
        {
            foreach (var r in replicas)
                for (var pg = 0; pg < Geometry.PgCount; pg++)
                    Writer.OnAck(pg, r, Writer.Epoch, Writer.Transactions.Outboxes[pg].LastSent, syncMicros: 0, $"node-{r}", Now, o);
        });

        public List<WriterOutput> Execute(string client, long txnId, Statement statement, bool commit = false) =>
            Run(o => Writer.Execute(new ClientCall(client, 0, 0), txnId, statement, commit, Now, o));
    }

    private static IEnumerable<InstalledReplica> AllSix(IReadOnlyList<Lsn> scl) =>
        from pg in Enumerable.Range(0, Geometry.PgCount)
        from r in Enumerable.Range(0, VolumeGeometry.SegmentsPerPg)
        select new InstalledReplica(pg, r, scl[pg], $"node-{r}");

    /// <summary>A writer of epoch 1 on a new volume, formatted and with table a, every segment live and acked.</summary>
    private static Harness NewVolume(WriterEngineSettings? settings = null)
    {
        var h = new Harness(new RecoveryPlan(1, Lsn.Zero, Lsn.Zero, Lsn.Zero, new Lsn[Geometry.PgCount]), settings: settings);
        var opening = h.Run(o => h.Writer.Open(AllSix(new Lsn[Geometry.PgCount]), header: null, h.Now, o));
        Assert.Contains(opening, o => o is WriterOutput.ShipBatch);
        Assert.DoesNotContain(opening, o => o is WriterOutput.Opened);
        Assert.Contains(h.Ack(Enumerable.Range(0, 6)), o => o is WriterOutput.Opened { Epoch: 1 });
        Assert.Equal(WriterState.Serving.Instance, h.Writer.State);

        h.Run(o => h.Writer.CreateTable("ddl-client", A, h.Now, o));
        var created = h.Ack(Enumerable.Range(0, 6));
        var reply = Assert.Single(created.OfType<WriterOutput.ReplyToClient>());
        Assert.Equal("ddl-client", reply.Client);
        Assert.Equal("a", Assert.IsType<ClientReply.TableReply>(reply.Reply).Schema!.Name);
        return h;
    }

    private static Dictionary<string, object?> V(long v) => new() { ["v"] = v };

    [Fact]
    public void A_statement_with_commit_is_answered_once_four_segments_of_every_pg_acked_and_not_at_three()
    {
        var h = NewVolume();
        var shipped = h.Execute("client-1", 0, new InsertStatement("a", 1L, V(10)), commit: true);
        Assert.Contains(shipped, o => o is WriterOutput.ShipBatch { Replicas: 0b111111 });
        Assert.DoesNotContain(shipped, o => o is WriterOutput.ReplyToClient);
        var commit = Assert.IsType<WaitingCommit>(h.Writer.Sealed);

        Assert.Empty(h.Ack([0, 1, 2]).OfType<WriterOutput.CommitsDurable>());
        Assert.False(commit.Answered);
        Assert.True(h.Writer.Transactions.Vdl < commit.CommitLsn);

        var durable = Assert.Single(h.Ack([3]).OfType<WriterOutput.CommitsDurable>());
        Assert.Same(commit, Assert.Single(durable.Commits));
        Assert.Equal("client-1", commit.ReplyTo);
        Assert.True(commit.WithStatement);
        Assert.True(durable.Vdl >= commit.CommitLsn);
        Assert.True(commit.Answered);
    }

    [Fact]
    public void A_rejection_from_a_newer_epoch_steps_the_writer_down_abandons_its_commits_and_refuses_what_comes_after()
    {
        var h = NewVolume();
        h.Execute("client-1", 0, new InsertStatement("a", 1L, V(10)), commit: true);
        var inFlight = h.Writer.Sealed!;
        // Another transaction waits for the row lock the first one holds until it is durable.
        var second = h.Execute("client-2", 0, new UpdateStatement("a", 1L, V(11)));
        Assert.Empty(second.OfType<WriterOutput.ReplyToClient>());

        var fenced = h.Run(o => h.Writer.OnRejected(new SegmentRejection(1, 2, SegmentEpoch: 2, "stale epoch", StaleEpoch: true, Refused: false, Fault: null), "node-2", h.Now, o));

        var state = Assert.IsType<WriterState.Fenced>(h.Writer.State);
        Assert.Equal(2, state.ByEpoch);
        var abandoned = Assert.Single(fenced.OfType<WriterOutput.CommitsAbandoned>());
        Assert.Same(inFlight, Assert.Single(abandoned.Commits));
        Assert.Equal(2, abandoned.FencedByEpoch);
        Assert.Contains(fenced, o => o is WriterOutput.Fenced { Epoch: 1, ByEpoch: 2 });
        var waiterReply = Assert.Single(fenced.OfType<WriterOutput.ReplyToClient>());
        Assert.Equal("client-2", waiterReply.Client);
        Assert.IsType<StaleEpochException>(Assert.IsType<ClientReply.StatementReply>(waiterReply.Reply).Error);

        // Late acks change nothing; a new request is refused with the stale-epoch error.
        Assert.Empty(h.Ack(Enumerable.Range(0, 6)));
        var refused = Assert.Single(h.Execute("client-3", 0, new InsertStatement("a", 2L, V(20)), commit: true).OfType<WriterOutput.ReplyToClient>());
        var reply = Assert.IsType<ClientReply.StatementReply>(refused.Reply);
        Assert.True(reply.TxnAborted);
        Assert.IsType<StaleEpochException>(reply.Error);
    }

    [Fact]
    public void A_silent_segment_gets_only_probes_and_once_it_answers_gets_what_it_lacks_from_the_window()
    {
        var h = NewVolume();
        var pg = h.Execute("client-1", 0, new InsertStatement("a", 1L, V(10)), commit: true).OfType<WriterOutput.ShipBatch>().First().Pg;
        Assert.Single(h.Ack([0, 1, 2, 3, 4]).OfType<WriterOutput.CommitsDurable>());

        // Replica 5 never answers the shipment: after silent-after it gets no redo, only an empty batch (a probe).
        h.Now += Settings.SilentAfter;
        Assert.Equal(SegmentAbsence.Silent, h.Writer.Links.Why(pg, 5, h.Now));
        var tick = h.Run(o => h.Writer.Tick(h.Now, o));
        var probes = tick.OfType<WriterOutput.SendToSegment>().Where(s => s.Replica == 5).ToList();
        Assert.NotEmpty(probes);
        Assert.All(probes, p => Assert.Empty(Assert.IsType<SegmentRequest.Redo>(p.Message).Records));
        Assert.DoesNotContain(tick.OfType<WriterOutput.SendToSegment>(), s => s.Replica != 5);
        h.Execute("client-2", 0, new InsertStatement("a", 2L, V(20)), commit: true).OfType<WriterOutput.ShipBatch>()
            .ToList().ForEach(b => Assert.Equal(0b011111, b.Replicas));

        // It answers the probe with its old SCL: live again, and resent everything above that SCL.
        var answer = h.Run(o => h.Writer.OnAck(pg, 5, 1, h.Writer.Transactions.Tracker.Scl(pg, 5), 0, "node-5", h.Now, o));
        var resend = Assert.Single(answer.OfType<WriterOutput.SendToSegment>());
        Assert.Equal((pg, 5, false), (resend.Pg, resend.Replica, resend.ViaRegion));
        var records = Assert.IsType<SegmentRequest.Redo>(resend.Message).Records;
        Assert.True(records[0].Lsn > h.Writer.Transactions.Tracker.Scl(pg, 5));
        Assert.Equal(h.Writer.Transactions.Outboxes[pg].LastSent, records[^1].Lsn);
        Assert.True(h.Writer.Links.Live(pg, 5, h.Now));
    }

    /// <summary>A writer of epoch 2 over the volume <paramref name="first"/> wrote (its page images), nothing cached.</summary>
    private static Harness Reopen(Harness first)
    {
        var vdl = first.Writer.Transactions.Vdl;
        var second = new Harness(new RecoveryPlan(2, vdl, vdl, vdl + Settings.Lal, first.Tail.ToArray()),
            first.Pages.ToDictionary(p => p.Key, p => (byte[])p.Value.Clone()));
        var opened = second.Run(o => second.Writer.Open(AllSix(first.Tail), first.Pages[Catalog.HeaderPage], second.Now, o));
        Assert.Contains(opened, o => o is WriterOutput.Opened { Epoch: 2 });
        return second;
    }

    [Fact]
    public void A_page_read_moves_to_the_next_replica_when_one_cannot_serve_it_and_the_statement_runs_once_the_page_arrives()
    {
        var first = NewVolume();
        first.Execute("client-1", 0, new InsertStatement("a", 1L, V(10)), commit: true);
        first.Ack(Enumerable.Range(0, 6));
        var h = Reopen(first);

        var miss = h.Execute("reader", 0, new GetStatement("a", 1L));
        var read = Assert.Single(miss.OfType<WriterOutput.SendToSegment>());
        var page = Assert.IsType<SegmentRequest.ReadPage>(read.Message).PageNo;
        Assert.Equal(Geometry.PgOf(page), read.Pg);

        var next = Assert.Single(h.Run(o => h.Writer.OnPageUnavailable(read.Pg, read.Replica, page, damaged: false, h.Now, o)).OfType<WriterOutput.SendToSegment>());
        Assert.Equal(page, Assert.IsType<SegmentRequest.ReadPage>(next.Message).PageNo);
        Assert.Equal((read.Replica + 1) % VolumeGeometry.SegmentsPerPg, next.Replica);

        // The page arrives: the statement runs again, and reads its row (more misses are served the same way).
        var outputs = h.Run(o => h.Writer.OnPageImage(page, h.Pages[page], o));
        while (true)
        {
            if (outputs.OfType<WriterOutput.ReplyToClient>().SingleOrDefault() is { } reply)
            {
                Assert.Equal("reader", reply.Client);
                var row = Assert.IsType<Row>(Assert.IsType<ClientReply.StatementReply>(reply.Reply).Result);
                Assert.Equal(10L, row.Fields["v"]);
                break;
            }
            var rerun = Assert.Single(outputs.OfType<WriterOutput.Rerun>());
            outputs = h.Run(o => h.Writer.Rerun(rerun.Request, 0, h.Now, o));
            if (outputs.OfType<WriterOutput.SendToSegment>().SingleOrDefault() is { Message: SegmentRequest.ReadPage more })
                outputs = h.Run(o => h.Writer.OnPageImage(more.PageNo, h.Pages[more.PageNo], o));
        }
    }

    [Fact]
    public void A_page_whose_six_copies_are_damaged_fails_the_read_naming_the_page_and_aborts_the_transaction()
    {
        var first = NewVolume();
        first.Execute("client-1", 0, new InsertStatement("a", 1L, V(10)), commit: true);
        first.Ack(Enumerable.Range(0, 6));
        var h = Reopen(first);

        var read = Assert.Single(h.Execute("reader", 0, new GetStatement("a", 1L)).OfType<WriterOutput.SendToSegment>());
        var page = ((SegmentRequest.ReadPage)read.Message).PageNo;
        var asked = new List<int> { read.Replica };
        List<WriterOutput> last = [];
        for (var i = 0; i < VolumeGeometry.SegmentsPerPg; i++)
        {
            last = h.Run(o => h.Writer.OnPageUnavailable(read.Pg, asked[^1], page, damaged: true, h.Now, o));
            if (last.OfType<WriterOutput.SendToSegment>().SingleOrDefault() is { } again) asked.Add(again.Replica);
        }
        Assert.Equal(Enumerable.Range(0, 6).ToHashSet(), asked.ToHashSet());
        var reply = Assert.IsType<ClientReply.StatementReply>(Assert.Single(last.OfType<WriterOutput.ReplyToClient>()).Reply);
        Assert.True(reply.TxnAborted);
        Assert.Contains($"page {page}", reply.Error!.Message);
        Assert.Contains(last, o => o is WriterOutput.Log { Level: EngineLogLevel.Error });
    }

    [Fact]
    public void An_open_transaction_with_no_statement_for_the_idle_timeout_is_aborted_and_frees_its_row_locks()
    {
        // The simulator's seed 13: the reply to a transfer's first statement was lost, so its client never learned the
        // transaction's id and nothing ever ended it; every later transfer on that account timed out on its row lock.
        var h = NewVolume(Settings with { IdleTransactionTimeout = TimeSpan.FromSeconds(3) });
        var first = Assert.IsType<ClientReply.StatementReply>(Assert.Single(
            h.Execute("lost", 0, new InsertStatement("a", 1L, V(10))).OfType<WriterOutput.ReplyToClient>()).Reply);
        var orphan = first.TxnId;
        Assert.True(h.Writer.Transactions.IsOpen(orphan));

        h.Now += TimeSpan.FromSeconds(3) - TimeSpan.FromMilliseconds(1);
        h.Run(o => h.Writer.Tick(h.Now, o));
        Assert.True(h.Writer.Transactions.IsOpen(orphan));
        Assert.Empty(h.Execute("other", 0, new UpdateStatement("a", 1L, V(11))).OfType<WriterOutput.ReplyToClient>());   // waits for the lock

        h.Now += TimeSpan.FromMilliseconds(1);
        var tick = h.Run(o => h.Writer.Tick(h.Now, o));
        Assert.False(h.Writer.Transactions.IsOpen(orphan));
        Assert.Contains(tick, o => o is WriterOutput.Log { Level: EngineLogLevel.Warning } l && l.Template.Contains("idle-transaction-timeout"));
        var rerun = Assert.Single(tick.OfType<WriterOutput.Rerun>());   // the waiter gets the lock the orphan held
        var granted = h.Run(o => h.Writer.Rerun(rerun.Request, 0, h.Now, o));
        var reply = Assert.IsType<ClientReply.StatementReply>(Assert.Single(granted.OfType<WriterOutput.ReplyToClient>()).Reply);
        Assert.Equal("other", Assert.Single(granted.OfType<WriterOutput.ReplyToClient>()).Client);
        Assert.Null(reply.Error);

        // The orphan's client, if it comes back, finds its transaction gone.
        var late = Assert.IsType<ClientReply.StatementReply>(Assert.Single(
            h.Execute("lost", orphan, new InsertStatement("a", 2L, V(20))).OfType<WriterOutput.ReplyToClient>()).Reply);
        Assert.NotNull(late.Error);
        Assert.True(late.TxnAborted);
    }

    [Fact]
    public void A_statement_waiting_for_a_row_lock_past_the_lock_timeout_is_aborted_on_a_tick_and_not_before()
    {
        var h = NewVolume();
        h.Execute("holder", 0, new InsertStatement("a", 1L, V(10)), commit: true);   // holds the row's lock until durable
        Assert.Empty(h.Execute("waiter", 0, new UpdateStatement("a", 1L, V(11))).OfType<WriterOutput.ReplyToClient>());

        h.Now += Settings.LockTimeout - TimeSpan.FromMilliseconds(1);
        Assert.Empty(h.Run(o => h.Writer.Tick(h.Now, o)).OfType<WriterOutput.ReplyToClient>());
        h.Now += TimeSpan.FromMilliseconds(1);
        var reply = Assert.Single(h.Run(o => h.Writer.Tick(h.Now, o)).OfType<WriterOutput.ReplyToClient>());
        Assert.Equal("waiter", reply.Client);
        var error = Assert.IsType<ClientReply.StatementReply>(reply.Reply);
        Assert.True(error.TxnAborted);
        Assert.IsType<LockTimeoutException>(error.Error);
    }

    [Fact]
    public void A_drain_waits_for_the_commit_in_flight_answers_once_it_is_durable_and_then_refuses_new_work()
    {
        var h = NewVolume();
        h.Execute("client-1", 0, new InsertStatement("a", 1L, V(10)), commit: true);
        var draining = h.Run(o => h.Writer.Drain("operator", h.Now, o));
        Assert.IsType<WriterState.Draining>(h.Writer.State);
        Assert.DoesNotContain(draining, o => o is WriterOutput.DrainEnded);
        var refused = Assert.IsType<ClientReply.StatementReply>(Assert.Single(h.Execute("client-2", 0, new InsertStatement("a", 2L, V(20))).OfType<WriterOutput.ReplyToClient>()).Reply);
        Assert.Equal("the writer is stopping", refused.Error!.Message);

        var acked = h.Ack(Enumerable.Range(0, 4));
        Assert.Single(acked.OfType<WriterOutput.CommitsDurable>());
        var ended = Assert.Single(acked.OfType<WriterOutput.DrainEnded>());
        Assert.Equal(("operator", 0), (ended.Client, ended.CommitsNotDurable));
        Assert.Equal(WriterState.Stopped.Instance, h.Writer.State);
        var stopped = Assert.IsType<ClientReply.CommitReply>(Assert.Single(h.Run(o => h.Writer.Commit(new ClientCall("client-3", 0, 0), 7, h.Now, o)).OfType<WriterOutput.ReplyToClient>()).Reply);
        Assert.IsType<WriterStoppedException>(stopped.Error);
    }
}
