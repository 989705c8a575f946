using ActorDb.Core.Storage;
using static ActorDb.Core.Storage.SegmentLifecycle;

namespace ActorDb.Core.Tests.Storage;

public class SegmentLifecycleTests
{
    private static readonly SegmentLifecycle[] Every =
    [
        new Opening(null), new Opening("open failed"), Serving.Instance, Stopping.Instance,
        new Faulted(StorageFailureKind.DiskFull, "disk full"), new Failed("log write failed"),
    ];

    /// <summary>The moves the segment makes, by state name; every other pair must throw.</summary>
    private static readonly HashSet<(string, string)> Legal =
    [
        ("Opening", "Opening"), ("Opening", "Serving"),
        ("Serving", "Stopping"), ("Serving", "Faulted"), ("Serving", "Failed"),
        ("Stopping", "Faulted"), ("Stopping", "Failed"),
        ("Faulted", "Faulted"), ("Faulted", "Serving"),
        ("Failed", "Faulted"),
    ];

    [Fact]
    public void Transition_makes_exactly_the_legal_moves_and_names_both_states_on_an_illegal_one()
    {
        foreach (var from in Every)
        foreach (var to in Every)
        {
            if (Legal.Contains((from.Name, to.Name)))
                Assert.Same(to, from.Transition(to));
            else
            {
                var e = Assert.Throws<InvalidOperationException>(() => from.Transition(to));
                Assert.Contains($"from {from.Name} to {to.Name}", e.Message);
            }
        }
    }

    [Fact]
    public void Failure_is_the_text_of_the_state_that_refuses_records()
    {
        Assert.Null(new Opening(null).Failure);
        Assert.Equal("open failed", new Opening("open failed").Failure);
        Assert.Null(Serving.Instance.Failure);
        Assert.Null(Stopping.Instance.Failure);
        Assert.Equal("disk full", new Faulted(StorageFailureKind.DiskFull, "disk full").Failure);
        Assert.Equal("bug", new Failed("bug").Failure);
        Assert.True(new Faulted(StorageFailureKind.IoError, "x").HasFailed);
        Assert.True(new Failed("x").HasFailed);
        Assert.False(Stopping.Instance.HasFailed);
        Assert.False(new Opening("x").HasFailed);
    }
}
