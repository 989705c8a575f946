using ActorDb.Core.Storage;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using ActorDb.Core;
using ActorDb.Core.Commands;
using ActorDb.Core.Recovery;
using ActorDb.Hosting;
using ActorDb.Recovery;
using ActorDb.Storage;
using ActorDb.Writer;

namespace ActorDb.Commands.Palettes;

/// <summary>One segment as <c>pg show</c> sees it: its status (null: no answer in time), the node that hosts it (null: no
/// node hosts it, or none is known), that node's AZ (its <c>az-*</c> cluster role; the replica's own AZ on the embedded
/// node, which keeps all three) and whether the cluster marks that node unreachable.</summary>
internal sealed record SegmentView(SegmentId Segment, SegmentProtocol.SegmentStatus? Status, string? Node, string? Az = null, bool NodeUnreachable = false)
{
    /// <summary>The segment's PG.</summary>
    public int Pg => Segment.Pg;
    /// <summary>The segment's replica, 0..5.</summary>
    public int Replica => Segment.Replica;
}

/// <summary>Reads the writer's and the segments' status through the protocols clients already use: the recovery
/// supervisor (<see cref="WriterProtocol.GetWriterStatus"/>, <see cref="RecoveryProtocol.GetRecoveryHistory"/>) and the
/// segment shard region (<see cref="SegmentProtocol.GetSegmentStatus"/>, <see cref="GetEntityLocation"/>).</summary>
internal static class ActorDbStatus
{
    /// <summary>A segment that does not answer within this is shown unreachable.</summary>
    private static readonly TimeSpan SegmentTimeout = TimeSpan.FromSeconds(2);

    /// <summary>A writer that does not answer within this is shown as unknown by the commands that can go without it.</summary>
    private static readonly TimeSpan OptionalWriterTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The proxy to the recovery supervisor singleton (every ActorDb node registers one).</summary>
    public static IActorRef Supervisor(CommandContext context) =>
        context.Registry.TryGet<RecoverySupervisorKey>(out var supervisor)
            ? supervisor
            : throw new CommandException("this process runs no ActorDb node (WithActorDb)");

    public static Task<WriterProtocol.WriterStatus> WriterAsync(CommandContext context, CancellationToken ct) =>
        Supervisor(context).Ask<WriterProtocol.WriterStatus>(WriterProtocol.GetWriterStatus.Instance, context.Timeout, ct);

    /// <summary>The writer's status, or null when no writer answers within 2 s (none is running in the cluster, or it is
    /// failing over): for commands that show segments first.</summary>
    public static async Task<WriterProtocol.WriterStatus?> WriterOrNullAsync(CommandContext context, CancellationToken ct)
    {
        if (!context.Registry.TryGet<RecoverySupervisorKey>(out var supervisor)) return null;
        try { return await supervisor.Ask<WriterProtocol.WriterStatus>(WriterProtocol.GetWriterStatus.Instance, OptionalWriterTimeout, ct); }
        catch (AskTimeoutException) { return null; }
    }

    public static VolumeGeometry Geometry(CommandContext context) => ActorDbSettings.Create(context.System.Settings.Config).Geometry;

    public static async Task<IReadOnlyList<SegmentView>> SegmentsAsync(CommandContext context, IEnumerable<int> pgs, CancellationToken ct)
    {
        if (!context.Registry.TryGet<SegmentRegionKey>(out var region))
            throw new CommandException("this node has no segment region");
        var cluster = Cluster.Get(context.System);
        var self = cluster.SelfAddress;
        var hostsSegments = cluster.SelfRoles.Contains("storage");
        var asks = new List<(SegmentId Segment, Task<SegmentProtocol.SegmentStatus> Status, Task<EntityLocation> Location)>();
        foreach (var segment in pgs.SelectMany(SegmentId.OfPg))
            asks.Add((segment,
                region.Ask<SegmentProtocol.SegmentStatus>(new SegmentProtocol.GetSegmentStatus(segment.Pg, segment.Replica), SegmentTimeout, ct),
                region.Ask<EntityLocation>(new GetEntityLocation(segment.EntityId, SegmentTimeout), SegmentTimeout + TimeSpan.FromSeconds(1), ct)));
        var views = new List<SegmentView>();
        foreach (var (segment, statusTask, locationTask) in asks)
        {
            SegmentProtocol.SegmentStatus? status = null;
            try { status = await statusTask; }
            catch (AskTimeoutException) { }
            // The segment says where it runs; the region's GetEntityLocation only for a segment that did not answer
            // (asked on a storage node, the region names itself even for shards other nodes host, Akka 1.5.73). A shard
            // with no home comes back as Address.AllSystems, which has local scope too: that is no node, not this one.
            var node = status?.Node;
            if (node is null)
            {
                try
                {
                    var location = await locationTask;
                    node = location.ShardRegion.Equals(Address.AllSystems) ? null
                        : location.ShardRegion.HasLocalScope ? (hostsSegments ? self.ToString() : null)
                        : location.ShardRegion.ToString();
                }
                catch (AskTimeoutException) { }
            }
            views.Add(new SegmentView(segment, status, node, AzOf(cluster, node, segment), node is not null && Unreachable(cluster, node)));
        }
        return views;
    }

