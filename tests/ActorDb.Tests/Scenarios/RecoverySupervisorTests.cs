using Akka.Actor;
using Akka.Event;
using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Core.Recovery;
using ActorDb.Core.Transactions;
using ActorDb.Recovery;
using Xunit.Abstractions;
using static ActorDb.Recovery.RecoveryProtocol;
using static ActorDb.Writer.WriterProtocol;

namespace ActorDb.Tests.Scenarios;

/// <summary>The <see cref="RecoverySupervisor"/>: recovery before any transaction, its phases and history, and what
/// happens when the writer fails (design.md, "Recovery").</summary>
public class RecoverySupervisorTests(ITestOutputHelper output) : WriterScenarioBase(output)
{
    private static readonly string[] PhaseNames =
        [RecoverySupervisor.ReadQuorumPhase, RecoverySupervisor.PlanPhase, RecoverySupervisor.InstallEpochPhase, RecoverySupervisor.OpenVolumePhase];

    [Fact]
    public async Task A_recovery_logs_each_phase_with_its_duration_and_is_kept_in_the_history()
    {
        var (first, client1) = await StartWriterAsync("writer-1");
        await client1.CreateTableAsync(Kv);
        for (var i = 0; i < 5; i++) AssertDurable(await InsertAsync(client1, i, $"v{i}"));
        var vdl1 = (await client1.GetStatusAsync()).Vdl;
        await StopWriterAsync(first);

        var logs = CreateTestProbe();
        Sys.EventStream.Subscribe(logs.Ref, typeof(Info));
        var (second, client2) = await StartWriterAsync("writer-2");

        var history = await client2.GetRecoveryHistoryAsync();
        Assert.Null(history.Running);
        var record = Assert.Single(history.Recoveries);
        Assert.Equal(RecoveryOutcome.Opened, record.Outcome);
        Assert.Equal((1, 2L), (record.Number, record.Epoch));
        Assert.Equal("the writer is starting", record.Reason);
        Assert.Equal(vdl1, record.Vdl);   // every commit of epoch 1 was durable: recovery finds exactly its VDL
        Assert.Equal(vdl1, record.TruncateAfter);
        Assert.Equal(vdl1 + Settings.Writer.Lal, record.TruncateTo);
        Assert.Equal(PhaseNames, record.Phases.Select(p => p.Name));
        Assert.Equal("PG 0: segments 0,1,2,3,4,5 fenced at epoch 2 and answered", record.Phases[0].Detail);
        Assert.Equal($"VDL {vdl1}, truncate ({vdl1}, {vdl1 + Settings.Writer.Lal}]", record.Phases[1].Detail);
        Assert.StartsWith("PG 0: segments ", record.Phases[2].Detail);
        Assert.Matches("^catalog read from pg-0-[0-5], 1 table$", record.Phases[3].Detail);
        Assert.True(record.Total >= record.Phases.Aggregate(TimeSpan.Zero, (t, p) => t + p.Duration),
            $"total {record.Total} is less than the sum of the phases");

        // The writer's status carries the recovery that opened its epoch.
        var status = await client2.GetStatusAsync();
        Assert.Equal(("serving", 2L), (status.State, status.Epoch));
        Assert.Equal(record, status.Recovery);

        // One log line with every phase and the total, with epoch and VDL as structured fields.
        var line = await logs.FishForMessageAsync<Info>(i => i.Message.ToString()!.Contains("; total "), Short);
        var text = line.Message.ToString()!;
        Assert.StartsWith("Recovery epoch 2: phase read-quorum ", text);
        foreach (var phase in PhaseNames) Assert.Contains($"phase {phase} ", text);
        Assert.Contains($"recovered VDL {vdl1}", text);
        var fields = ((LogMessage)line.Message).GetProperties();
        Assert.Equal(2L, fields["Epoch"]);
        Assert.Equal(vdl1, fields["Vdl"]);
        await StopWriterAsync(second);
    }

    [Fact]
    public async Task Each_recovery_phase_is_recorded_in_the_phase_histogram_with_the_duration_in_its_history()
    {
        using var capture = new MetricsCapture(Metrics.ActorDbMetrics.For(Sys));
        var (_, client) = await StartWriterAsync("writer-metrics");

        var record = Assert.Single((await client.GetRecoveryHistoryAsync()).Recoveries);
        var measured = capture.Of("actordb.recovery.phase.duration");
        Assert.Equal(PhaseNames, measured.Select(m => (string)m.Tags[Metrics.RecoveryMetrics.PhaseTag]!));
        Assert.Equal(record.Phases.Select(p => p.Duration.TotalSeconds), measured.Select(m => m.Value));
    }

