namespace ActorDb.Core.Tests;

public class RepeatedConditionsTests
{
    private static readonly DateTime T0 = new(2026, 12, 3, 10, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void A_condition_is_logged_at_start_then_summarised_with_its_count_then_at_its_end()
    {
        var log = new RepeatedConditions(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(20));
        Assert.True(log.Occurred("a", T0));
        Assert.True(log.Occurred("b", T0.AddSeconds(1)));
        Assert.True(log.IsActive("a"));
        for (var i = 1; i <= 99; i++) Assert.False(log.Occurred("a", T0.AddMilliseconds(300 * i)));
        Assert.Empty(log.Due(T0.AddSeconds(10)));
        // a still occurs: summarised with the count since its first line; b was quiet for 20 s: ended.
        Assert.Equal([new("a", false, 99, 100), new("b", true, 0, 1)], log.Due(T0.AddSeconds(30)));
        Assert.False(log.IsActive("b"));
        log.Occurred("a", T0.AddSeconds(31));
        Assert.Empty(log.Due(T0.AddSeconds(45)));
        Assert.Equal([new RepeatedConditions.Line("a", true, 1, 101)], log.Due(T0.AddSeconds(51)));
        Assert.Equal(0, log.Count);
        Assert.True(log.Occurred("a", T0.AddSeconds(60)));   // a new occurrence starts it again
    }

    [Fact]
    public void A_flood_of_ten_thousand_occurrences_a_second_gives_one_start_line_a_summary_per_ten_seconds_and_an_end()
    {
        var log = new RepeatedConditions();
        Assert.Equal(TimeSpan.FromSeconds(10), log.SummaryEvery);
        var lines = new List<string>();
        // 60 s of a condition occurring 10,000 times a second (the writer's 418,394 lines in 32 s were ~13,000 a second),
        // with a 100 ms tick asking what is due, as the actors do; then 15 s of quiet: 600,000 events, 8 lines.
        var now = T0;
        for (var tick = 0; tick < 750; tick++)
        {
            if (tick < 600)
                for (var i = 0; i < 1000; i++)
                    if (log.Occurred("segment pg-0-0 rejecting redo", now.AddTicks(i * 1000))) lines.Add("start");
            now = now.AddMilliseconds(100);
            foreach (var line in log.Due(now)) lines.Add(line.Ended ? $"end {line.Total}" : $"summary {line.Count}");
        }
        // Every 10 s from the start a summary with the count since the last line; the end 10 s after the last event.
        Assert.Equal(["start", "summary 99999", "summary 100000", "summary 100000", "summary 100000", "summary 100000", "summary 100000", "end 600000"], lines);
    }

    [Fact]
    public void The_default_ends_a_condition_after_ten_quiet_seconds()
    {
        var log = new RepeatedConditions();
        Assert.True(log.Occurred("x", T0));
        Assert.Empty(log.Due(T0.AddSeconds(9.9)));
        Assert.Equal([new RepeatedConditions.Line("x", true, 0, 1)], log.Due(T0.AddSeconds(10)));
    }
}
