using System.CommandLine;
using ActorDb.Simulation;

// The deterministic simulator (issue 17):
//   dotnet run --project src/ActorDb.Simulation -c Release -- --seed S [--trace]     one run, replayed exactly
//   dotnet run --project src/ActorDb.Simulation -c Release -- --seeds N [--from S]   N runs from seed S (default 0)
var seedOption = new Option<long?>("--seed") { Description = "Run this one seed (replays it exactly)" };
var seedsOption = new Option<int?>("--seeds") { Description = "Run this many seeds, from --from" };
var fromOption = new Option<long>("--from") { Description = "The first seed of --seeds", DefaultValueFactory = _ => 0 };
var traceOption = new Option<bool>("--trace") { Description = "With --seed: print a readable line per event" };
var root = new RootCommand("ActorDb's deterministic simulator: the real engines in one thread from a seed, with injected " +
                           "network, disk, crash and clock faults, checked after every run")
    { seedOption, seedsOption, fromOption, traceOption };
root.SetAction(parse =>
{
    if (parse.GetValue(seedOption) is { } seed)
    {
        var trace = parse.GetValue(traceOption);
        var result = Simulation.RunSafely(seed, trace, trace ? Console.Out : null);
        Report.One(result, Console.Out);
        return result.Passed ? 0 : 1;
    }
    var count = parse.GetValue(seedsOption) ?? 100;
    if (count < 1)
    {
        Console.Error.WriteLine($"--seeds {count}: give at least 1");
        return 2;
    }
    var all = SeedRunner.Run(parse.GetValue(fromOption), count, onFailure: r => Report.One(r, Console.Out));
    Report.Many(all, Console.Out);
    return all.Failures.Count == 0 ? 0 : 1;
});
return root.Parse(args).Invoke();
