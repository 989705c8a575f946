namespace ActorDb.Core.Placement;

/// <summary>Why the writer sends no redo to a segment for now, as <see cref="SegmentLinks.Why"/> sees it.</summary>
public enum SegmentAbsence
{
    /// <summary>Not absent: the writer knows the segment's actor, its node is reachable, it answers and reports no fault.</summary>
    None = 0,
    /// <summary>The segment refuses redo because of a storage fault on its node (<see cref="SegmentLinks.Fault"/> names it).</summary>
    Fault,
    /// <summary>The cluster marks the node that hosts the segment unreachable (<see cref="SegmentLinks.Node"/> names it).</summary>
    Unreachable,
    /// <summary>The node is reachable but the segment has answered nothing sent to it for <c>silent-after</c>.</summary>
    Silent,
    /// <summary>The writer knows no live actor of the segment: never heard from it, or its actor stopped (its node died or
    /// was removed) and no node hosts it yet.</summary>
    NoNode,
}

/// <summary>What <see cref="SegmentLinks.Due"/> tells the writer to send a segment that is absent.</summary>
public enum SegmentProbe
{
    /// <summary>Nothing now.</summary>
    None = 0,
    /// <summary>A probe (an empty redo batch) straight to the segment's actor: it answers with its SCL or its refusal.</summary>
    Direct,
    /// <summary>A probe through the shard region: the region keeps it until the segment has a node, and that node starts it.</summary>
    ViaRegion,
}

/// <summary>
/// The writer's view of how to reach each segment of the volume, so that messages to a segment that cannot take them stay
/// bounded (issue 12): redo is shipped only to a segment that is <see cref="SegmentAbsence.None"/>; every other segment
/// gets at most one small probe per interval, and the writer keeps its redo in its resend window only. A segment that
/// answers again is live at once, and the writer then resends what it lacks from the window (or the segment catches up
/// from its peers).
/// <para>Inputs: the segment was heard from (<see cref="Heard"/>, with the node that hosts it and its fault, if any), its
/// actor stopped (<see cref="Lost"/>), a node became unreachable or reachable again (<see cref="NodeUnreachable"/>,
/// <see cref="NodeReachable"/>), redo was shipped to it (<see cref="Shipped"/>). Pure and single-threaded: the writer
/// actor owns one. Times are UTC <see cref="DateTime"/>s passed in.</para>
/// <para>Probes: straight to the actor when the writer knows it (a faulted or silent segment on a reachable node: every
/// <c>resend-after</c>, so a segment whose disk has space again is found within that); through the shard region when it
/// has no node (the region keeps them and asks the coordinator for a home until a node takes it): every
/// <c>resend-after</c> for the first <c>probe-max-interval</c> of its absence (an embedded node's region restarts a stopped
/// segment on the next message, so it is back within that), then every <c>probe-max-interval</c>, so a segment gone for
/// an hour costs about 150 small messages in the region's buffer (30 s, 1 s: 30 + 2 a minute). Nothing at all to a segment whose node is unreachable: the node's remoting
/// buffer would keep it.</para>
/// </summary>
public sealed class SegmentLinks
{
    private sealed class Link
    {
        public bool Known;               // the writer holds the segment's actor (it answered, and has not stopped since)
        public string? Node;             // the address of the node hosting it, when known
        public string? Fault;            // the storage fault it reported, e.g. "disk full"; null: none
        public DateTime? Unanswered;     // the first shipment it has not answered yet
        public DateTime NextProbe;
        public DateTime? FirstProbe;     // the first probe of this absence (null: none sent since it last answered)
    }

    private readonly Link[][] _links;
    private readonly HashSet<string> _unreachable = new(StringComparer.Ordinal);
    private readonly TimeSpan _resendAfter, _silentAfter, _probeMaxInterval;

