using ActorDb.Core.Storage;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using ActorDb.Storage;

namespace ActorDb.Writer;

/// <summary>
/// The writer's mailbox: segment replies (acks, rejections, epoch installs, page images) go before client requests, in
/// arrival order within each class. An ack queued behind dozens of client statements would otherwise delay every
/// commit it makes durable; statements lose nothing by waiting, since their transactions hold no new locks yet.
/// Configured as <c>actordb.writer-mailbox</c>.
/// </summary>
public sealed class WriterMailbox(Settings settings, Config config) : UnboundedStablePriorityMailbox(settings, config)
{
    /// <inheritdoc />
    protected override int PriorityGenerator(object message) => message switch
    {
        SegmentProtocol.RedoAck or SegmentProtocol.RedoRejected or SegmentProtocol.EpochOpened
            or SegmentProtocol.PageImage or SegmentProtocol.PageUnavailable => 0,
        _ => 1,
    };
}