    [Fact]
    public async Task A_client_call_made_while_recovery_runs_waits_and_then_proceeds()
    {
        var (first, client1) = await StartWriterAsync("writer-1");
        await client1.CreateTableAsync(Kv);
        AssertDurable(await InsertAsync(client1, 1, "before"));
        await StopWriterAsync(first);

        // Only 2 segments answer: no read quorum, recovery cannot finish.
        foreach (var r in new[] { 0, 1, 2, 3 }) await BlackholeAsync(r, on: true);
        var (second, client2) = StartSupervisor("writer-2");
        var insert = InsertAsync(client2, 2, "made during recovery");
        await Task.Delay(1500);
        Assert.False(insert.IsCompleted, insert.IsFaulted ? insert.Exception!.ToString() : "the insert finished before recovery did");
        var recovering = await client2.GetStatusAsync();
        Assert.Equal("recovering", recovering.State);
        Assert.Equal(RecoveryOutcome.Running, recovering.Recovery!.Outcome);
        Assert.Empty(recovering.Recovery.Phases);   // still collecting reports
        Assert.True(recovering.Recovery.Total >= TimeSpan.FromSeconds(1), $"running for {recovering.Recovery.Total}");

        foreach (var r in new[] { 0, 1, 2, 3 }) await BlackholeAsync(r, on: false);
        var info = await insert.WaitAsync(Short);
        AssertDurable(info);
        var record = (await client2.GetRecoveryHistoryAsync()).Recoveries.Single();
        Assert.True(info.CommitLsn > record.TruncateTo.Value, $"commit LSN {info.CommitLsn} is inside the annulled range (to {record.TruncateTo})");
        Assert.True(record.PhaseDuration(RecoverySupervisor.ReadQuorumPhase) >= TimeSpan.FromSeconds(1.5),
            $"read-quorum took {record.PhaseDuration(RecoverySupervisor.ReadQuorumPhase)}, yet it waited for the blackholed segments");
        Assert.Equal("made during recovery", (await ReadAsync(client2, 2))!.Fields["v"]);
        Assert.Equal("before", (await ReadAsync(client2, 1))!.Fields["v"]);
        await StopWriterAsync(second);
    }

    [Fact]
    public async Task A_writer_that_throws_is_not_restarted_a_new_recovery_in_a_new_epoch_runs_first()
    {
        var (supervisor, client) = await StartWriterAsync("writer");
        await client.CreateTableAsync(Kv);
        for (var i = 0; i < 5; i++) AssertDurable(await InsertAsync(client, i, $"v{i}"));
        var before = await client.GetStatusAsync();
        var writer1 = (await WriterOfAsync(supervisor)).Writer;

        // A transaction open on the failing writer.
        var open = client.Begin();
        await open.InsertAsync(Kv.Name, 100L, Value("on the writer that fails"));

        // A malformed request (no statement) makes the writer throw while handling it.
        var watcher = CreateTestProbe();
        watcher.Watch(writer1);
        var poisoner = CreateTestProbe();
        writer1.Tell(new ExecuteStatement(0, null!), poisoner.Ref);
        var crashReply = await poisoner.ExpectMsgAsync<StatementReply>(Short);
        Assert.IsType<TransactionAbortedException>(crashReply.Error);
        Assert.Contains("the writer of epoch 1 failed on ExecuteStatement", crashReply.Error!.Message);
        await watcher.ExpectTerminatedAsync(writer1, Short);   // stopped, not restarted in place

        // GetWriter is answered once the new recovery has finished. (Asked first so the client's next call cannot fall
        // in the instant between Terminated reaching the watchers and the dead writer's mailbox closing: a request
        // sent then is lost like one sent just before the failure, and ends with the ask timeout.)
        var current = await WriterOfAsync(supervisor);
        Assert.Equal(2, current.Epoch);
        Assert.NotEqual(writer1, current.Writer);

        // The same client goes on with the new writer.
        var after = await InsertAsync(client, 5, "after the failure");
        AssertDurable(after);
        Assert.True(after.CommitLsn > before.Allocated.Value, $"commit LSN {after.CommitLsn} reuses an LSN of the failed writer (allocated up to {before.Allocated})");
        var status = await client.GetStatusAsync();
        Assert.Equal(("serving", 2L), (status.State, status.Epoch));

        var history = (await client.GetRecoveryHistoryAsync()).Recoveries;
        Assert.Equal(2, history.Count);
        Assert.Equal((1L, "the writer is starting"), (history[0].Epoch, history[0].Reason));
        Assert.Equal(2, history[1].Epoch);
        Assert.Equal(RecoveryOutcome.Opened, history[1].Outcome);
        Assert.StartsWith("the writer of epoch 1 failed: NullReferenceException", history[1].Reason);
        Assert.Equal(before.Vdl, history[1].Vdl);   // nothing was in flight: the recovered VDL is the failed writer's
        Assert.Equal(history[1], status.Recovery);

        // The transaction that was open on the failed writer is gone: nothing of it was committed.
        var gone = await Assert.ThrowsAsync<TransactionAbortedException>(() => open.CommitAsync());
        Assert.Contains("the writer that ran it (epoch 1) has stopped", gone.Message);
        Assert.Null(await ReadAsync(client, 100));
        for (var i = 0; i < 5; i++) Assert.Equal($"v{i}", (await ReadAsync(client, i))!.Fields["v"]);
        Assert.Equal("after the failure", (await ReadAsync(client, 5))!.Fields["v"]);
        await StopWriterAsync(supervisor);
    }

