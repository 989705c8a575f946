using ActorDb.Core.Pages;
using CsCheck;
using static ActorDb.Core.Tests.Pages.BTreeTestSupport;

namespace ActorDb.Core.Tests.Pages;

/// <summary>
/// "The log is the database": replaying the deltas of every page the writer marked dirty onto a
/// storage copy (new pages start zeroed) reproduces the writer's pages byte for byte.
/// </summary>
public class BTreeRedoTests
{
    /// <summary>Storage side: page images built only from deltas, in LSN order.</summary>
    private sealed class Storage(int pageSize)
    {
        public readonly Dictionary<long, byte[]> Images = new();
        public long DeltaBytes;

        public void Apply(long pageNo, Lsn lsn, byte[] delta)
        {
            if (!Images.TryGetValue(pageNo, out var image)) Images[pageNo] = image = new byte[pageSize];
            PageDelta.Apply(image, delta);
            BitConverter.TryWriteBytes(image.AsSpan(0, 8), lsn.Value); // storage owns the LSN header
            DeltaBytes += delta.Length;
        }
    }

    /// <summary>After an operation: one redo record per dirty page, stamped with a new LSN on both sides.</summary>
    private static void ShipRedo(MemoryPageSource writer, Storage storage, ref Lsn lsn)
    {
        foreach (var page in writer.Pages.Values)
            if (page.IsDirtyTracked)
                Assert.Contains(page.PageNo, writer.DirtyPages); // modified without MarkDirty: redo would be lost
        foreach (long pageNo in writer.DirtyPages.Order())
        {
            var page = writer.Pages[pageNo];
            var delta = page.TakeDelta();
            if (delta.Length == 0) continue;
            lsn += 1;
            page.PageLsn = lsn;
            storage.Apply(pageNo, lsn, delta);
            Assert.Equal(page.Image, storage.Images[pageNo]);
        }
        writer.ClearDirty();
    }

    private static void AssertSameVolume(MemoryPageSource writer, Storage storage)
    {
        Assert.Equal(writer.Pages.Keys.Order(), storage.Images.Keys.Order());
        foreach (var (pageNo, page) in writer.Pages)
            Assert.True(page.Image.AsSpan().SequenceEqual(storage.Images[pageNo]), $"page {pageNo} differs");
    }

    [Fact]
    public void Replaying_deltas_reproduces_every_page_byte_for_byte()
    {
        int maxValue = BTree.MaxValueBytesFor(4096);
        GenOp(keySpace: 3000, maxValue).Array[1500, 3000].Sample(ops =>
        {
            var writer = new MemoryPageSource(4096);
            var storage = new Storage(4096);
            var lsn = Lsn.Zero;
            var tree = BTree.Create(writer, 0);
            ShipRedo(writer, storage, ref lsn);
            var model = NewModel();
            foreach (var op in ops)
            {
                RunAndCheck(tree, model, op);
                ShipRedo(writer, storage, ref lsn);
            }
            AssertSameVolume(writer, storage);
            AssertTreeEqualsModel(tree, model);

            // And a tree opened over the storage images reads the same data.
            var replica = new MemoryPageSource(4096);
            foreach (var (pageNo, image) in storage.Images) replica.Put(Page.FromImage(pageNo, (byte[])image.Clone()));
            AssertTreeEqualsModel(new BTree(replica, tree.RootPageNo), model);
        }, iter: 12, threads: 1);
    }

    [Fact]
    public void Sequential_load_redo_is_much_smaller_than_page_writes()
    {
        var writer = new MemoryPageSource(8192);
        var storage = new Storage(8192);
        var lsn = Lsn.Zero;
        var tree = BTree.Create(writer, 0);
        ShipRedo(writer, storage, ref lsn);
        const int n = 5000, valueSize = 100;
        for (int i = 0; i < n; i++)
        {
            tree.Insert(KeyEncoding.EncodeInt64(i), Value(valueSize, (byte)i));
            ShipRedo(writer, storage, ref lsn);
        }
        AssertSameVolume(writer, storage);
        // Each insert ships its cell plus slot/header bytes, far below one 8 KiB page per insert.
        double perInsert = (double)storage.DeltaBytes / n;
        Assert.True(perInsert < 3 * (valueSize + 8 + 4), $"{perInsert:F0} delta bytes per insert");
    }
}
