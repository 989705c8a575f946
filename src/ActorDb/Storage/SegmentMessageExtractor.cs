using Akka.Cluster.Sharding;

namespace ActorDb.Storage;

/// <summary>Routes <see cref="ISegmentMessage"/>s: entity id <c>pg-{pg}-{replica}</c>, and one shard per segment (shard id =
/// entity id) so an allocation strategy can place each of a PG's six segments on its own node.</summary>
public sealed class SegmentMessageExtractor : IMessageExtractor
{
    /// <inheritdoc />
    public string? EntityId(object message) => message switch
    {
        ISegmentMessage m => SegmentProtocol.EntityId(m.Pg, m.Replica),
        ShardingEnvelope e => e.EntityId,
        _ => null,
    };

    /// <inheritdoc />
    public object? EntityMessage(object message) => message is ShardingEnvelope e ? e.Message : message;

    /// <inheritdoc />
    public string? ShardId(object message) => message switch
    {
        ShardRegion.StartEntity s => s.EntityId,
        _ => EntityId(message),
    };

    /// <inheritdoc />
    public string ShardId(string entityId, object? messageHint = null) => entityId;
}
