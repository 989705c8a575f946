using ActorDb.Core.Storage;

namespace ActorDb.Core.Tests.Storage;

public class RetryBackoffTests
{
    private static readonly DateTime T0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void The_delay_doubles_from_min_to_max()
    {
        var min = TimeSpan.FromMilliseconds(200);
        var max = TimeSpan.FromSeconds(10);
        Assert.Equal([200, 400, 800, 1600, 3200, 6400, 10000, 10000],
            Enumerable.Range(1, 8).Select(n => (long)RetryBackoff.Delay(n, min, max).TotalMilliseconds).ToArray());
        Assert.Equal(max, RetryBackoff.Delay(long.MaxValue, min, max));
    }

    [Fact]
    public void A_failing_run_is_logged_when_it_starts_then_summarised_at_most_every_interval_and_its_end_counts_the_failures()
    {
        var backoff = new RetryBackoff(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        var lines = new List<(RetryLine Line, long Count)>();
        var now = T0;
        for (var i = 0; i < 60; i++)
        {
            var (delay, line) = backoff.Failed(now, out var since);
            if (line != RetryLine.None) lines.Add((line, since));
            now += delay;
        }
        Assert.Equal(RetryLine.Started, lines[0].Line);
        Assert.All(lines.Skip(1), l => Assert.Equal(RetryLine.Summary, l.Line));
        // 60 failures over ~9 minutes (back-off capped at 10 s): one line per summary interval at most, never per failure.
        var elapsed = now - T0;
        Assert.InRange(lines.Count, 2, (int)(elapsed.TotalSeconds / 10) + 1);
        Assert.Equal(60, lines.Sum(l => l.Count));
        Assert.Equal(60, backoff.Succeeded());
        Assert.Equal(0, backoff.Succeeded());
        Assert.Equal(RetryLine.Started, backoff.Failed(now, out _).Line);
    }
}

public class ScrubberTests
{
    private static readonly DateTime T0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void The_budget_follows_the_rate_with_at_most_one_second_of_burst()
    {
        var s = new Scrubber(100, 1000, pagesPerSecond: 50, T0);
        var total = 0;
        for (var t = 1; t <= 100; t++) total += s.Budget(T0.AddMilliseconds(100 * t));   // 10 s in 100 ms ticks
        Assert.InRange(total, 499, 500);
        Assert.Equal(50, s.Budget(T0.AddSeconds(3600)));   // an hour's pause buys one second's worth, not 180,000 pages
        Assert.Equal(0, new Scrubber(0, 10, 0, T0).Budget(T0.AddSeconds(10)));   // off
    }

    [Fact]
    public void The_cursor_walks_the_pg_and_wraps_counting_passes_pages_bytes_and_damage()
    {
        var s = new Scrubber(100, 10, 1000, T0);
        Assert.Equal(100, s.Cursor);
        s.Scrubbed(103, 528, damaged: false);
        Assert.Equal(104, s.Cursor);
        s.Scrubbed(109, 528, damaged: true);   // the last page: the next pass starts over
        Assert.Equal(100, s.Cursor);
        Assert.Equal(1, s.Passes);
        s.MoveTo(-1);   // no written page left
        Assert.Equal((100L, 2L, 2L, 1056L, 1L), (s.Cursor, s.Passes, s.Pages, s.Bytes, s.Damaged));
        s.MoveTo(50);   // below the PG: clamped to its first page
        Assert.Equal(100, s.Cursor);
    }
}

public class PageRepairTests
{
    private static readonly DateTime T0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void At_most_max_in_flight_requests_are_unanswered_and_answers_and_timeouts_free_the_window()
    {
        var r = new PageRepair(replica: 0, maxInFlight: 3);
        for (var page = 1; page <= 10; page++) r.Start(page, "the scrub", T0);
        var first = r.Due(T0);
        Assert.Equal([1L, 2L, 3L], first.Select(d => d.PageNo).Order());
        Assert.Equal(3, r.InFlight);
        Assert.Empty(r.Due(T0));                                   // the window is full
        r.Done(first[0].PageNo, T0);                               // an answer frees one place
        r.Refused(first[1].PageNo, first[1].Peer, T0);             // a refusal frees one and makes that page due again
        Assert.Equal(1, r.InFlight);
        var second = r.Due(T0);
        Assert.Equal(2, second.Count);
        Assert.Contains(second, d => d.PageNo == first[1].PageNo && d.Peer == 2);   // the refused page goes to the next peer
        Assert.Equal(3, r.InFlight);
        // Every request times out: each counts as a refusal and the next peer is asked, still three at a time.
        var third = r.Due(T0 + PageRepair.AnswerTimeout);
        Assert.Equal(3, third.Count);
        Assert.Equal(3, r.InFlight);
        r.Clear();
        Assert.Equal(0, r.InFlight);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PageRepair(0, maxInFlight: 0));
    }