    /// <summary>Creates the view of <paramref name="pgCount"/> PGs of <paramref name="segmentsPerPg"/> segments, none known.</summary>
    /// <param name="pgCount">Protection groups of the volume.</param>
    /// <param name="segmentsPerPg">Segments per PG (6).</param>
    /// <param name="resendAfter">The first probe interval, and the interval of direct probes (<c>actordb.writer.resend-after</c>).</param>
    /// <param name="silentAfter">A segment on a reachable node that answers nothing shipped to it for this long is
    /// <see cref="SegmentAbsence.Silent"/> (<c>actordb.writer.silent-after</c>).</param>
    /// <param name="probeMaxInterval">The longest interval between probes through the region (<c>actordb.writer.probe-max-interval</c>).</param>
    /// <exception cref="ArgumentOutOfRangeException">a count below 1, or an interval not positive, or probeMaxInterval below resendAfter.</exception>
    public SegmentLinks(int pgCount, int segmentsPerPg, TimeSpan resendAfter, TimeSpan silentAfter, TimeSpan probeMaxInterval)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pgCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentsPerPg, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(resendAfter, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(silentAfter, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(probeMaxInterval, resendAfter);
        _resendAfter = resendAfter;
        _silentAfter = silentAfter;
        _probeMaxInterval = probeMaxInterval;
        _links = Enumerable.Range(0, pgCount)
            .Select(_ => Enumerable.Range(0, segmentsPerPg).Select(_ => new Link()).ToArray()).ToArray();
    }

    /// <summary>The segment answered (an ack, a refusal, an installed epoch) from <paramref name="node"/> (null: unknown),
    /// reporting <paramref name="fault"/> (null: none). Returns true when this made it live again after an absence: the
    /// writer then resends what the segment lacks.</summary>
    public bool Heard(int pg, int replica, string? node, string? fault, DateTime now)
    {
        var link = _links[pg][replica];
        var wasAbsent = Why(pg, replica, now) != SegmentAbsence.None;
        link.Known = true;
        if (node is not null) link.Node = node;
        link.Fault = fault;
        link.Unanswered = null;
        link.FirstProbe = null;
        link.NextProbe = now + _resendAfter;
        return wasAbsent && Why(pg, replica, now) == SegmentAbsence.None;
    }

    /// <summary>The segment's actor stopped (hand-off, crash, its node removed): it has no node until it answers again.</summary>
    public void Lost(int pg, int replica, DateTime now)
    {
        var link = _links[pg][replica];
        link.Known = false;
        link.Unanswered = null;
        link.FirstProbe = null;
        link.NextProbe = now;
    }

    /// <summary>The cluster marked <paramref name="node"/> unreachable: nothing is sent to its segments until it is reachable again.</summary>
    public void NodeUnreachable(string node) => _unreachable.Add(node);

    /// <summary><paramref name="node"/> is reachable again (or was removed from the cluster, whose segments then stop):
    /// returns the segments on it that are live now (the writer resends what they lack).</summary>
    public IReadOnlyList<(int Pg, int Replica)> NodeReachable(string node, DateTime now)
    {
        if (!_unreachable.Remove(node)) return [];
        var live = new List<(int, int)>();
        for (var pg = 0; pg < _links.Length; pg++)
            for (var r = 0; r < _links[pg].Length; r++)
            {
                var link = _links[pg][r];
                if (link.Node != node) continue;
                link.Unanswered = null;   // the silence was the partition's
                if (Why(pg, r, now) == SegmentAbsence.None) live.Add((pg, r));
            }
        return live;
    }

    /// <summary><paramref name="node"/> left the cluster (removed, downed): its segments have no node until they answer
    /// from another (or from it, when it joins again).</summary>
    public void NodeRemoved(string node, DateTime now)
    {
        _unreachable.Remove(node);
        for (var pg = 0; pg < _links.Length; pg++)
            for (var r = 0; r < _links[pg].Length; r++)
                if (_links[pg][r].Node == node && _links[pg][r].Known) Lost(pg, r, now);
    }

    /// <summary>Redo was shipped to the segment (only ever to a live one): starts its silence clock if it was not running.</summary>
    public void Shipped(int pg, int replica, DateTime now) => _links[pg][replica].Unanswered ??= now;

    /// <summary>True when redo may be shipped to the segment now (<see cref="Why"/> is <see cref="SegmentAbsence.None"/>).</summary>
    public bool Live(int pg, int replica, DateTime now) => Why(pg, replica, now) == SegmentAbsence.None;

    /// <summary>Why the segment gets no redo now, in this order: no node, an unreachable node, a storage fault, silence.</summary>
    public SegmentAbsence Why(int pg, int replica, DateTime now)
    {
        var link = _links[pg][replica];
        if (!link.Known) return SegmentAbsence.NoNode;
        if (link.Node is not null && _unreachable.Contains(link.Node)) return SegmentAbsence.Unreachable;
        if (link.Fault is not null) return SegmentAbsence.Fault;
        if (link.Unanswered is { } since && now - since >= _silentAfter) return SegmentAbsence.Silent;
        return SegmentAbsence.None;
    }

    /// <summary>The address of the node that last hosted the segment (null: never known).</summary>
    public string? Node(int pg, int replica) => _links[pg][replica].Node;

    /// <summary>The storage fault the segment last reported (null: none).</summary>
    public string? Fault(int pg, int replica) => _links[pg][replica].Fault;

    /// <summary>Whether to probe an absent segment now, and how; a probe it returns counts as sent. The next is due
    /// <c>resend-after</c> later, except through the region once the segment has gone unanswered for
    /// <c>probe-max-interval</c>: then <c>probe-max-interval</c> later.</summary>
    public SegmentProbe Due(int pg, int replica, DateTime now)
    {
        var link = _links[pg][replica];
        var why = Why(pg, replica, now);
        if (why is SegmentAbsence.None or SegmentAbsence.Unreachable || now < link.NextProbe) return SegmentProbe.None;
        if (why == SegmentAbsence.NoNode)
        {
            link.FirstProbe ??= now;
            link.NextProbe = now + (now - link.FirstProbe.Value < _probeMaxInterval ? _resendAfter : _probeMaxInterval);
            return SegmentProbe.ViaRegion;
        }
        link.NextProbe = now + _resendAfter;
        return SegmentProbe.Direct;
    }
    /// <summary>
    /// Why <paramref name="replicas"/> of <paramref name="pg"/> are missing from a write quorum, grouped for the writer's
    /// stall line and status, e.g. <c>disk full on pg-0-0, pg-0-2; unreachable: pg-0-1 (node akka.tcp://a@h:1); no node:
    /// pg-0-3</c>. A missing segment that is live (it answers, only its acknowledgement is behind) is listed as
    /// <c>behind</c>. <paramref name="name"/> gives a segment's name (pg-N-R). Empty for no replicas.
    /// </summary>
    public string Describe(int pg, IEnumerable<int> replicas, DateTime now, Func<int, int, string> name)
    {
        var groups = new List<string>();
        var list = replicas.ToList();
        string Names(IEnumerable<int> rs, bool withNode) =>
            string.Join(", ", rs.Select(r => withNode && Node(pg, r) is { } n ? $"{name(pg, r)} (node {n})" : name(pg, r)));
        foreach (var byFault in list.Where(r => Why(pg, r, now) == SegmentAbsence.Fault).GroupBy(r => Fault(pg, r)!, StringComparer.Ordinal))
            groups.Add($"{byFault.Key} on {Names(byFault, withNode: false)}");
        void Add(SegmentAbsence why, string label, bool withNode)
        {
            var rs = list.Where(r => Why(pg, r, now) == why).ToList();
            if (rs.Count > 0) groups.Add($"{label}: {Names(rs, withNode)}");
        }
        Add(SegmentAbsence.Unreachable, "unreachable", withNode: true);
        Add(SegmentAbsence.NoNode, "no node", withNode: false);
        Add(SegmentAbsence.Silent, "silent", withNode: true);
        Add(SegmentAbsence.None, "behind", withNode: false);
        return string.Join("; ", groups);
    }
}
