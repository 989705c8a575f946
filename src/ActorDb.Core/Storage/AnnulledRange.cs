namespace ActorDb.Core.Storage;

/// <summary>
/// A range of LSNs annulled by a recovery: <c>(FromExclusive, ToInclusive]</c>, typically
/// <c>(VDL, VDL + LAL]</c>, the LSNs the failed writer may have allocated above the recovered VDL. Records
/// in the range are never applied, even if they arrive later (Aurora 2017 §4.3, "truncation").
/// </summary>
public readonly record struct AnnulledRange
{
    /// <summary>Creates a range.</summary>
    /// <param name="fromExclusive">Lower bound, not annulled itself (&gt;= 0).</param>
    /// <param name="toInclusive">Upper bound, annulled (&gt; <paramref name="fromExclusive"/>).</param>
    /// <param name="epoch">The epoch whose recovery annulled the range (&gt;= 0).</param>
    /// <exception cref="ArgumentOutOfRangeException">a bound or the epoch violates the rules above.</exception>
    public AnnulledRange(Lsn fromExclusive, Lsn toInclusive, long epoch)
    {
        if (fromExclusive.Value < 0)
            throw new ArgumentOutOfRangeException(nameof(fromExclusive), fromExclusive, "the lower bound of an annulled range must be >= 0");
        if (toInclusive <= fromExclusive)
            throw new ArgumentOutOfRangeException(nameof(toInclusive), toInclusive, $"the upper bound of an annulled range must be above its lower bound {fromExclusive}");
        if (epoch < 0)
            throw new ArgumentOutOfRangeException(nameof(epoch), epoch, "epoch must be >= 0");
        FromExclusive = fromExclusive;
        ToInclusive = toInclusive;
        Epoch = epoch;
    }

    /// <summary>Lower bound, exclusive.</summary>
    public Lsn FromExclusive { get; }

    /// <summary>Upper bound, inclusive.</summary>
    public Lsn ToInclusive { get; }

    /// <summary>The epoch whose recovery annulled the range.</summary>
    public long Epoch { get; }

    /// <summary>True when <paramref name="lsn"/> lies in <c>(FromExclusive, ToInclusive]</c>.</summary>
    public bool Contains(Lsn lsn) => lsn > FromExclusive && lsn <= ToInclusive;

    /// <inheritdoc />
    public override string ToString() => $"({FromExclusive}, {ToInclusive}] annulled in epoch {Epoch}";
}
