using System.Globalization;

namespace ActorDb.Cli.Bench;

/// <summary>Which workload engine a <see cref="WorkloadProperties"/> selects.</summary>
public enum WorkloadKind
{
    /// <summary>YCSB CoreWorkload (Cooper et al., "Benchmarking Cloud Serving Systems with YCSB", SoCC 2010).</summary>
    Ycsb,
    /// <summary>sysbench <c>oltp_write_only</c>: per transaction an index update, a non-index update and a delete+insert.</summary>
    SysbenchWriteOnly,
    /// <summary>Bank transfers between accounts; the sum of all balances is invariant.</summary>
    Bank,
}

/// <summary>How keys are chosen for reads, updates, scans and read-modify-writes (<c>requestdistribution</c>).</summary>
public enum RequestDistribution
{
    /// <summary>Every loaded key is equally likely.</summary>
    Uniform,
    /// <summary>Scrambled zipfian (constant 0.99): a few keys, scattered over the key space, are hot.</summary>
    Zipfian,
    /// <summary>Zipfian over recency: the most recently inserted keys are the hottest.</summary>
    Latest,
    /// <summary><c>hotspotopnfraction</c> of the operations go to the first <c>hotspotdatafraction</c> of the keys.</summary>
    Hotspot,
}

/// <summary>Distribution of scan lengths in [minscanlength, maxscanlength] (<c>scanlengthdistribution</c>).</summary>
public enum ScanLengthDistribution
{
    /// <summary>Uniform.</summary>
    Uniform,
    /// <summary>Zipfian: short scans dominate.</summary>
    Zipfian,
}

/// <summary>Distribution of field value lengths (<c>fieldlengthdistribution</c>).</summary>
public enum FieldLengthDistribution
{
    /// <summary>Always <c>fieldlength</c>.</summary>
    Constant,
    /// <summary>Uniform in [minfieldlength, fieldlength].</summary>
    Uniform,
    /// <summary>Zipfian in [minfieldlength, fieldlength].</summary>
    Zipfian,
}

/// <summary>
/// A workload definition: a YCSB property file (a subset of the java <c>.properties</c> format: <c>#</c>/<c>!</c>
/// comments, <c>key=value</c>, <c>key = value</c> or <c>key: value</c>, blank lines) plus <c>-p name=value</c>
/// overrides, validated and typed. Defaults follow YCSB's CoreWorkload. The same keys also configure the built-in
/// <c>sysbench-write-only</c> and <c>bank</c> workloads (selected by the <c>workload</c> key or by name, see
/// <see cref="Resolve"/>).
/// </summary>
/// <remarks>
/// Every problem throws <see cref="WorkloadException"/> naming the source and key, e.g.
/// <c>workloads/x: line 7: unknown property 'recordcont'</c> or <c>-p fieldcount=abc: property 'fieldcount': ...</c>.
/// </remarks>
public sealed class WorkloadProperties
{
    /// <summary>Name that selects the built-in sysbench oltp_write_only workload.</summary>
    public const string SysbenchWriteOnlyName = "sysbench-write-only";

    /// <summary>Name that selects the built-in bank workload.</summary>
    public const string BankName = "bank";

    /// <summary>Names accepted by <see cref="Resolve"/> as built-in workloads.</summary>
    public static IReadOnlyList<string> BuiltInNames { get; } = [SysbenchWriteOnlyName, BankName];

    /// <summary>Where the definition came from: the file path as given, or <c>built-in NAME</c>.</summary>
    public string Source { get; }

    /// <summary>Short name for reports: the file name or the built-in name.</summary>
    public string Name { get; }

    /// <summary>Which engine runs this workload.</summary>
    public WorkloadKind Kind { get; }

    /// <summary>The raw values explicitly set (file, then overrides; later wins), by key.</summary>
    public IReadOnlyDictionary<string, string> Values { get; }

