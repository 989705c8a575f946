using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;

namespace ActorDb.Commands.Palettes;

/// <summary>
/// <c>cluster-sharding</c>: Petabridge.Cmd's sharding palette over <see cref="ClusterSharding"/>: the regions this node
/// started, per-node shard and entity counts of a region (<see cref="GetClusterShardingStats"/>), and where an entity
/// lives (<see cref="GetEntityLocation"/>). A region proxy (a writer-only node's <c>segment</c>) does not answer the
/// stats query (akka.net#3746): ask a storage node.
/// </summary>
public sealed class ClusterShardingPalette : ICommandPalette
{
    private static readonly SwitchDefinition Region = new("region", ["-r", "--region"], "the region's type name (e.g. segment)", Required: true, Values: ["segment"]);

    /// <inheritdoc />
    public PaletteDefinition Definition { get; } = new("cluster-sharding", "Cluster.Sharding regions, shards and entities",
    [
        CommandDefinition.Read("regions", "the shard regions (type names) started on this node"),
        CommandDefinition.Read("region-stats", "shards and entities of a region on every node", Region),
        CommandDefinition.Read("locate", "the shard and node of an entity, and whether it runs",
            Region, new SwitchDefinition("entity", ["-e", "--entity"], "the entity id (e.g. pg-0-3)", Required: true)),
    ]);

    /// <inheritdoc />
    public IAsyncEnumerable<CommandItem> ExecuteAsync(ParsedCommand command, CommandContext context, CancellationToken ct) => command.Command switch
    {
        "regions" => Regions(context),
        "region-stats" => RegionStats(context, command.Required("region"), ct),
        "locate" => Locate(context, command.Required("region"), command.Required("entity"), ct),
        _ => throw new CommandException($"not implemented: {command}"),
    };

    private static async IAsyncEnumerable<CommandItem> Regions(CommandContext context)
    {
        var names = ClusterSharding.Get(context.System).ShardTypeNames.OrderBy(n => n, StringComparer.Ordinal).ToList();
        foreach (var name in names) yield return CommandRow.Of(("region", name));
        yield return new CommandFooter($"Count: {names.Count} regions");
        await Task.CompletedTask;
    }

    private static IActorRef RegionOf(CommandContext context, string type)
    {
        try { return ClusterSharding.Get(context.System).ShardRegion(type); }
        catch (ArgumentException)
        {
            throw new CommandException($"no region '{type}' on this node (cluster-sharding regions lists them)");
        }
    }

    private static async IAsyncEnumerable<CommandItem> RegionStats(CommandContext context, string type, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var region = RegionOf(context, type);
        var stats = await region.Ask<ClusterShardingStats>(new GetClusterShardingStats(context.Timeout), context.Timeout + TimeSpan.FromSeconds(1), ct);
        var cluster = Cluster.Get(context.System);
        var members = cluster.State.Members.ToDictionary(m => m.Address);
        foreach (var (address, regionStats) in stats.Regions.OrderBy(r => r.Key.ToString(), StringComparer.Ordinal))
        {
            members.TryGetValue(address, out var member);
            yield return CommandRow.Of(
                ("address", address.ToString()),
                ("roles", member is null ? "[]" : $"[{string.Join(",", member.Roles.OrderBy(r => r, StringComparer.Ordinal))}]"),
                ("status", member?.Status.ToString().ToLowerInvariant() ?? "unknown"),
                ("shards", $"shards: {regionStats.Stats.Count}"),
                ("entities", $"entities: {regionStats.Stats.Values.Sum()}"),
                ("failed", regionStats.Failed.Count == 0 ? "" : $"failed: {string.Join(",", regionStats.Failed)}"));
        }
        yield return new CommandFooter($"Count: {stats.Regions.Count} nodes");
    }

    private static async IAsyncEnumerable<CommandItem> Locate(CommandContext context, string type, string entity, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var region = RegionOf(context, type);
        var location = await region.Ask<EntityLocation>(new GetEntityLocation(entity, context.Timeout), context.Timeout + TimeSpan.FromSeconds(1), ct);
        var node = location.ShardRegion.HasLocalScope ? Cluster.Get(context.System).SelfAddress : location.ShardRegion;
        yield return CommandRow.Of(
            ("entity", location.EntityId),
            ("shard", location.ShardId),
            ("node", node.ToString()),
            ("running", location.EntityRef.HasValue ? location.EntityRef.Value.Path.ToString() : "not running"));
    }
}
