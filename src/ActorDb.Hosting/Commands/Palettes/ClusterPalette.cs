using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Cluster;

namespace ActorDb.Commands.Palettes;

/// <summary>
/// <c>cluster</c>: Petabridge.Cmd's cluster palette, each command a thin wrapper over <see cref="Cluster"/>: show,
/// status, leader, leave, down, down-unreachable and tail. Members print as <c>address | [roles] | status |
/// reachability |</c> with a <c>Count: N nodes</c> footer.
/// </summary>
public sealed class ClusterPalette : ICommandPalette
{
    private static readonly SwitchDefinition Address = new("address", ["-a", "--address"], "a member's address, akka.tcp://system@host:port", Required: true);

    /// <inheritdoc />
    public PaletteDefinition Definition { get; } = new("cluster", "cluster membership (Akka.Cluster)",
    [
        CommandDefinition.Read("show", "every member: address, roles, status, reachability"),
        CommandDefinition.Read("status", "this node: address, roles, status"),
        CommandDefinition.Read("leader", "the cluster leader and each role's leader"),
        new CommandDefinition("leave", "make a member leave the cluster gracefully", [Address]),
        new CommandDefinition("down", "mark a member down (it is removed without handing over)", [Address]),
        new CommandDefinition("down-unreachable", "down every member that is unreachable now"),
        CommandDefinition.Read("tail", "stream membership and reachability events until Ctrl+C"),
    ]);

    /// <inheritdoc />
    public IAsyncEnumerable<CommandItem> ExecuteAsync(ParsedCommand command, CommandContext context, CancellationToken ct)
    {
        var cluster = Cluster.Get(context.System);
        return command.Command switch
        {
            "show" => Show(cluster),
            "status" => Status(cluster),
            "leader" => Leader(cluster),
            "leave" => Leave(cluster, command.Required("address"), down: false),
            "down" => Leave(cluster, command.Required("address"), down: true),
            "down-unreachable" => DownUnreachable(cluster),
            "tail" => Tail(context.System, ct),
            _ => throw new CommandException($"not implemented: {command}"),
        };
    }

    /// <summary>A member as pbm prints it.</summary>
    internal static CommandRow MemberRow(Member m, bool unreachable) => CommandRow.Of(
        ("address", m.Address.ToString()),
        ("roles", $"[{string.Join(",", m.Roles.OrderBy(r => r, StringComparer.Ordinal))}]"),
        ("status", m.Status.ToString().ToLowerInvariant()),
        ("reachability", unreachable ? "unreachable" : ""));

    private static async IAsyncEnumerable<CommandItem> Show(Cluster cluster)
    {
        var state = cluster.State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        var members = state.Members.Concat(state.Unreachable.Where(u => !state.Members.Contains(u))).OrderBy(m => m.Address.ToString(), StringComparer.Ordinal).ToList();
        foreach (var m in members) yield return MemberRow(m, unreachable.Contains(m.Address));
        yield return new CommandFooter($"Count: {members.Count} nodes");
        await Task.CompletedTask;
    }

    private static async IAsyncEnumerable<CommandItem> Status(Cluster cluster)
    {
        var self = cluster.SelfMember;
        var leader = cluster.State.Leader;
        yield return CommandRow.Of(
            ("address", self.Address.ToString()),
            ("roles", $"[{string.Join(",", self.Roles.OrderBy(r => r, StringComparer.Ordinal))}]"),
            ("status", self.Status.ToString().ToLowerInvariant()),
            ("leader", leader is not null && leader.Equals(self.Address) ? "leader" : ""));
        await Task.CompletedTask;
    }

    private static async IAsyncEnumerable<CommandItem> Leader(Cluster cluster)
    {
        var state = cluster.State;
        yield return CommandRow.Of(("role", "(cluster)"), ("leader", state.Leader?.ToString() ?? "none"));
        var roles = state.Members.SelectMany(m => m.Roles).Distinct().OrderBy(r => r, StringComparer.Ordinal).ToList();
        foreach (var role in roles) yield return CommandRow.Of(("role", role), ("leader", state.RoleLeader(role)?.ToString() ?? "none"));
        yield return new CommandFooter($"Count: {roles.Count + 1} leaders");
        await Task.CompletedTask;
    }