    [Fact]
    public async Task Draining_while_recovery_runs_cancels_it_and_no_writer_is_handed_out()
    {
        foreach (var r in new[] { 0, 1, 2, 3 }) await BlackholeAsync(r, on: true);
        var (supervisor, client) = StartSupervisor("writer");
        var waiting = supervisor.Ask<object>(GetWriter.Instance, Short);
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);

        Assert.Equal(0, (await supervisor.Ask<Drained>(Drain.Instance, Short)).CommitsNotDurable);
        var unavailable = Assert.IsType<WriterUnavailable>(await waiting);
        Assert.False(unavailable.Fenced);
        Assert.Contains("stopping", unavailable.Reason);
        var record = (await client.GetRecoveryHistoryAsync()).Recoveries.Single();
        Assert.Equal(RecoveryOutcome.Cancelled, record.Outcome);
        var error = await Assert.ThrowsAsync<ActorDbException>(() => client.WaitUntilServingAsync(Short));
        Assert.Contains("stopping", error.Message);
        Assert.Equal("stopped", (await client.GetStatusAsync()).State);
        foreach (var r in new[] { 0, 1, 2, 3 }) await BlackholeAsync(r, on: false);
    }

    [Fact]
    public async Task A_drained_writer_refuses_new_work_and_a_hand_over_drains_then_stops_the_supervisor()
    {
        var (supervisor, client) = await StartWriterAsync("writer");
        await client.CreateTableAsync(Kv);
        AssertDurable(await InsertAsync(client, 1, "before"));
        var writer = (await WriterOfAsync(supervisor)).Writer;
        var open = client.Begin();
        await open.InsertAsync(Kv.Name, 2L, Value("open at the drain"));

        // Drained means stopped: a client that still holds the writer gets an abort, not a commit.
        Assert.Equal(0, (await writer.Ask<Drained>(Drain.Instance, Short)).CommitsNotDurable);
        var refused = await writer.Ask<StatementReply>(new ExecuteStatement(0, new InsertStatement(Kv.Name, 3L, Value("after the drain")), Commit: true), Short);
        Assert.IsType<WriterStoppedException>(refused.Error);
        Assert.True(refused.TxnAborted);
        Assert.Null(refused.Committed);
        Assert.Equal("stopped", (await writer.Ask<WriterStatus>(GetWriterStatus.Instance, Short)).State);

        // The singleton manager's termination message: the supervisor stops (its writer with it).
        Watch(supervisor);
        supervisor.Tell(HandOver.Instance);
        ExpectTerminated(supervisor, Short);
        await Assert.ThrowsAsync<TransactionAbortedException>(() => open.CommitAsync());

        // The next writer (a new recovery) has the commit made before the drain and nothing after it.
        var (next, nextClient) = await StartWriterAsync("writer-2");
        Assert.Equal("before", (await ReadAsync(nextClient, 1))!.Fields["v"]);
        Assert.Null(await ReadAsync(nextClient, 2));
        Assert.Null(await ReadAsync(nextClient, 3));
        await StopWriterAsync(next);
    }
}