    /// <summary>The AZ of the member at <paramref name="node"/> (its <c>az-*</c> role); on a node without one (the embedded
    /// node hosts all three AZs' folders) the replica's own AZ; null when no node hosts the segment.</summary>
    private static string? AzOf(Cluster cluster, string? node, SegmentId segment)
    {
        if (node is null) return null;
        var member = cluster.State.Members.FirstOrDefault(m => m.Address.ToString() == node);
        return member?.Roles.FirstOrDefault(r => r.StartsWith("az-", StringComparison.Ordinal))
               ?? (member is null || !member.HasRole("storage") ? null : segment.Az);
    }

    private static bool Unreachable(Cluster cluster, string node) => cluster.State.Unreachable.Any(m => m.Address.ToString() == node);

    /// <summary>The state <c>pg</c> shows for a segment that no node hosts.</summary>
    public const string NoNode = "no node";

    /// <summary>The PG's highest known LSN: its write-quorum point and every SCL the writer or a segment reported.</summary>
    public static long PgTop(int pg, IEnumerable<SegmentView> segments, WriterProtocol.WriterStatus? writer)
    {
        var top = segments.Where(s => s.Pg == pg && s.Status is not null).Select(s => s.Status!.Scl.Value).DefaultIfEmpty(0).Max();
        if (writer?.Pgs.FirstOrDefault(p => p.Pg == pg) is { } w)
            top = Math.Max(top, Math.Max(w.QuorumLsn.Value, w.Scl.Select(s => s.Value).DefaultIfEmpty(0).Max()));
        return top;
    }

    public static string State(SegmentView s, WriterProtocol.WriterStatus? writer)
    {
        var quorum = writer?.Pgs.FirstOrDefault(p => p.Pg == s.Pg)?.QuorumLsn.Value ?? 0;
        var writerEpoch = writer is { State: "serving" or "draining" } ? writer.Epoch : 0;
        return s.Status is { } st
            ? SegmentHealth.Classify(true, st.Failure, st.Epoch, st.OpenedEpoch, writerEpoch, st.Scl.Value, quorum, st.CatchUp is not null || st.JoinTarget > st.Scl)
            : s.Node is null ? NoNode : SegmentHealth.Unreachable;
    }

    /// <summary>Where the writer's LSN allocation counts from: VDL, or the end of the range the recovery of this epoch
    /// annulled when that is higher (the writer allocates above it, and those LSNs are never written).</summary>
    public static long AllocationFloor(WriterProtocol.WriterStatus w) =>
        w.Recovery is { Outcome: RecoveryOutcome.Opened } r && r.Epoch == w.Epoch ? Math.Max(w.Vdl.Value, r.TruncateTo.Value) : w.Vdl.Value;

    /// <summary>Redo backlog: LSNs allocated and not yet durable, i.e. allocated minus <see cref="AllocationFloor"/>.
    /// Right after a recovery, allocated - VDL would also count the annulled range, which no record will ever fill.</summary>
    public static long Backlog(WriterProtocol.WriterStatus w) => Math.Max(0, w.Allocated.Value - AllocationFloor(w));

    public static double? FsyncAvgMicros(SegmentProtocol.SegmentStatus s) => s.Syncs == 0 ? null : (double)s.SyncMicros / s.Syncs;
}

/// <summary><c>volume status</c>: the volume's LSNs, redo backlog against the LAL, commit rate, commit latency p50/p99
/// over the last minute, and recovery.</summary>
public sealed class VolumePalette : ICommandPalette
{
    /// <summary>How long <c>volume status</c> watches the commit counter to compute commits/s.</summary>
    public static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(1);

    /// <inheritdoc />
    public PaletteDefinition Definition { get; } = new("volume", "the volume as the writer sees it",
        [CommandDefinition.Read("status", "epoch, allocated LSN, VCL, VDL, redo backlog and headroom to LAL, commits/s, p50/p99 commit latency over the last minute, recovery")]);