    private static Address ParseAddress(Cluster cluster, string text)
    {
        Address address;
        try { address = Akka.Actor.Address.Parse(text); }
        catch (Exception) { throw new CommandException($"'{text}' is not an address (akka.tcp://system@host:port)"); }
        if (address.Host is null || address.Port is null)
            throw new CommandException($"'{text}' is not an address (akka.tcp://system@host:port)");
        var known = cluster.State.Members.Concat(cluster.State.Unreachable).Any(m => m.Address.Equals(address));
        if (!known) throw new CommandException($"{address} is not a member (cluster show lists them)");
        return address;
    }

    private static async IAsyncEnumerable<CommandItem> Leave(Cluster cluster, string text, bool down)
    {
        var address = ParseAddress(cluster, text);
        if (down) cluster.Down(address);
        else cluster.Leave(address);
        yield return new CommandText(down ? $"downing {address}" : $"{address} is leaving the cluster");
        await Task.CompletedTask;
    }

    private static async IAsyncEnumerable<CommandItem> DownUnreachable(Cluster cluster)
    {
        var unreachable = cluster.State.Unreachable.ToList();
        foreach (var m in unreachable)
        {
            cluster.Down(m.Address);
            yield return MemberRow(m, unreachable: true);
        }
        yield return new CommandFooter($"Count: {unreachable.Count} nodes downed");
        await Task.CompletedTask;
    }

    private static async IAsyncEnumerable<CommandItem> Tail(ActorSystem system, [EnumeratorCancellation] CancellationToken ct)
    {
        var events = Channel.CreateUnbounded<CommandItem>();
        var subscriber = system.ActorOf(ClusterEventTail.Props(events.Writer));
        try
        {
            await foreach (var item in events.Reader.ReadAllAsync(ct)) yield return item;
        }
        finally
        {
            subscriber.Tell(PoisonPill.Instance);
        }
    }
}

/// <summary>Subscribes to cluster membership, reachability and leader events (the current state first, as events) and
/// writes each as a row for <c>cluster tail</c>; stopped when the command ends.</summary>
internal sealed class ClusterEventTail : ReceiveActor
{
    private readonly ChannelWriter<CommandItem> _out;

    public static Props Props(ChannelWriter<CommandItem> output) => Akka.Actor.Props.Create(() => new ClusterEventTail(output));

    public ClusterEventTail(ChannelWriter<CommandItem> output)
    {
        _out = output;
        Receive<ClusterEvent.IMemberEvent>(e => Emit(EventName(e), e.Member.Address.ToString(), e.Member.Status.ToString().ToLowerInvariant()));
        Receive<ClusterEvent.UnreachableMember>(e => Emit("unreachable", e.Member.Address.ToString(), e.Member.Status.ToString().ToLowerInvariant()));
        Receive<ClusterEvent.ReachableMember>(e => Emit("reachable", e.Member.Address.ToString(), e.Member.Status.ToString().ToLowerInvariant()));
        Receive<ClusterEvent.LeaderChanged>(e => Emit("leader-changed", e.Leader?.ToString() ?? "none", ""));
    }

    private static string EventName(ClusterEvent.IMemberEvent e) => e switch
    {
        ClusterEvent.MemberJoined => "member-joined",
        ClusterEvent.MemberUp => "member-up",
        ClusterEvent.MemberLeft => "member-left",
        ClusterEvent.MemberExited => "member-exited",
        ClusterEvent.MemberRemoved => "member-removed",
        _ => "member-" + e.GetType().Name.Replace("Member", "").ToLowerInvariant(),
    };

    private void Emit(string what, string address, string status) =>
        _out.TryWrite(CommandRow.Of(("time", DateTime.UtcNow.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture)),
            ("event", what), ("address", address), ("status", status)));

    protected override void PreStart() => Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
        typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.LeaderChanged));

    protected override void PostStop()
    {
        Cluster.Get(Context.System).Unsubscribe(Self);
        _out.TryComplete();
    }
}
