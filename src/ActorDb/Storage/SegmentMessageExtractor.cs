using ActorDb.Core;
using ActorDb.Core.Storage;
using Akka.Cluster.Sharding;

namespace ActorDb.Storage;

/// <summary>Routes <see cref="ISegmentMessage"/>s: entity id <c>pg-{pg}-{replica}</c>, and one shard per segment (shard id =
/// entity id) so an allocation strategy can place each of a PG's six segments on its own node. <c>ShardingEnvelope</c>
/// and <c>StartEntity</c> are unwrapped by Akka itself (1.5.15 and later).</summary>
public sealed class SegmentMessageExtractor : IMessageExtractor
{
    /// <inheritdoc />
    public string? EntityId(object message) =>
        message is ISegmentMessage m ? new SegmentId(m.Pg, m.Replica).EntityId : null;

    /// <inheritdoc />
    public object? EntityMessage(object message) => message;

    /// <inheritdoc />
    public string? ShardId(object message) => EntityId(message);

    /// <inheritdoc />
    public string ShardId(string entityId, object? messageHint = null) => entityId;
}