    /// <inheritdoc />
    public async IAsyncEnumerable<CommandItem> ExecuteAsync(ParsedCommand command, CommandContext context, [EnumeratorCancellation] CancellationToken ct)
    {
        var first = await ActorDbStatus.WriterAsync(context, ct);
        var started = DateTime.UtcNow;
        double? rate = null;
        var w = first;
        if (first.State == "serving")
        {
            await Task.Delay(RateWindow, ct);
            w = await ActorDbStatus.WriterAsync(context, ct);
            rate = (w.Commits - first.Commits) / (DateTime.UtcNow - started).TotalSeconds;
        }
        var history = await ActorDbStatus.Supervisor(context).Ask<RecoveryProtocol.RecoveryHistoryReply>(RecoveryProtocol.GetRecoveryHistory.Instance, context.Timeout, ct);
        var backlog = ActorDbStatus.Backlog(w);
        var last = history.Running ?? history.Recoveries.LastOrDefault() ?? w.Recovery;
        yield return CommandRow.Record(
            ("state", w.State),
            ("epoch", w.Epoch),
            ("allocated", w.Allocated.Value),
            ("vcl", w.Vcl.Value),
            ("vdl", w.Vdl.Value),
            ("annulled-to", ActorDbStatus.AllocationFloor(w) > w.Vdl.Value ? ActorDbStatus.AllocationFloor(w) : null),
            ("redo-backlog", backlog),
            ("lal", w.Lal),
            ("lal-headroom", w.Lal - backlog),
            ("commits", w.Commits),
            ("commits-per-sec", rate),
            // Durable commits of the last minute on this node (WriterMetrics.RecentCommits); empty when there were none.
            ("commits-last-min", w.CommitLatency?.Count),
            ("commit-p50-ms", Round(w.CommitLatency?.P50Ms)),
            ("commit-p99-ms", Round(w.CommitLatency?.P99Ms)),
            ("open-transactions", w.OpenTransactions),
            ("commits-in-flight", w.CommitsInFlight),
            ("recovery", history.Running is not null || w.State == "recovering" ? "in progress" : "no"),
            ("last-recovery", last?.Summary()),
            ("failure", w.Failure));
    }

    private static double? Round(double? ms) => ms is { } v ? Math.Round(v, 3) : null;
}

/// <summary><c>pg list</c> and <c>pg show -g N</c>: each protection group's segments: node (none for a segment no node
/// hosts), the AZ of that node, state, storage fault, SCL, lag, fsync latency, bytes on disk, scrub and page repair.</summary>
public sealed class PgPalette : ICommandPalette
{
    /// <inheritdoc />
    public PaletteDefinition Definition { get; } = new("pg", "protection groups and their six segments",
    [
        CommandDefinition.Read("list", "every PG: segments serving, catching up, unreachable, fenced; quorum LSN; largest lag"),
        CommandDefinition.Read("show", "the six segments of a PG: node, AZ, state, SCL, lag, fsync latency, bytes on disk, catch-up progress, scrub and page repair",
            new SwitchDefinition("pg", ["-g", "--pg"], "the protection group number", Required: true, Values: ["0"])),
    ]);

    /// <inheritdoc />
    public IAsyncEnumerable<CommandItem> ExecuteAsync(ParsedCommand command, CommandContext context, CancellationToken ct) => command.Command switch
    {
        "list" => List(context, ct),
        "show" => Show(context, command.Required("pg"), ct),
        _ => throw new CommandException($"not implemented: {command}"),
    };

    private static async IAsyncEnumerable<CommandItem> List(CommandContext context, [EnumeratorCancellation] CancellationToken ct)
    {
        var geometry = ActorDbStatus.Geometry(context);
        var writer = await ActorDbStatus.WriterOrNullAsync(context, ct);
        var segments = await ActorDbStatus.SegmentsAsync(context, Enumerable.Range(0, geometry.PgCount), ct);
        for (var pg = 0; pg < geometry.PgCount; pg++)
        {
            var mine = segments.Where(s => s.Pg == pg).ToList();
            var states = mine.Select(s => ActorDbStatus.State(s, writer)).ToList();
            var top = ActorDbStatus.PgTop(pg, segments, writer);
            int Count(string state) => states.Count(s => s == state);
            yield return CommandRow.Of(
                ("pg", pg),
                ("quorum-lsn", writer?.Pgs.FirstOrDefault(p => p.Pg == pg)?.QuorumLsn.Value),
                ("serving", $"{Count(SegmentHealth.Serving)}/{VolumeGeometry.SegmentsPerPg}"),
                ("catching-up", Count(SegmentHealth.CatchingUp)),
                ("unreachable", Count(SegmentHealth.Unreachable)),
                ("no-node", Count(ActorDbStatus.NoNode)),
                ("fenced", Count(SegmentHealth.Fenced) + Count(SegmentHealth.StaleEpoch)),
                ("failed", Count(SegmentHealth.Failed)),
                ("max-lag", mine.Where(s => s.Status is not null).Select(s => top - s.Status!.Scl.Value).DefaultIfEmpty(0).Max())).WithHeader();
        }
        yield return new CommandFooter($"Count: {geometry.PgCount} PGs");
    }

