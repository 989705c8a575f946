using ActorDb.Core;
using ActorDb.Core.Recovery;
using ActorDb.Core.Redo;
using ActorDb.Core.Storage;
using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Simulation;

/// <summary>
/// The simulator's shell around one real <see cref="SegmentEngine"/>, doing what SegmentActor does with its outputs:
/// replies and peer messages over the network, the group commit (<see cref="SegmentOutput.StartSync"/>) on the simulated
/// disk after its latency, then <see cref="SegmentEngine.Synced"/>; checkpoints likewise; ticks as scheduled events in
/// the node's (possibly jumped) local time. A crash drops the engine without closing it; a restart builds a new one over
/// the same disk.
/// </summary>
internal sealed class SegmentShell(World world, int pg, int replica, SimNode node)
{
    private readonly List<SegmentOutput> _out = new();
    private readonly int[] _timerVersion = new int[Enum.GetValues<SegmentTimer>().Length];
    private SegmentEngine? _engine;
    private SimulatedStorage? _disk;
    private NodeMembership? _membership;
    private string _dir = "";
    private int? _syncScheduled;   // the generation a group commit is scheduled for
    private bool _busy;

    public int Pg { get; } = pg;
    public int Replica { get; } = replica;
    public SimNode Node { get; } = node;
    private string Name => new SegmentId(Pg, Replica).EntityId;

    private DateTime Local => Node.LocalTime(world.Scheduler.Now);

    public void Start(SimulatedStorage disk, string directory, NodeMembership membership)
    {
        _membership = membership;
        _disk = disk;
        _dir = directory;
        _syncScheduled = null;
        Array.Clear(_timerVersion);
        _engine = new SegmentEngine(Pg, Replica, world.SegmentSettings, disk, directory, Node.Address, () => membership);
        Run(null, (e, o) => e.Open(Local, o));
    }

    public void Crash()
    {
        _engine = null;
        _syncScheduled = null;
    }

    /// <summary>A protocol message arrived from <paramref name="from"/>; answers go to <paramref name="replyTo"/>.</summary>
    public void Receive(SimNode from, ReplyTarget replyTo, object message)
    {
        var sender = new SegmentSender(from.Address, replyTo is ReplyTarget.Peer p ? $"{from.Address}/segment/{new SegmentId(p.Pg, p.Replica).EntityId}" : $"{from.Address}/writer", replyTo);
        Run(sender, (e, o) => e.Receive(sender, message, Local, o));
    }

    /// <summary>Times an engine input threw and the segment was restarted (as Akka restarts the actor).</summary>
    public int Restarts { get; private set; }

    private void Run(SegmentSender? sender, Action<SegmentEngine, List<SegmentOutput>> input)
    {
        if (_engine is not { } engine) return;
        if (_busy) throw new InvalidOperationException($"segment {Name}: an input arrived while another was handled (the simulator re-entered the engine)");
        _busy = true;
        _out.Clear();
        try
        {
            input(engine, _out);
        }
        catch (Exception e) when (e is IOException or SegmentLogException or UnauthorizedAccessException or InvalidDataException)
        {
            _busy = false;
            RestartAfter(engine, e);
            return;
        }
        finally
        {
            _busy = false;
        }
        // Outputs may start inputs (a sync completing at once is still scheduled, never run inline), so copy first.
        foreach (var output in _out.ToArray()) Perform(engine, sender, output);
    }

    /// <summary>An input threw: the actor would be restarted by its supervisor (Akka's default), its PostStop closing the
    /// engine first and its PreStart opening a new one over the same files.</summary>
    private void RestartAfter(SegmentEngine engine, Exception error)
    {
        Restarts++;
        if (world.Trace.Enabled) world.Trace.Line(world.Scheduler.Now, $"{Name} actor restarts after {error.GetType().Name}: {error.Message}");
        _out.Clear();
        try
        {
            engine.Close(Local, _out);
        }
        catch (Exception e) when (e is IOException or SegmentLogException or UnauthorizedAccessException or InvalidDataException)
        {
            if (world.Trace.Enabled) world.Trace.Line(world.Scheduler.Now, $"{Name} close after the failure failed too: {e.Message}");
        }
        _engine = null;
        Start(_disk!, _dir, _membership!);
    }

