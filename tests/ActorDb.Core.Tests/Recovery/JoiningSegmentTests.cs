using ActorDb.Core.Quorum;
using ActorDb.Core.Recovery;
using ActorDb.Core.Redo;
using ActorDb.Core.Storage;

namespace ActorDb.Core.Tests.Recovery;

/// <summary>design.md: a segment that starts empty "does not count in any quorum until it has caught up", a recovery's
/// read quorum included.</summary>
public class JoiningSegmentTests
{
    private static Lsn L(long v) => new(v);

    [Fact]
    public void A_segment_below_its_join_target_or_never_opened_in_an_opened_volume_does_not_count()
    {
        var full = new SegmentReport(0, 0, 3, L(500), L(500), [], OpenedEpoch: 3);
        var joining = new SegmentReport(0, 5, 3, L(100), L(520), [], OpenedEpoch: 3, JoinTarget: L(480));
        var joined = joining with { Scl = L(480) };
        var neverOpened = new SegmentReport(0, 4, 3, L(0), L(0), [], OpenedEpoch: 0);
        var unknown = new SegmentReport(0, 3, 3, L(400), L(400), []);   // an older sender: no opened epoch reported
        Assert.True(QuorumRules.CountsInReadQuorum(full, volumeOpened: true));
        Assert.False(QuorumRules.CountsInReadQuorum(joining, volumeOpened: true));
        Assert.True(QuorumRules.CountsInReadQuorum(joined, volumeOpened: true));
        Assert.False(QuorumRules.CountsInReadQuorum(neverOpened, volumeOpened: true));
        Assert.True(QuorumRules.CountsInReadQuorum(neverOpened, volumeOpened: false));   // a new volume: all are new
        Assert.True(QuorumRules.CountsInReadQuorum(unknown, volumeOpened: true));
    }

    [Fact]
    public void A_commit_acknowledged_by_a_segment_that_then_lost_its_disk_is_not_lost_to_a_read_quorum_with_it()
    {
        // CPL 50 reached replicas 0, 1, 2 and 5; replica 5 then lost its disk and rejoined empty (join target 50).
        // Replicas 3 and 4 lag at 40. {3, 4, 5} would plan VDL 40 and annul 50: the joiner must not make up the quorum.
        var c40 = new CplInfo(L(40), [L(40)]);
        var c50 = new CplInfo(L(50), [L(50)]);
        SegmentReport[] lagging = [new(0, 3, 2, L(40), L(40), [c40], OpenedEpoch: 2), new(0, 4, 2, L(40), L(40), [c40], OpenedEpoch: 2)];
        var empty = new SegmentReport(0, 5, 2, L(0), L(0), [], OpenedEpoch: 2, JoinTarget: L(50));
        Assert.False(QuorumRules.HasReadQuorum(1, [.. lagging, empty]));
        var error = Assert.Throws<InvalidOperationException>(() => RecoveryPlanner.Plan(1, [.. lagging, empty], lal: 100, epoch: 3));
        Assert.Contains("joining, not counted: 5", error.Message);

        // With one of the segments that hold it, the commit is found.
        var holder = new SegmentReport(0, 0, 2, L(50), L(50), [c50], OpenedEpoch: 2);
        Assert.True(QuorumRules.HasReadQuorum(1, [.. lagging, empty, holder]));
        Assert.Equal(L(50), RecoveryPlanner.Plan(1, [.. lagging, empty, holder], lal: 100, epoch: 3).Vdl);
    }

    [Fact]
    public void A_replacement_never_opened_does_not_count_but_a_new_volume_opens_with_new_segments()
    {
        var c40 = new CplInfo(L(40), [L(40)]);
        SegmentReport[] twoOpened = [new(0, 0, 1, L(40), L(40), [c40], OpenedEpoch: 1), new(0, 1, 1, L(40), L(40), [c40], OpenedEpoch: 1)];
        var replacement = new SegmentReport(0, 2, 0, L(0), L(0), [], OpenedEpoch: 0);
        Assert.False(QuorumRules.HasReadQuorum(1, [.. twoOpened, replacement]));

        var brandNew = Enumerable.Range(0, 3).Select(r => new SegmentReport(0, r, 0, L(0), L(0), [], OpenedEpoch: 0)).ToList();
        Assert.True(QuorumRules.HasReadQuorum(1, brandNew));
        Assert.Equal(1, RecoveryPlanner.Plan(1, brandNew, lal: 100).Epoch);
    }

    [Fact]
    public void The_join_target_is_durable_in_segment_meta_and_version_2_files_read_as_not_joining()
    {
        using var dir = new Storage.TempDir();
        var meta = SegmentMetadata.Default.WithEpoch(2, L(30)).WithJoinTarget(L(480));
        meta.Save(dir.Path, fsync: true);
        var loaded = SegmentMetadata.Load(dir.Path);
        Assert.Equal(L(480), loaded.JoinTarget);
        Assert.Equal(meta, loaded);
        Assert.NotEqual(meta, meta.WithJoinTarget(Lsn.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => meta.WithJoinTarget(L(-1)));

        // A version 2 file (written before the join target existed): the same bytes without it.
        // The current file ends with the join target (8), the distrusted log position (16, version 4) and the CRC (4).
        var v4 = meta.WithJoinTarget(Lsn.Zero).Serialize();
        var v2 = new byte[v4.Length - 24];
        v4.AsSpan(0, v4.Length - 28).CopyTo(v2);
        BitConverter.TryWriteBytes(v2.AsSpan(4, 2), (ushort)2);
        BitConverter.TryWriteBytes(v2.AsSpan(v2.Length - 4), Crc32C.Compute(v2.AsSpan(0, v2.Length - 4)));
        var old = SegmentMetadata.Deserialize(v2, "v2");
        Assert.Equal(Lsn.Zero, old.JoinTarget);
        Assert.Equal(2, old.OpenedEpoch);
        Assert.Equal(L(30), old.Vdl);
    }
}
