using ActorDb.Cli.Bench;

namespace ActorDb.Tests.Bench;

public class WorkloadPropertiesTests
{
    public static TheoryData<string> PublicFiles => new(BenchTestPaths.YcsbFiles);

    [Theory]
    [MemberData(nameof(PublicFiles))]
    public void Public_ycsb_files_parse(string name)
    {
        var p = WorkloadProperties.Resolve(BenchTestPaths.Ycsb(name));
        Assert.Equal(WorkloadKind.Ycsb, p.Kind);
        Assert.Equal(name, p.Name);
        Assert.Equal(10, p.FieldCount);
        Assert.Equal("usertable", p.Table);
    }

    [Fact]
    public void Public_files_have_their_documented_mixes()
    {
        var a = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workloada"));
        Assert.Equal((0.5, 0.5, RequestDistribution.Zipfian), (a.ReadProportion, a.UpdateProportion, a.RequestDistribution));
        Assert.Equal((1000L, 1000L), (a.RecordCount, a.OperationCount));
        var d = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workloadd"));
        Assert.Equal((0.95, 0.05, RequestDistribution.Latest), (d.ReadProportion, d.InsertProportion, d.RequestDistribution));
        var e = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workloade"));
        Assert.Equal((0.95, 100, ScanLengthDistribution.Uniform), (e.ScanProportion, e.MaxScanLength, e.ScanLengthDistribution));
        var f = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workloadf"));
        Assert.Equal(0.5, f.ReadModifyWriteProportion);
        var t = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workload_template"));
        Assert.Equal((1000000L, 3000000L, false, true), (t.RecordCount, t.OperationCount, t.OrderedInserts, t.ReadAllFields));
    }

    [Fact]
    public void Defaults_follow_core_workload()
    {
        var p = WorkloadProperties.Parse("", "empty");
        Assert.Equal((1000L, 1000L, 10, 100), (p.RecordCount, p.OperationCount, p.FieldCount, p.FieldLength));
        Assert.Equal((0.95, 0.05, 0.0, 0.0, 0.0), (p.ReadProportion, p.UpdateProportion, p.InsertProportion, p.ScanProportion, p.ReadModifyWriteProportion));
        Assert.Equal((RequestDistribution.Uniform, 1000, false, false), (p.RequestDistribution, p.MaxScanLength, p.OrderedInserts, p.WriteAllFields));
        Assert.Equal((0L, 1000L, 1, "field"), (p.InsertStart, p.InsertCount, p.ZeroPadding, p.FieldNamePrefix));
    }

    [Fact]
    public void Syntax_subset_comments_spaces_and_colons()
    {
        var p = WorkloadProperties.Parse("# c\n! bang comment\n\n  recordcount = 42\r\noperationcount:7\nfieldcount=3\n", "f");
        Assert.Equal((42L, 7L, 3), (p.RecordCount, p.OperationCount, p.FieldCount));
        Assert.Equal("f: line 4", p.OriginOf("recordcount"));
    }

    [Fact]
    public void Overrides_win_over_the_file()
    {
        var p = WorkloadProperties.Resolve(BenchTestPaths.Ycsb("workloada"), ["recordcount=50", "readproportion=1", "updateproportion=0"]);
        Assert.Equal((50L, 1.0, 0.0), (p.RecordCount, p.ReadProportion, p.UpdateProportion));
        Assert.Equal("-p recordcount=50", p.OriginOf("recordcount"));
    }

    [Fact]
    public void Unknown_key_names_file_line_and_key()
    {
        var e = Assert.Throws<WorkloadException>(() =>
            WorkloadProperties.Parse("recordcount=1\n\n# x\n\nfieldcount=2\n\nrecordcont=5\n", "workloads/x"));
        Assert.StartsWith("workloads/x: line 7: unknown property 'recordcont'", e.Message);
        Assert.Contains("did you mean 'recordcount'", e.Message);
    }

    [Fact]
    public void Unknown_override_names_the_override()
    {
        var e = Assert.Throws<WorkloadException>(() => WorkloadProperties.Parse("", "f", ["threads=4"]));
        Assert.Contains("-p threads=4", e.Message);
        Assert.Contains("unknown property 'threads'", e.Message);
        Assert.Contains("--threads", e.Message);
    }

