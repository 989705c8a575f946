namespace ActorDb.Core.Storage;

/// <summary>
/// A break in a segment's backlink chain above its SCL, as reported by <see cref="SclTracker.Holes"/>: the
/// segment holds the record <see cref="Before"/> but not its predecessor <see cref="Missing"/>. The records
/// to fetch from peers lie in <c>(After, Before)</c>; <see cref="Missing"/> is certainly among them, and it
/// may have further missing predecessors of its own in <c>(After, Missing)</c>.
/// </summary>
/// <param name="After">The highest LSN the segment knows below the gap: the SCL or a held record.</param>
/// <param name="Missing">The backlink of <see cref="Before"/>: a record the segment does not hold.</param>
/// <param name="Before">The held record whose predecessor is missing.</param>
public readonly record struct SclHole(Lsn After, Lsn Missing, Lsn Before)
{
    /// <inheritdoc />
    public override string ToString() => $"missing ({After}, {Before}), at least {Missing}";
}
