namespace ActorDb.Core.Commands;

/// <summary>How <c>actordb pg show</c> names a segment's state, from what the segment and the writer report.</summary>
public static class SegmentHealth
{
    /// <summary>Answers the writer's requests and holds its PG's write-quorum point.</summary>
    public const string Serving = "serving";
    /// <summary>Catching up from its peers (a page copy and/or records; it counts in no quorum above its SCL meanwhile), or
    /// in the writer's epoch but below its PG's write-quorum point (it lags, or is filling a hole).</summary>
    public const string CatchingUp = "catching-up";
    /// <summary>Did not answer the status request in time.</summary>
    public const string Unreachable = "unreachable";
    /// <summary>Fenced by a recovery and not (yet) opened in its epoch, or holding an epoch newer than the writer's
    /// (the writer is the stale one); it takes no redo from this writer.</summary>
    public const string Fenced = "fenced";
    /// <summary>In an epoch older than the writer's: it missed the last epoch install and takes no redo until it has it.</summary>
    public const string StaleEpoch = "stale epoch";
    /// <summary>The segment failed (e.g. a full disk) and refuses redo.</summary>
    public const string Failed = "failed";

    /// <summary>The state of one segment.</summary>
    /// <param name="answered">It answered the status request.</param>
    /// <param name="failure">Its failure, or null.</param>
    /// <param name="epoch">The newest epoch it accepted (a fence included).</param>
    /// <param name="openedEpoch">The epoch it takes redo in.</param>
    /// <param name="writerEpoch">The writer's epoch; 0 when unknown (no writer on this node).</param>
    /// <param name="scl">Its segment complete LSN.</param>
    /// <param name="pgQuorumLsn">Its PG's write-quorum LSN as the writer tracks it; 0 when unknown.</param>
    /// <param name="catchingUp">The segment reports a catch-up from its peers in progress.</param>
    public static string Classify(bool answered, string? failure, long epoch, long openedEpoch, long writerEpoch, long scl, long pgQuorumLsn, bool catchingUp = false)
    {
        if (!answered) return Unreachable;
        if (failure is not null) return Failed;
        if (epoch > openedEpoch) return Fenced;
        if (writerEpoch > 0 && epoch > writerEpoch) return Fenced;
        if (writerEpoch > 0 && openedEpoch < writerEpoch) return StaleEpoch;
        return catchingUp || scl < pgQuorumLsn ? CatchingUp : Serving;
    }
}
