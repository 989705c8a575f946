using Akka.Actor;
using Akka.Cluster;
using AkkaCluster = Akka.Cluster.Cluster;
using Akka.Configuration;
using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Core.Recovery;
using ActorDb.Core.Redo;
using ActorDb.Core.Storage;
using ActorDb.Hosting;
using ActorDb.Storage;
using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Tests.Scenarios;

/// <summary>
/// Issue 11, item 2, across nodes in one process: an embedded node (writer + storage, a one-node cluster on loopback),
/// a member with only the <c>client</c> role, and a process that never joined, both sending straight to the node's
/// segment shard region (<c>/system/sharding/segment</c>) as the attacker did. Fences, OpenEpochs and redo
/// batches from them are refused with an error naming sender, PG, replica and epoch; nothing is written; the volume
/// keeps committing.
/// </summary>
public class ForeignSenderClusterTests
{
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(10);
    private static readonly TableSchema Kv = new("kv", [new ColumnDef("id", ColumnType.Int64), new ColumnDef("v", ColumnType.String)]);

    private static ActorSystem Foreign(string name, string provider, string roles, string? seed) =>
        ActorSystem.Create(name, ConfigurationFactory.ParseString(
                $"akka.actor.provider = {provider}\n" +
                "akka.loglevel = WARNING\nakka.log-dead-letters = off\nakka.log-dead-letters-during-shutdown = off\n" +
                "akka.remote.dot-netty.tcp.hostname = 127.0.0.1\nakka.remote.dot-netty.tcp.port = 0\n" +
                $"akka.cluster.roles = [{roles}]\n" +
                (seed is null ? "" : $"akka.cluster.seed-nodes = [\"{seed}\"]\n"))
            .WithFallback(ActorDbSettings.DefaultConfig()));   // ActorDb's serializer bindings, as every ActorDb process has

    private static async Task<CommitInfo> InsertAsync(IActorDbClient client, long key, string value)
    {
        await using var tx = client.Begin();
        await tx.InsertAsync(Kv.Name, key, new Dictionary<string, object?> { ["v"] = value });
        return await tx.CommitAsync();
    }