    private void Perform(SegmentEngine engine, SegmentSender? sender, SegmentOutput output)
    {
        switch (output)
        {
            case SegmentOutput.Reply r:
                if (sender?.Handle is ReplyTarget to) Send(to, r.Message);
                break;
            case SegmentOutput.SendTo s:
                if (s.Target.Handle is ReplyTarget target) Send(target, s.Message);
                break;
            case SegmentOutput.SendToPeer p:
                world.ToSegment(Node, Pg, p.Replica, p.Message, new ReplyTarget.Peer(Pg, Replica));
                break;
            case SegmentOutput.StartSync s:
                if (_syncScheduled == s.Generation) break;
                _syncScheduled = s.Generation;
                // The write and fdatasync take the disk's time: what the log holds then is written and synced at the end of it.
                var took = world.SyncTime(Node);
                world.Scheduler.After(took, Node, world.Trace.Enabled ? $"{Name} group commit (generation {s.Generation})" : "", () => GroupCommit(engine, s, took));
                break;
            case SegmentOutput.StartCheckpoint c:
                var writing = world.SyncTime(Node) * 4;
                world.Scheduler.After(writing, Node, world.Trace.Enabled ? $"{Name} checkpoint to {c.Materialized}" : "", () => Checkpoint(engine, c, writing));
                break;
            case SegmentOutput.ScheduleTick t:
                var version = ++_timerVersion[(int)t.Timer];
                var at = t.At - Node.ClockAhead;   // the engine's time is the node's clock
                world.Scheduler.At(at, Node, world.Trace.Enabled ? $"{Name} tick {t.Timer}" : "", () =>
                {
                    if (_engine == engine && _timerVersion[(int)t.Timer] == version) Run(null, (e, o) => e.Tick(t.Timer, Local, o));
                });
                break;
            case SegmentOutput.CancelTick c:
                _timerVersion[(int)c.Timer]++;
                break;
            case SegmentOutput.Log l:
                if (world.Trace.Enabled) world.Trace.Line(world.Scheduler.Now, $"{Name} {l.Level}: {SimLog.Format(l.Template, l.Args)}{(l.Error is null ? "" : $" ({l.Error.GetType().Name}: {l.Error.Message})")}");
                break;
            case SegmentOutput.Metric:
                break;
            case SegmentOutput.Stopped:
                _engine = null;
                break;
            default:
                throw new InvalidOperationException($"segment {Name}: the simulator cannot perform {output}");
        }
    }

    private void Send(ReplyTarget to, object message)
    {
        Observe(message);
        world.ToTarget(this, to, message);
    }

    /// <summary>What the checkers need from a segment's answers: the epoch it reports (its fence) and its acks.</summary>
    private void Observe(object message)
    {
        var now = world.Scheduler.Now;
        switch (message)
        {
            case SegmentState s:
                world.Obs.Fences.Add(new FenceAnswered(Name, s.Report.Epoch, now));
                break;
            case RedoAck a:
                world.Obs.Acks.Add(new AckSent(Name, a.Epoch, a.Scl, now));
                break;
        }
    }

    /// <summary>The group commit: every batch the log holds is written and synced, each completion reported, as
    /// SegmentSyncThread does; a failure is reported with SyncFailed.</summary>
    private void GroupCommit(SegmentEngine engine, SegmentOutput.StartSync start, TimeSpan took)
    {
        if (_syncScheduled == start.Generation) _syncScheduled = null;
        if (_engine != engine) return;
        try
        {
            while (start.SegmentLog.BufferedRecords > 0)
            {
                var batch = start.SegmentLog.TakeBatch();
                if (batch.IsEmpty) break;
                var result = start.SegmentLog.WriteAndSync(batch);
                var micros = (long)took.TotalMicroseconds;
                Run(null, (e, o) => e.Synced(start.Generation, batch.CumulativeRecords, micros, result.BytesWritten, Local, o));
                if (_engine != engine) return;
            }
        }
        catch (Exception e) when (e is IOException or SegmentLogException or UnauthorizedAccessException)
        {
            Run(null, (en, o) => en.SyncFailed(start.Generation, e, Local, o));
        }
    }

