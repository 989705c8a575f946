using ActorDb.Core.Recovery;

namespace ActorDb.Core.Tests.Recovery;

/// <summary>The <see cref="RecoveryProcess"/> driven directly: messages and ticks with the time passed in, outputs
/// checked (design.md, "Recovery").</summary>
public class RecoveryProcessTests
{
    private static readonly DateTime T0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static Lsn L(long v) => new(v);
    private static DateTime At(double seconds) => T0 + TimeSpan.FromSeconds(seconds);

    /// <summary>A one-PG volume opened in epoch 2 whose segments all hold CPL 50.</summary>
    private sealed class Driver
    {
        public readonly RecoveryProcess Process = new(new RecoveryProcessSettings(1, Lal: 100, Timeout));
        public List<RecoveryOutput> Last = new();

        public List<RecoveryOutput> Do(Action<RecoveryProcess, List<RecoveryOutput>> input)
        {
            Last = new List<RecoveryOutput>();
            input(Process, Last);
            return Last;
        }

        public static SegmentReport Report(int replica, long epoch, long scl = 50, long joinTarget = 0) =>
            new(0, replica, epoch, L(scl), L(scl), scl == 0 ? [] : [new CplInfo(L(scl), [L(scl)])], OpenedEpoch: 2, JoinTarget: L(joinTarget));

        public List<RecoveryOutput> Probe(int replica, double at, long epoch = 2) => Do((p, o) => p.SegmentStateReceived(Report(replica, epoch), At(at), o));
        public List<RecoveryOutput> Fenced(int replica, double at, long epoch = 3, long joinTarget = 0) =>
            Do((p, o) => p.SegmentStateReceived(Report(replica, epoch, joinTarget: joinTarget), At(at), o));
        public List<RecoveryOutput> Installed(int replica, double at, long epoch = 3) => Do((p, o) => p.EpochOpened(0, replica, epoch, L(50), At(at), o));
        public List<RecoveryOutput> Tick(double at) => Do((p, o) => p.Tick(At(at), o));

        /// <summary>Starts, probes, fences and plans with all six; the process is installing epoch 3.</summary>
        public void ToInstalling()
        {
            Do((p, o) => p.Start("the writer is starting", T0, o));
            for (var r = 0; r < 6; r++) Probe(r, 0.01);
            for (var r = 0; r < 6; r++) Fenced(r, 0.02);
            Assert.Equal(RecoveryStep.Installing, Process.Step);
        }
    }

    private static T Single<T>(IEnumerable<RecoveryOutput> outputs) => Assert.Single(outputs.OfType<T>());