    // ---- YCSB CoreWorkload --------------------------------------------------------------------------------------

    /// <summary><c>recordcount</c>: records in the table after the load phase (default 1000).</summary>
    public long RecordCount { get; }
    /// <summary><c>operationcount</c>: operations (transactions) of the run phase (default 1000; 10000 for the built-ins).</summary>
    public long OperationCount { get; }
    /// <summary><c>insertstart</c>: first key number the load phase inserts (default 0).</summary>
    public long InsertStart { get; }
    /// <summary><c>insertcount</c>: records the load phase inserts (default recordcount - insertstart).</summary>
    public long InsertCount { get; }
    /// <summary><c>fieldcount</c> (default 10).</summary>
    public int FieldCount { get; }
    /// <summary><c>fieldlength</c> (default 100).</summary>
    public int FieldLength { get; }
    /// <summary><c>minfieldlength</c> (default 1), lower bound for non-constant field lengths.</summary>
    public int MinFieldLength { get; }
    /// <summary><c>fieldlengthdistribution</c> (default constant).</summary>
    public FieldLengthDistribution FieldLengthDistribution { get; }
    /// <summary><c>fieldnameprefix</c> (default <c>field</c>).</summary>
    public string FieldNamePrefix { get; }
    /// <summary><c>readproportion</c> (default 0.95).</summary>
    public double ReadProportion { get; }
    /// <summary><c>updateproportion</c> (default 0.05).</summary>
    public double UpdateProportion { get; }
    /// <summary><c>insertproportion</c> (default 0).</summary>
    public double InsertProportion { get; }
    /// <summary><c>scanproportion</c> (default 0).</summary>
    public double ScanProportion { get; }
    /// <summary><c>readmodifywriteproportion</c> (default 0).</summary>
    public double ReadModifyWriteProportion { get; }
    /// <summary><c>minscanlength</c> (default 1).</summary>
    public int MinScanLength { get; }
    /// <summary><c>maxscanlength</c> (default 1000).</summary>
    public int MaxScanLength { get; }
    /// <summary><c>scanlengthdistribution</c> (default uniform).</summary>
    public ScanLengthDistribution ScanLengthDistribution { get; }
    /// <summary><c>requestdistribution</c> (default uniform).</summary>
    public RequestDistribution RequestDistribution { get; }
    /// <summary><c>insertorder</c>: true for <c>ordered</c>, false for <c>hashed</c> (default).</summary>
    public bool OrderedInserts { get; }
    /// <summary><c>readallfields</c> (default true). ActorDb always reads whole rows; recorded for completeness.</summary>
    public bool ReadAllFields { get; }
    /// <summary><c>writeallfields</c> (default false): updates write every field instead of one.</summary>
    public bool WriteAllFields { get; }
    /// <summary><c>zeropadding</c> (default 1): minimum digits of the number in a key name.</summary>
    public int ZeroPadding { get; }
    /// <summary><c>hotspotdatafraction</c> (default 0.2).</summary>
    public double HotspotDataFraction { get; }
    /// <summary><c>hotspotopnfraction</c> (default 0.8).</summary>
    public double HotspotOpnFraction { get; }
    /// <summary><c>maxexecutiontime</c> in seconds (0 or absent: unlimited); the run phase stops when it elapses.</summary>
    public TimeSpan? MaxExecutionTime { get; }
    /// <summary><c>table</c> (default <c>usertable</c>; <c>sbtest</c> for sysbench, <c>accounts</c> for bank).</summary>
    public string Table { get; }

    // ---- sysbench oltp_write_only ------------------------------------------------------------------------------

    /// <summary><c>table-size</c> (alias <c>table_size</c>): rows of <c>sbtest</c> (default 10000).</summary>
    public long TableSize { get; }
    /// <summary><c>index_updates</c>: <c>UPDATE SET k=k+1</c> statements per transaction (default 1).</summary>
    public int IndexUpdates { get; }
    /// <summary><c>non_index_updates</c>: <c>UPDATE SET c=?</c> statements per transaction (default 1).</summary>
    public int NonIndexUpdates { get; }
    /// <summary><c>delete_inserts</c>: DELETE+INSERT pairs per transaction (default 1).</summary>
    public int DeleteInserts { get; }

