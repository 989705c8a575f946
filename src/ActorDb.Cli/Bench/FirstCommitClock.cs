using System.Diagnostics;

namespace ActorDb.Cli.Bench;

/// <summary>
/// Notes the first acknowledged commit of a transaction that wrote rows, as milliseconds after the process started
/// (<see cref="Process.StartTime"/>, so the .NET host's start, the node's start and the volume's recovery are all in
/// it). <see cref="BenchRunner"/> calls <see cref="Acknowledged"/> at each such acknowledgement, right when
/// <c>CommitAsync</c> returns (before the ack log line is written); only the first call counts. Thread-safe.
/// Read-only transactions (a bank transfer from an empty account, the invariant scan) do not count: the clock measures
/// when the volume accepted a write.
/// </summary>
public sealed class FirstCommitClock
{
    private readonly DateTime _startUtc;
    private readonly Action<double>? _onFirst;
    private readonly Lock _lock = new();
    private volatile bool _fired;
    private double _ms;

    /// <summary>Creates a clock for a process that started at <paramref name="processStartUtc"/>.</summary>
    /// <param name="processStartUtc">Start of the process, UTC.</param>
    /// <param name="onFirst">Called once, on the acknowledging thread, with the milliseconds after process start.</param>
    public FirstCommitClock(DateTime processStartUtc, Action<double>? onFirst = null)
    {
        _startUtc = processStartUtc.ToUniversalTime();
        _onFirst = onFirst;
    }

    /// <summary>A clock for the current process (start time read from the operating system).</summary>
    public static FirstCommitClock ForCurrentProcess(Action<double>? onFirst = null)
    {
        using var self = Process.GetCurrentProcess();
        return new FirstCommitClock(self.StartTime.ToUniversalTime(), onFirst);
    }

    /// <summary>The process start this clock measures from, UTC.</summary>
    public DateTime ProcessStartUtc => _startUtc;

    /// <summary>Milliseconds from process start to the first acknowledged write commit, or null before it.</summary>
    public double? MillisecondsAfterStart
    {
        get { lock (_lock) return _fired ? _ms : null; }
    }

    /// <summary>Milliseconds since process start, now.</summary>
    public double MillisecondsSinceStart() => (DateTime.UtcNow - _startUtc).TotalMilliseconds;

    /// <summary>A write commit was just acknowledged: the first call records the time and calls the callback.</summary>
    public void Acknowledged()
    {
        if (_fired) return;   // the common case: one volatile read
        var ms = MillisecondsSinceStart();
        lock (_lock)
        {
            if (_fired) return;
            _ms = ms;
            _fired = true;
        }
        _onFirst?.Invoke(ms);
    }
}
