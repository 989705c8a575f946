using ActorDb.Core;
using ActorDb.Core.Recovery;
using CsCheck;

namespace ActorDb.Core.Tests.Recovery;

/// <summary>The epoch bound, its checked successor, and who may fence, open and write a segment (issue 11, item 2).</summary>
public class EpochRulesTests
{
    private const string Self = "akka.tcp://actordb@10.0.0.1:4053";
    private const string Standby = "akka.tcp://actordb@10.0.0.2:4053";
    private const string Storage = "akka.tcp://actordb@10.0.0.3:4053";
    private const string Client = "akka.tcp://actordb@10.0.0.4:4053";
    private const string Stranger = "akka.tcp://actordb@10.0.0.66:4053";

    private static readonly NodeMembership Cluster = new(Self, ["writer", "storage", "voter"], new Dictionary<string, IReadOnlyCollection<string>>
    {
        [Self] = ["writer", "storage", "voter"],
        [Standby] = ["writer", "voter"],
        [Storage] = ["storage", "voter", "az-b"],
        [Client] = ["client"],
    });

    private static Func<string?> Writer => () => null;
    private static Func<string?> NotWriter => () => "node X does not carry the writer role";

    // ---------------------------------------------------------------- the bound

    [Fact]
    public void The_bound_is_two_to_the_62nd_and_its_successor_is_refused()
    {
        Assert.Equal(4_611_686_018_427_387_904L, Epochs.Max);
        Assert.Equal(1, Epochs.Next(0));
        Assert.Equal(Epochs.Max, Epochs.Next(Epochs.Max - 1));
        var atBound = Assert.Throws<EpochOutOfRangeException>(() => Epochs.Next(Epochs.Max));
        Assert.Equal(Epochs.Max, atBound.Epoch);
        Assert.Contains("4611686018427387904", atBound.Message);
        var attack = Assert.Throws<EpochOutOfRangeException>(() => Epochs.Next(long.MaxValue));   // the value of the attack
        Assert.Contains("9223372036854775807", attack.Message);
        Assert.Throws<EpochOutOfRangeException>(() => Epochs.Next(-1));
        Assert.IsAssignableFrom<InvalidOperationException>(attack);   // a recovery that plans with it fails with the message
    }

    [Fact]
    public void Next_never_overflows_and_is_always_a_valid_epoch()
    {
        Gen.Long.Sample(e =>
        {
            if (e >= 0 && e < Epochs.Max) return Epochs.Next(e) == e + 1 && Epochs.IsValid(Epochs.Next(e));
            try { Epochs.Next(e); return false; }
            catch (EpochOutOfRangeException) { return true; }
        });
    }

    [Theory]
    [InlineData(0L, false)]
    [InlineData(-5L, false)]
    [InlineData(1L, true)]
    [InlineData(Epochs.Max, true)]
    [InlineData(Epochs.Max + 1, false)]
    [InlineData(long.MaxValue, false)]
    [InlineData(long.MinValue, false)]
    public void Only_epochs_in_one_to_the_bound_are_valid(long epoch, bool valid)
    {
        Assert.Equal(valid, Epochs.IsValid(epoch));
        Assert.Equal(valid, SegmentAuthority.EpochRefusal(epoch) is null);
    }

    [Fact]
    public void A_planner_over_a_segment_at_the_bound_fails_with_the_bound_error_not_an_overflowed_epoch()
    {
        var reports = Enumerable.Range(0, 6).Select(r => new SegmentReport(0, r, r == 2 ? Epochs.Max : 3, Lsn.Zero, Lsn.Zero, [])).ToList();
        var e = Assert.Throws<EpochOutOfRangeException>(() => RecoveryPlanner.Plan(1, reports, lal: 10));
        Assert.Equal(Epochs.Max, e.Epoch);
    }

    // ---------------------------------------------------------------- the sender's node