    private static async IAsyncEnumerable<CommandItem> Show(CommandContext context, string pgText, [EnumeratorCancellation] CancellationToken ct)
    {
        var geometry = ActorDbStatus.Geometry(context);
        if (!int.TryParse(pgText, out var pg) || pg < 0 || pg >= geometry.PgCount)
            throw new CommandException($"-g {pgText}: not a PG of this volume (0..{geometry.PgCount - 1})");
        var writer = await ActorDbStatus.WriterOrNullAsync(context, ct);
        var segments = await ActorDbStatus.SegmentsAsync(context, [pg], ct);
        var top = ActorDbStatus.PgTop(pg, segments, writer);
        foreach (var s in segments)
        {
            var st = s.Status;
            yield return CommandRow.Of(
                ("segment", s.Segment.EntityId),
                ("node", s.Node is null ? null : s.NodeUnreachable ? $"{s.Node} (unreachable)" : s.Node),
                ("az", s.Az),
                ("state", ActorDbStatus.State(s, writer)),
                ("epoch", st?.Epoch),
                ("scl", st?.Scl.Value),
                ("lag", st is null ? null : top - st.Scl.Value),
                ("lag-ms", writer?.Pgs.ElementAtOrDefault(pg)?.LagMs?[s.Replica]),
                ("fsync-avg-us", st is null ? null : ActorDbStatus.FsyncAvgMicros(st)),
                ("syncs", st?.Syncs),
                ("bytes-on-disk", st?.BytesOnDisk),
                ("catch-up", st?.CatchUp?.Describe(s.Pg, st.Scl, DateTime.UtcNow)
                    ?? (st is not null && st.JoinTarget > st.Scl ? $"joining: SCL {st.Scl.Value} of {st.JoinTarget.Value}" : null)),
                ("fault", st?.Fault.Describe()),
                ("scrubbed-pages", st?.Pages?.ScrubbedPages),
                ("scrub-passes", st?.Pages?.ScrubPasses),
                ("pages-damaged", st?.Pages?.DamagedFound),
                ("pages-repaired", st?.Pages?.Repaired),
                ("repairing", st?.Pages?.Repairing),
                ("failure", st?.Failure)).WithHeader();
        }
        yield return new CommandFooter($"Count: {segments.Count} segments (node: empty when no node hosts the segment; az: the AZ of its node; lag: LSNs behind the PG's most advanced replica or write-quorum point; lag-ms: how long ago the writer shipped the oldest record the segment still lacks, as the writer's acks show; catch-up: a catching-up segment's peer, page copy and records copied, SCL of its target, rate; scrubbed-pages, scrub-passes: page-store slots the background scrub verified and its complete passes; pages-damaged, pages-repaired, repairing: damaged slots found, repaired from a peer, and being repaired now; all since the segment opened)");
    }
}

/// <summary><c>writer status</c>: everything <see cref="WriterProtocol.WriterStatus"/> carries, and each PG as the writer
/// tracks it.</summary>
public sealed class WriterPalette : ICommandPalette
{
    /// <inheritdoc />
    public PaletteDefinition Definition { get; } = new("writer", "the writer (one per volume)",
        [CommandDefinition.Read("status", "state, epoch, LSNs, counters, and each PG's SCLs and quorum as the writer tracks them")]);