    [Fact]
    public void All_six_answer_and_the_volume_opens_through_the_four_phases()
    {
        var d = new Driver();
        var started = d.Do((p, o) => p.Start("the writer is starting", T0, o));
        Assert.Equal(Enumerable.Range(0, 6).Select(r => new AskSegmentState(0, r, 0)), started.OfType<AskSegmentState>());
        Assert.Equal(new ScheduleTick(At(0.5)), Single<ScheduleTick>(started));
        Assert.Equal("Recovery 1 starting (the writer is starting): asking 6 segments of 1 PGs for their state", Text(Single<RecoveryLog>(started)));

        for (var r = 0; r < 5; r++) Assert.Empty(d.Probe(r, 0.01));
        var fence = d.Probe(5, 0.01);
        Assert.Equal(Enumerable.Range(0, 6).Select(r => new AskSegmentState(0, r, 3)), fence.OfType<AskSegmentState>());
        Assert.Equal((RecoveryStep.Fencing, 3L), (d.Process.Step, d.Process.FenceEpoch));

        Assert.Empty(d.Fenced(0, 0.02, epoch: 2));   // a late answer to the probe is not a report at the fence
        for (var r = 0; r < 5; r++) Assert.Empty(d.Fenced(r, 0.02));
        var planned = d.Fenced(5, 0.03);
        Assert.Equal([new PhaseEnded("read-quorum", TimeSpan.FromSeconds(0.03)), new PhaseEnded("plan", TimeSpan.Zero)], planned.OfType<PhaseEnded>());
        var plan = d.Process.Plan!;
        Assert.Equal((3L, L(50), L(50), L(150)), (plan.Epoch, plan.Vdl, plan.TruncateAfter, plan.TruncateTo));
        Assert.Equal([L(50)], plan.PgTail);
        Assert.Equal(Enumerable.Range(0, 6).Select(r => new InstallEpoch(0, r, 3, L(50), L(150), L(50))), planned.OfType<InstallEpoch>());

        Assert.Empty(d.Installed(4, 0.04));
        Assert.Empty(d.Installed(1, 0.04));
        var quorum = d.Installed(2, 0.05);
        Assert.Equal(new PhaseEnded("install-epoch", TimeSpan.FromSeconds(0.02)), Single<PhaseEnded>(quorum));
        var read = Single<ReadHeader>(quorum);
        Assert.Equal((0, 0L, L(50), L(50)), (read.Pg, read.PageNo, read.ReadPoint, read.RequiredScl));
        Assert.Contains(read.Replica, new[] { 1, 2, 4 });   // one that installed the epoch

        var header = new byte[] { 1, 2, 3 };
        var start = Single<StartWriter>(d.Do((p, o) => p.HeaderRead(0, read.Replica, 0, header, o)));
        Assert.Equal((d.Process.Plan, header), (start.Plan, start.Header));
        Assert.Equal([1, 2, 4], start.Installed.Select(s => s.Replica).Order());
        Assert.Equal(RecoveryStep.OpeningVolume, d.Process.Step);

        var opened = d.Do((p, o) => p.WriterOpened("1 table", At(0.08), o));
        var record = Single<RecoveryEnded>(opened).Record;
        Assert.Equal((RecoveryOutcome.Opened, 3L, L(50), TimeSpan.FromSeconds(0.08)), (record.Outcome, record.Epoch, record.Vdl, record.Total));
        Assert.Equal(["read-quorum", "plan", "install-epoch", "open-volume"], record.Phases.Select(p => p.Name));
        Assert.Equal("PG 0: segments 0,1,2,3,4,5 fenced at epoch 3 and answered", record.Phases[0].Detail);
        Assert.Equal("VDL 50, truncate (50, 150]", record.Phases[1].Detail);
        Assert.Equal("PG 0: segments 1,2,4 installed", record.Phases[2].Detail);
        Assert.Equal($"catalog read from pg-0-{read.Replica}, 1 table", record.Phases[3].Detail);
        Assert.Equal(record, Assert.Single(d.Process.History.Records));
        Assert.False(d.Process.IsRunning);
        Assert.Empty(d.Tick(0.5));   // a late tick does nothing
    }

    [Fact]
    public void Three_of_six_answering_is_a_read_quorum_after_the_wait_for_the_others()
    {
        var d = new Driver();
        d.Do((p, o) => p.Start("test", T0, o));
        for (var r = 0; r < 3; r++) d.Probe(r, 0.1);
        var early = d.Tick(0.5);
        Assert.Equal(RecoveryStep.Probing, d.Process.Step);   // a read quorum, but the others get a second (and another ask)
        Assert.Equal([3, 4, 5], early.OfType<AskSegmentState>().Select(a => a.Replica));
        d.Tick(1.1);
        Assert.Equal((RecoveryStep.Fencing, 3L), (d.Process.Step, d.Process.FenceEpoch));
        for (var r = 0; r < 3; r++) d.Fenced(r, 1.2);
        Assert.Equal(RecoveryStep.Fencing, d.Process.Step);   // the wait counts from the phase's start: already over
        var planned = d.Tick(1.5);
        Assert.Equal(RecoveryStep.Installing, d.Process.Step);
        Assert.Equal(6, planned.OfType<InstallEpoch>().Count());
    }

    [Fact]
    public void Only_two_answering_waits_then_fails_at_the_timeout_naming_the_phase_and_the_silent_segments()
    {
        var d = new Driver();
        d.Do((p, o) => p.Start("test", T0, o));
        d.Probe(0, 0.1);
        d.Probe(1, 0.1);
        for (var s = 0.5; s <= 60; s += 0.5)
        {
            var tick = d.Tick(s);
            Assert.Equal([2, 3, 4, 5], tick.OfType<AskSegmentState>().Select(a => a.Replica));   // asked again on every tick
        }
        var failed = d.Tick(60.5);
        var record = Single<RecoveryEnded>(failed).Record;
        Assert.Equal(RecoveryOutcome.Failed, record.Outcome);
        Assert.Equal("no read quorum of segments within 00:01:00: missing pg-0-0, pg-0-1, pg-0-2, pg-0-3, pg-0-4, pg-0-5", record.Failure);
        Assert.Equal($"Recovery 1 failed after 60500 ms in phase read-quorum: {record.Failure}", Text(Single<RecoveryLog>(failed)));
        Assert.Empty(failed.OfType<ScheduleTick>());
    }

