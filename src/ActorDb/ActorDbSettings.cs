using Akka.Configuration;
using ActorDb.Commands;
using ActorDb.Core;
using ActorDb.Hosting;

namespace ActorDb;

/// <summary>Settings of the writer (section <c>actordb.writer</c>).</summary>
public sealed record WriterSettings(
    int BufferCachePages,
    long Lal,
    TimeSpan LockTimeout,
    int MaxBatchesInFlightPerPg,
    long RetainedRedoBytesPerPg,
    TimeSpan ResendAfter,
    TimeSpan StallWarningAfter,
    TimeSpan SlowCommitThreshold,
    TimeSpan OpenTimeout,
    TimeSpan DrainTimeout)
{
    /// <summary><c>actordb.writer.silent-after</c>: a segment on a reachable node that answers nothing shipped to it for
    /// this long gets no more redo, only a probe every <see cref="ResendAfter"/>, until it answers (then the writer resends
    /// what it lacks from its resend window).</summary>
    public TimeSpan SilentAfter { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary><c>actordb.writer.probe-max-interval</c>: a segment that has no node gets a probe through the shard region
    /// every <see cref="ResendAfter"/> for this long, then one every this long (what waits in the region's buffer for it).</summary>
    public TimeSpan ProbeMaxInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>An open transaction with no statement for this long is aborted (<c>actordb.writer.idle-transaction-timeout</c>;
    /// <see cref="ActorDb.Core.Transactions.WriterEngineSettings.IdleTransactionTimeout"/>).</summary>
    public TimeSpan IdleTransactionTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>Settings of storage segments (section <c>actordb.segment</c>).</summary>
/// <param name="Fsync">fdatasync before acknowledging; false only for tests and benchmarks that say so.</param>
/// <param name="MaxFileBytes">Segment log file roll-over size, bytes.</param>
/// <param name="RememberedCpls">Commit records kept in memory for recovery reports.</param>
/// <param name="PreallocateBytes">Zero bytes the log file is extended by ahead of the data (0: off).</param>
/// <param name="CheckpointBytes">Log bytes written between page-store checkpoints (bounds the log read when a segment opens).</param>
public sealed record SegmentSettings(bool Fsync, long MaxFileBytes, int RememberedCpls, long PreallocateBytes, long CheckpointBytes)
{
    /// <summary>Most page-image bytes in one message of a page copy between peers (catch-up of a segment that starts
    /// empty), bytes; section key <c>page-copy-chunk-bytes</c>. A message must fit the transport's frame size.</summary>
    public int PageCopyChunkBytes { get; init; } = 1 << 20;

    /// <summary><c>actordb.segment.share-nodes</c>: whether, in a cluster, a segment may go to a storage node that already
    /// hosts a segment of its PG (see <see cref="Storage.SegmentAllocationStrategy"/>). Off by default.</summary>
    public bool ShareNodes { get; init; }

    /// <summary><c>actordb.segment.direct-io</c>: whether a segment writes its log with O_DIRECT | O_DSYNC where the
    /// platform and file system allow it (see <see cref="Core.Storage.SegmentLogOptions.DirectIo"/>). On by default.</summary>
    public bool DirectIo { get; init; } = true;

    /// <summary>The storage under every segment's log, page store and <c>segment.meta</c>: the disk, or in tests a
    /// <see cref="Core.Storage.FaultyStorage"/> (set in code, or from <c>actordb.segment.test-faults</c>).</summary>
    public Core.Storage.IStorage Storage { get; init; } = Core.Storage.DiskStorage.Instance;

    /// <summary><c>actordb.segment.storage-retry-initial</c>: the first wait before a segment whose storage failed (disk full,
    /// I/O error) reopens it and takes records again; each failed retry doubles it up to <see cref="StorageRetryMax"/>.</summary>
    public TimeSpan StorageRetryInitial { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary><c>actordb.segment.storage-retry-max</c>: the longest wait between two such retries.</summary>
    public TimeSpan StorageRetryMax { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary><c>actordb.segment.open-retry-min</c>: the wait before a segment whose open failed tries again; doubles
    /// each failure up to <see cref="OpenRetryMax"/>.</summary>
    public TimeSpan OpenRetryMin { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary><c>actordb.segment.open-retry-max</c>: the longest wait between two tries of a failed open.</summary>
    public TimeSpan OpenRetryMax { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>actordb.segment.scrub.pages-per-second</c>: page-store slots the background scrub reads and verifies
    /// per second per segment, at most (0: off).</summary>
    public double ScrubPagesPerSecond { get; init; } = 100;
}

/// <summary>Settings of the metrics export (section <c>actordb.metrics</c>).</summary>
/// <param name="PrometheusPort">Port of the Prometheus scrape endpoint (<c>/metrics</c>); 0: no endpoint.</param>
/// <param name="PrometheusHost">Address the endpoint listens on (loopback by default).</param>
public sealed record MetricsSettings(int PrometheusPort, string PrometheusHost)
{
    /// <summary>No export (the defaults).</summary>
    public static readonly MetricsSettings Off = new(0, "127.0.0.1");

    /// <summary>The HttpListener prefix of the endpoint, e.g. <c>http://127.0.0.1:9464/</c>.</summary>
    public string PrometheusPrefix => $"http://{(PrometheusHost.Contains(':') && !PrometheusHost.StartsWith('[') ? $"[{PrometheusHost}]" : PrometheusHost)}:{PrometheusPort}/";
}

/// <summary>
/// ActorDb's settings, read from the <c>actordb</c> HOCON section (defaults in the embedded <c>reference.conf</c>).
/// Immutable.
/// </summary>
public sealed record ActorDbSettings(
    string DataDir,
    VolumeGeometry Geometry,
    WriterSettings Writer,
    SegmentSettings Segment,
    TimeSpan AskTimeout,
    CommandHostSettings Cmd)
{
    /// <summary>The metrics export (<c>actordb.metrics</c>).</summary>
    public MetricsSettings Metrics { get; init; } = MetricsSettings.Off;

    private static readonly Lazy<Config> Reference = new(() =>
    {
        using var stream = typeof(ActorDbSettings).Assembly.GetManifestResourceStream("ActorDb.reference.conf")
            ?? throw new InvalidOperationException("ActorDb.reference.conf is not embedded");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd()).WithFallback(HostingSettings.DefaultConfig());
    });

    /// <summary>The embedded <c>reference.conf</c>s: every <c>actordb.*</c> key with its default (the database's, over
    /// <see cref="HostingSettings.DefaultConfig"/>).</summary>
    public static Config DefaultConfig() => Reference.Value;

    /// <summary>Reads the settings from a config holding an <c>actordb</c> section (falls back to the defaults).</summary>
    /// <exception cref="ConfigurationException">a key has a value of the wrong type or out of range; the message names the key.</exception>
    public static ActorDbSettings Create(Config config)
    {
        var c = config.WithFallback(DefaultConfig()).GetConfig("actordb");
        HostingSettings.RejectUnknownKeys(c, DefaultConfig().GetConfig("actordb"), "actordb");
        T Read<T>(string key, Func<string, T> get, Func<T, bool>? valid = null, string? rule = null) =>
            HostingSettings.Read($"actordb.{key}", () => get(key), valid, rule);

        VolumeGeometry geometry;
        try
        {
            geometry = new VolumeGeometry(
                Read("volume.page-size", k => c.GetInt(k)),
                Read("volume.pg-count", k => c.GetInt(k), v => v is >= 1 and <= Core.Tables.Catalog.MaxPgs, $"must be 1..{Core.Tables.Catalog.MaxPgs}"),
                Read("volume.pages-per-pg", k => c.GetLong(k)));
        }
        catch (ArgumentOutOfRangeException e)
        {
            var key = e.ParamName switch { "pageSize" => "page-size", "pgCount" => "pg-count", "pagesPerPg" => "pages-per-pg", var other => other };
            var rule = e.Message.Split('\n')[0];
            var cut = rule.IndexOf(" (Parameter", StringComparison.Ordinal);
            throw SettingsErrors.Invalid($"actordb.volume.{key}", e.ActualValue, cut > 0 ? rule[..cut] : rule);
        }

        var positive = (TimeSpan t) => t > TimeSpan.Zero;
        // actordb.segment.test-faults: a FaultyStorage under every segment, for process tests only (each segment logs a warning).
        Core.Storage.IStorage TestFaults(string spec)
        {
            if (string.IsNullOrWhiteSpace(spec)) return Core.Storage.DiskStorage.Instance;
            var storage = new Core.Storage.FaultyStorage();
            try
            {
                foreach (var fault in Core.Storage.StorageFault.Parse(spec)) storage.Inject(fault);
            }
            catch (FormatException e)
            {
                throw SettingsErrors.Wrong("actordb.segment.test-faults", e.Message);
            }
            return storage;
        }
        return new ActorDbSettings(
            HostingSettings.DataDir(c),
            geometry,
            new WriterSettings(
                Read("writer.buffer-cache-pages", k => c.GetInt(k), v => v >= 16, "must be at least 16"),
                Read("writer.lal", k => c.GetLong(k), v => v >= 1000, "must be at least 1000"),
                Read("writer.lock-timeout", k => c.GetTimeSpan(k), positive, "must be positive"),
                Read("writer.max-batches-in-flight-per-pg", k => c.GetInt(k), v => v >= 1, "must be at least 1"),
                Read("writer.retained-redo-bytes-per-pg", k => c.GetLong(k), v => v >= 0, "must not be negative"),
                Read("writer.resend-after", k => c.GetTimeSpan(k), positive, "must be positive"),
                Read("writer.stall-warning-after", k => c.GetTimeSpan(k), positive, "must be positive"),
                Read("writer.slow-commit-threshold", k => c.GetTimeSpan(k), positive, "must be positive"),
                Read("writer.open-timeout", k => c.GetTimeSpan(k), positive, "must be positive"),
                Read("writer.drain-timeout", k => c.GetTimeSpan(k), positive, "must be positive"))
            {
                SilentAfter = Read("writer.silent-after", k => c.GetTimeSpan(k), positive, "must be positive"),
                ProbeMaxInterval = Read("writer.probe-max-interval", k => c.GetTimeSpan(k), positive, "must be positive"),
                IdleTransactionTimeout = Read("writer.idle-transaction-timeout", k => c.GetTimeSpan(k), positive, "must be positive"),
            },
            new SegmentSettings(
                Read("segment.fsync", k => c.GetBoolean(k)),
                Read("segment.max-file-bytes", k => c.GetLong(k), v => v >= 1 << 20, "must be at least 1 MiB"),
                Read("segment.remembered-cpls", k => c.GetInt(k), v => v >= 16, "must be at least 16"),
                Read("segment.preallocate-bytes", k => c.GetLong(k), v => v >= 0, "must not be negative"),
                Read("segment.checkpoint-bytes", k => c.GetLong(k), v => v >= 1 << 16, "must be at least 64 KiB"))
            {
                PageCopyChunkBytes = Read("segment.page-copy-chunk-bytes", k => c.GetInt(k), v => v >= 1 << 16 && v <= 64 << 20, "must be 64 KiB..64 MiB"),
                ShareNodes = Read("segment.share-nodes", k => c.GetBoolean(k)),
                DirectIo = Read("segment.direct-io", k => c.GetBoolean(k)),
                StorageRetryInitial = Read("segment.storage-retry-initial", k => c.GetTimeSpan(k), positive, "must be positive"),
                StorageRetryMax = Read("segment.storage-retry-max", k => c.GetTimeSpan(k), positive, "must be positive"),
                Storage = TestFaults(Read("segment.test-faults", k => c.GetString(k) ?? "")),
                OpenRetryMin = Read("segment.open-retry-min", k => c.GetTimeSpan(k), positive, "must be positive"),
                OpenRetryMax = Read("segment.open-retry-max", k => c.GetTimeSpan(k), positive, "must be positive"),
                ScrubPagesPerSecond = Read("segment.scrub.pages-per-second", k => c.GetDouble(k), v => v is >= 0 and <= 1e6, "must be 0..1000000"),
            },
            Read("client.ask-timeout", k => c.GetTimeSpan(k), positive, "must be positive"),
            HostingSettings.CommandHost(c))
        {
            Metrics = new MetricsSettings(
                Read("metrics.prometheus-port", k => c.GetInt(k), v => v is >= 0 and <= 65535, "must be 0 (off) or a TCP port, 1..65535"),
                Read("metrics.prometheus-host", k => c.GetString(k), v => !string.IsNullOrWhiteSpace(v) && !v.Contains('/'), "must be a host name or address")),
        };
    }
}
