namespace ActorDb.Core.Storage;

/// <summary>What a segment answers the writer after a group commit (<see cref="SyncRuns.Answer"/>).</summary>
public enum SyncAnswer
{
    /// <summary>Nothing: the sync covered no writer record and did not move the durable SCL for the writer of this epoch.</summary>
    None = 0,
    /// <summary>An acknowledgement of the durable SCL.</summary>
    Ack = 1,
    /// <summary>A stale-epoch rejection: the writer was fenced since it sent the records.</summary>
    StaleEpoch = 2,
}

/// <summary>
/// The segment's append runs awaiting their group commit, in order: after each run of records appended to the log, the
/// cumulative count of records appended since the log opened and the SCL the chain reached. A sync thread reports the
/// cumulative count it made durable; every run at or below it is durable, and the SCL of the last such run is the durable
/// SCL, never above the chain now (a truncation may have reset it meanwhile). Acknowledgements wait for the fsync.
/// </summary>
public sealed class SyncRuns
{
    private readonly Queue<(long Appended, Lsn Scl, bool FromWriter)> _runs = new();

    /// <summary>Records appended to the log since it was opened (the count the sync thread reports against).</summary>
    public long Appended { get; private set; }

    /// <summary>Runs not yet durable.</summary>
    public int Waiting => _runs.Count;

    /// <summary><paramref name="records"/> records were appended (from the writer when <paramref name="fromWriter"/>,
    /// else from peers) and the chain reached <paramref name="scl"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="records"/> is not above 0.</exception>
    public void Add(int records, Lsn scl, bool fromWriter)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(records);
        Appended += records;
        _runs.Enqueue((Appended, scl, fromWriter));
    }

    /// <summary>The sync thread made the first <paramref name="cumulativeRecords"/> records durable: takes every run it
    /// covers. Returns the durable SCL (the last covered run's SCL capped at <paramref name="chainScl"/>, or
    /// <paramref name="durableScl"/> when that is not higher), whether it advanced, and whether any covered run held
    /// writer records.</summary>
    public (Lsn Durable, bool Advanced, bool FromWriter) Synced(long cumulativeRecords, Lsn chainScl, Lsn durableScl)
    {
        var reached = Lsn.Zero;
        var fromWriter = false;
        while (_runs.Count > 0 && _runs.Peek().Appended <= cumulativeRecords)
        {
            var run = _runs.Dequeue();
            reached = run.Scl;
            fromWriter |= run.FromWriter;
        }
        var completed = Lsn.Min(reached, chainScl);
        return completed > durableScl ? (completed, true, fromWriter) : (durableScl, false, fromWriter);
    }

    /// <summary>The sync failed: no run waiting will be acknowledged (the count goes on: the log stays open until reopened).</summary>
    public void Forget() => _runs.Clear();

    /// <summary>The log was opened again: nothing waits and the count starts at zero.</summary>
    public void Reset()
    {
        _runs.Clear();
        Appended = 0;
    }

    /// <summary>
    /// What to tell the writer after a sync: a writer fenced meanwhile gets a stale-epoch answer, never an acknowledgement
    /// of what it sent before the fence. A sync that covered writer records answers; so does one of peer records that
    /// moved the durable SCL while a writer of this epoch is known: the writer's own records may have arrived first,
    /// behind a hole those records fill, and been acknowledged at the SCL below the hole; the writer does not send them
    /// again, so without this answer it would wait forever.
    /// </summary>
    /// <param name="fromWriter">The sync covered writer records.</param>
    /// <param name="advanced">The durable SCL advanced.</param>
    /// <param name="writerEpoch">The epoch of the writer's last batch (0: none yet).</param>
    /// <param name="epoch">The segment's durable epoch.</param>
    /// <param name="hasWriter">A writer sent records since the segment opened.</param>
    public static SyncAnswer Answer(bool fromWriter, bool advanced, long writerEpoch, long epoch, bool hasWriter) =>
        !(fromWriter || (advanced && writerEpoch == epoch && hasWriter)) ? SyncAnswer.None
        : writerEpoch < epoch ? SyncAnswer.StaleEpoch
        : SyncAnswer.Ack;
}