    [Fact]
    public void A_catching_up_segment_does_not_make_up_a_read_quorum()
    {
        var d = new Driver();
        d.Do((p, o) => p.Start("test", T0, o));
        for (var r = 0; r < 3; r++) d.Probe(r, 0.1);
        d.Tick(1.1);
        d.Fenced(0, 1.2);
        d.Fenced(1, 1.2);
        d.Fenced(2, 1.2, joinTarget: 60);   // joined empty, SCL 50 below its join target 60
        d.Tick(2);
        d.Tick(5);
        Assert.Equal(RecoveryStep.Fencing, d.Process.Step);
        d.Fenced(2, 5.1, joinTarget: 50);   // caught up
        d.Tick(5.5);
        Assert.Equal(RecoveryStep.Installing, d.Process.Step);

        // Installing: a segment counts only when its report after the fence counts.
        d.Fenced(3, 5.6, joinTarget: 60);
        d.Installed(0, 5.7);
        d.Installed(1, 5.7);
        Assert.Empty(d.Installed(3, 5.7).OfType<ReadHeader>());
        Assert.Equal(RecoveryStep.Installing, d.Process.Step);
        Assert.Single(d.Installed(2, 5.8).OfType<ReadHeader>());
    }

    [Fact]
    public void A_segment_answering_the_fence_with_a_newer_epoch_ends_the_recovery_fenced()
    {
        var d = new Driver();
        d.Do((p, o) => p.Start("test", T0, o));
        for (var r = 0; r < 6; r++) d.Probe(r, 0.1);
        d.Fenced(0, 0.2);
        var record = Single<RecoveryEnded>(d.Fenced(1, 0.3, epoch: 4)).Record;
        Assert.Equal(RecoveryOutcome.Fenced, record.Outcome);
        Assert.Equal("segment pg-0-1 is already in epoch 4, above this recovery's epoch 3: another recovery took the volume over", record.Failure);
        Assert.Equal(RecoveryStep.Ended, d.Process.Step);
        Assert.Empty(d.Fenced(2, 0.4));   // nothing more
    }

    [Fact]
    public void A_stale_epoch_rejection_above_the_plan_ends_the_recovery_fenced_and_refusals_are_logged_once()
    {
        var d = new Driver();
        d.ToInstalling();
        var refusal = d.Do((p, o) => p.Rejected(0, 4, 3, staleEpoch: false, refused: true, "not fenced", At(0.1), o));
        Assert.Equal("Recovery epoch 3: segment pg-0-4 refused: not fenced", Text(Single<RecoveryLog>(refusal)));
        Assert.Empty(d.Do((p, o) => p.Rejected(0, 4, 3, staleEpoch: false, refused: true, "not fenced", At(0.2), o)));
        var record = Single<RecoveryEnded>(d.Do((p, o) => p.Rejected(0, 5, 7, staleEpoch: true, refused: false, "stale", At(0.3), o))).Record;
        Assert.Equal((RecoveryOutcome.Fenced, "segment pg-0-5 is already in epoch 7, above this recovery's epoch 3: another recovery took the volume over"),
            (record.Outcome, record.Failure));
    }

    [Fact]
    public void The_epoch_is_installed_once_a_read_quorum_has_it_and_answers_of_another_epoch_do_not_count()
    {
        var d = new Driver();
        d.ToInstalling();
        d.Installed(0, 0.1);
        d.Installed(1, 0.1, epoch: 2);
        d.Installed(1, 0.1, epoch: 4);
        Assert.Empty(d.Installed(0, 0.1));   // the same segment twice is one
        var resend = d.Tick(0.5);
        Assert.Equal([1, 2, 3, 4, 5], resend.OfType<InstallEpoch>().Select(i => i.Replica));   // fence and epoch again to the others
        Assert.Equal([1, 2, 3, 4, 5], resend.OfType<AskSegmentState>().Where(a => a.FenceEpoch == 3).Select(a => a.Replica));
        d.Installed(5, 0.6);
        Assert.Equal(RecoveryStep.Installing, d.Process.Step);
        d.Installed(3, 0.7);
        Assert.Equal(RecoveryStep.ReadingHeader, d.Process.Step);
    }

