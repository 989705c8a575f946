using ActorDb.Core.Pages;
using CsCheck;
using static ActorDb.Core.Tests.Pages.BTreeTestSupport;

namespace ActorDb.Core.Tests.Pages;

/// <summary>The B+tree against a SortedDictionary reference under random operation sequences.</summary>
public class BTreeModelTests
{
    [Fact]
    public void Random_operations_match_a_sorted_dictionary_on_4K_pages()
    {
        int maxValue = BTree.MaxValueBytesFor(4096);
        int maxHeight = 0, runs = 0;
        GenOp(keySpace: 3000, maxValue).Array[1500, 3000].Sample(ops =>
        {
            var source = new MemoryPageSource(4096);
            var tree = BTree.Create(source, 0);
            long root = tree.RootPageNo;
            var model = NewModel();
            foreach (var op in ops) RunAndCheck(tree, model, op);
            Assert.Equal(root, tree.RootPageNo);
            AssertTreeEqualsModel(tree, model);
            maxHeight = Math.Max(maxHeight, tree.Height());
            runs++;
        }, iter: 25, threads: 1);
        Assert.Equal(25, runs);
        Assert.True(maxHeight >= 3, $"max height {maxHeight}: not enough volume for internal splits");
    }

    [Fact]
    public void Random_operations_match_a_sorted_dictionary_on_8K_pages_with_small_values()
    {
        GenOp(keySpace: 5000, maxValue: 64).Array[2000, 4000].Sample(ops =>
        {
            var source = new MemoryPageSource(8192);
            var tree = BTree.Create(source, 0);
            var model = NewModel();
            foreach (var op in ops) RunAndCheck(tree, model, op);
            AssertTreeEqualsModel(tree, model);
        }, iter: 12, threads: 1);
    }

    [Fact]
    public void Enough_volume_grows_three_levels_and_the_root_never_moves()
    {
        var source = new MemoryPageSource(4096);
        var tree = BTree.Create(source, 0);
        var model = NewModel();
        var rnd = new Random(42);
        for (int i = 0; i < 4000; i++)
        {
            int k = rnd.Next(20000);
            var key = Key(k);
            var value = Value(rnd.Next(0, 300), (byte)i);
            if (tree.Insert(key, value)) model[key] = value;
        }
        Assert.Equal(0, tree.RootPageNo);
        Assert.Equal(NodeType.Internal, NodeLayout.GetNodeType(source.Pages[0]));
        Assert.True(tree.Height() >= 3, $"height {tree.Height()}");
        AssertTreeEqualsModel(tree, model);
    }

    [Fact]
    public void Updates_that_grow_values_split_leaves()
    {
        var source = new MemoryPageSource(4096);
        var tree = BTree.Create(source, 0);
        var model = NewModel();
        for (int i = 0; i < 600; i++)
        {
            var key = KeyEncoding.EncodeInt64(i);
            Assert.True(tree.Insert(key, Value(1, 1)));
            model[key] = Value(1, 1);
        }
        int pages = source.Pages.Count;
        for (int i = 0; i < 600; i++)
        {
            var key = KeyEncoding.EncodeInt64(i * 7 % 600);
            var value = Value(BTree.MaxValueBytesFor(source.PageSize) - i % 50, (byte)i);
            Assert.True(tree.Update(key, value));
            model[key] = value;
        }
        Assert.True(source.Pages.Count > 20 * pages, $"{pages} -> {source.Pages.Count} pages");
        AssertTreeEqualsModel(tree, model);
        // Shrink them again (in place) and check.
        foreach (var key in model.Keys.ToList())
        {
            Assert.True(tree.Update(key, Value(3, 9)));
            model[key] = Value(3, 9);
        }
        AssertTreeEqualsModel(tree, model);
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(8192)]
    [InlineData(65536)]
    public void Maximal_entries_always_fit(int pageSize)
    {
        var source = new MemoryPageSource(pageSize);
        var tree = BTree.Create(source, 0);
        var model = NewModel();
        var rnd = new Random(pageSize);
        for (int i = 0; i < 300; i++)
        {
            var key = new byte[BTree.MaxKeyBytes];
            rnd.NextBytes(key);
            var value = Value(BTree.MaxValueBytesFor(source.PageSize), (byte)i);
            Assert.True(tree.Insert(key, value));
            model[key] = value;
        }
        AssertTreeEqualsModel(tree, model);
    }

    [Fact]
    public void Sequential_inserts_fill_leaves_and_descending_inserts_work()
    {
        var source = new MemoryPageSource(8192);
        var tree = BTree.Create(source, 0);
        var model = NewModel();
        for (int i = 0; i < 20000; i++)
        {
            var key = KeyEncoding.EncodeInt64(i);
            var value = Value(100, (byte)i);
            Assert.True(tree.Insert(key, value));
            model[key] = value;
        }
        AssertTreeEqualsModel(tree, model);
        // 20000 entries of 2 + 4 + 8 + 100 bytes; full leaves hold (8192 - 40) / 114 = 71.
        int minimalLeaves = (20000 + 70) / 71;
        Assert.True(source.Pages.Count < minimalLeaves * 1.1, $"{source.Pages.Count} pages for {minimalLeaves} full leaves");

        var desc = BTree.Create(source, 0);
        var model2 = NewModel();
        for (int i = 5000; i > 0; i--)
        {
            var key = KeyEncoding.EncodeInt64(-i);
            Assert.True(desc.Insert(key, Value(50, 1)));
            model2[key] = Value(50, 1);
        }
        AssertTreeEqualsModel(desc, model2);
        AssertTreeEqualsModel(tree, model); // the trees share the source but not pages
    }

