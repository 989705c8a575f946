using ActorDb.Core.Transactions;

namespace ActorDb.Core.Tests.Transactions;

public class LockManagerTests
{
    private static RowId Row(int n) => new(1, [(byte)n]);

    [Fact]
    public void Shared_locks_share_and_exclusive_waits_until_release()
    {
        var m = new LockManager();
        Assert.Equal(LockOutcome.Granted, m.Acquire(1, Row(1), LockMode.Shared));
        Assert.Equal(LockOutcome.Granted, m.Acquire(2, Row(1), LockMode.Shared));
        Assert.Equal(LockOutcome.Waiting, m.Acquire(3, Row(1), LockMode.Exclusive));
        Assert.Empty(m.ReleaseAll(1));
        var granted = m.ReleaseAll(2);
        Assert.Equal([(3L, Row(1))], granted);
        Assert.Equal(LockMode.Exclusive, m.HeldMode(3, Row(1)));
    }

    [Fact]
    public void Later_shared_request_queues_behind_a_waiting_exclusive()
    {
        var m = new LockManager();
        m.Acquire(1, Row(1), LockMode.Shared);
        Assert.Equal(LockOutcome.Waiting, m.Acquire(2, Row(1), LockMode.Exclusive));
        Assert.Equal(LockOutcome.Waiting, m.Acquire(3, Row(1), LockMode.Shared));
        Assert.Equal([(2L, Row(1))], m.ReleaseAll(1));
        Assert.Equal([(3L, Row(1))], m.ReleaseAll(2));
    }

    [Fact]
    public void Sole_holder_upgrades_in_place_and_reacquire_is_granted()
    {
        var m = new LockManager();
        m.Acquire(1, Row(1), LockMode.Shared);
        Assert.Equal(LockOutcome.Granted, m.Acquire(1, Row(1), LockMode.Exclusive));
        Assert.Equal(LockOutcome.Granted, m.Acquire(1, Row(1), LockMode.Shared));
        Assert.Equal(LockMode.Exclusive, m.HeldMode(1, Row(1)));
    }

    [Fact]
    public void Two_shared_holders_upgrading_is_a_deadlock_for_the_second()
    {
        var m = new LockManager();
        m.Acquire(1, Row(1), LockMode.Shared);
        m.Acquire(2, Row(1), LockMode.Shared);
        Assert.Equal(LockOutcome.Waiting, m.Acquire(1, Row(1), LockMode.Exclusive));
        Assert.Equal(LockOutcome.Deadlock, m.Acquire(2, Row(1), LockMode.Exclusive));
        Assert.Equal([(1L, Row(1))], m.ReleaseAll(2));
    }

    [Fact]
    public void Classic_two_row_cycle_is_detected_and_breaking_it_unblocks_the_other()
    {
        var m = new LockManager();
        m.Acquire(1, Row(1), LockMode.Exclusive);
        m.Acquire(2, Row(2), LockMode.Exclusive);
        Assert.Equal(LockOutcome.Waiting, m.Acquire(1, Row(2), LockMode.Exclusive));
        Assert.Equal(LockOutcome.Deadlock, m.Acquire(2, Row(1), LockMode.Exclusive));
        Assert.Equal([(1L, Row(2))], m.ReleaseAll(2));
        Assert.Equal(0, m.Waiting);
    }

    [Fact]
    public void Three_transaction_cycle_is_detected()
    {
        var m = new LockManager();
        for (var t = 1; t <= 3; t++) m.Acquire(t, Row(t), LockMode.Exclusive);
        Assert.Equal(LockOutcome.Waiting, m.Acquire(1, Row(2), LockMode.Exclusive));
        Assert.Equal(LockOutcome.Waiting, m.Acquire(2, Row(3), LockMode.Exclusive));
        Assert.Equal(LockOutcome.Deadlock, m.Acquire(3, Row(1), LockMode.Exclusive));
    }

    [Fact]
    public void Cancelled_wait_lets_the_queue_move_on_and_releases_leave_no_state()
    {
        var m = new LockManager();
        m.Acquire(1, Row(1), LockMode.Shared);
        m.Acquire(2, Row(1), LockMode.Exclusive);   // waits
        m.Acquire(3, Row(1), LockMode.Shared);      // waits behind 2
        Assert.Equal([(3L, Row(1))], m.CancelWait(2));
        m.ReleaseAll(1);
        m.ReleaseAll(3);
        Assert.Equal(0, m.LockedRows);
        Assert.Equal(0, m.Waiting);
    }
}
