using ActorDb.Core.Storage;
using System.Collections.Concurrent;
using Akka.Actor;
using ActorDb.Core;
using ActorDb.Storage;

namespace ActorDb.Tests.Scenarios;

/// <summary>Fault switches shared by a <see cref="SegmentRouter"/> and its <see cref="SegmentShim"/>s (one test, one process).</summary>
public sealed class SegmentFaults
{
    private readonly ConcurrentDictionary<SegmentId, bool> _blackholed = new();
    private readonly ConcurrentDictionary<SegmentId, long> _dropped = new();
    private readonly ConcurrentDictionary<SegmentId, ConcurrentQueue<object>> _droppedMessages = new();

    public bool IsBlackholed(int pg, int replica) => _blackholed.ContainsKey(new SegmentId(pg, replica));

    public void SetBlackholed(int pg, int replica, bool on)
    {
        if (on) _blackholed[new SegmentId(pg, replica)] = true;
        else _blackholed.TryRemove(new SegmentId(pg, replica), out _);
    }

    public void Dropped(int pg, int replica, object message)
    {
        _dropped.AddOrUpdate(new SegmentId(pg, replica), 1, (_, n) => n + 1);
        var q = _droppedMessages.GetOrAdd(new SegmentId(pg, replica), _ => new ConcurrentQueue<object>());
        q.Enqueue(message);
        while (q.Count > 1000) q.TryDequeue(out _);
    }

    public long DroppedCount(int pg, int replica) => _dropped.GetValueOrDefault(new SegmentId(pg, replica));

    public IReadOnlyList<object> DroppedMessages(int pg, int replica) =>
        _droppedMessages.TryGetValue(new SegmentId(pg, replica), out var q) ? q.ToArray() : [];

    // Holds: messages to segments that match a rule wait here, in arrival order, until the rule is released
    // (SegmentRouter.Release delivers them) or dropped. Set synchronously, so a hold is in force before the actor
    // whose messages it catches is even started.
    private readonly ConcurrentDictionary<string, Func<ISegmentMessage, IActorRef, bool>> _holds = new();
    private readonly object _heldLock = new();
    private readonly List<(string Key, ISegmentMessage Message, IActorRef Sender)> _held = new();

    /// <summary>Holds every message to a segment for which <paramref name="matches"/>(message, sender) is true.</summary>
    public void Hold(string key, Func<ISegmentMessage, IActorRef, bool> matches) => _holds[key] = matches;

    /// <summary>Holds every message <paramref name="from"/> sends to a segment.</summary>
    public void HoldFrom(IActorRef from) => Hold(from.Path.ToString(), (_, sender) => sender.Equals(from));

    /// <summary>True (and the message is kept) when a hold catches it.</summary>
    public bool TryHold(ISegmentMessage message, IActorRef sender)
    {
        foreach (var (key, matches) in _holds)
        {
            if (!matches(message, sender)) continue;
            lock (_heldLock) _held.Add((key, message, sender));
            return true;
        }
        return false;
    }

    /// <summary>The messages a hold has caught so far.</summary>
    public IReadOnlyList<ISegmentMessage> Held(string key)
    {
        lock (_heldLock) return _held.Where(h => h.Key == key).Select(h => h.Message).ToList();
    }

    /// <summary>Ends a hold and hands back what it caught, in arrival order (to deliver or to lose).</summary>
    public IReadOnlyList<(ISegmentMessage Message, IActorRef Sender)> EndHold(string key)
    {
        _holds.TryRemove(key, out _);
        lock (_heldLock)
        {
            var mine = _held.Where(h => h.Key == key).Select(h => (h.Message, h.Sender)).ToList();
            _held.RemoveAll(h => h.Key == key);
            return mine;
        }
    }
}

/// <summary>
/// A test stand-in for the segment shard region: a "child per entity" parent that forwards each
/// <see cref="ISegmentMessage"/> to its child <c>pg-{pg}-{replica}</c>, created on first use, with test-only controls to
/// stop a segment for real (Context.Stop, reply after Terminated), to let it come back (recreated from its files on
/// the next message), to blackhole it (the actor stays alive; every message to or from it is dropped), or to hold
/// chosen messages to it (<see cref="SegmentFaults.Hold"/>) and deliver them later (<see cref="Release"/>).
/// <para>Each child is a <see cref="SegmentShim"/> in front of the real <see cref="SegmentActor"/>: the writer ships
/// redo straight to the entity ref it learns from acks, so the fault switches must sit on that ref too.</para>
/// </summary>
public sealed class SegmentRouter : ReceiveActor
{
    /// <summary>Stops the segment (its shim and the segment actor); messages to it are dropped until
    /// <see cref="StartSegment"/>. Reply: <see cref="SegmentStopped"/> after Terminated.</summary>
    public sealed record StopSegment(int Pg, int Replica);
    public sealed record SegmentStopped(int Pg, int Replica);

    /// <summary>Lets a stopped segment be recreated on the next message for it. Reply: <see cref="Ok"/>.</summary>
    public sealed record StartSegment(int Pg, int Replica);

    /// <summary>Drops (On) or delivers again (!On) every message to and from the segment. Reply: <see cref="Ok"/>.</summary>
    public sealed record Blackhole(int Pg, int Replica, bool On);

    /// <summary>Ends hold <paramref name="Key"/> and delivers what it caught, in order, with the original senders.
    /// Reply: <see cref="Released"/>.</summary>
    public sealed record Release(string Key);
    public sealed record Released(int Count);