    [Fact]
    public void Deleting_everything_leaves_a_valid_empty_tree_that_scans_past_empty_leaves()
    {
        var source = new MemoryPageSource(4096);
        var tree = BTree.Create(source, 0);
        for (int i = 0; i < 3000; i++) tree.Insert(KeyEncoding.EncodeInt64(i), Value(40, 1));
        int pages = source.Pages.Count;
        // Delete all but every 500th key: many leaves become empty.
        for (int i = 0; i < 3000; i++)
            if (i % 500 != 0) Assert.True(tree.Delete(KeyEncoding.EncodeInt64(i)));
        tree.Validate();
        Assert.Equal(6, tree.Count());
        var scan = tree.Scan(KeyEncoding.EncodeInt64(1), 10);
        Assert.Equal(new long[] { 500, 1000, 1500, 2000, 2500 }, scan.Select(e => KeyEncoding.DecodeInt64(e.Key)));
        for (int i = 0; i < 3000; i += 500) Assert.True(tree.Delete(KeyEncoding.EncodeInt64(i)));
        Assert.False(tree.Delete(KeyEncoding.EncodeInt64(0)));
        tree.Validate();
        Assert.Equal(0, tree.Count());
        Assert.Empty(tree.Scan(ReadOnlySpan<byte>.Empty, 100));
        Assert.Equal(pages, source.Pages.Count); // nothing freed, nothing allocated
        // Reinserting reuses the empty leaves.
        for (int i = 0; i < 3000; i++) Assert.True(tree.Insert(KeyEncoding.EncodeInt64(i), Value(40, 2)));
        tree.Validate();
        Assert.Equal(3000, tree.Count());
        Assert.Equal(pages, source.Pages.Count);
    }

    [Fact]
    public void Scan_is_inclusive_and_starts_between_keys()
    {
        var tree = BTree.Create(new MemoryPageSource(4096), 0);
        for (int i = 0; i < 100; i += 2) tree.Insert(KeyEncoding.EncodeInt64(i), KeyEncoding.EncodeInt64(i * 10));
        Assert.Equal(new long[] { 10, 12, 14 }, tree.Scan(KeyEncoding.EncodeInt64(10), 3).Select(e => KeyEncoding.DecodeInt64(e.Key)));
        Assert.Equal(new long[] { 12, 14 }, tree.Scan(KeyEncoding.EncodeInt64(11), 2).Select(e => KeyEncoding.DecodeInt64(e.Key)));
        Assert.Equal(110, KeyEncoding.DecodeInt64(tree.Scan(KeyEncoding.EncodeInt64(11), 1)[0].Value) - 10);
        Assert.Empty(tree.Scan(KeyEncoding.EncodeInt64(99), 5));
        Assert.Empty(tree.Scan(KeyEncoding.EncodeInt64(0), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.Scan(ReadOnlySpan<byte>.Empty, -1));
    }

    [Fact]
    public void Oversized_keys_and_values_are_rejected_naming_the_limit()
    {
        var source = new MemoryPageSource(8192);
        var tree = BTree.Create(source, 0);
        source.Pages[tree.RootPageNo].TakeDelta();
        Assert.Equal(512, BTree.MaxKeyBytes);
        Assert.Equal(1520, BTree.MaxValueBytesFor(source.PageSize));
        Assert.Equal(496, BTree.MaxValueBytesFor(4096));
        var ex = Assert.Throws<ArgumentException>(() => tree.Insert(new byte[513], new byte[1]));
        Assert.Contains("MaxKeyBytes", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => tree.Upsert(new byte[1], new byte[1521]));
        Assert.Contains("MaxValueBytes", ex.Message);
        Assert.Throws<ArgumentException>(() => tree.Update(new byte[1], new byte[1521]));
        Assert.False(source.Pages[tree.RootPageNo].IsDirtyTracked); // rejected before any modification
        Assert.True(tree.Insert(new byte[512], new byte[1520]));
        Assert.True(tree.Insert(Array.Empty<byte>(), Array.Empty<byte>())); // the empty key is the smallest
        Assert.Equal(Array.Empty<byte>(), tree.Scan(ReadOnlySpan<byte>.Empty, 1)[0].Key);
        Assert.Null(tree.Get(new byte[600]));
        Assert.False(tree.Delete(new byte[600]));
    }

    [Fact]
    public void Opening_a_page_that_is_not_a_node_fails_clearly()
    {
        var source = new MemoryPageSource(4096);
        var page = source.AllocatePage(0);
        var tree = new BTree(source, page.PageNo);
        var ex = Assert.Throws<InvalidDataException>(() => tree.Get(new byte[] { 1 }));
        Assert.Contains($"page {page.PageNo}", ex.Message);
        var small = new MemoryPageSource(2048);
        var smallPage = small.AllocatePage(0);
        Assert.Throws<ArgumentOutOfRangeException>(() => BTree.Format(small, smallPage.PageNo));
        Assert.False(smallPage.IsDirtyTracked);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BTree(small, smallPage.PageNo).Get(new byte[] { 1 }));
    }

    [Fact]
    public void Shortest_separator_lies_between_the_halves()
    {
        Gen.Select(Gen.Byte[0, 3].Array[0, 6], Gen.Byte[0, 3].Array[0, 6]).Sample((a, b) =>
        {
            int c = a.AsSpan().SequenceCompareTo(b);
            if (c == 0) return;
            var (lo, hi) = c < 0 ? (a, b) : (b, a);
            var s = BTree.ShortestSeparator(lo, hi);
            Assert.True(lo.AsSpan().SequenceCompareTo(s) < 0);
            Assert.True(s.AsSpan().SequenceCompareTo(hi) <= 0);
            Assert.True(hi.AsSpan().StartsWith(s));
        }, iter: 2000, threads: 1);
    }
}
