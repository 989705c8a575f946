using Akka.Actor;
using ActorDb.Core.Storage;

namespace ActorDb.Storage;

/// <summary>
/// A segment's dedicated log writer thread (group commit). Signalled after appends, it takes everything buffered in the
/// log as one batch, writes and fdatasyncs it off the actor thread and off the .NET thread pool, tells the segment how
/// many appends are now durable (<see cref="SyncBatch.CumulativeRecords"/>), and at once takes whatever arrived
/// meanwhile, so consecutive syncs chain back to back without a round trip through the actor's mailbox.
/// </summary>
internal sealed class SegmentSyncThread : IDisposable
{
    private readonly SegmentLog _log;
    private readonly IActorRef _segment;
    private readonly Func<long, long, int, object> _onSynced;
    private readonly Func<Exception, object> _onFailed;
    private readonly SemaphoreSlim _signal = new(0);
    private readonly Thread _thread;
    private int _signalled;
    private volatile bool _stopping;

    /// <summary>Starts the thread. <paramref name="onSynced"/>(cumulative records, µs, bytes written) and
    /// <paramref name="onFailed"/> make the messages told to <paramref name="segment"/>.</summary>
    public SegmentSyncThread(string name, SegmentLog log, IActorRef segment, Func<long, long, int, object> onSynced, Func<Exception, object> onFailed)
    {
        _log = log;
        _segment = segment;
        _onSynced = onSynced;
        _onFailed = onFailed;
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Records were appended: make them durable.</summary>
    public void Signal()
    {
        if (Interlocked.Exchange(ref _signalled, 1) == 0) _signal.Release();
    }

    private void Run()
    {
        while (true)
        {
            _signal.Wait();
            Interlocked.Exchange(ref _signalled, 0);
            try
            {
                while (_log.BufferedRecords > 0)
                {
                    var batch = _log.TakeBatch();
                    if (batch.IsEmpty) break;
                    var started = System.Diagnostics.Stopwatch.GetTimestamp();
                    _log.WriteAndSync(batch);
                    _segment.Tell(_onSynced(batch.CumulativeRecords, (long)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMicroseconds, batch.Length));
                }
            }
            catch (Exception e)
            {
                _segment.Tell(_onFailed(e));
                return;   // the log is faulted: nothing more can be made durable
            }
            if (_stopping) return;
        }
    }

    /// <summary>Makes everything appended so far durable, then ends the thread.</summary>
    public void Dispose()
    {
        _stopping = true;
        _signal.Release();
        _thread.Join(TimeSpan.FromSeconds(30));
        _signal.Dispose();
    }
}
