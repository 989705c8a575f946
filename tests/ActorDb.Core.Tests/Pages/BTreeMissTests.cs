using ActorDb.Core.Pages;
using CsCheck;
using static ActorDb.Core.Tests.Pages.BTreeTestSupport;

namespace ActorDb.Core.Tests.Pages;

/// <summary>
/// Read-before-write: an operation that hits a cache miss has modified, allocated and marked nothing,
/// and succeeds when retried after the page is loaded.
/// </summary>
public class BTreeMissTests
{
    private static Dictionary<long, byte[]> Snapshot(MemoryPageSource source) =>
        source.Pages.ToDictionary(p => p.Key, p => (byte[])p.Value.Image.Clone());

    private static void AssertUnchanged(MemoryPageSource source, Dictionary<long, byte[]> before, long allocations, long marks)
    {
        Assert.Equal(before.Count, source.Pages.Count);
        Assert.Equal(allocations, source.AllocateCount);
        Assert.Equal(marks, source.MarkDirtyCount);
        Assert.Empty(source.DirtyPages);
        foreach (var (pageNo, page) in source.Pages)
        {
            Assert.False(page.IsDirtyTracked, $"page {pageNo} tracked a change");
            Assert.True(page.Image.AsSpan().SequenceEqual(before[pageNo]), $"page {pageNo} changed");
        }
    }

    [Fact]
    public void A_missed_operation_changes_nothing_and_succeeds_on_retry()
    {
        int maxValue = BTree.MaxValueBytesFor(4096);
        var gen = Gen.Select(GenOp(keySpace: 2000, maxValue).Array[800, 1500], Gen.Int[0, int.MaxValue].Array[1500]);
        int misses = 0, missedSplits = 0;
        gen.Sample((ops, choices) =>
        {
            var source = new MemoryPageSource(4096);
            var tree = BTree.Create(source, 0);
            var model = NewModel();
            for (int i = 0; i < ops.Length; i++)
            {
                var op = ops[i];
                source.ClearDirty();
                foreach (var p in source.Pages.Values) p.TakeDelta();

                // Mostly a page on the op's own path (so the miss happens), sometimes any page.
                int choice = choices[i];
                var path = PathOf(source, tree.RootPageNo, Key(op.KeyIndex));
                long missing = choice % 4 != 0
                    ? path[choice / 4 % path.Count]
                    : source.Pages.Keys.ElementAt(choice / 4 % source.Pages.Count);
                source.MissingPages.Add(missing);

                var before = Snapshot(source);
                long allocations = source.AllocateCount, marks = source.MarkDirtyCount;
                try
                {
                    RunAndCheck(tree, model, op);
                    Assert.DoesNotContain(missing, path); // only pages off the path can be missing and not hit
                }
                catch (PageMissException e)
                {
                    Assert.Equal(missing, e.PageNo);
                    AssertUnchanged(source, before, allocations, marks);
                    misses++;
                    source.MissingPages.Remove(missing);
                    long pagesBefore = source.Pages.Count;
                    RunAndCheck(tree, model, op); // the retry succeeds
                    if (source.Pages.Count > pagesBefore) missedSplits++;
                }
                source.MissingPages.Clear();
            }
            AssertTreeEqualsModel(tree, model);
        }, iter: 6, threads: 1);
        Assert.True(misses > 1000, $"{misses} misses");
        Assert.True(missedSplits > 20, $"{missedSplits} retried operations split a page");
    }

    [Fact]
    public void Scan_may_miss_mid_way_and_succeeds_after_the_page_is_loaded()
    {
        var source = new MemoryPageSource(4096);
        var tree = BTree.Create(source, 0);
        for (int i = 0; i < 2000; i++) tree.Insert(KeyEncoding.EncodeInt64(i), Value(100, (byte)i));
        var path = PathOf(source, tree.RootPageNo, KeyEncoding.EncodeInt64(0));
        long firstLeaf = path[^1];
        long secondLeaf = NodeLayout.GetRightSibling(source.Pages[firstLeaf]);
        source.MissingPages.Add(secondLeaf);
        var ex = Assert.Throws<PageMissException>(() => tree.Scan(KeyEncoding.EncodeInt64(0), 1000));
        Assert.Equal(secondLeaf, ex.PageNo);
        source.MissingPages.Clear();
        var scan = tree.Scan(KeyEncoding.EncodeInt64(0), 1000);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (long)i), scan.Select(e => KeyEncoding.DecodeInt64(e.Key)));
    }

    [Fact]
    public void Format_misses_before_modifying()
    {
        var source = new MemoryPageSource(4096);
        var page = source.AllocatePage(0);
        source.MissingPages.Add(page.PageNo);
        Assert.Throws<PageMissException>(() => BTree.Format(source, page.PageNo));
        Assert.Empty(source.DirtyPages);
        Assert.False(page.IsDirtyTracked);
        source.MissingPages.Clear();
        BTree.Format(source, page.PageNo);
        new BTree(source, page.PageNo).Validate();
    }
}