    [Fact]
    public void Without_a_cluster_only_local_senders_are_trusted()
    {
        var standalone = NodeMembership.Standalone("akka://test");
        Assert.Null(SegmentAuthority.NodeRefusal("akka://test", standalone));
        Assert.Contains("not in a cluster", SegmentAuthority.NodeRefusal(Stranger, standalone));
    }

    [Fact]
    public void In_a_cluster_a_sender_needs_a_member_node_with_the_role()
    {
        Assert.Null(SegmentAuthority.NodeRefusal(Self, Cluster));
        Assert.Null(SegmentAuthority.NodeRefusal(Standby, Cluster));
        Assert.Equal($"node {Storage} does not carry the writer role (roles: storage, voter, az-b)", SegmentAuthority.NodeRefusal(Storage, Cluster));
        Assert.Equal($"node {Client} does not carry the writer role (roles: client)", SegmentAuthority.NodeRefusal(Client, Cluster));
        Assert.Equal($"node {Stranger} is not a member of the cluster", SegmentAuthority.NodeRefusal(Stranger, Cluster));
        Assert.Null(SegmentAuthority.NodeRefusal(Storage, Cluster, SegmentAuthority.StorageRole));
        Assert.NotNull(SegmentAuthority.NodeRefusal(Standby, Cluster, SegmentAuthority.StorageRole));
    }

    [Fact]
    public void A_local_sender_on_a_node_without_the_writer_role_is_refused()
    {
        var storageNode = Cluster with { Self = Storage, SelfRoles = ["storage"] };
        Assert.Contains("this node", SegmentAuthority.NodeRefusal(Storage, storageNode));
    }

    // ---------------------------------------------------------------- fence

    [Fact]
    public void A_fence_above_the_segment_is_accepted_from_a_writer_node_only_and_within_the_bound()
    {
        Assert.Equal(SegmentVerdict.Accept, SegmentAuthority.Fence(6, 5, Self, Standby, Writer).Verdict);
        var notWriter = SegmentAuthority.Fence(6, 5, Self, Client, NotWriter);
        Assert.Equal((SegmentVerdict.Refuse, "not-a-writer-node"), (notWriter.Verdict, notWriter.Kind));
        foreach (var bad in new[] { long.MaxValue, Epochs.Max + 1, -1L })
        {
            var d = SegmentAuthority.Fence(bad, 5, Self, Self, Writer);
            Assert.Equal((SegmentVerdict.Refuse, "epoch-out-of-range"), (d.Verdict, d.Kind));
            Assert.Contains(bad.ToString(), d.Refusal);
        }
        Assert.Equal(SegmentVerdict.Accept, SegmentAuthority.Fence(Epochs.Max, 5, Self, Self, Writer).Verdict);
    }

    [Fact]
    public void A_fence_at_the_segments_epoch_is_taken_from_its_owner_or_when_the_owner_is_unknown()
    {
        Assert.Equal(SegmentVerdict.Accept, SegmentAuthority.Fence(5, 5, Self, Self, Writer).Verdict);
        Assert.Equal(SegmentVerdict.Accept, SegmentAuthority.Fence(5, 5, null, Standby, Writer).Verdict);
        var other = SegmentAuthority.Fence(5, 5, Self, Standby, Writer);
        Assert.Equal((SegmentVerdict.Refuse, "other-recovery"), (other.Verdict, other.Kind));
        Assert.Contains(Self, other.Refusal);
        Assert.Equal(SegmentVerdict.Stale, SegmentAuthority.Fence(4, 5, Self, Standby, Writer).Verdict);
    }

    // ---------------------------------------------------------------- OpenEpoch