    [Fact]
    public async Task A_client_member_and_a_non_member_cannot_fence_open_or_write_a_segment_and_the_volume_keeps_serving()
    {
        using var dir = new TestDirectory();
        await using var node = await EmbeddedNode.StartAsync(new ActorDbOptions { DataDir = dir.Path, PgCount = 1 }, "WARNING");
        await node.Client.CreateTableAsync(Kv);
        for (var i = 0; i < 5; i++) Assert.True((await InsertAsync(node.Client, i, $"v{i}")).CommitLsn > 0);
        var status = await node.Client.GetStatusAsync();
        var nodeAddress = AkkaCluster.Get(node.System).SelfAddress;
        Assert.Contains(SegmentAuthority.WriterRole, AkkaCluster.Get(node.System).SelfRoles);

        // Every segment has synced what was committed, so that its log stays still unless a foreign record gets in.
        IReadOnlyList<SegmentStatus> before = [];
        for (var attempt = 0; attempt < 100; attempt++)
        {
            before = await node.GetSegmentStatusesAsync(Short);
            if (before.Count == 6 && before.All(s => s.Scl == status.Allocated)) break;
            await Task.Delay(100);
        }
        Assert.All(before, s => Assert.Equal(status.Allocated, s.Scl));
        byte[] Meta(int r) => File.ReadAllBytes(Path.Combine(SegmentActor.DirectoryOf(dir.Path, 0, r), SegmentMetadata.FileName));
        var metaBefore = Enumerable.Range(0, 6).Select(Meta).ToList();

        var member = Foreign(node.System.Name, "cluster", "client", nodeAddress.ToString());
        var stranger = Foreign(node.System.Name, "remote", "", null);
        try
        {
            var up = new TaskCompletionSource();
            AkkaCluster.Get(member).RegisterOnMemberUp(() => up.TrySetResult());
            await up.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var memberAddress = AkkaCluster.Get(member).SelfAddress.ToString();
            // The node must see the client as a member (Up), or its refusals would say "not a member" for the wrong reason.
            for (var attempt = 0; attempt < 100 && !AkkaCluster.Get(node.System).State.Members.Any(m => m.Address.ToString() == memberAddress && m.Status == MemberStatus.Up); attempt++)
                await Task.Delay(100);
            var strangerAddress = ((ExtendedActorSystem)stranger).Provider.DefaultAddress.ToString();

            var epoch = status.Epoch;
            var record = new RedoRecord(status.Allocated + 1000, status.Allocated, 0, 3, RedoKind.PageDelta, false, 77, epoch, new byte[] { 8, 0, 1, 0, 42 });
            foreach (var (system, address, why) in new[]
                     {
                         (member, memberAddress, $"node {memberAddress} does not carry the writer role (roles: client)"),
                         (stranger, strangerAddress, $"node {strangerAddress} is not a member of the cluster"),
                     })
            {
                var region = system.ActorSelection($"{nodeAddress}/system/sharding/segment");
                for (var r = 0; r < 6; r++)
                {
                    foreach (var (message, what, messageEpoch) in new (object, string, long)[]
                             {
                                 (new GetSegmentState(0, r, epoch + 1), "a fence", epoch + 1),
                                 (new OpenEpoch(0, r, epoch, Lsn.Zero, new Lsn(1_000_000_000), Lsn.Zero), "an OpenEpoch", epoch),
                                 (new RedoBatch(0, r, epoch, [record], status.Vdl), "a redo batch", epoch),
                                 (new ReadPage(0, r, 0, new Lsn(long.MaxValue), Lsn.Zero), "a read of page 0", epoch),
                             })
                    {
                        var refused = Assert.IsType<RedoRejected>(await region.Ask<object>(message, Short));
                        Assert.True(refused.Refused, refused.Reason);
                        Assert.Equal((0, r, epoch), (refused.Pg, refused.Replica, refused.SegmentEpoch));
                        Assert.StartsWith($"segment pg-0-{r} (PG 0, replica {r}) refused {what} of epoch {messageEpoch} from {address}/temp/", refused.Reason);
                        Assert.EndsWith(why, refused.Reason);
                    }
                    // The overflow fence: refused for its epoch before anything else is looked at.
                    var overflow = Assert.IsType<RedoRejected>(await region.Ask<object>(new GetSegmentState(0, r, long.MaxValue), Short));
                    Assert.Contains($"epoch {long.MaxValue} is outside 1..{Epochs.Max}", overflow.Reason);
                    // Records posing as a peer's catch-up answer (they chain onto the segment's SCL) are dropped: not from
                    // a storage node. The status asked next, on the same link, comes after it.
                    region.Tell(new PeerRedo(0, (r + 1) % 6, [record], null, record.Lsn));
                    Assert.Equal(before.Single(x => x.Replica == r).MaxLsn, (await region.Ask<SegmentStatus>(new GetSegmentStatus(0, r), Short)).MaxLsn);
                }
            }

            // Nothing was written or persisted, and the volume keeps serving in the same epoch.
            var after = await node.GetSegmentStatusesAsync(Short);
            Assert.Equal(6, after.Count);
            foreach (var s in after)
            {
                var b = before.Single(x => x.Replica == s.Replica);
                Assert.Equal((epoch, epoch, b.MaxLsn, b.BytesWritten), (s.Epoch, s.OpenedEpoch, s.MaxLsn, s.BytesWritten));
                Assert.Equal(metaBefore[s.Replica], Meta(s.Replica));
            }
            for (var i = 5; i < 25; i++) Assert.True((await InsertAsync(node.Client, i, $"v{i}")).CommitLsn > 0);
            await using (var tx = node.Client.Begin())
            {
                Assert.Equal("v3", (await tx.GetAsync(Kv.Name, 3))!.Fields["v"]);
                Assert.Equal("v24", (await tx.GetAsync(Kv.Name, 24))!.Fields["v"]);
                await tx.CommitAsync();
            }
            Assert.Equal(epoch, (await node.Client.GetStatusAsync()).Epoch);
        }
        finally
        {
            await Task.WhenAll(member.Terminate(), stranger.Terminate());
        }
    }
}
