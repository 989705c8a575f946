using ActorDb.Client;
using ActorDb.Hosting;

namespace ActorDb.Tests.EndToEnd;

public class EmbeddedNodeTests
{
    private static readonly TableSchema Accounts = new("accounts", [new ColumnDef("id", ColumnType.Int64), new ColumnDef("balance", ColumnType.Int64), new ColumnDef("owner", ColumnType.String)]);

    [Fact]
    public async Task Committed_rows_survive_a_clean_stop_and_reopen()
    {
        using var dir = new TestDirectory();
        await using (var node = await EmbeddedNode.StartAsync(new ActorDbOptions { DataDir = dir.Path, PgCount = 2 }, "WARNING"))
        {
            var db = node.Client;
            await db.CreateTableAsync(Accounts);
            for (var i = 0; i < 500; i++)
            {
                await using var tx = db.Begin();
                await tx.InsertAsync("accounts", (long)i, new Dictionary<string, object?> { ["balance"] = 100L * i, ["owner"] = $"owner-{i}" });
                var info = await tx.CommitAsync();
                Assert.True(info.Vdl >= info.CommitLsn && info.CommitLsn > 0);
            }
            await using (var tx = db.Begin())
            {
                Assert.True(await tx.UpdateAsync("accounts", 7L, new Dictionary<string, object?> { ["balance"] = -1L }));
                Assert.True(await tx.DeleteAsync("accounts", 8L));
                await tx.CommitAsync();
            }
            await using (var tx = db.Begin())
            {
                await tx.InsertAsync("accounts", 9999L, new Dictionary<string, object?> { ["balance"] = 1L });
                await tx.RollbackAsync();
            }
        }

        await using (var node = await EmbeddedNode.StartAsync(new ActorDbOptions { DataDir = dir.Path, PgCount = 2 }, "WARNING"))
        {
            await using var tx = node.Client.Begin();
            var rows = await tx.ScanAsync("accounts", 0L, 1000);
            Assert.Equal(499, rows.Count);
            Assert.Equal(-1L, (await tx.GetAsync("accounts", 7L))!.Fields["balance"]);
            Assert.Null(await tx.GetAsync("accounts", 8L));
            Assert.Null(await tx.GetAsync("accounts", 9999L));
            var r42 = await tx.GetAsync("accounts", 42L);
            Assert.Equal(4200L, r42!.Fields["balance"]);
            Assert.Equal("owner-42", r42.Fields["owner"]);
            await tx.CommitAsync();
        }
    }
}
