namespace ActorDb.Core.Recovery;

/// <summary>
/// The one bound on epochs and the one way to compute the next one. A segment installs an epoch durably (a fence or an
/// <c>OpenEpoch</c>) and every later recovery starts above the highest epoch it finds, so an epoch near
/// <see cref="long.MaxValue"/> would make the next recovery's <c>max + 1</c> overflow and the volume unrecoverable.
/// Epochs are therefore kept in 1..<see cref="Max"/>: a segment refuses anything above before persisting it, and
/// <see cref="Next"/> is checked. 2^62 epochs is far more than any volume can use (one per recovery).
/// </summary>
public static class Epochs
{
    /// <summary>The highest epoch a segment accepts and a recovery installs: 2^62.</summary>
    public const long Max = 1L << 62;

    /// <summary>True when <paramref name="epoch"/> is an installable epoch, 1..<see cref="Max"/>.</summary>
    public static bool IsValid(long epoch) => epoch is > 0 and <= Max;

    /// <summary>The epoch a recovery installs after the highest one it saw, <paramref name="highestSeen"/> + 1.</summary>
    /// <param name="highestSeen">The highest epoch any segment reported: 0 (a new volume) .. <see cref="Max"/> - 1.</param>
    /// <exception cref="EpochOutOfRangeException"><paramref name="highestSeen"/> is negative, or
    /// <see cref="Max"/> or above (then no epoch is left above it: the segment metadata holding it was written by an
    /// unchecked fence and must be repaired by hand).</exception>
    public static long Next(long highestSeen)
    {
        if (highestSeen < 0 || highestSeen >= Max) throw EpochOutOfRangeException.NoNext(highestSeen);
        return highestSeen + 1;
    }
}

/// <summary>An epoch outside 1..<see cref="Epochs.Max"/>: a recovery cannot compute the next epoch. An
/// <see cref="InvalidOperationException"/>, so a recovery that plans with it fails with this message.</summary>
public sealed class EpochOutOfRangeException : InvalidOperationException
{
    private EpochOutOfRangeException(string message) : base(message) { }

    /// <summary>The epoch the error is about.</summary>
    public long Epoch { get; private init; }

    /// <summary><see cref="Epochs.Next"/> was asked for the successor of <paramref name="epoch"/>.</summary>
    public static EpochOutOfRangeException NoNext(long epoch) => new(epoch < 0
        ? $"epoch {epoch} is negative: no epoch follows it"
        : $"epoch {epoch} is at or above the bound {Epochs.Max} (2^62): no epoch can follow it; a segment's metadata holds an epoch no recovery can go above")
    { Epoch = epoch };
}
