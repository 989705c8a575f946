namespace ActorDb.Core;

/// <summary>
/// Marks a message that crosses nodes: Akka serializes every type implementing it with ActorDb's own serializer
/// (<c>ActorDbSerializer</c>, bound once in <c>reference.conf</c> by this interface, <c>akka.actor.serialization-bindings</c>).
/// Every implementing type must have a manifest in <c>ActorDbSerializer.Manifests</c>, and every type there must implement
/// it; a test checks both directions, so a new cross-node message cannot be left to Akka's default serializer.
/// It lives in Core so a message record can move here beside its engine and keep its binding.
/// </summary>
public interface IActorDbMessage;