    [Fact]
    public void Each_damaged_page_asks_one_peer_at_a_time_round_robin_never_itself()
    {
        var r = new PageRepair(replica: 2);
        Assert.True(r.Start(7, "the scrub", T0));
        Assert.False(r.Start(7, "a read", T0));   // already being repaired: logged once
        var asked = new List<int>();
        var now = T0;
        for (var i = 0; i < 5; i++)
        {
            var due = r.Due(now);
            Assert.Equal(7, Assert.Single(due).PageNo);
            asked.Add(due[0].Peer);
            Assert.Empty(r.Due(now));   // one request at a time
            r.Refused(7, due[0].Peer, now);
        }
        Assert.Equal([3, 4, 5, 0, 1], asked);
        Assert.True(r.Unservable(7));
        Assert.Empty(r.Due(now));   // a whole round refused: it pauses
        Assert.Empty(r.Due(now + PageRepair.RoundPause - TimeSpan.FromMilliseconds(1)));
        Assert.Equal(3, Assert.Single(r.Due(now + PageRepair.RoundPause)).Peer);
    }

    [Fact]
    public void An_unanswered_request_moves_on_after_the_timeout_and_a_late_or_foreign_answer_is_ignored()
    {
        var r = new PageRepair(replica: 0);
        r.Start(9, "a read", T0);
        Assert.Equal(1, Assert.Single(r.Due(T0)).Peer);
        Assert.Empty(r.Due(T0 + PageRepair.AnswerTimeout - TimeSpan.FromMilliseconds(1)));
        Assert.Equal(2, Assert.Single(r.Due(T0 + PageRepair.AnswerTimeout)).Peer);
        r.Refused(9, 1, T0 + PageRepair.AnswerTimeout);   // peer 1's late answer: peer 2 is still asked
        Assert.Empty(r.Due(T0 + PageRepair.AnswerTimeout));
        r.Refused(8, 2, T0);                                  // not a page being repaired
        var (took, cause, rounds) = r.Done(9, T0 + TimeSpan.FromSeconds(3));
        Assert.Equal((TimeSpan.FromSeconds(3), "a read", 0L), (took, cause, rounds));
        Assert.Equal(1, r.Repaired);
        Assert.Equal(0, r.Count);
        Assert.Throws<KeyNotFoundException>(() => r.Done(9, T0));
    }

    [Fact]
    public void A_peer_image_is_taken_only_whole_and_materialized_at_or_above_the_checkpoint()
    {
        Assert.Null(PageRepair.Check(new byte[512], 512, new Lsn(100), new Lsn(100)));
        Assert.Null(PageRepair.Check(null, 512, new Lsn(150), new Lsn(100)));   // never written at the peer: a zero page
        Assert.Contains("511 bytes", PageRepair.Check(new byte[511], 512, new Lsn(100), new Lsn(100)));
        Assert.Contains("below this segment's checkpoint 100", PageRepair.Check(new byte[512], 512, new Lsn(99), new Lsn(100)));
        Assert.Equal("page 42 of PG 3 cannot be read: its copy is damaged on all 6 segments (pg-3-0..5) and no peer could repair it", PageRepair.Unreadable(3, 42));
    }
}