    public sealed record Ok
    {
        public static readonly Ok Instance = new();
    }

    private readonly ActorDbSettings _settings;
    private readonly SegmentFaults _faults;
    private readonly HashSet<SegmentId> _down = new();
    private readonly Dictionary<IActorRef, (SegmentId Key, IActorRef ReplyTo)> _stopping = new();
    private readonly HashSet<SegmentId> _startWhenTerminated = new();

    public static Props Props(ActorDbSettings settings, SegmentFaults faults) => Akka.Actor.Props.Create(() => new SegmentRouter(settings, faults));

    public SegmentRouter(ActorDbSettings settings, SegmentFaults faults)
    {
        _settings = settings;
        _faults = faults;

        Receive<StopSegment>(m =>
        {
            var key = new SegmentId(m.Pg, m.Replica);
            _down.Add(key);
            _startWhenTerminated.Remove(key);
            var child = Context.Child(key.EntityId);
            if (child.IsNobody())
            {
                Sender.Tell(new SegmentStopped(m.Pg, m.Replica));
                return;
            }
            _stopping[child] = (key, Sender);
            Context.Watch(child);
            Context.Stop(child);
        });
        Receive<Terminated>(t =>
        {
            if (!_stopping.Remove(t.ActorRef, out var s)) return;
            if (_startWhenTerminated.Remove(s.Key)) _down.Remove(s.Key);
            s.ReplyTo.Tell(new SegmentStopped(s.Key.Pg, s.Key.Replica));
        });
        Receive<StartSegment>(m =>
        {
            var key = new SegmentId(m.Pg, m.Replica);
            if (_stopping.Values.Any(s => s.Key == key)) _startWhenTerminated.Add(key);   // still terminating: come back after
            else _down.Remove(key);
            Sender.Tell(Ok.Instance);
        });
        Receive<Blackhole>(m =>
        {
            _faults.SetBlackholed(m.Pg, m.Replica, m.On);
            Sender.Tell(Ok.Instance);
        });
        Receive<Release>(m =>
        {
            var held = _faults.EndHold(m.Key);
            foreach (var (message, sender) in held) Self.Tell(message, sender);   // behind nothing else: the router's own queue
            Sender.Tell(new Released(held.Count));
        });
        Receive<ISegmentMessage>(m =>
        {
            if (_down.Contains(new SegmentId(m.Pg, m.Replica)) || _faults.IsBlackholed(m.Pg, m.Replica))
            {
                _faults.Dropped(m.Pg, m.Replica, m);
                return;
            }
            if (_faults.TryHold(m, Sender)) return;
            var name = new SegmentId(m.Pg, m.Replica).EntityId;
            var child = Context.Child(name);
            if (child.IsNobody()) child = Context.ActorOf(SegmentShim.Props(name, _settings, _faults), name);
            child.Forward(m);
        });
    }
}

/// <summary>
/// Stands in front of one <see cref="SegmentActor"/> (its child <c>segment</c>): passes requests in and replies out,
/// replies with itself as sender (so that is the entity ref the writer learns and watches), and drops both ways while
/// the segment is blackholed. Stops when the segment actor stops.
/// </summary>
public sealed class SegmentShim : ReceiveActor
{
    private sealed record Relayed(IActorRef Relay, IActorRef Target, object Message);

    private sealed class Relay(IActorRef target) : UntypedActor
    {
        protected override void OnReceive(object message) => Context.Parent.Tell(new Relayed(Self, target, message));
    }

    private readonly int _pg;
    private readonly int _replica;
    private readonly SegmentFaults _faults;
    private readonly Dictionary<IActorRef, IActorRef> _relays = new();   // original sender -> relay child
    private IActorRef _segment = ActorRefs.Nobody;

    public static Props Props(string entityId, ActorDbSettings settings, SegmentFaults faults) =>
        Akka.Actor.Props.Create(() => new SegmentShim(entityId, settings, faults));

    public SegmentShim(string entityId, ActorDbSettings settings, SegmentFaults faults)
    {
        (_pg, _replica) = SegmentId.Parse(entityId);
        _faults = faults;
        _segment = Context.ActorOf(SegmentActor.Props(entityId, settings), "segment");
        Context.Watch(_segment);

        Receive<Terminated>(t => { if (t.ActorRef.Equals(_segment)) Context.Stop(Self); });
        Receive<Relayed>(r =>
        {
            if (r.Target.Path.Elements.Contains("temp"))   // an Ask: one reply expected
            {
                _relays.Remove(r.Target);
                Context.Stop(r.Relay);
            }
            if (_faults.IsBlackholed(_pg, _replica)) _faults.Dropped(_pg, _replica, r.Message);
            else r.Target.Tell(r.Message, Self);
        });
        Receive<ISegmentMessage>(m =>
        {
            if (_faults.IsBlackholed(_pg, _replica))
            {
                _faults.Dropped(_pg, _replica, m);
                return;
            }
            if (_faults.TryHold(m, Sender)) return;   // released through the router, which forwards it here again
            var sender = Sender;
            if (sender.IsNobody())
            {
                _segment.Tell(m, ActorRefs.NoSender);
                return;
            }
            if (!_relays.TryGetValue(sender, out var relay))
                _relays[sender] = relay = Context.ActorOf(Akka.Actor.Props.Create(() => new Relay(sender)));
            _segment.Tell(m, relay);
        });
    }
}