    /// <inheritdoc />
    public async IAsyncEnumerable<CommandItem> ExecuteAsync(ParsedCommand command, CommandContext context, [EnumeratorCancellation] CancellationToken ct)
    {
        var w = await ActorDbStatus.WriterAsync(context, ct);
        yield return CommandRow.Record(
            ("state", w.State), ("epoch", w.Epoch), ("allocated", w.Allocated.Value), ("vcl", w.Vcl.Value), ("vdl", w.Vdl.Value),
            ("lal", w.Lal), ("commits", w.Commits), ("open-transactions", w.OpenTransactions), ("commits-in-flight", w.CommitsInFlight),
            ("redo-records", w.RedoRecords), ("redo-bytes", w.RedoBytes), ("redo-bytes-shipped", w.RedoBytesShipped),
            ("batches", w.Batches), ("batch-quorum-avg-us", w.AvgBatchQuorumMicros), ("busy-ms", w.BusyMicros / 1000),
            ("failure", w.Failure), ("recovery", w.Recovery?.Summary()));
        foreach (var pg in w.Pgs)
            yield return CommandRow.Of(
                ("pg", $"pg-{pg.Pg}"),
                ("quorum-lsn", pg.QuorumLsn.Value),
                ("scl", $"[{string.Join(",", pg.Scl.Select(s => s.Value))}]"),
                ("stalled", pg.StalledReplicas.Count == 0 ? "" : $"stalled on replicas {string.Join(",", pg.StalledReplicas)}")).WithHeader();
        yield return new CommandFooter($"Count: {w.Pgs.Count} PGs");
    }
}

/// <summary><c>recovery history</c>: each recovery the supervisor ran: epoch, VDL, annulled range, phase durations.</summary>
public sealed class RecoveryPalette : ICommandPalette
{
    /// <inheritdoc />
    public PaletteDefinition Definition { get; } = new("recovery", "the writer's crash recoveries",
        [CommandDefinition.Read("history", "every recovery: outcome, epoch, VDL, truncated range, phases with durations")]);

    /// <inheritdoc />
    public async IAsyncEnumerable<CommandItem> ExecuteAsync(ParsedCommand command, CommandContext context, [EnumeratorCancellation] CancellationToken ct)
    {
        var reply = await ActorDbStatus.Supervisor(context).Ask<RecoveryProtocol.RecoveryHistoryReply>(RecoveryProtocol.GetRecoveryHistory.Instance, context.Timeout, ct);
        var all = reply.Recoveries.ToList();
        if (reply.Running is not null) all.Add(reply.Running);
        foreach (var r in all) yield return Row(r);
        yield return new CommandFooter($"Count: {all.Count} recoveries (undo: none to do, deferred update keeps uncommitted changes out of storage)");
    }

    /// <summary>One recovery as a row.</summary>
    internal static CommandRow Row(RecoveryRecord r) => CommandRow.Of(
        ("number", r.Number),
        ("epoch", r.Epoch),
        ("outcome", r.Outcome.ToString().ToLowerInvariant()),
        ("vdl", r.Vdl.Value),
        ("truncated", r.TruncateTo > r.TruncateAfter ? $"({r.TruncateAfter}, {r.TruncateTo}]" : "none"),
        ("total-ms", (long)Math.Round(r.Total.TotalMilliseconds)),
        ("phases", r.PhasesText()),
        ("started", r.StartedUtc.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture)),
        ("reason", r.Reason),
        ("failure", r.Failure)).WithHeader();
}

/// <summary>
/// <c>metrics</c>: the current value of each of this node's System.Diagnostics.Metrics instruments, one row per
/// instrument and tag set, read through the node's own listener (<see cref="Metrics.ActorDbMetrics.Reader"/>): what an
/// exporter would see. Counters: the total since the node started; histograms: count, sum and mean; gauges: observed now.
/// </summary>
public sealed class MetricsPalette : ICommandPalette
{
    /// <inheritdoc />
    public PaletteDefinition Definition { get; } = new("metrics", "current values of ActorDb's instruments",
        [CommandDefinition.Read("show", "every instrument of this node by tag set: counter totals, histogram count/sum/mean, gauges now")], DefaultCommand: "show");

    /// <inheritdoc />
    public async IAsyncEnumerable<CommandItem> ExecuteAsync(ParsedCommand command, CommandContext context, [EnumeratorCancellation] CancellationToken ct)
    {
        await Task.Yield();
        var reader = Metrics.ActorDbMetrics.For(context.System).Reader;
        var series = reader.Read();
        foreach (var s in series)
            yield return CommandRow.Of(
                ("instrument", s.Instrument),
                ("tags", s.Tags),
                ("kind", s.Kind),
                ("unit", s.Unit),
                ("value", s.Value),
                ("count", s.Count),
                ("mean", s.Count is > 0 ? s.Value / s.Count.Value : null)).WithHeader();
        var silent = reader.Instruments().Except(series.Select(s => s.Instrument)).ToList();
        yield return new CommandFooter($"Count: {series.Count} series (value: counter total since start, histogram sum, gauge now)"
                                       + (silent.Count == 0 ? "" : $"; nothing measured yet: {string.Join(", ", silent)}"));
    }
}
