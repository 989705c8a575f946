using ActorDb.Core;
using ActorDb.Core.Recovery;
using ActorDb.Core.Storage;
using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Simulation;

/// <summary>
/// The engines of a run and how they are wired to the simulated network, disks and clients: a shell per engine that
/// performs its outputs as the actor does in production (sends go through <see cref="SimNetwork"/>, group commits run on
/// the simulated disk after its latency, ticks become scheduled events). Storage nodes host the real
/// <see cref="SegmentEngine"/>s over a per-node <see cref="SimulatedStorage"/>; the writer node runs the real
/// <see cref="RecoveryProcess"/> and <see cref="Core.Transactions.WriterEngine"/> (<see cref="WriterNode"/>).
/// </summary>
internal sealed class World : INodeLife, IWriterPort
{
    private readonly Simulation _sim;
    private readonly Observations _obs;
    private readonly SimTrace _trace;
    private readonly long _seed;
    private readonly VolumeGeometry _geometry;
    private readonly SegmentEngineSettings _segmentSettings;
    private readonly Dictionary<SimNode, SimulatedStorage> _disks = new();
    private readonly Dictionary<SimNode, Random> _powerLoss = new();
    private readonly Dictionary<SimNode, Random> _syncTimes = new();
    private readonly HashSet<SimNode> _slowDisks = new();   // looked up only
    private readonly Dictionary<(int Pg, int Replica), SegmentShell> _segments = new();
    private readonly NodeMembership _membershipTemplate;

    /// <summary>The writer node's shell.</summary>
    public WriterNode Writer { get; }
    /// <summary>The node the clients run on (never crashed: a client's own crash is not a database fault).</summary>
    public SimNode ClientNode { get; } = new("client-0", RunPlan.Azs[0]);
    /// <summary>The clients' protocol over the network.</summary>
    public ClientProtocol ClientSide { get; }

    public World(Simulation sim, Observations obs, SimTrace trace, long seed)
    {
        _sim = sim;
        _obs = obs;
        _trace = trace;
        _seed = seed;
        _geometry = SimSettings.Geometry(sim.Plan.PgCount);
        _segmentSettings = SimSettings.Segment(_geometry);
        var members = new Dictionary<string, IReadOnlyCollection<string>>(StringComparer.Ordinal)
        {
            [sim.WriterNode.Address] = [SegmentAuthority.WriterRole],
        };
        foreach (var n in sim.StorageNodes) members[n.Address] = [SegmentAuthority.StorageRole];
        _membershipTemplate = new NodeMembership("", [], members);
        var index = 0;
        foreach (var node in sim.StorageNodes)
        {
            index++;
            var disk = new SimulatedStorage(SimSeeds.For(seed, SimStream.Disk, index));
            disk.EnsureDirectory(DataDir(node), fsync: true);
            _disks[node] = disk;
            _powerLoss[node] = SimSeeds.For(seed, SimStream.Disk, 1000 + index);
            _syncTimes[node] = SimSeeds.For(seed, SimStream.Disk, 2000 + index);
        }
        foreach (var ((pg, r), node) in sim.Placement) _segments[(pg, r)] = new SegmentShell(this, pg, r, node);
        Writer = new WriterNode(this, sim.WriterNode, _geometry, trace);
        ClientSide = new ClientProtocol(this);
    }

    internal Simulation Sim => _sim;
    internal Observations Obs => _obs;
    internal SimTrace Trace => _trace;
    internal SegmentEngineSettings SegmentSettings => _segmentSettings;
    internal SimScheduler Scheduler => _sim.Scheduler;
    internal SimNetwork Network => _sim.Network;

    private static string DataDir(SimNode node) => $"/sim/{node.Address}";

    /// <summary>Starts every node's engines.</summary>
    public void Start()
    {
        foreach (var node in _sim.StorageNodes) StartSegments(node);
        Writer.Start("the node started");
    }

    private void StartSegments(SimNode node)
    {
        foreach (var shell in _segments.Values.Where(s => s.Node == node).OrderBy(s => s.Pg).ThenBy(s => s.Replica))
            shell.Start(_disks[node], $"{DataDir(node)}/{node.Az}/pg-{shell.Pg}-{shell.Replica}",
                _membershipTemplate with { Self = node.Address, SelfRoles = [SegmentAuthority.StorageRole] });
    }

    /// <inheritdoc />
    public void Crashed(SimNode node)
    {
        if (node == _sim.WriterNode)
        {
            Writer.Crash();
            return;
        }
        foreach (var shell in _segments.Values.Where(s => s.Node == node)) shell.Crash();
        var report = _disks[node].PowerLoss(_powerLoss[node]);
        if (_trace.Enabled) _trace.Line(Scheduler.Now, $"power loss on {node}: {report}");
    }