    [Fact]
    public void OpenEpoch_is_taken_only_at_the_fenced_epoch_from_the_node_that_fenced_it()
    {
        Assert.Equal(SegmentVerdict.Accept, SegmentAuthority.Open(5, 5, Self, Self, Writer).Verdict);
        Assert.Equal(SegmentVerdict.Stale, SegmentAuthority.Open(4, 5, Self, Self, Writer).Verdict);
        // The rogue OpenEpoch(e + 1000): never fenced at that epoch.
        var rogue = SegmentAuthority.Open(1005, 5, Self, Self, Writer);
        Assert.Equal((SegmentVerdict.Refuse, "not-fenced"), (rogue.Verdict, rogue.Kind));
        Assert.Equal("not-a-writer-node", SegmentAuthority.Open(5, 5, Self, Client, NotWriter).Kind);
        Assert.Equal("other-recovery", SegmentAuthority.Open(5, 5, Self, Standby, Writer).Kind);
        Assert.Equal("owner-unknown", SegmentAuthority.Open(5, 5, null, Self, Writer).Kind);
        Assert.Equal("epoch-out-of-range", SegmentAuthority.Open(long.MaxValue, 5, Self, Self, Writer).Kind);
        Assert.Equal("epoch-out-of-range", SegmentAuthority.Open(0, 0, Self, Self, Writer).Kind);
    }

    // ---------------------------------------------------------------- redo

    [Fact]
    public void Redo_is_taken_only_from_the_node_that_opened_the_epoch()
    {
        Assert.Equal(SegmentVerdict.Accept, SegmentAuthority.Redo(5, 5, 5, Self, Self, NotWriter).Verdict);   // the owner: no membership lookup
        var other = SegmentAuthority.Redo(5, 5, 5, Self, Standby, Writer);
        Assert.Equal((SegmentVerdict.Refuse, "not-the-writer"), (other.Verdict, other.Kind));
        Assert.Equal("not-a-writer-node", SegmentAuthority.Redo(5, 5, 5, Self, Client, NotWriter).Kind);
        Assert.Equal(SegmentVerdict.Accept, SegmentAuthority.Redo(5, 5, 5, null, Standby, Writer).Verdict);   // restarted: a writer node
        Assert.Equal("not-a-writer-node", SegmentAuthority.Redo(5, 5, 5, null, Client, NotWriter).Kind);
        Assert.Equal(SegmentVerdict.Stale, SegmentAuthority.Redo(4, 5, 4, Self, Self, Writer).Verdict);
        Assert.Equal(SegmentVerdict.Stale, SegmentAuthority.Redo(0, 1, 1, Self, Self, Writer).Verdict);   // below: stale, as ever
        Assert.Equal("epoch-out-of-range", SegmentAuthority.Redo(0, 0, 0, null, Self, Writer).Kind);      // a fresh segment
        Assert.Equal(SegmentVerdict.Stale, SegmentAuthority.Redo(-3, 0, 0, null, Self, Writer).Verdict);   // below any epoch: changes nothing
        Assert.Equal(SegmentVerdict.NotOpened, SegmentAuthority.Redo(5, 5, 4, Self, Self, Writer).Verdict);
        Assert.Equal("epoch-out-of-range", SegmentAuthority.Redo(long.MaxValue, 5, 5, Self, Self, Writer).Kind);
    }

    [Fact]
    public void Pages_are_read_only_by_the_owner_or_a_writer_node()
    {
        Assert.Equal(SegmentVerdict.Accept, SegmentAuthority.Read(Self, Self, NotWriter).Verdict);
        Assert.Equal(SegmentVerdict.Accept, SegmentAuthority.Read(Self, Standby, Writer).Verdict);
        Assert.Equal("not-a-writer-node", SegmentAuthority.Read(Self, Client, NotWriter).Kind);
        Assert.Equal("not-a-writer-node", SegmentAuthority.Read(null, Client, NotWriter).Kind);
    }

    [Fact]
    public void A_refusal_names_segment_sender_and_epoch()
    {
        Assert.Equal("segment pg-3-4 (PG 3, replica 4) refused a fence of epoch 9 from akka.tcp://x@h:1/user/rogue: why",
            SegmentAuthority.Refusal(3, 4, "a fence", 9, "akka.tcp://x@h:1/user/rogue", "why"));
    }
}