    [Fact]
    public void A_new_volume_starts_the_writer_without_a_header()
    {
        var d = new Driver();
        d.Do((p, o) => p.Start("test", T0, o));
        var empty = Enumerable.Range(0, 6).Select(r => new SegmentReport(0, r, 0, Lsn.Zero, Lsn.Zero, [], OpenedEpoch: 0)).ToList();
        foreach (var r in empty) d.Do((p, o) => p.SegmentStateReceived(r, At(0.1), o));
        Assert.Equal(1, d.Process.FenceEpoch);
        foreach (var r in empty) d.Do((p, o) => p.SegmentStateReceived(r with { Epoch = 1 }, At(0.2), o));
        var plan = d.Process.Plan!;
        Assert.Equal((1L, Lsn.Zero, Lsn.Zero), (plan.Epoch, plan.Vdl, plan.TruncateTo));
        Assert.Equal([Lsn.Zero], plan.PgTail);
        d.Do((p, o) => p.EpochOpened(0, 0, 1, Lsn.Zero, At(0.3), o));
        d.Do((p, o) => p.EpochOpened(0, 1, 1, Lsn.Zero, At(0.3), o));
        var start = Single<StartWriter>(d.Do((p, o) => p.EpochOpened(0, 2, 1, Lsn.Zero, At(0.3), o)));
        Assert.Null(start.Header);
        Assert.Equal(RecoveryStep.OpeningVolume, d.Process.Step);
    }

    [Fact]
    public void An_unanswered_or_refused_header_read_moves_to_the_next_replica()
    {
        var d = new Driver();
        d.ToInstalling();
        for (var r = 0; r < 3; r++) d.Installed(r, 0.1);
        var first = Single<ReadHeader>(d.Last).Replica;
        Assert.Empty(d.Tick(0.5).OfType<ReadHeader>());   // 0.4 s: not yet
        var retry = d.Tick(0.7);
        Assert.Equal((first + 1) % 6, Single<ReadHeader>(retry).Replica);
        Assert.Equal($"Recovery epoch 3: the volume header read from segment pg-0-{first} is unanswered; asking the next replica", Text(Single<RecoveryLog>(retry)));
        Assert.Equal((first + 2) % 6, Single<ReadHeader>(d.Do((p, o) => p.HeaderUnavailable(0, At(0.8), o))).Replica);
        Assert.Empty(d.Do((p, o) => p.HeaderRead(0, 1, 7, [9], o)));   // another page
    }

    public static TheoryData<string, string> Phases => new()
    {
        { "read-quorum", "no read quorum of segments within 00:01:00: missing pg-0-0, pg-0-1, pg-0-2, pg-0-3, pg-0-4, pg-0-5" },
        { "install-epoch", "epoch 3 was not installed on a read quorum of every PG within 00:01:00: no answer from pg-0-2, pg-0-3, pg-0-4, pg-0-5" },
        { "open-volume/header", "the volume header (page 0) could not be read at VDL 50 within 00:01:00" },
        { "open-volume/writer", "the writer did not open the volume within 00:01:00 (a new volume's catalog needs a write quorum of PG 0)" },
    };

    [Theory]
    [MemberData(nameof(Phases))]
    public void Each_phase_times_out_on_the_tick_past_the_open_timeout(string phase, string reason)
    {
        var d = new Driver();
        d.Do((p, o) => p.Start("test", T0, o));
        if (phase != "read-quorum")
        {
            for (var r = 0; r < 6; r++) d.Probe(r, 0.1);
            for (var r = 0; r < 6; r++) d.Fenced(r, 0.2);
            d.Installed(0, 0.3);
            d.Installed(1, 0.3);
            if (phase.StartsWith("open-volume", StringComparison.Ordinal)) d.Installed(2, 0.3);
            if (phase == "open-volume/writer")
            {
                var replica = Single<ReadHeader>(d.Last).Replica;
                Assert.Single(d.Do((p, o) => p.HeaderRead(0, replica, 0, [1], o)).OfType<StartWriter>());
            }
        }
        Assert.Empty(d.Tick(60).OfType<RecoveryEnded>());   // at the bound: not past it
        var failed = d.Tick(60.1);
        var record = Single<RecoveryEnded>(failed).Record;
        Assert.Equal((RecoveryOutcome.Failed, reason), (record.Outcome, record.Failure));
        Assert.Contains($" in phase {phase.Split('/')[0]}: ", Text(Single<RecoveryLog>(failed.Where(o => o is RecoveryLog { Level: EngineLogLevel.Error }))));
        Assert.Equal(RecoveryStep.Ended, d.Process.Step);
    }

