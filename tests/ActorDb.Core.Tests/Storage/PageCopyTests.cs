using ActorDb.Core.Recovery;
using ActorDb.Core.Storage;

namespace ActorDb.Core.Tests.Storage;

public class PageCopyTests
{
    private static Lsn L(long v) => new(v);

    [Theory]
    // asker SCL, peer SCL, first log record above the asker's SCL (lsn, prev; 0 = none), peer checkpoint, expected
    [InlineData(0, 500, 10, 0, 0, CatchUpAction.FetchRecords)]      // a new PG: the log still starts at the first record
    [InlineData(100, 500, 120, 100, 300, CatchUpAction.FetchRecords)] // lags within the log the peer keeps
    [InlineData(100, 500, 120, 90, 300, CatchUpAction.FetchRecords)]  // the backlink is below the SCL (after a truncation)
    [InlineData(0, 500, 250, 240, 300, CatchUpAction.CopyPages)]      // empty: the log starts at 250, pages hold the rest
    [InlineData(100, 500, 250, 240, 300, CatchUpAction.CopyPages)]    // far behind: below the peer's log start
    [InlineData(0, 500, 0, 0, 300, CatchUpAction.CopyPages)]          // the peer's log holds nothing above the SCL
    [InlineData(500, 500, 0, 0, 300, CatchUpAction.None)]             // the peer has nothing newer
    [InlineData(600, 500, 0, 0, 300, CatchUpAction.None)]             // the asker is ahead
    [InlineData(300, 500, 350, 340, 300, CatchUpAction.None)]         // not connected, yet at the checkpoint: nothing to copy
    public void Decide_copies_pages_only_when_the_next_record_is_gone_below_the_peers_checkpoint(
        long scl, long peerScl, long firstLsn, long firstPrev, long checkpoint, CatchUpAction expected)
    {
        (Lsn, Lsn)? first = firstLsn == 0 ? null : (L(firstLsn), L(firstPrev));
        Assert.Equal(expected, PageCopy.Decide(L(scl), L(peerScl), first, L(checkpoint)));
    }

    [Theory]
    [InlineData(8192, 1 << 20, 128)]
    [InlineData(8192, 262144, 32)]
    [InlineData(8192, 8191, 1)]         // always at least one page
    [InlineData(512, 4 << 20, 8192)]
    public void Pages_per_chunk_is_the_whole_pages_that_fit(int pageSize, int maxBytes, int expected) =>
        Assert.Equal(expected, PageCopy.PagesPerChunk(pageSize, maxBytes));

    [Fact]
    public void Chunks_walk_store_and_memory_pages_in_order_without_duplicates_and_end_with_minus_one()
    {
        var stored = new SortedSet<long> { 1000, 1001, 1005, 1010, 1011, 1500 };
        long Next(long from) => stored.GetViewBetween(from, long.MaxValue).Cast<long?>().FirstOrDefault() ?? -1;
        long[] memory = [1005, 1002, 1700, 1002];   // 1005 also stored (newer in memory), 1002 twice

        var seen = new List<long>();
        var from = 1000L;
        var chunks = 0;
        while (from >= 0)
        {
            var (pages, next) = PageCopy.PlanChunk(from, 3, Next, memory);
            Assert.InRange(pages.Length, 1, 3);
            Assert.All(pages, p => Assert.True(p >= from));
            seen.AddRange(pages);
            from = next;
            chunks++;
        }
        Assert.Equal([1000, 1001, 1002, 1005, 1010, 1011, 1500, 1700], seen);
        Assert.Equal(3, chunks);   // 3 + 3 + 2 pages
    }

    [Fact]
    public void A_chunk_that_ends_exactly_at_the_last_page_says_there_is_no_more()
    {
        var (pages, next) = PageCopy.PlanChunk(0, 2, from => from <= 7 ? 7 : -1, [3]);
        Assert.Equal([3, 7], pages);
        Assert.Equal(-1, next);
        var (none, end) = PageCopy.PlanChunk(8, 2, from => from <= 7 ? 7 : -1, [3]);
        Assert.Empty(none);
        Assert.Equal(-1, end);
    }

    [Fact]
    public void Rate_is_megabytes_per_second()
    {
        Assert.Equal(50.0, PageCopy.MegabytesPerSecond(100_000_000, TimeSpan.FromSeconds(2)), 6);
        Assert.Equal(0, PageCopy.MegabytesPerSecond(1000, TimeSpan.Zero));
    }

