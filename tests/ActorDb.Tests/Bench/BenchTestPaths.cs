namespace ActorDb.Tests.Bench;

/// <summary>Locates the public YCSB workload files (../shared/workloads/ycsb relative to the repository root).</summary>
internal static class BenchTestPaths
{
    public static readonly string[] YcsbFiles =
        ["workload_template", "workloada", "workloadb", "workloadc", "workloadd", "workloade", "workloadf"];

    private static readonly Lazy<string> Dir = new(() =>
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            foreach (var candidate in new[] { Path.Combine(d.FullName, "shared", "workloads", "ycsb"),
                                              Path.Combine(d.FullName, "..", "shared", "workloads", "ycsb") })
            {
                if (Directory.Exists(candidate))
                    return Path.GetFullPath(candidate);
            }
        }
        throw new DirectoryNotFoundException($"shared/workloads/ycsb not found above {AppContext.BaseDirectory}");
    });

    public static string YcsbDir => Dir.Value;

    public static string Ycsb(string name) => Path.Combine(YcsbDir, name);

    /// <summary>The repository's own workloads/ directory (next to ActorDb.sln).</summary>
    public static string RepoWorkloads()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "ActorDb.sln")))
                return Path.Combine(d.FullName, "workloads");
        }
        throw new DirectoryNotFoundException("repository root (ActorDb.sln) not found");
    }
}