    [Fact]
    public void An_epoch_at_the_bound_fails_the_fence_instead_of_overflowing()
    {
        var d = new Driver();
        d.Do((p, o) => p.Start("test", T0, o));
        for (var r = 0; r < 5; r++) d.Probe(r, 0.1);
        var record = Single<RecoveryEnded>(d.Probe(5, 0.1, epoch: Epochs.Max)).Record;
        Assert.StartsWith($"cannot fence: segment pg-0-5 reports epoch {Epochs.Max}: ", record.Failure);
    }

    [Fact]
    public void A_report_naming_a_segment_outside_the_volume_is_dropped_with_one_warning()
    {
        var d = new Driver();
        d.Do((p, o) => p.Start("test", T0, o));
        var outside = Driver.Report(0, 2) with { Pg = 3 };
        var first = d.Do((p, o) => p.SegmentStateReceived(outside, At(0.1), o));
        Assert.Contains("segment state naming segment pg-3-0, outside the volume's 1 PG(s) of 6", Text(Single<RecoveryLog>(first)));
        Assert.Empty(d.Do((p, o) => p.SegmentStateReceived(outside, At(0.2), o)));
        for (var r = 0; r < 5; r++) d.Probe(r, 0.3);
        Assert.Equal(RecoveryStep.Probing, d.Process.Step);   // still five of six
    }

    [Fact]
    public void Cancel_abandon_and_fenced_record_the_running_recovery_and_the_next_one_starts_above_its_number()
    {
        var d = new Driver();
        d.Do((p, o) => p.Start("first", T0, o));
        var cancelled = d.Do((p, o) => p.Cancel("the node is stopping", "the node is stopping", At(1), o));
        Assert.Equal("Recovery 1 cancelled in phase read-quorum: the node is stopping", Text(Single<RecoveryLog>(cancelled)));
        d.Do((p, o) => p.Start("second", At(2), o));
        Assert.Throws<InvalidOperationException>(() => d.Do((p, o) => p.Start("third", At(2), o)));
        d.Process.Abandon("the writer of epoch 3 failed", At(3));
        d.Process.Abandon("again", At(4));   // none runs: nothing
        Assert.Equal([(1, RecoveryOutcome.Cancelled, "the node is stopping"), (2, RecoveryOutcome.Failed, "the writer of epoch 3 failed")],
            d.Process.History.Records.Select(r => (r.Number, r.Outcome, r.Failure)));
        Assert.Equal(TimeSpan.FromSeconds(1), d.Process.History.Records[1].Total);
    }

    [Fact]
    public void Steps_move_only_forward_through_the_phases()
    {
        Assert.Equal(RecoveryStep.Probing, RecoverySteps.Transition(RecoveryStep.Idle, RecoveryStep.Probing));
        Assert.Equal(RecoveryStep.OpeningVolume, RecoverySteps.Transition(RecoveryStep.Installing, RecoveryStep.OpeningVolume));
        var error = Assert.Throws<InvalidOperationException>(() => RecoverySteps.Transition(RecoveryStep.Probing, RecoveryStep.Installing));
        Assert.Equal("a recovery cannot move from step Probing to step Installing", error.Message);
        Assert.False(RecoverySteps.CanMove(RecoveryStep.Idle, RecoveryStep.Ended));
        Assert.False(RecoverySteps.CanMove(RecoveryStep.Fencing, RecoveryStep.Probing));
        Assert.Throws<ArgumentOutOfRangeException>(() => RecoverySteps.PhaseName(RecoveryStep.Ended));

        Assert.Equal("serving", SupervisorStates.Transition(SupervisorState.Recovering, SupervisorState.Serving).Name());
        Assert.True(SupervisorStates.CanMove(SupervisorState.Serving, SupervisorState.Recovering));
        Assert.False(SupervisorStates.CanMove(SupervisorState.Failed, SupervisorState.Serving));
        Assert.False(SupervisorStates.CanMove(SupervisorState.Recovering, SupervisorState.Stopping));
        Assert.Throws<InvalidOperationException>(() => SupervisorStates.Transition(SupervisorState.Stopped, SupervisorState.Serving));
    }

    /// <summary>The line as a log adapter renders a template: each named hole replaced by its value, in order.</summary>
    private static string Text(RecoveryLog log)
    {
        var i = 0;
        return System.Text.RegularExpressions.Regex.Replace(log.Template, @"\{[A-Za-z]+\}", _ => Convert.ToString(log.Args[i++], System.Globalization.CultureInfo.InvariantCulture)!);
    }
}