    /// <inheritdoc />
    public void Restarted(SimNode node)
    {
        if (node == _sim.WriterNode) Writer.Start("the node restarted");
        else StartSegments(node);
    }

    /// <summary>How long the next group commit's write and fdatasync take on <paramref name="node"/>'s disk: 50 µs to 2 ms,
    /// up to 100 ms while the disk is slow.</summary>
    internal TimeSpan SyncTime(SimNode node) =>
        TimeSpan.FromMicroseconds(50 + _syncTimes[node].Next(_slowDisks.Contains(node) ? 100_000 : 2_000));

    /// <inheritdoc />
    public void DiskFaults(SimNode node, bool on, Random random)
    {
        if (!_disks.TryGetValue(node, out var disk)) return;   // the writer node keeps no segment data
        if (!on)
        {
            disk.Clear();
            _slowDisks.Remove(node);
            return;
        }
        switch (random.Next(4))
        {
            case 0: disk.Inject(StorageFault.DiskFull()); break;
            case 1: disk.Inject(new StorageFault(StorageOps.Sync, StorageErrors.Eio, "redo-", After: random.Next(5), Times: 1 + random.Next(3))); break;
            case 2: disk.Inject(new StorageFault(StorageOps.Write, StorageErrors.Eio, null, After: random.Next(20), Times: 1 + random.Next(3))); break;
            default: _slowDisks.Add(node); break;
        }
    }

    /// <summary>Sends <paramref name="message"/> to segment (<paramref name="pg"/>, <paramref name="replica"/>) from
    /// <paramref name="from"/>; its answers go to <paramref name="replyTo"/>.</summary>
    internal void ToSegment(SimNode from, int pg, int replica, object message, ReplyTarget replyTo)
    {
        if (!_segments.TryGetValue((pg, replica), out var shell))
        {
            if (_trace.Enabled) _trace.Line(Scheduler.Now, $"no segment pg-{pg}-{replica}: {SimNetwork.Describe(message)} dropped");
            return;
        }
        Network.Send(from, shell.Node, message, () => shell.Receive(from, replyTo, message));
    }

    /// <summary>Delivers a segment's answer to <paramref name="target"/> over the network.</summary>
    internal void ToTarget(SegmentShell from, ReplyTarget target, object message)
    {
        switch (target)
        {
            case ReplyTarget.WriterNode w:
                Network.Send(from.Node, _sim.WriterNode, message, () => Writer.FromSegment(w, from.Node, message));
                break;
            case ReplyTarget.Peer p:
                var peer = _segments[(p.Pg, p.Replica)];
                Network.Send(from.Node, peer.Node, message, () => peer.Receive(from.Node, new ReplyTarget.Peer(from.Pg, from.Replica), message));
                break;
        }
    }

    internal SegmentShell Segment(int pg, int replica) => _segments[(pg, replica)];

    /// <inheritdoc />
    public Action Submit(ClientOp op, Action<Outcome, long, string?> done) => ClientSide.Run(op, done);

    /// <summary>Reads every row and balance back through the writer into the observations; <paramref name="runWhile"/>
    /// runs the world until the given test says the read is done (or its own bound).</summary>
    public void ReadBack(Action<Func<bool>> runWhile) => ClientSide.ReadBack(runWhile);

    /// <summary>Collects what every segment holds at the end into the observations: each storage node loses power (what
    /// was never synced is gone, as it would be), then each segment's log and metadata are read from its disk.</summary>
    public void CollectHeld()
    {
        foreach (var node in _sim.StorageNodes)
        {
            foreach (var shell in _segments.Values.Where(s => s.Node == node)) shell.Crash();
            _disks[node].PowerLoss(_powerLoss[node]);
        }
        foreach (var shell in _segments.Values.OrderBy(s => s.Pg).ThenBy(s => s.Replica))
            shell.CollectHeld(_disks[shell.Node]);
    }

    /// <summary>One line on the engines' state at the end, for the run summary.</summary>
    public string Describe() => $"segment actor restarts {_segments.Values.Sum(s => s.Restarts)}; writer: {Writer.Describe()}";
}

/// <summary>Where a segment's answers go: the writer node (its recovery or one writer instance), or a peer segment.</summary>
internal abstract record ReplyTarget
{
    /// <summary>The writer node; <paramref name="Incarnation"/> and <paramref name="Writer"/> (0: the recovery) say which
    /// instance asked, so an answer to a process that is gone is dropped.</summary>
    public sealed record WriterNode(int Incarnation, int Writer) : ReplyTarget;

    /// <summary>Segment (<paramref name="Pg"/>, <paramref name="Replica"/>).</summary>
    public sealed record Peer(int Pg, int Replica) : ReplyTarget;
}
