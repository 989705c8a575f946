namespace ActorDb.Simulation;

/// <summary>How runs are printed: a failing run names its seed, the violated checks and the command that replays it.</summary>
public static class Report
{
    /// <summary>One run.</summary>
    public static void One(RunResult r, TextWriter o)
    {
        if (r.Passed)
        {
            o.WriteLine($"seed {r.Seed}: passed ({r.Events} events, {r.Ops} ops: {r.Ok} ok, {r.Failed} failed, {r.Ambiguous} ambiguous; {r.Summary})");
            return;
        }
        o.WriteLine($"seed {r.Seed}: FAILED ({r.Events} events, {r.Ops} ops: {r.Ok} ok, {r.Failed} failed, {r.Ambiguous} ambiguous; {r.Summary})");
        foreach (var v in r.Violations) o.WriteLine($"  violated {v}");
        o.WriteLine($"  replay: {r.ReplayCommand}");
    }

    /// <summary>A batch of seeds.</summary>
    public static void Many(SeedsResult s, TextWriter o) =>
        o.WriteLine($"seeds {s.From}..{s.From + s.Count - 1}: {s.Count} runs, {s.Failures.Count} failed, {s.Events} events, " +
                    $"{s.Elapsed.TotalSeconds:F1} s, {s.SeedsPerSecond:F1} seeds/s" +
                    (s.Failures.Count == 0 ? "" : $"; failing seeds: {string.Join(", ", s.Failures.Take(20).Select(f => f.Seed))}{(s.Failures.Count > 20 ? ", ..." : "")}"));
}