    [Theory]
    [InlineData("recordcount=abc", "recordcount")]
    [InlineData("operationcount=-5", "operationcount")]
    [InlineData("fieldcount=1.5", "fieldcount")]
    [InlineData("readproportion=x", "readproportion")]
    [InlineData("readproportion=1.5", "readproportion")]
    [InlineData("readallfields=yes", "readallfields")]
    [InlineData("requestdistribution=gaussian", "requestdistribution")]
    [InlineData("insertorder=random", "insertorder")]
    [InlineData("scanlengthdistribution=latest", "scanlengthdistribution")]
    [InlineData("fieldlengthdistribution=histogram", "fieldlengthdistribution")]
    [InlineData("requestdistribution=exponential", "requestdistribution")]
    [InlineData("dataintegrity=true", "dataintegrity")]
    [InlineData("workload=site.ycsb.workloads.TimeSeriesWorkload", "workload")]
    [InlineData("recordcount", "recordcount")]
    public void Malformed_values_name_file_line_and_key(string line, string key)
    {
        var e = Assert.Throws<WorkloadException>(() => WorkloadProperties.Parse($"# header\n{line}\n", "wl/bad"));
        Assert.StartsWith("wl/bad: line 2: ", e.Message);
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void Unsupported_distribution_says_so()
    {
        var e = Assert.Throws<WorkloadException>(() => WorkloadProperties.Parse("requestdistribution=sequential", "f"));
        Assert.Contains("not supported", e.Message);
    }

    [Theory]
    [InlineData("readproportion=0\nupdateproportion=0\n", 2)]
    [InlineData("readproportion=0.9\nupdateproportion=0.2\n", 2)]
    [InlineData("updateproportion=0.5\n", 1)]
    public void Proportions_must_sum_to_at_most_one_and_more_than_zero(string text, int line)
    {
        var e = Assert.Throws<WorkloadException>(() => WorkloadProperties.Parse(text, "mix"));
        Assert.StartsWith($"mix: line {line}: property '", e.Message);
        Assert.Contains("proportions sum to", e.Message);
    }

    [Fact]
    public void Proportions_below_one_are_accepted_and_normalised_later()
    {
        var p = WorkloadProperties.Parse("readproportion=0.2\nupdateproportion=0.2\n", "f");
        Assert.Equal(0.2, p.ReadProportion);
    }

    [Fact]
    public void Reads_without_loaded_records_are_rejected()
    {
        var e = Assert.Throws<WorkloadException>(() => WorkloadProperties.Parse("recordcount=0\n", "f"));
        Assert.Contains("recordcount", e.Message);
        var ok = WorkloadProperties.Parse("recordcount=0\ninsertproportion=1\nreadproportion=0\nupdateproportion=0\n", "f");
        Assert.Equal(0, ok.LoadCount);
    }

    [Fact]
    public void Missing_file_is_a_workload_error()
    {
        var e = Assert.Throws<WorkloadException>(() => WorkloadProperties.Resolve("no/such/workload"));
        Assert.Contains("no/such/workload", e.Message);
    }

    [Fact]
    public void Built_in_names_select_built_ins()
    {
        var s = WorkloadProperties.Resolve("sysbench-write-only");
        Assert.Equal((WorkloadKind.SysbenchWriteOnly, "sbtest", 10000L, 10000L), (s.Kind, s.Table, s.TableSize, s.OperationCount));
        Assert.Equal((1, 1, 1), (s.IndexUpdates, s.NonIndexUpdates, s.DeleteInserts));
        var b = WorkloadProperties.Resolve("BANK", ["accountcount=10"]);
        Assert.Equal((WorkloadKind.Bank, "accounts", 10L, 1000L, 100L), (b.Kind, b.Table, b.AccountCount, b.InitialBalance, b.MaxTransfer));
        Assert.Equal(10, b.LoadCount);
    }

    [Fact]
    public void Shipped_workload_files_parse()
    {
        var dir = BenchTestPaths.RepoWorkloads();
        var ins = WorkloadProperties.Resolve(Path.Combine(dir, "ycsb-insert-only"));
        Assert.Equal((WorkloadKind.Ycsb, 1.0, 0.0, 100000L), (ins.Kind, ins.InsertProportion, ins.ReadProportion, ins.OperationCount));
        var sb = WorkloadProperties.Resolve(Path.Combine(dir, "sysbench-write-only.properties"));
        Assert.Equal((WorkloadKind.SysbenchWriteOnly, 10000L), (sb.Kind, sb.TableSize));
        var bank = WorkloadProperties.Resolve(Path.Combine(dir, "bank.properties"));
        Assert.Equal((WorkloadKind.Bank, 1000L, 1000L), (bank.Kind, bank.AccountCount, bank.InitialBalance));
    }
}