    // ---- bank ----------------------------------------------------------------------------------------------------

    /// <summary><c>accountcount</c> (default 1000).</summary>
    public long AccountCount { get; }
    /// <summary><c>initialbalance</c> (default 1000).</summary>
    public long InitialBalance { get; }
    /// <summary><c>maxtransfer</c>: upper bound of one transfer (default 100).</summary>
    public long MaxTransfer { get; }

    /// <summary>Rows the load phase inserts: insertcount (YCSB), table-size (sysbench) or accountcount (bank).</summary>
    public long LoadCount => Kind switch
    {
        WorkloadKind.SysbenchWriteOnly => TableSize,
        WorkloadKind.Bank => AccountCount,
        _ => InsertCount,
    };

    private readonly Dictionary<string, Origin> _origins;

    private WorkloadProperties(string source, string name, Dictionary<string, (string Value, Origin Origin)> set)
    {
        Source = source;
        Name = name;
        Values = set.ToDictionary(kv => kv.Key, kv => kv.Value.Value);
        _origins = set.ToDictionary(kv => kv.Key, kv => kv.Value.Origin);
        var r = new Reader(set);

        Kind = r.Get("workload", "site.ycsb.workloads.CoreWorkload") switch
        {
            SysbenchWriteOnlyName => WorkloadKind.SysbenchWriteOnly,
            BankName => WorkloadKind.Bank,
            _ => WorkloadKind.Ycsb,
        };

        RecordCount = r.Long("recordcount", 1000);
        OperationCount = r.Long("operationcount", Kind == WorkloadKind.Ycsb ? 1000 : 10000);
        InsertStart = r.Long("insertstart", 0);
        InsertCount = r.Long("insertcount", Math.Max(0, RecordCount - InsertStart));
        FieldCount = r.Int("fieldcount", 10);
        FieldLength = r.Int("fieldlength", 100);
        MinFieldLength = r.Int("minfieldlength", 1);
        FieldLengthDistribution = r.Get("fieldlengthdistribution", "constant") switch
        {
            "uniform" => FieldLengthDistribution.Uniform,
            "zipfian" => FieldLengthDistribution.Zipfian,
            _ => FieldLengthDistribution.Constant,
        };
        FieldNamePrefix = r.Get("fieldnameprefix", "field");
        ReadProportion = r.Double("readproportion", 0.95);
        UpdateProportion = r.Double("updateproportion", 0.05);
        InsertProportion = r.Double("insertproportion", 0);
        ScanProportion = r.Double("scanproportion", 0);
        ReadModifyWriteProportion = r.Double("readmodifywriteproportion", 0);
        MinScanLength = r.Int("minscanlength", 1);
        MaxScanLength = r.Int("maxscanlength", 1000);
        ScanLengthDistribution = r.Get("scanlengthdistribution", "uniform") == "zipfian"
            ? ScanLengthDistribution.Zipfian : ScanLengthDistribution.Uniform;
        RequestDistribution = r.Get("requestdistribution", "uniform") switch
        {
            "zipfian" => RequestDistribution.Zipfian,
            "latest" => RequestDistribution.Latest,
            "hotspot" => RequestDistribution.Hotspot,
            _ => RequestDistribution.Uniform,
        };
        OrderedInserts = r.Get("insertorder", "hashed") == "ordered";
        ReadAllFields = r.Bool("readallfields", true);
        WriteAllFields = r.Bool("writeallfields", false);
        ZeroPadding = r.Int("zeropadding", 1);
        HotspotDataFraction = r.Double("hotspotdatafraction", 0.2);
        HotspotOpnFraction = r.Double("hotspotopnfraction", 0.8);
        var maxExec = r.Long("maxexecutiontime", 0);
        MaxExecutionTime = maxExec > 0 ? TimeSpan.FromSeconds(maxExec) : null;
        Table = r.Get("table", Kind switch
        {
            WorkloadKind.SysbenchWriteOnly => "sbtest",
            WorkloadKind.Bank => "accounts",
            _ => "usertable",
        });

        TableSize = set.ContainsKey("table-size") ? r.Long("table-size", 10000) : r.Long("table_size", 10000);
        IndexUpdates = r.Int("index_updates", 1);
        NonIndexUpdates = r.Int("non_index_updates", 1);
        DeleteInserts = r.Int("delete_inserts", 1);

        AccountCount = r.Long("accountcount", 1000);
        InitialBalance = r.Long("initialbalance", 1000);
        MaxTransfer = r.Long("maxtransfer", 100);

        CheckConsistency();
    }

