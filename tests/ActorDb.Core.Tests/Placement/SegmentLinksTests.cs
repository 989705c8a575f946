using ActorDb.Core.Placement;
using CsCheck;

namespace ActorDb.Core.Tests.Placement;

public class SegmentLinksTests
{
    private static readonly TimeSpan Resend = TimeSpan.FromSeconds(1), Silent = TimeSpan.FromSeconds(3), MaxProbe = TimeSpan.FromSeconds(30);
    private static readonly DateTime T0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private const string NodeA = "akka.tcp://actordb@10.0.0.1:5055", NodeB = "akka.tcp://actordb@10.0.0.2:5055";

    private static SegmentLinks New() => new(pgCount: 2, segmentsPerPg: 6, Resend, Silent, MaxProbe);

    private static string Name(int pg, int r) => $"pg-{pg}-{r}";

    [Fact]
    public void A_segment_never_heard_from_has_no_node_and_gets_probes_through_the_region_every_resend_interval_then_every_max_interval()
    {
        var links = New();
        Assert.Equal(SegmentAbsence.NoNode, links.Why(0, 3, T0));
        Assert.False(links.Live(0, 3, T0));
        var probes = new List<double>();
        for (var ms = 0; ms <= 600_000; ms += 100)   // ten minutes, asked every 100 ms as the writer does
            if (links.Due(0, 3, T0.AddMilliseconds(ms)) == SegmentProbe.ViaRegion) probes.Add(ms / 1000.0);
        Assert.Equal(Enumerable.Range(0, 31).Select(i => (double)i), probes.Take(31));   // the first 30 s: every second
        Assert.Equal([60, 90, 120], probes.Skip(31).Take(3));                          // then every 30 s
        Assert.Equal(31 + 19, probes.Count);   // 0..30, then 60..600: all that waits in the region for it in ten minutes
        Assert.True(links.Heard(0, 3, NodeA, null, T0.AddSeconds(601)));
        links.Lost(0, 3, T0.AddSeconds(700));   // a new absence starts fast again
        Assert.Equal(SegmentProbe.ViaRegion, links.Due(0, 3, T0.AddSeconds(700)));
        Assert.Equal(SegmentProbe.ViaRegion, links.Due(0, 3, T0.AddSeconds(701)));
    }

    [Fact]
    public void A_segment_that_answers_is_live_and_gets_redo_and_no_probe()
    {
        var links = New();
        Assert.True(links.Heard(0, 2, NodeA, null, T0));   // from no node to live
        Assert.True(links.Live(0, 2, T0));
        Assert.Equal(NodeA, links.Node(0, 2));
        Assert.Equal(SegmentProbe.None, links.Due(0, 2, T0.AddMinutes(5)));
        Assert.False(links.Heard(0, 2, NodeA, null, T0.AddSeconds(1)));   // already live: nothing to resend
    }

    [Fact]
    public void A_segment_on_an_unreachable_node_gets_nothing_and_is_live_again_when_the_node_is()
    {
        var links = New();
        links.Heard(0, 1, NodeA, null, T0);
        links.Heard(0, 4, NodeB, null, T0);
        links.NodeUnreachable(NodeA);
        Assert.Equal(SegmentAbsence.Unreachable, links.Why(0, 1, T0));
        Assert.True(links.Live(0, 4, T0));
        for (var s = 0; s < 600; s++) Assert.Equal(SegmentProbe.None, links.Due(0, 1, T0.AddSeconds(s)));
        Assert.Equal([(0, 1)], links.NodeReachable(NodeA, T0.AddMinutes(10)));
        Assert.True(links.Live(0, 1, T0.AddMinutes(10)));
        Assert.Empty(links.NodeReachable(NodeA, T0.AddMinutes(10)));   // was not unreachable any more
    }

    [Fact]
    public void A_segment_whose_node_is_removed_has_no_node_until_it_answers_again()
    {
        var links = New();
        links.Heard(0, 5, NodeA, null, T0);
        links.NodeUnreachable(NodeA);
        links.NodeRemoved(NodeA, T0.AddSeconds(5));
        Assert.Equal(SegmentAbsence.NoNode, links.Why(0, 5, T0.AddSeconds(5)));
        Assert.Equal(SegmentProbe.ViaRegion, links.Due(0, 5, T0.AddSeconds(5)));
        Assert.True(links.Heard(0, 5, NodeB, null, T0.AddSeconds(40)));
        Assert.Equal(NodeB, links.Node(0, 5));
    }

