using Akka.Actor;
using ActorDb.Core.Storage;

namespace ActorDb.Storage;

/// <summary>
/// A segment's dedicated log writer thread: runs <see cref="SegmentLog.WriteAndSync"/> (write + fdatasync) off the actor
/// thread and off the .NET thread pool, so a group commit never waits in the pool's queue behind client work, and tells
/// the segment the outcome. One batch at a time, in the order given.
/// </summary>
internal sealed class SegmentSyncThread : IDisposable
{
    private readonly SegmentLog _log;
    private readonly IActorRef _segment;
    private readonly Func<SyncResult, long, object> _onSynced;
    private readonly Func<Exception, object> _onFailed;
    private readonly System.Collections.Concurrent.BlockingCollection<SyncBatch> _queue = new();
    private readonly Thread _thread;

    public SegmentSyncThread(string name, SegmentLog log, IActorRef segment, Func<SyncResult, long, object> onSynced, Func<Exception, object> onFailed)
    {
        _log = log;
        _segment = segment;
        _onSynced = onSynced;
        _onFailed = onFailed;
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Queues a batch; the segment gets the message made by <c>onSynced(result, micros)</c> or <c>onFailed</c>.</summary>
    public void Submit(SyncBatch batch) => _queue.Add(batch);

    private void Run()
    {
        foreach (var batch in _queue.GetConsumingEnumerable())
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            object reply;
            try
            {
                var result = _log.WriteAndSync(batch);
                reply = _onSynced(result, (long)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            }
            catch (Exception e)
            {
                reply = _onFailed(e);
            }
            _segment.Tell(reply);
        }
    }

    /// <summary>Finishes the queued batches, then ends the thread.</summary>
    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join(TimeSpan.FromSeconds(30));
        _queue.Dispose();
    }
}
