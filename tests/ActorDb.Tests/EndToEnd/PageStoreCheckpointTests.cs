using ActorDb.Client;
using ActorDb.Core;
using ActorDb.Hosting;

namespace ActorDb.Tests.EndToEnd;

/// <summary>Segments checkpoint materialized pages to their page store and delete the log below it; the volume reads its
/// rows back through the page store, before and after a reopen.</summary>
public class PageStoreCheckpointTests
{
    private static readonly TableSchema Docs = new("docs", [new ColumnDef("id", ColumnType.Int64), new ColumnDef("body", ColumnType.String)]);

    // Small files and checkpoints so a few MB of redo roll, checkpoint and collect several times; a tiny buffer cache so
    // reads go to storage.
    private const string SmallCheckpoints = """
        actordb.segment.checkpoint-bytes = 262144
        actordb.segment.max-file-bytes = 1048576
        actordb.segment.preallocate-bytes = 262144
        actordb.writer.buffer-cache-pages = 16
        """;

    private static string Body(long id) => new string((char)('a' + id % 26), 900) + id;

    [Fact]
    public async Task Log_below_the_checkpoint_is_deleted_and_every_row_reads_back_from_the_page_store_before_and_after_reopen()
    {
        using var dir = new TestDirectory();
        const int rows = 8000;
        var options = new ActorDbOptions { DataDir = dir.Path, Hocon = SmallCheckpoints };
        await using (var node = await EmbeddedNode.StartAsync(options, "WARNING"))
        {
            var db = node.Client;
            await db.CreateTableAsync(Docs);
            for (var i = 0; i < rows; i += 20)
            {
                await using var tx = db.Begin();
                for (var id = i; id < i + 20; id++)
                    await tx.InsertAsync("docs", (long)id, new Dictionary<string, object?> { ["body"] = Body(id) });
                await tx.CommitAsync();
            }
            await AssertAllRowsAsync(db, rows);

            var segments = await node.GetSegmentStatusesAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(6, segments.Count);
            foreach (var s in segments)
            {
                Assert.True(s.Checkpoints >= 2, $"segment {s.Replica}: {s.Checkpoints} checkpoints");
                Assert.True(s.Checkpoint > Lsn.Zero && s.Checkpoint <= s.Scl, $"segment {s.Replica}: checkpoint {s.Checkpoint}, SCL {s.Scl}");
                // More than 6 MB of log was written; what is left on disk is the part above the checkpoint before last
                // (log is kept one checkpoint longer, for peers that lag a little).
                Assert.True(s.BytesWritten > 6_000_000, $"segment {s.Replica}: {s.BytesWritten} log bytes written");
                Assert.True(s.BytesOnDisk < s.BytesWritten / 2, $"segment {s.Replica}: {s.BytesOnDisk} of {s.BytesWritten} log bytes still on disk");
            }
        }

        await using (var node = await EmbeddedNode.StartAsync(options, "WARNING"))
        {
            var segments = await node.GetSegmentStatusesAsync(TimeSpan.FromSeconds(10));
            foreach (var s in segments)
                Assert.True(s.BytesOnDisk < 3_500_000, $"segment {s.Replica}: {s.BytesOnDisk} log bytes on disk after reopen");
            await AssertAllRowsAsync(node.Client, rows);
            await using var tx = node.Client.Begin();
            await tx.InsertAsync("docs", (long)rows, new Dictionary<string, object?> { ["body"] = Body(rows) });
            await tx.CommitAsync();
        }
    }

    private static async Task AssertAllRowsAsync(IActorDbClient db, int rows)
    {
        await using var tx = db.Begin();
        var found = await tx.ScanAsync("docs", 0L, rows + 10);
        Assert.Equal(rows, found.Count);
        for (var i = 0; i < rows; i++)
        {
            Assert.Equal((object)(long)i, found[i].Key);
            Assert.Equal(Body(i), found[i].Fields["body"]);
        }
        await tx.CommitAsync();
    }
}
