using ActorDb.Core;
using CsCheck;

namespace ActorDb.Core.Tests;

/// <summary>The one segment id: its entity-id spelling, parse, validation and AZ (issue 17, item 6).</summary>
public class SegmentIdTests
{
    private static readonly Gen<SegmentId> AnyId =
        Gen.Select(Gen.Int[0, int.MaxValue], Gen.Int[0, VolumeGeometry.SegmentsPerPg - 1], (pg, r) => new SegmentId(pg, r));

    [Fact]
    public void The_entity_id_is_pg_n_r_and_parses_back() =>
        AnyId.Sample(id =>
        {
            Assert.Equal($"pg-{id.Pg}-{id.Replica}", id.EntityId);
            Assert.Equal(id.EntityId, id.ToString());
            Assert.Equal(id, SegmentId.Parse(id.EntityId));
            Assert.True(SegmentId.TryParse(id.EntityId, out var parsed));
            Assert.Equal(id, parsed);
        });

    [Fact]
    public void Known_spellings()
    {
        Assert.Equal("pg-0-2", new SegmentId(0, 2).EntityId);
        Assert.Equal(new SegmentId(12, 5), SegmentId.Parse("pg-12-5"));
        var (pg, replica) = SegmentId.Parse("pg-3-4");
        Assert.Equal((3, 4), (pg, replica));
    }

    [Theory]
    [InlineData("")]
    [InlineData("pg-0")]
    [InlineData("pg-0-6")]
    [InlineData("pg--1-0")]
    [InlineData("pg-0-0-0")]
    [InlineData("PG-0-0")]
    [InlineData("pg-x-1")]
    [InlineData("pg- 1-1")]
    [InlineData("pg-+1-1")]
    [InlineData("pg-01-1")]
    [InlineData("pg-1-01")]
    [InlineData("pg-99999999999-1")]
    [InlineData("holds-pg-0-1")]
    public void Garbage_is_refused_naming_the_text(string text)
    {
        Assert.False(SegmentId.TryParse(text, out var none));
        Assert.Equal(default, none);
        var e = Assert.Throws<FormatException>(() => SegmentId.Parse(text));
        Assert.Equal($"'{text}' is not a segment id (pg-N-R, R in 0..5)", e.Message);
    }

    [Fact]
    public void Random_text_that_parses_is_exactly_an_entity_id() =>
        Gen.String.Sample(text =>
        {
            if (SegmentId.TryParse(text, out var id)) Assert.Equal(text, id.EntityId);
            else Assert.Throws<FormatException>(() => SegmentId.Parse(text));
        });

    [Fact]
    public void Null_does_not_parse() => Assert.False(SegmentId.TryParse(null, out _));

    [Theory]
    [InlineData(-1, 0)]
    [InlineData(0, -1)]
    [InlineData(0, VolumeGeometry.SegmentsPerPg)]
    public void Out_of_range_numbers_are_refused(int pg, int replica) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new SegmentId(pg, replica));

    [Fact]
    public void Two_replicas_per_az_and_a_pg_lists_all_six()
    {
        var pg = SegmentId.OfPg(7);
        Assert.Equal(Enumerable.Range(0, VolumeGeometry.SegmentsPerPg).Select(r => new SegmentId(7, r)), pg);
        Assert.Equal(["az-a", "az-a", "az-b", "az-b", "az-c", "az-c"], pg.Select(s => s.Az));
    }
}