    /// <summary>
    /// Resolves the <c>--workload</c> argument: a bare name equal to a built-in (<c>sysbench-write-only</c>,
    /// <c>bank</c>, case-insensitive, no directory part) selects that built-in; anything else is a property file path.
    /// </summary>
    /// <param name="workload">Built-in name or property file path.</param>
    /// <param name="overrides"><c>name=value</c> strings from <c>-p</c>; they win over the file.</param>
    /// <exception cref="WorkloadException">the file does not exist or the definition is invalid.</exception>
    public static WorkloadProperties Resolve(string workload, IEnumerable<string>? overrides = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workload);
        bool bare = workload.IndexOfAny(['/', '\\']) < 0;
        if (bare && BuiltInNames.FirstOrDefault(n => string.Equals(n, workload, StringComparison.OrdinalIgnoreCase)) is { } builtIn)
            return BuiltIn(builtIn, overrides);
        return FromFile(workload, overrides);
    }

    /// <summary>A built-in workload with its defaults, plus overrides.</summary>
    /// <param name="name"><see cref="SysbenchWriteOnlyName"/> or <see cref="BankName"/>.</param>
    /// <param name="overrides"><c>name=value</c> strings.</param>
    public static WorkloadProperties BuiltIn(string name, IEnumerable<string>? overrides = null)
    {
        if (!BuiltInNames.Contains(name))
            throw new WorkloadException($"unknown built-in workload '{name}' (built-ins: {string.Join(", ", BuiltInNames)})");
        var entries = new List<(string Key, string Value, Origin Origin)>
        {
            ("workload", name, new Origin($"built-in {name}", 0, null)),
        };
        AddOverrides(entries, overrides);
        return Build($"built-in {name}", name, entries);
    }

    /// <summary>Reads and validates a property file, then applies the overrides.</summary>
    /// <param name="path">The file; its path as given names it in error messages.</param>
    /// <param name="overrides"><c>name=value</c> strings.</param>
    /// <exception cref="WorkloadException">the file is missing or unreadable, or the definition is invalid.</exception>
    public static WorkloadProperties FromFile(string path, IEnumerable<string>? overrides = null)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WorkloadException($"{path}: cannot read workload file: {e.Message}" +
                $" (built-in workloads: {string.Join(", ", BuiltInNames)})", e);
        }
        return Parse(text, path, overrides);
    }

    /// <summary>Parses property-file text.</summary>
    /// <param name="text">The file content.</param>
    /// <param name="sourceName">Names the source in error messages and in <see cref="Source"/>.</param>
    /// <param name="overrides"><c>name=value</c> strings.</param>
    public static WorkloadProperties Parse(string text, string sourceName, IEnumerable<string>? overrides = null)
    {
        var entries = new List<(string Key, string Value, Origin Origin)>();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] == '#' || line[0] == '!')
                continue;
            var origin = new Origin(sourceName, i + 1, null);
            int sep = line.IndexOfAny(['=', ':']);
            if (sep <= 0)
                throw origin.Error($"malformed line '{line}' (expected key=value)");
            entries.Add((line[..sep].Trim(), line[(sep + 1)..].Trim(), origin));
        }
        AddOverrides(entries, overrides);
        return Build(sourceName, Path.GetFileName(sourceName), entries);
    }

    /// <summary>The YCSB defaults plus overrides (no file).</summary>
    public static WorkloadProperties FromOverrides(IEnumerable<string>? overrides) =>
        Build("defaults", "defaults", AddOverrides([], overrides));

    /// <summary>Where a key was set (<c>file: line N</c> or <c>-p k=v</c>), or null when it has its default.</summary>
    public string? OriginOf(string key) => _origins.TryGetValue(key, out var o) ? o.ToString() : null;

    private static List<(string Key, string Value, Origin Origin)> AddOverrides(
        List<(string Key, string Value, Origin Origin)> entries, IEnumerable<string>? overrides)
    {
        foreach (var o in overrides ?? [])
        {
            var origin = new Origin("-p", 0, o);
            int sep = o.IndexOf('=');
            if (sep <= 0)
                throw origin.Error("malformed override (expected name=value)");
            entries.Add((o[..sep].Trim(), o[(sep + 1)..].Trim(), origin));
        }
        return entries;
    }

    private static WorkloadProperties Build(string source, string name, List<(string Key, string Value, Origin Origin)> entries)
    {
        var set = new Dictionary<string, (string, Origin)>(StringComparer.Ordinal);
        foreach (var (key, value, origin) in entries)
        {
            if (!Specs.TryGetValue(key, out var spec))
                throw origin.Error($"unknown property '{key}'{Hint(key)}");
            spec.Validate(key, value, origin);
            set[key] = (value, origin);
        }
        return new WorkloadProperties(source, name, set);
    }

    private void CheckConsistency()
    {
        if (Kind != WorkloadKind.Ycsb)
        {
            if (LoadCount < 2)
                throw Error(Kind == WorkloadKind.Bank ? "accountcount" : "table-size", "must be at least 2");
            if (RequestDistribution == RequestDistribution.Latest)
                throw Error("requestdistribution", $"'latest' is not supported by the {Name} workload (use uniform, zipfian or hotspot)");
            return;
        }
        double sum = ReadProportion + UpdateProportion + InsertProportion + ScanProportion + ReadModifyWriteProportion;
        if (sum <= 0 || sum > 1.0001)
        {
            var key = new[] { "readproportion", "updateproportion", "insertproportion", "scanproportion", "readmodifywriteproportion" }
                .Where(_origins.ContainsKey).OrderBy(k => _origins[k]).LastOrDefault() ?? "readproportion";
            throw Error(key, $"operation proportions sum to {sum.ToString(CultureInfo.InvariantCulture)} " +
                "(readproportion+updateproportion+insertproportion+scanproportion+readmodifywriteproportion must be > 0 and <= 1)");
        }
        if (InsertStart + InsertCount > RecordCount)
            throw Error(_origins.ContainsKey("insertcount") ? "insertcount" : "insertstart",
                $"insertstart ({InsertStart}) + insertcount ({InsertCount}) exceeds recordcount ({RecordCount})");
        bool needsKeys = ReadProportion > 0 || UpdateProportion > 0 || ScanProportion > 0 || ReadModifyWriteProportion > 0;
        if (needsKeys && InsertCount == 0)
            throw Error(_origins.ContainsKey("insertcount") ? "insertcount" : "recordcount",
                "no records are loaded, so only insertproportion may be non-zero");
        if (FieldCount < 1)
            throw Error("fieldcount", "must be at least 1");
        if (MinScanLength < 1 || MinScanLength > MaxScanLength)
            throw Error(_origins.ContainsKey("minscanlength") ? "minscanlength" : "maxscanlength",
                $"need 1 <= minscanlength ({MinScanLength}) <= maxscanlength ({MaxScanLength})");
        if (FieldLengthDistribution != FieldLengthDistribution.Constant && MinFieldLength > FieldLength)
            throw Error("minfieldlength", $"minfieldlength ({MinFieldLength}) exceeds fieldlength ({FieldLength})");
        if (RequestDistribution == RequestDistribution.Hotspot && (HotspotDataFraction > 1 || HotspotOpnFraction > 1))
            throw Error("hotspotdatafraction", "hotspot fractions must be within [0, 1]");
    }

    private WorkloadException Error(string key, string problem)
    {
        var where = _origins.TryGetValue(key, out var o) ? o.ToString() : Source;
        return new WorkloadException($"{where}: property '{key}': {problem}");
    }

    private static string Hint(string key)
    {
        if (key is "threads" or "threadcount")
            return " (the thread count is a command-line option: --threads)";
        var best = Specs.Keys.Select(k => (k, d: Distance(k, key))).OrderBy(t => t.d).First();
        return best.d <= 2 ? $" (did you mean '{best.k}'?)" : "";
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }

    // ---- key specifications ----------------------------------------------------------------------------------------

    private static readonly Dictionary<string, Spec> Specs = BuildSpecs();

    private static Dictionary<string, Spec> BuildSpecs()
    {
        var count = new Spec(SpecKind.Count);
        var nonNegInt = new Spec(SpecKind.Int);
        var positiveInt = new Spec(SpecKind.PositiveInt);
        var proportion = new Spec(SpecKind.Fraction);
        var boolean = new Spec(SpecKind.Bool);
        var text = new Spec(SpecKind.Text);
        var ignored = new Spec(SpecKind.Ignored);
        return new Dictionary<string, Spec>(StringComparer.Ordinal)
        {
            ["workload"] = new(SpecKind.Choice,
                ["site.ycsb.workloads.CoreWorkload", "com.yahoo.ycsb.workloads.CoreWorkload", SysbenchWriteOnlyName, BankName]),
            ["recordcount"] = count,
            ["operationcount"] = count,
            ["insertstart"] = count,
            ["insertcount"] = count,
            ["fieldcount"] = positiveInt,
            ["fieldlength"] = nonNegInt,
            ["minfieldlength"] = nonNegInt,
            ["fieldlengthdistribution"] = new(SpecKind.Choice, ["constant", "uniform", "zipfian"], ["histogram"]),
            ["fieldnameprefix"] = text,
            ["readproportion"] = proportion,
            ["updateproportion"] = proportion,
            ["insertproportion"] = proportion,
            ["scanproportion"] = proportion,
            ["readmodifywriteproportion"] = proportion,
            ["minscanlength"] = positiveInt,
            ["maxscanlength"] = positiveInt,
            ["scanlengthdistribution"] = new(SpecKind.Choice, ["uniform", "zipfian"]),
            ["requestdistribution"] = new(SpecKind.Choice, ["uniform", "zipfian", "latest", "hotspot"], ["exponential", "sequential"]),
            ["insertorder"] = new(SpecKind.Choice, ["hashed", "ordered"]),
            ["readallfields"] = boolean,
            ["writeallfields"] = boolean,
            ["zeropadding"] = nonNegInt,
            ["hotspotdatafraction"] = proportion,
            ["hotspotopnfraction"] = proportion,
            ["maxexecutiontime"] = count,
            ["table"] = text,
            ["dataintegrity"] = new(SpecKind.FalseOnly),
            // accepted for compatibility with the YCSB files, no effect here
            ["readallfieldsbyname"] = boolean,
            ["maxscanrate"] = ignored,
            ["scanoptimelimit"] = ignored,
            ["discardscannedrecord"] = ignored,
            ["measurementtype"] = ignored,
            ["histogram.buckets"] = ignored,
            ["timeseries.granularity"] = ignored,
            ["columnfamily"] = ignored,
            ["measurement.raw.output_file"] = ignored,
            ["measurement.histogram.verbose"] = ignored,
            ["measurement.trackjvm"] = ignored,
            ["measurement.interval"] = ignored,
            ["hdrhistogram.percentiles"] = ignored,
            ["reportlatencyforeacherror"] = ignored,
            ["latencytrackederrors"] = ignored,
            ["core_workload_insertion_retry_limit"] = ignored,
            ["core_workload_insertion_retry_interval"] = ignored,
            // sysbench oltp_write_only
            ["table-size"] = count,
            ["table_size"] = count,
            ["index_updates"] = nonNegInt,
            ["non_index_updates"] = nonNegInt,
            ["delete_inserts"] = nonNegInt,
            // bank
            ["accountcount"] = count,
            ["initialbalance"] = count,
            ["maxtransfer"] = new(SpecKind.PositiveInt),
        };
    }

    private enum SpecKind { Count, Int, PositiveInt, Fraction, Bool, FalseOnly, Choice, Text, Ignored }

    private sealed record Spec(SpecKind Kind, string[]? Choices = null, string[]? Unsupported = null)
    {
        public void Validate(string key, string value, Origin origin)
        {
            string? problem = Kind switch
            {
                SpecKind.Count => long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)
                    ? l < 0 ? $"negative value '{value}'" : null
                    : $"'{value}' is not a non-negative integer",
                SpecKind.Int or SpecKind.PositiveInt => int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i)
                    ? i < 0 ? $"negative value '{value}'" : Kind == SpecKind.PositiveInt && i == 0 ? "must be at least 1" : null
                    : $"'{value}' is not a non-negative integer (up to {int.MaxValue})",
                SpecKind.Fraction => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)
                    ? d is < 0 or > 1 ? $"'{value}' is not within [0, 1]" : null
                    : $"'{value}' is not a number",
                SpecKind.Bool => value is "true" or "false" ? null : $"'{value}' is not true or false",
                SpecKind.FalseOnly => value == "false" ? null
                    : value == "true" ? "not supported (only false)" : $"'{value}' is not true or false",
                SpecKind.Choice => Choices!.Contains(value) ? null
                    : Unsupported?.Contains(value) == true ? $"'{value}' is not supported (use {string.Join(", ", Choices!)})"
                    : $"unknown value '{value}' (use {string.Join(", ", Choices!)})",
                SpecKind.Text => value.Length == 0 ? "empty value" : null,
                _ => null,
            };
            if (problem != null)
                throw origin.Error($"property '{key}': {problem}");
        }
    }

    private readonly record struct Origin(string Source, int Line, string? Override) : IComparable<Origin>
    {
        public override string ToString() => Override != null ? $"-p {Override}" : Line > 0 ? $"{Source}: line {Line}" : Source;
        public WorkloadException Error(string problem) => new($"{this}: {problem}");
        // Overrides come after file lines; within a file, by line.
        public int CompareTo(Origin other) => (Override != null, Line).CompareTo((other.Override != null, other.Line));
    }

    private sealed class Reader(Dictionary<string, (string Value, Origin Origin)> set)
    {
        public string Get(string key, string dflt) => set.TryGetValue(key, out var v) ? v.Value : dflt;
        public long Long(string key, long dflt) => set.TryGetValue(key, out var v) ? long.Parse(v.Value, CultureInfo.InvariantCulture) : dflt;
        public int Int(string key, int dflt) => set.TryGetValue(key, out var v) ? int.Parse(v.Value, CultureInfo.InvariantCulture) : dflt;
        public double Double(string key, double dflt) => set.TryGetValue(key, out var v) ? double.Parse(v.Value, CultureInfo.InvariantCulture) : dflt;
        public bool Bool(string key, bool dflt) => set.TryGetValue(key, out var v) ? v.Value == "true" : dflt;
    }
}