    private void Checkpoint(SegmentEngine engine, SegmentOutput.StartCheckpoint c, TimeSpan took)
    {
        if (_engine != engine) return;
        try
        {
            c.Store.Write(c.Pages);
            var micros = (long)took.TotalMicroseconds;
            Run(null, (e, o) => e.CheckpointWritten(c, micros, Local, o));
        }
        catch (Exception e) when (e is IOException or SegmentLogException or UnauthorizedAccessException or InvalidDataException)
        {
            Run(null, (en, o) => en.CheckpointFailed(e, Local, o));
        }
    }

    /// <summary>Reads what this segment holds durably (after the final power loss) into the observations: every record
    /// of its log with whether its segment.meta annuls it, and the epoch it is in.</summary>
    public void CollectHeld(SimulatedStorage disk)
    {
        if (!disk.DirectoryExists(_dir)) return;
        SegmentMetadata meta;
        try
        {
            meta = SegmentMetadata.Load(_dir, disk);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException)
        {
            world.Obs.Unreadable.Add($"{Name}: segment.meta: {e.Message}");
            return;
        }
        world.Obs.SegmentEpochs[Name] = meta.Epoch;
        try
        {
            using var log = SegmentLog.Open(_dir, new SegmentLogOptions { Storage = disk, Fsync = false, PreallocateBytes = 0, DirectIo = false });
            foreach (var r in log.ReadAll())
                world.Obs.Held.Add(new HeldRecord(Name, r.Lsn, r.Epoch, meta.IsAnnulled(r.Lsn), RecordHash.Of(r), CrcValid: true));
        }
        catch (Exception e) when (e is IOException or SegmentLogException or InvalidDataException)
        {
            world.Obs.Unreadable.Add($"{Name}: log: {e.Message}");
        }
    }
}

/// <summary>A content hash of a redo record (every field, payload included): two records with one hash hold one content.</summary>
public static class RecordHash
{
    /// <summary>XxHash64 over the record's fields and payload.</summary>
    public static ulong Of(RedoRecord r)
    {
        var h = new System.IO.Hashing.XxHash64();
        Span<byte> head = stackalloc byte[8 * 5 + 2];
        BitConverter.TryWriteBytes(head[0..], r.Lsn.Value);
        BitConverter.TryWriteBytes(head[8..], r.PrevLsn.Value);
        BitConverter.TryWriteBytes(head[16..], r.PageNo);
        BitConverter.TryWriteBytes(head[24..], r.TxnId);
        BitConverter.TryWriteBytes(head[32..], r.Epoch);
        head[40] = (byte)r.Kind;
        head[41] = r.IsCpl ? (byte)1 : (byte)0;
        h.Append(head);
        h.Append(BitConverter.GetBytes(r.Pg));
        h.Append(r.Payload.Span);
        return h.GetCurrentHashAsUInt64();
    }
}

/// <summary>Formats a log template's named holes with their arguments, in order (as Akka's adapter does).</summary>
public static class SimLog
{
    /// <summary><paramref name="template"/> with each <c>{Name}</c> replaced by the next argument.</summary>
    public static string Format(string template, object?[] args)
    {
        var sb = new System.Text.StringBuilder(template.Length + 32);
        var next = 0;
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            var close = c == '{' ? template.IndexOf('}', i + 1) : -1;
            if (close < 0)
            {
                sb.Append(c);
                continue;
            }
            sb.Append(next < args.Length ? args[next++] : template[i..(close + 1)]);
            i = close;
        }
        return sb.ToString();
    }
}