    [Fact]
    public void Annulled_ranges_and_commit_points_cross_as_flat_arrays_and_back()
    {
        AnnulledRange[] ranges = [new(L(10), L(20), 2), new(L(40), L(1000), 3)];
        var flat = PageCopy.Flatten(ranges);
        Assert.Equal([10L, 20, 2, 40, 1000, 3], flat);
        Assert.Equal(ranges, PageCopy.Unflatten(flat));
        Assert.Throws<ArgumentException>(() => PageCopy.Unflatten([1, 2]));

        var cpl = new CplInfo(L(77), [L(70), L(75)]);
        var (lsn, tails) = PageCopy.Flatten(cpl);
        Assert.Equal(77, lsn);
        var back = PageCopy.Unflatten(lsn, tails)!;
        Assert.Equal(cpl.Lsn, back.Lsn);
        Assert.Equal(cpl.PgTail, back.PgTail);
        Assert.Null(PageCopy.Unflatten(0, []));
        Assert.Equal((0L, Array.Empty<long>()), PageCopy.Flatten((CplInfo?)null));
    }

    [Fact]
    public void Progress_counts_bytes_and_is_done_at_the_target()
    {
        var started = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var p = new CatchUpProgress(3, 0, started, Lsn.Zero, L(9000), L(8000), 128, 128 * 8192, 10, 2_000);
        Assert.Equal(128 * 8192 + 2_000, p.Bytes);
        Assert.False(p.IsDone(L(8999)));
        Assert.True(p.IsDone(L(9000)));
        Assert.Equal(p.Bytes / 1e6 / 2, p.MegabytesPerSecond(started.AddSeconds(2)), 6);
        Assert.Equal("from pg-4-0: page copy at 8000, 128 pages 1.0 MiB + 10 records 0.0 MiB; SCL 8500 of 9000; 0.5 MB/s",
            p.Describe(4, L(8500), started.AddSeconds(2)));
        var recordsOnly = p with { CopyPoint = Lsn.Zero, PagesCopied = 0, PageBytes = 0 };
        Assert.StartsWith("from pg-4-0: 10 records", recordsOnly.Describe(4, L(100), started.AddSeconds(1)));
    }

    [Fact]
    public void The_page_store_walk_skips_never_written_slots_of_the_sparse_file()
    {
        const int pageSize = 4096;
        const long first = 5000;
        using var dir = new TempDir();
        using var store = PageStore.Open(dir.Path, pageSize, first, 100_000, fsync: false);
        Assert.Equal(-1, store.NextWrittenPage(first));   // empty file
        var image = new byte[pageSize];
        BitConverter.TryWriteBytes(image.AsSpan(0, 8), 42L);
        store.Write([new(first + 3, image), new(first + 4, image), new(first + 60_000, image), new(first + 99_999, image)]);
        var walked = new List<long>();
        for (var p = store.NextWrittenPage(first); p >= 0; p = store.NextWrittenPage(p + 1)) walked.Add(p);
        Assert.Equal([first + 3, first + 4, first + 60_000, first + 99_999], walked);
        Assert.Equal(first + 60_000, store.NextWrittenPage(first + 5));
        Assert.Equal(-1, store.NextWrittenPage(first + 100_000));   // past the PG
        Assert.Throws<ArgumentOutOfRangeException>(() => store.NextWrittenPage(first - 1));
    }

    [Fact]
    public void Metadata_records_a_page_copy_as_its_checkpoint_with_the_peers_commit_point_and_ranges()
    {
        using var dir = new TempDir();
        var own = SegmentMetadata.Default.WithEpoch(3, L(100)).WithAnnulled(new AnnulledRange(L(100), L(200), 3))
            .WithCheckpoint(L(50), new CplInfo(L(48), [L(48)]));
        var copied = own.WithPageCopy(L(150_000), new CplInfo(L(149_990), [L(149_990)]),
            [new AnnulledRange(L(100), L(200), 3), new AnnulledRange(L(10), L(20), 2)]);
        Assert.Equal(L(150_000), copied.Materialized);
        Assert.Equal(L(149_990), copied.CheckpointCpl!.Lsn);
        Assert.Equal([new AnnulledRange(L(100), L(200), 3), new AnnulledRange(L(10), L(20), 2)], copied.Annulled);
        Assert.Equal(3, copied.Epoch);
        Assert.Equal(3, copied.OpenedEpoch);
        copied.Save(dir.Path, fsync: true);
        Assert.Equal(copied, SegmentMetadata.Load(dir.Path));
        Assert.Throws<ArgumentOutOfRangeException>(() => copied.WithPageCopy(L(150_000), null, []));
    }
}
