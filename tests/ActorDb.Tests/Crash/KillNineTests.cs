using Xunit.Abstractions;

namespace ActorDb.Tests.Crash;

/// <summary>
/// Crash tests that crash for real: the CLI as a separate process under bank and insert-only load, killed with SIGKILL
/// at random moments, some segment log tails damaged, and after each kill every acknowledged write checked with
/// <c>actordb dump</c> (see <see cref="CrashHarness"/>). The suite runs <see cref="SuiteCycles"/> cycles; the soak
/// (<c>./build.ps1 crash-soak -Cycles 200</c>) runs this same test with <see cref="CrashHarness.CyclesVariable"/> set.
/// </summary>
[Collection(ProcessTests.Name)]
public class KillNineTests(ITestOutputHelper output)
{
    /// <summary>Kill -9 cycles in the suite.</summary>
    public const int SuiteCycles = 10;

    [Fact]
    public async Task Kill_nine_under_load_loses_no_acknowledged_write_and_the_volume_takes_commits_after_every_restart()
    {
        var logFile = Environment.GetEnvironmentVariable(CrashHarness.LogVariable);
        var harness = new CrashHarness(new CrashOptions
        {
            Cycles = CrashHarness.CyclesFromEnvironment(SuiteCycles),
            Seed = CrashHarness.SeedFromEnvironment(),
            Log = line =>
            {
                output.WriteLine(line);
                if (!string.IsNullOrEmpty(logFile)) File.AppendAllText(logFile, line + "\n");
            },
        });

        var summary = await harness.RunAsync();

        Assert.True(summary.Failures == 0, summary.FailureMessage);
        Assert.True(summary.Kills == summary.Cycles, $"{summary.Kills} kills in {summary.Cycles} cycles");
        Assert.True(summary.AckedInsertsVerified > 0 && summary.TransferUpdatesReplayed > 0, summary.ToString());
    }
}
