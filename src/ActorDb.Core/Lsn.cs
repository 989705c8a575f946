namespace ActorDb.Core;

/// <summary>
/// Log sequence number: a 64-bit, strictly increasing position in the volume's redo stream,
/// allocated by the writer, one per redo record (Aurora, SIGMOD 2017, §4.1).
/// <see cref="Zero"/> means "nothing": the first record of a volume has LSN 1.
/// </summary>
public readonly record struct Lsn(long Value) : IComparable<Lsn>
{
    /// <summary>The LSN before any record; also the backlink of a PG's first record.</summary>
    public static readonly Lsn Zero = new(0);

    /// <summary>The largest representable LSN; used as "no bound".</summary>
    public static readonly Lsn MaxValue = new(long.MaxValue);

    /// <inheritdoc />
    public int CompareTo(Lsn other) => Value.CompareTo(other.Value);

    /// <summary>The LSN <paramref name="n"/> positions later.</summary>
    public static Lsn operator +(Lsn lsn, long n) => new(checked(lsn.Value + n));
    /// <summary>The LSN <paramref name="n"/> positions earlier.</summary>
    public static Lsn operator -(Lsn lsn, long n) => new(lsn.Value - n);
    /// <summary>Distance between two LSNs, in records.</summary>
    public static long operator -(Lsn a, Lsn b) => a.Value - b.Value;
    /// <summary>True when <paramref name="a"/> comes before <paramref name="b"/>.</summary>
    public static bool operator <(Lsn a, Lsn b) => a.Value < b.Value;
    /// <summary>True when <paramref name="a"/> comes after <paramref name="b"/>.</summary>
    public static bool operator >(Lsn a, Lsn b) => a.Value > b.Value;
    /// <summary>True when <paramref name="a"/> is not after <paramref name="b"/>.</summary>
    public static bool operator <=(Lsn a, Lsn b) => a.Value <= b.Value;
    /// <summary>True when <paramref name="a"/> is not before <paramref name="b"/>.</summary>
    public static bool operator >=(Lsn a, Lsn b) => a.Value >= b.Value;

    /// <summary>The larger of two LSNs.</summary>
    public static Lsn Max(Lsn a, Lsn b) => a.Value >= b.Value ? a : b;
    /// <summary>The smaller of two LSNs.</summary>
    public static Lsn Min(Lsn a, Lsn b) => a.Value <= b.Value ? a : b;

    /// <inheritdoc />
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