    [Fact]
    public void A_faulted_segment_gets_direct_probes_every_resend_interval_and_is_live_once_it_answers_without_a_fault()
    {
        var links = New();
        links.Heard(0, 0, NodeA, null, T0);
        Assert.False(links.Heard(0, 0, NodeA, "disk full", T0.AddSeconds(1)));
        Assert.Equal(SegmentAbsence.Fault, links.Why(0, 0, T0.AddSeconds(1)));
        Assert.Equal("disk full", links.Fault(0, 0));
        Assert.Equal(SegmentProbe.None, links.Due(0, 0, T0.AddSeconds(1.5)));
        Assert.Equal(SegmentProbe.Direct, links.Due(0, 0, T0.AddSeconds(2)));
        Assert.Equal(SegmentProbe.None, links.Due(0, 0, T0.AddSeconds(2.5)));
        Assert.Equal(SegmentProbe.Direct, links.Due(0, 0, T0.AddSeconds(3)));
        Assert.True(links.Heard(0, 0, NodeA, null, T0.AddSeconds(3.2)));
        Assert.Null(links.Fault(0, 0));
    }

    [Fact]
    public void A_segment_that_answers_nothing_shipped_for_silent_after_is_silent_until_it_answers()
    {
        var links = New();
        links.Heard(0, 3, NodeA, null, T0);
        links.Shipped(0, 3, T0.AddSeconds(1));
        links.Shipped(0, 3, T0.AddSeconds(2));   // the clock runs from the first unanswered shipment
        Assert.True(links.Live(0, 3, T0.AddSeconds(3.9)));
        Assert.Equal(SegmentAbsence.Silent, links.Why(0, 3, T0.AddSeconds(4)));
        Assert.Equal(SegmentProbe.Direct, links.Due(0, 3, T0.AddSeconds(4)));
        Assert.True(links.Heard(0, 3, NodeA, null, T0.AddSeconds(4.5)));
        Assert.True(links.Live(0, 3, T0.AddSeconds(10)));
    }

    [Fact]
    public void The_stall_line_groups_missing_segments_by_why_they_are_missing()
    {
        var links = New();
        foreach (var r in new[] { 0, 2, 4 }) links.Heard(0, r, NodeB, "disk full", T0);
        links.Heard(0, 1, NodeA, null, T0);
        links.NodeUnreachable(NodeA);
        links.Heard(0, 5, NodeB, null, T0);
        Assert.Equal($"disk full on pg-0-0, pg-0-2, pg-0-4; unreachable: pg-0-1 (node {NodeA}); no node: pg-0-3; behind: pg-0-5",
            links.Describe(0, [0, 1, 2, 3, 4, 5], T0, Name));
        Assert.Equal("", links.Describe(0, [], T0, Name));
    }

    [Fact]
    public void Probes_to_an_absent_segment_never_come_closer_than_resend_after_nor_further_apart_than_the_bound()
    {
        // Any sequence of events: between two probes of one segment lie at least resend-after, and redo is never due
        // to a segment that is not live.
        Gen.Int[0, 4].Array[1, 200].Sample(events =>
        {
            var links = New();
            var now = T0;
            DateTime? lastProbe = null;
            foreach (var e in events)
            {
                now = now.AddMilliseconds(250);
                switch (e)
                {
                    case 0: links.Heard(0, 0, NodeA, null, now); lastProbe = null; break;
                    case 1: links.Heard(0, 0, NodeA, "I/O error", now); lastProbe = null; break;
                    case 2: links.Lost(0, 0, now); lastProbe = null; break;
                    case 3: links.NodeUnreachable(NodeA); break;
                    case 4: links.NodeReachable(NodeA, now); break;
                }
                if (links.Due(0, 0, now) != SegmentProbe.None)
                {
                    Assert.False(links.Live(0, 0, now));
                    if (lastProbe is { } last) Assert.True(now - last >= Resend, $"probes {last:O} and {now:O}");
                    lastProbe = now;
                }
            }
        });
    }
}
