using ActorDb.Core;
using ActorDb.Simulation;

namespace ActorDb.Simulation.Tests;

/// <summary>Each check passes a clean history and fails the history with the one fact that breaks its rule.</summary>
public class CheckerTests
{
    private static readonly DateTime T0 = SimScheduler.Origin;

    private static ClientOp Insert(int id, string key, long value, Outcome outcome, double endedMs = 10) =>
        new(id, 0, key, value, 0, 0, 0, T0) { Outcome = outcome, Ended = T0.AddMilliseconds(endedMs), AckEpoch = outcome == Outcome.Ok ? 1 : 0 };

    private static Observations Clean()
    {
        var o = new Observations { Accounts = 2, OpeningBalance = 100, QuietFrom = T0, LivenessBound = TimeSpan.FromSeconds(5) };
        o.Ops.Add(Insert(0, "k0", 5, Outcome.Ok));
        o.Ops.Add(Insert(1, "k1", 6, Outcome.Ambiguous));
        o.Ops.Add(Insert(2, "k2", 7, Outcome.Failed));
        o.Ops.Add(new ClientOp(3, 1, null, 0, 0, 1, 30, T0) { Outcome = Outcome.Ok, Ended = T0.AddMilliseconds(20) });
        o.FinalRows = new Dictionary<string, long> { ["k0"] = 5, ["k1"] = 6 };
        o.FinalBalances = [70, 130];
        o.Produced.UnionWith([0xA, 0xB, 0xC, 0xD, 0xE]);
        o.Held.Add(new HeldRecord("pg-0-0", new Lsn(1), 1, false, 0xA, true));
        o.Held.Add(new HeldRecord("pg-0-1", new Lsn(1), 1, false, 0xA, true));
        o.Held.Add(new HeldRecord("pg-0-2", new Lsn(2), 1, true, 0xB, true));     // annulled by epoch 2
        o.Held.Add(new HeldRecord("pg-0-3", new Lsn(2), 1, true, 0xC, true));     // another content, annulled too
        o.Truncations.Add(new Truncation(2, new Lsn(1), new Lsn(1001), T0.AddMilliseconds(5)));
        o.Fences.Add(new FenceAnswered("pg-0-0", 2, T0.AddMilliseconds(3)));
        o.Acks.Add(new AckSent("pg-0-0", 1, new Lsn(1), T0.AddMilliseconds(2)));
        o.Acks.Add(new AckSent("pg-0-0", 2, new Lsn(1002), T0.AddMilliseconds(6)));
        return o;
    }

    [Fact]
    public void A_clean_history_passes_every_check() => Assert.Empty(Checkers.All(Clean()));

    private static void Fails(string check, Action<Observations> breakIt, bool only = true)
    {
        var o = Clean();
        breakIt(o);
        var v = Checkers.All(o);
        Assert.Contains(v, x => x.Check == check);
        if (only) Assert.All(v, x => Assert.Equal(check, x.Check));
    }

    [Fact]
    public void An_acknowledged_insert_missing_or_changed_fails()
    {
        Fails(Checkers.AckedWritePresent, o => o.FinalRows!.Remove("k0"));
        Fails(Checkers.AckedWritePresent, o => o.FinalRows!["k0"] = 99, only: false);   // also a value never written
    }

    [Fact]
    public void A_row_never_written_or_written_by_a_failed_insert_fails()
    {
        Fails(Checkers.NoPhantomWrite, o => o.FinalRows!["zz"] = 1);
        Fails(Checkers.NoPhantomWrite, o => o.FinalRows!["k2"] = 7);
    }

    [Fact]
    public void An_older_epochs_record_left_unannulled_in_a_truncated_range_fails() =>
        Fails(Checkers.TruncatedStaysGone, o => o.Held.Add(new HeldRecord("pg-0-4", new Lsn(5), 1, false, 0xD, true)));

    [Fact]
    public void An_ack_of_an_older_epoch_after_the_fence_fails() =>
        Fails(Checkers.NoStaleEpochAck, o => o.Acks.Add(new AckSent("pg-0-0", 1, new Lsn(2), T0.AddMilliseconds(4))));

    [Fact]
    public void A_held_record_with_a_bad_checksum_or_one_no_writer_sent_or_an_unreadable_segment_fails()
    {
        Fails(Checkers.BadCrcNeverApplied, o => o.Held.Add(new HeldRecord("pg-0-5", new Lsn(1), 1, false, 0xA, false)));
        Fails(Checkers.BadCrcNeverApplied, o => o.Held.Add(new HeldRecord("pg-0-5", new Lsn(3), 1, true, 0xF, true)));
        Fails(Checkers.BadCrcNeverApplied, o => o.Unreadable.Add("pg-0-5: log: damaged"));
    }

    [Fact]
    public void A_truncated_record_on_a_segment_still_in_an_older_epoch_is_not_yet_a_violation()
    {
        var o = Clean();
        o.Held.Add(new HeldRecord("pg-0-4", new Lsn(5), 1, false, 0xD, true));
        o.SegmentEpochs["pg-0-4"] = 1;
        Assert.Empty(Checkers.All(o));
        o.SegmentEpochs["pg-0-4"] = 2;
        Assert.Contains(Checkers.All(o), v => v.Check == Checkers.TruncatedStaysGone);
    }

    [Fact]
    public void Two_contents_at_one_LSN_not_annulled_fail() =>
        Fails(Checkers.OneContentPerLsn, o => o.Held.Add(new HeldRecord("pg-0-5", new Lsn(1), 1, false, 0xE, true)));

    [Fact]
    public void A_bank_sum_that_changed_fails() => Fails(Checkers.BankSum, o => o.FinalBalances = [70, 131]);

    [Fact]
    public void No_commit_in_the_quiet_phase_within_the_bound_or_no_final_read_fails()
    {
        Fails(Checkers.Liveness, o => o.QuietFrom = T0.AddMilliseconds(50));
        Fails(Checkers.Liveness, o => o.QuietFrom = null);
        Fails(Checkers.Liveness, o => { o.FinalRows = null; o.FinalBalances = null; });
    }
}
