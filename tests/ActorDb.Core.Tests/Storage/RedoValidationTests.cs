using ActorDb.Core.Redo;
using ActorDb.Core.Storage;

namespace ActorDb.Core.Tests.Storage;

public class RedoValidationTests
{
    private const int Pg = 1;
    private static readonly VolumeGeometry Geometry = new(8192, 2, 1024);   // PG 1 holds pages 1024..2047
    private static readonly Lsn Ceiling = new(1_000_000);

    /// <summary>A valid delta: 1 byte at offset 8.</summary>
    private static readonly byte[] Delta = [8, 0, 1, 0, 42];

    private static RedoRecord Record(long lsn, long prev, long page = 1024 + 5, byte[]? payload = null, int pg = Pg) =>
        new(new Lsn(lsn), new Lsn(prev), pg, page, RedoKind.PageDelta, false, 7, 1, payload ?? Delta);

    private static RedoRecord Commit(long lsn, long prev, byte[]? payload = null) =>
        new(new Lsn(lsn), new Lsn(prev), Pg, -1, RedoKind.Commit, true, 7, 1, payload ?? new CommitPayload(7, [new Lsn(3), new Lsn(lsn)]).Encode());

    private static string? Check(RedoRecord r) => RedoValidation.Check(r, Pg, Geometry, Ceiling);

    [Fact]
    public void A_well_formed_delta_and_commit_pass()
    {
        Assert.Null(Check(Record(5, 0)));
        Assert.Null(Check(Record(5, 4, page: 2047)));
        Assert.Null(Check(Commit(6, 5)));
        Assert.Null(Check(Record(Ceiling.Value, 0)));   // the ceiling itself is allowed
    }

    [Theory]
    [InlineData(0L, 0L, "an LSN must be above 0")]
    [InlineData(-1L, 0L, "an LSN must be above 0")]
    [InlineData(long.MinValue, 0L, "an LSN must be above 0")]
    [InlineData(5L, 5L, "backlink 5 is not in [0, 5)")]
    [InlineData(5L, 9L, "backlink 9 is not in [0, 5)")]
    [InlineData(5L, -3L, "backlink -3 is not in [0, 5)")]
    public void Lsn_and_backlink_must_be_in_range(long lsn, long prev, string expected)
    {
        var problem = Check(Record(lsn, prev));
        Assert.NotNull(problem);
        Assert.Contains(expected, problem);
        Assert.Contains($"record LSN {lsn}", problem);
    }

    [Theory]
    [InlineData(1023L)]   // the last page of PG 0
    [InlineData(2048L)]   // the first page past PG 1 (and the volume)
    [InlineData(-1L)]
    [InlineData(long.MaxValue)]
    public void A_page_outside_the_pg_is_refused(long page)
    {
        var problem = Check(Record(5, 0, page));
        Assert.Equal($"record LSN 5: page {page} is outside PG 1 (pages 1024..2047)", problem);
    }

    [Fact]
    public void A_record_of_another_pg_is_refused() =>
        Assert.Equal("record LSN 5: it belongs to PG 0, not PG 1", Check(Record(5, 0, page: 5, pg: 0)));

    [Theory]
    [InlineData(new byte[] { 8, 0 })]                        // truncated header
    [InlineData(new byte[] { 8, 0, 4, 0, 1, 2 })]            // 4 data bytes announced, 2 present
    [InlineData(new byte[] { 0, 0, 1, 0, 42 })]              // overlaps the page LSN header
    [InlineData(new byte[] { 0xFF, 0x1F, 2, 0, 1, 2 })]      // offset 8191 + 2 ends past the 8192-byte page
    [InlineData(new byte[] { 8, 0, 0, 0 })]                  // empty range
    public void A_delta_that_cannot_be_applied_is_refused(byte[] delta)
    {
        var problem = Check(Record(5, 0, payload: delta));
        Assert.NotNull(problem);
        Assert.StartsWith("record LSN 5: the delta of page 1029 cannot be applied: page delta", problem);
    }

    [Fact]
    public void A_commit_must_decode_and_change_no_page()
    {
        Assert.Contains("its commit payload does not decode", Check(Commit(6, 5, payload: [1, 2, 3])));
        var onAPage = Commit(6, 5) with { PageNo = 1030 };
        Assert.Equal("record LSN 6: a commit record changes no page, but names page 1030", Check(onAPage));
        Assert.Contains("unknown kind 9", Check(Record(5, 0) with { Kind = (RedoKind)9 }));
    }

    [Fact]
    public void An_lsn_above_the_ceiling_is_refused()
    {
        var problem = Check(Record(Ceiling.Value + 1, 0));
        Assert.NotNull(problem);
        Assert.Contains("above the LSN ceiling 1000000", problem);
    }

    [Fact]
    public void The_ceiling_is_the_known_vdl_or_the_truncation_point_plus_lal()
    {
        Assert.Equal(new Lsn(1_000_500), RedoValidation.LsnCeiling(new Lsn(500), [], 1_000_000));
        // After a recovery the writer allocates above the annulled range: its top is the floor.
        Assert.Equal(new Lsn(3_000_000), RedoValidation.LsnCeiling(new Lsn(500), [new AnnulledRange(new Lsn(500), new Lsn(2_000_000), 2)], 1_000_000));
        Assert.Equal(Lsn.MaxValue, RedoValidation.LsnCeiling(new Lsn(long.MaxValue - 5), [], 1_000_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => RedoValidation.LsnCeiling(Lsn.Zero, [], 0));

        // The case: SCL 100, a record SCL + 10^9 with backlink SCL, default LAL 10^7.
        var ceiling = RedoValidation.LsnCeiling(new Lsn(100), [], 10_000_000);
        Assert.Contains("above the LSN ceiling", RedoValidation.Check(Record(100 + 1_000_000_000, 100), Pg, Geometry, ceiling));
    }

    [Fact]
    public void A_second_content_for_a_held_lsn_is_refused_and_an_identical_resend_passes()
    {
        var held = Record(10, 8);
        RedoRecord? Held(Lsn lsn) => lsn == held.Lsn ? held : null;

        // Identical content in new objects (a resend after serialization) passes.
        Assert.Null(RedoValidation.CheckBatch([Record(9, 5), Record(10, 8, payload: [.. Delta])], Pg, Geometry, Ceiling, Held));

        // Same LSN, another backlink (the issue: held above a hole, then a different record that connects).
        var other = RedoValidation.CheckBatch([Record(10, 0)], Pg, Geometry, Ceiling, Held);
        Assert.Equal("record LSN 10: the segment holds another record under this LSN (backlink 8, page 1029, txn 7; this one: backlink 0, page 1029, txn 7); one LSN has one content", other);
        // Same LSN and backlink, other payload bytes.
        Assert.NotNull(RedoValidation.CheckBatch([Record(10, 8, payload: [8, 0, 1, 0, 43])], Pg, Geometry, Ceiling, Held));
        // Two contents for one LSN within one batch.
        Assert.Contains("holds another record under this LSN", RedoValidation.CheckBatch([Record(12, 10), Record(12, 11)], Pg, Geometry, Ceiling, _ => null));
        // The same record twice in one batch is a duplicate, not a conflict.
        Assert.Null(RedoValidation.CheckBatch([Record(12, 10), Record(12, 10)], Pg, Geometry, Ceiling, _ => null));
    }

    [Fact]
    public void A_batch_reports_its_first_invalid_record_and_rejects_nulls()
    {
        Assert.Equal("record LSN 0: an LSN must be above 0",
            RedoValidation.CheckBatch([Record(3, 0), Record(0, 0), Record(-1, 0)], Pg, Geometry, Ceiling, _ => null));
        Assert.Equal("a null record", RedoValidation.CheckBatch([Record(3, 0), null], Pg, Geometry, Ceiling, _ => null));
        Assert.Equal("a batch with no record array", RedoValidation.CheckBatch(null, Pg, Geometry, Ceiling, _ => null));
        Assert.Null(RedoValidation.CheckBatch([], Pg, Geometry, Ceiling, _ => null));
    }

    [Fact]
    public void The_refusal_names_segment_epoch_sender_and_problem() =>
        Assert.Equal("segment pg-1-4 (PG 1, replica 4, epoch 3) refused a redo batch of 2 record(s) from /user/w (node local), none stored: invalid record LSN 0: an LSN must be above 0",
            RedoValidation.Refusal(1, 4, 3, "a redo batch", "/user/w (node local)", 2, "record LSN 0: an LSN must be above 0"));
}
