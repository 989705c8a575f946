using ActorDb.Client;
using ActorDb.Core.Metrics;
using ActorDb.Core.Placement;
using ActorDb.Core.Recovery;
using ActorDb.Core.Storage;

namespace ActorDb.Core.Transactions;

/// <summary>
/// The writer as a deterministic state machine (issue 17): everything the writer decides, free of actors, clocks and
/// I/O. Around the <see cref="TransactionEngine"/> and the <see cref="CommitPipeline"/> it runs the client requests
/// (statements, commits, rollbacks, DDL; parking those that wait for a row lock, a page or LAL), turns segment answers
/// into VDL (acks), resends what a segment lacks from the PG's resend window, probes absent segments
/// (<see cref="SegmentLinks"/>), judges rejections (a newer epoch fences the writer), reads pages from one replica with
/// retries, reports stalled PGs and drains. Each input is a method taking <c>now</c> (UTC) and appending
/// <see cref="WriterOutput"/>s to the caller's list, which the shell performs in order.
/// </summary>
/// <remarks>
/// Life cycle: <see cref="Open"/> once, then inputs; <see cref="Tick"/> every <see cref="WriterEngineSettings.TickInterval"/>;
/// <see cref="Stop"/> when the shell stops. Once the state is final (<see cref="WriterState.IsFinal"/>) every client
/// request is answered with the state's error and every other input is ignored. Commit timestamps (metrics only) come
/// from the tick source given to the constructor; no rule reads them. Per commit it allocates nothing beyond the
/// <see cref="WaitingCommit"/> the engine seals; a request is copied into a <see cref="ClientRequest"/> only when it
/// must wait. Single-threaded: one owner.
/// </remarks>
public sealed class WriterEngine
{
    private readonly WriterEngineSettings _settings;
    private readonly RecoveryPlan _plan;
    private readonly TransactionEngine _engine;
    private readonly SegmentLinks _links;
    private readonly CommitPipeline _pipeline;
    private readonly Func<long> _ticks;
    private readonly long _ticksPerSecond;
    private readonly int _pgCount;
    private readonly VolumeGeometry _geometry;

    private readonly HashSet<(int Pg, int Replica)> _opened = new();
    private readonly Dictionary<long, (ClientRequest Request, DateTime Deadline)> _lockWaits = new();
    private readonly Dictionary<long, List<ClientRequest>> _pageWaiters = new();
    private readonly Dictionary<long, DateTime> _lastStatement = new();   // open transactions: when a statement last arrived
    private readonly Dictionary<long, (int Replica, DateTime Sent)> _pageReadReplica = new();
    /// <summary>The replicas that answered the read of a page in progress with a damaged copy: not asked again by that
    /// read; when all six did, no copy can serve it and the read fails.</summary>
    private readonly Dictionary<long, HashSet<int>> _damagedCopies = new();
    /// <summary>Pages no copy could serve: logged when first seen, summarised, and when no read hits them any more.</summary>
    private readonly RepeatedConditions _unreadablePages = new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60));
    private readonly RepeatedConditions _conditions = new();   // rejections, unanswered page reads: logged per condition, never per event
    private readonly DateTime[][] _lastProgress;
    private readonly Lsn[][] _lastAcked;
    private readonly bool[] _stalled;
    private readonly HashSet<(int Pg, int Replica)> _behind = new();   // reported once: lacks records no outbox holds
    private readonly HashSet<(int Pg, int Replica)> _refused = new();  // logged once: the segment refuses this writer (until it opens)
    private readonly HashSet<(int Pg, int Replica)> _hinted = new();   // sent the PG's newest record before its open (once per opening)
    private (object Client, DateTime Deadline)? _drain;
    private ActorDbException? _finalError;

    /// <summary>The continuation of a system MTR: the format of a new volume, or a table's creation.</summary>
    private sealed record FormatMtr(Lsn CommitLsn);
    private sealed record DdlMtr(object Client, TableSchema Schema);

    /// <summary>A writer of the volume <paramref name="plan"/> recovered, in <paramref name="geometry"/>.</summary>
    /// <param name="settings">The writer's settings.</param>
    /// <param name="geometry">The volume's geometry.</param>
    /// <param name="plan">The recovery's plan: epoch, VDL, truncation, PG tails.</param>
    /// <param name="ticks">The shell's tick source for commit timestamps (Stopwatch ticks; a simulator's counter).</param>
    /// <param name="ticksPerSecond">Ticks of <paramref name="ticks"/> per second (to convert a segment's fsync µs).</param>
    /// <param name="now">The start time: every PG's progress clock starts here.</param>
    /// <exception cref="ArgumentOutOfRangeException">a setting out of range (see <see cref="SegmentLinks"/>, <see cref="CommitPipeline"/>).</exception>
    public WriterEngine(WriterEngineSettings settings, VolumeGeometry geometry, RecoveryPlan plan, Func<long> ticks, long ticksPerSecond, DateTime now)
    {
        _settings = settings;
        _geometry = geometry;
        _plan = plan;
        _ticks = ticks;
        _ticksPerSecond = ticksPerSecond;
        _pgCount = geometry.PgCount;
        _engine = new TransactionEngine(new EngineOptions(geometry, settings.BufferCachePages, settings.Lal, settings.RetainedRedoBytesPerPg),
            plan.Epoch, plan.Vdl, plan.TruncateTo, plan.PgTail);
        _links = new SegmentLinks(_pgCount, VolumeGeometry.SegmentsPerPg, settings.ResendAfter, settings.SilentAfter,
            settings.ProbeMaxInterval < settings.ResendAfter ? settings.ResendAfter : settings.ProbeMaxInterval);
        _pipeline = new CommitPipeline(_engine, _links, settings.MaxBatchesInFlightPerPg, now);
        _lastProgress = Enumerable.Range(0, _pgCount).Select(_ => Enumerable.Repeat(now, VolumeGeometry.SegmentsPerPg).ToArray()).ToArray();
        _lastAcked = Enumerable.Range(0, _pgCount).Select(_ => new Lsn[VolumeGeometry.SegmentsPerPg]).ToArray();
        _stalled = new bool[_pgCount];
    }

    /// <summary>The transaction engine (buffer cache, trees, locks, quorum tracker, outboxes); read it, do not drive it.</summary>
    public TransactionEngine Transactions => _engine;
    /// <summary>The commit bookkeeping (batches, bytes shipped, quorum progress).</summary>
    public CommitPipeline Pipeline => _pipeline;
    /// <summary>Which segments take redo now.</summary>
    public SegmentLinks Links => _links;
    /// <summary>The writer's life-cycle state.</summary>
    public WriterState State => _pipeline.State;
    /// <summary>The writer's epoch.</summary>
    public long Epoch => _engine.Epoch;
    /// <summary>The commit the last input sealed, until <see cref="ForgetSealed"/> (the shell answers it if the input then
    /// failed with an exception).</summary>
    public WaitingCommit? Sealed { get; private set; }
    /// <summary>Forgets <see cref="Sealed"/>; the shell calls it before each input.</summary>
    public void ForgetSealed() => Sealed = null;
    /// <summary>True while <paramref name="pg"/> is logged stalled.</summary>
    public bool IsStalled(int pg) => _stalled[pg];

    /// <summary>The replicas of <paramref name="pg"/> whose SCL is below its oldest record lacking a write quorum (empty
    /// when none lacks one).</summary>
    public IReadOnlyList<int> StalledReplicas(int pg) =>
        _engine.Tracker.OldestOutstanding(pg) is { } oldest ? StalledReplicas(pg, oldest) : [];

    private List<int> StalledReplicas(int pg, Lsn oldest) =>
        Enumerable.Range(0, VolumeGeometry.SegmentsPerPg).Where(r => _engine.Tracker.Scl(pg, r) < oldest).ToList();

    private static string Segment(int pg, int replica) => new SegmentId(pg, replica).EntityId;

    private static void Log(List<WriterOutput> outputs, EngineLogLevel level, string template, params object[] args) =>
        outputs.Add(new WriterOutput.Log(level, template, args));

    // ---------------------------------------------------------------- opening

    /// <summary>
    /// Input: the writer starts on the recovered volume. Seeds the SCLs of the segments that installed the epoch
    /// (<paramref name="installed"/>), then formats a new volume (VDL 0: <see cref="WriterOutput.Opened"/> once the format
    /// MTR is durable) or loads the catalog from <paramref name="header"/> (page 0 read at VDL):
    /// <see cref="WriterOutput.Opened"/> now, or <see cref="WriterOutput.OpenFailed"/> and state Failed.
    /// </summary>
    public void Open(IEnumerable<InstalledReplica> installed, byte[]? header, DateTime now, List<WriterOutput> outputs)
    {
        foreach (var s in installed)
        {
            _opened.Add((s.Pg, s.Replica));
            SeedScl(s.Pg, s.Replica, s.Scl, outputs);
            _links.Heard(s.Pg, s.Replica, s.Node, null, now);
        }
        if (_plan.Vdl == Lsn.Zero)
        {
            var format = _engine.FormatVolume();
            Log(outputs, EngineLogLevel.Info, "Writer formatting a new volume in epoch {Epoch}: catalog MTR at LSN {Lsn}", _plan.Epoch, format.CommitLsn);
            format.Commit.ReplyTo = new FormatMtr(format.CommitLsn);
            Ship(now, outputs);
            return;
        }
        try
        {
            _engine.LoadVolume(header ?? throw new InvalidDataException("the volume header page was never written"));
        }
        catch (Exception e)
        {
            var failure = $"cannot load the volume header (page 0) at VDL {_plan.Vdl}: {e.Message}";
            _pipeline.MoveTo(new WriterState.Failed(failure));
            _finalError = new ActorDbException($"the writer is not available: {failure}");
            Log(outputs, EngineLogLevel.Error, "Writer failed: {Reason}", failure);
            outputs.Add(new WriterOutput.OpenFailed(_plan.Epoch, failure));
            return;
        }
        var tables = _engine.Catalog!.Tables.Count;
        Opened($"{tables} table{(tables == 1 ? "" : "s")}", outputs);
    }

    private void Opened(string detail, List<WriterOutput> outputs)
    {
        // A drain asked for while the format MTR was in flight goes on: the writer reports open, and stays draining.
        if (_pipeline.State is WriterState.Opening) _pipeline.MoveTo(WriterState.Serving.Instance);
        Log(outputs, EngineLogLevel.Info, "Writer serving epoch {Epoch}: VDL {Vdl}, {Tables} tables", _engine.Epoch, _engine.Vdl, _engine.Catalog!.Tables.Count);
        outputs.Add(new WriterOutput.Opened(_engine.Epoch, detail));
    }

    /// <summary>
    /// Takes a segment's SCL as reported when it installed the epoch, including one below the recovered VDL: a segment
    /// that missed records before this writer started is then seen lagging (its acks do not count for those records,
    /// the resend path reports it) instead of being assumed complete up to VDL.
    /// </summary>
    private void SeedScl(int pg, int replica, Lsn scl, List<WriterOutput> outputs)
    {
        var tail = _plan.PgTail[pg];
        _engine.SeedScl(pg, replica, scl >= tail ? _engine.Tracker.Scl(pg, replica) : scl);
        if (scl < tail)
            Log(outputs, EngineLogLevel.Warning, "Segment {Segment} (PG {Pg}) opened epoch {Epoch} at SCL {Scl}, behind the PG's last durable record {Tail}: it lacks records only its peers hold",
                Segment(pg, replica), pg, _plan.Epoch, scl, tail);
    }

    /// <summary>Input: the shell stops (failure or shutdown). Requests still parked get an error now rather than a
    /// timeout: commits waiting for VDL are ambiguous (<see cref="ClientReply.Ambiguous"/>), the rest (no commit LSN yet)
    /// aborted.</summary>
    public void Stop(List<WriterOutput> outputs)
    {
        foreach (var c in _engine.Committing)
        {
            if (c.Answered || c.TxnId == 0 || c.ReplyTo is null) continue;
            c.MarkAnswered();
            outputs.Add(new WriterOutput.ReplyToClient(c.ReplyTo, new ClientReply.Ambiguous(c, "the writer stopped before the commit was durable")));
        }
        var error = new TransactionAbortedException($"the writer of epoch {_engine.Epoch} stopped ({_pipeline.State.Name}); the transaction is gone");
        foreach (var w in _lockWaits.Values) outputs.Add(ErrorReply(w.Request, error));
        foreach (var list in _pageWaiters.Values) foreach (var w in list) outputs.Add(ErrorReply(w, error));
        foreach (ClientRequest w in _pipeline.TakeWaitingForLal()) outputs.Add(ErrorReply(w, error));
        _lockWaits.Clear(); _pageWaiters.Clear();
    }

    // ---------------------------------------------------------------- client requests

    /// <summary>Input: a statement of transaction <paramref name="txnId"/> (0 begins one); with <paramref name="commit"/>,
    /// commit right after it succeeds. Outputs: a <see cref="ClientReply.StatementReply"/> now, or (with commit) once durable
    /// through <see cref="WriterOutput.CommitsDurable"/>; nothing while it waits for a lock, a page or LAL.</summary>
    public void Execute(ClientCall call, long txnId, Statement statement, bool commit, DateTime now, List<WriterOutput> outputs)
    {
        if (Refuse(call.Client, outputs, txnId, statementShape: true)) return;
        if (_drain is not null)
        {
            outputs.Add(new WriterOutput.ReplyToClient(call.Client, new ClientReply.StatementReply(txnId, null, new TransactionAbortedException("the writer is stopping"), true)));
            return;
        }
        var id = txnId == 0 ? _engine.Begin() : txnId;
        if (_settings.IdleTransactionTimeout > TimeSpan.Zero) _lastStatement[id] = now;
        switch (_engine.Execute(id, statement))
        {
            case StatementOutcome.Done d when commit:
                Commit(call, id, withStatement: true, d.Result, now, outputs);
                break;
            case StatementOutcome.Done d:
                outputs.Add(new WriterOutput.ReplyToClient(call.Client, new ClientReply.StatementReply(id, d.Result, null, false)));
                break;
            case StatementOutcome.Failed f:
                outputs.Add(new WriterOutput.ReplyToClient(call.Client, new ClientReply.StatementReply(id, null, f.Error, !_engine.IsOpen(id))));
                break;
            case StatementOutcome.Aborted a:
                outputs.Add(new WriterOutput.ReplyToClient(call.Client, new ClientReply.StatementReply(id, null, a.Error, true)));
                Resume(a.Granted, outputs);
                break;
            case StatementOutcome.Blocked:
                _lockWaits[id] = (new ClientRequest.ExecuteStatement(call.Client, call.Requested, id, statement, commit), now + _settings.LockTimeout);
                break;
            case StatementOutcome.NeedPage p:
                WaitForPage(p.PageNo, new ClientRequest.ExecuteStatement(call.Client, call.Requested, id, statement, commit), now, outputs);
                break;
        }
    }

    /// <summary>Input: commit transaction <paramref name="txnId"/>. Outputs: the commit's redo (<see cref="WriterOutput.ShipBatch"/>),
    /// later its answer in <see cref="WriterOutput.CommitsDurable"/>; a read-only or failed commit is answered now
    /// (<see cref="ClientReply.CommitReply"/>).</summary>
    public void Commit(ClientCall call, long txnId, DateTime now, List<WriterOutput> outputs)
    {
        if (Refuse(call.Client, outputs, txnId, statementShape: false)) return;
        Commit(call, txnId, withStatement: false, result: null, now, outputs);
    }

    private void Commit(ClientCall call, long txnId, bool withStatement, object? result, DateTime now, List<WriterOutput> outputs)
    {
        switch (_engine.Commit(txnId))
        {
            case CommitOutcome.Pending p:
                var commit = Sealed = p.Commit;
                commit.ReplyTo = call.Client;
                commit.WithStatement = withStatement;
                commit.Result = result;
                commit.Times = new CommitTimes(call.Requested, call.Received, _ticks(), 0, 0, 0, 0);
                _pipeline.Sealed(commit);
                Ship(now, outputs);
                break;
            case CommitOutcome.ReadOnly r:
                var info = new CommitInfo(0, _engine.Vdl.Value);
                outputs.Add(new WriterOutput.ReplyToClient(call.Client, withStatement
                    ? new ClientReply.StatementReply(txnId, result, null, false, info)
                    : new ClientReply.CommitReply(txnId, info, null)));
                Resume(r.Granted, outputs);
                break;
            case CommitOutcome.NeedPage p:
                WaitForPage(p.PageNo, new ClientRequest.CommitTransaction(call.Client, call.Requested, txnId, withStatement, result), now, outputs);
                break;
            case CommitOutcome.Backpressure:
                _pipeline.WaitForLal(new ClientRequest.CommitTransaction(call.Client, call.Requested, txnId, withStatement, result));
                break;
            case CommitOutcome.Failed f:
                outputs.Add(new WriterOutput.ReplyToClient(call.Client, withStatement
                    ? new ClientReply.StatementReply(txnId, null, f.Error, true)
                    : new ClientReply.CommitReply(txnId, null, f.Error)));
                break;
        }
    }

    /// <summary>Input: roll transaction <paramref name="txnId"/> back. Output: <see cref="ClientReply.RolledBack"/>, and the
    /// lock waiters it frees (<see cref="WriterOutput.Rerun"/>).</summary>
    public void Rollback(object client, long txnId, List<WriterOutput> outputs)
    {
        if (State.IsFinal) { outputs.Add(new WriterOutput.ReplyToClient(client, new ClientReply.RolledBack(txnId))); return; }
        _lockWaits.Remove(txnId);
        Resume(_engine.Abort(txnId), outputs);
        outputs.Add(new WriterOutput.ReplyToClient(client, new ClientReply.RolledBack(txnId)));
    }

    /// <summary>Input: create <paramref name="schema"/>'s table unless it exists. Output: <see cref="ClientReply.TableReply"/>
    /// now (it exists, or an error), or once the DDL MTR is durable.</summary>
    public void CreateTable(object client, TableSchema schema, DateTime now, List<WriterOutput> outputs)
    {
        if (State.IsFinal) { outputs.Add(new WriterOutput.ReplyToClient(client, new ClientReply.TableReply(null, _finalError))); return; }
        try
        {
            var (created, commit) = _engine.CreateTable(schema);
            switch (commit)
            {
                case null: outputs.Add(new WriterOutput.ReplyToClient(client, new ClientReply.TableReply(created, null))); break;
                case CommitOutcome.Backpressure: _pipeline.WaitForLal(new ClientRequest.CreateTable(client, schema)); break;
                case CommitOutcome.Pending p:
                    p.Commit.ReplyTo = new DdlMtr(client, created);
                    Log(outputs, EngineLogLevel.Info, "Creating table {Table} in epoch {Epoch} at LSN {Lsn}", created.Name, _engine.Epoch, p.CommitLsn);
                    Ship(now, outputs);
                    break;
            }
        }
        catch (ActorDbException e)
        {
            outputs.Add(new WriterOutput.ReplyToClient(client, new ClientReply.TableReply(null, e)));
        }
    }

    /// <summary>Input: look table <paramref name="name"/> up. Output: <see cref="ClientReply.TableReply"/> (null schema: none).</summary>
    public void GetTable(object client, string name, List<WriterOutput> outputs) =>
        outputs.Add(new WriterOutput.ReplyToClient(client, State.IsFinal
            ? new ClientReply.TableReply(null, _finalError)
            : new ClientReply.TableReply(_engine.GetTable(name), null)));

    /// <summary>Input: a parked request handed back (<see cref="WriterOutput.Rerun"/>, <see cref="WriterOutput.RetryWaiting"/>)
    /// runs again; <paramref name="received"/> is when the shell began handling it now (ticks). A statement is run again,
    /// the commit half of a statement with commit only commits.</summary>
    public void Rerun(ClientRequest request, long received, DateTime now, List<WriterOutput> outputs)
    {
        var call = new ClientCall(request.Client, request.Requested, received);
        switch (request)
        {
            case ClientRequest.ExecuteStatement e: Execute(call, e.TxnId, e.Statement, e.Commit, now, outputs); break;
            case ClientRequest.CommitTransaction c when c.WithStatement:
                if (!Refuse(call.Client, outputs, c.TxnId, statementShape: true)) Commit(call, c.TxnId, true, c.Result, now, outputs);
                break;
            case ClientRequest.CommitTransaction c: Commit(call, c.TxnId, now, outputs); break;
            case ClientRequest.CreateTable t: CreateTable(t.Client, t.Schema, now, outputs); break;
        }
    }

    /// <summary>A stopped, fenced or failed writer answers a statement or commit with its error at once.</summary>
    private bool Refuse(object client, List<WriterOutput> outputs, long txnId, bool statementShape)
    {
        if (!State.IsFinal) return false;
        outputs.Add(new WriterOutput.ReplyToClient(client, statementShape
            ? new ClientReply.StatementReply(txnId, null, _finalError, true)
            : new ClientReply.CommitReply(txnId, null, _finalError)));
        return true;
    }

    /// <summary>The error answer to a parked request, in its shape.</summary>
    private static WriterOutput ErrorReply(ClientRequest request, ActorDbException error) =>
        new WriterOutput.ReplyToClient(request.Client, request switch
        {
            ClientRequest.ExecuteStatement e => new ClientReply.StatementReply(e.TxnId, null, error, true),
            ClientRequest.CommitTransaction { WithStatement: true } c => new ClientReply.StatementReply(c.TxnId, null, error, true),
            ClientRequest.CommitTransaction c => new ClientReply.CommitReply(c.TxnId, null, error),
            _ => new ClientReply.TableReply(null, error),
        });

    private static long TxnOf(ClientRequest request) => request switch
    {
        ClientRequest.ExecuteStatement e => e.TxnId,
        ClientRequest.CommitTransaction c => c.TxnId,
        _ => 0L,
    };

    private void Resume(IReadOnlyList<(long Txn, RowId Row)> granted, List<WriterOutput> outputs)
    {
        foreach (var (txn, _) in granted)
            if (_lockWaits.Remove(txn, out var w)) outputs.Add(new WriterOutput.Rerun(w.Request));
    }

    // ---------------------------------------------------------------- page reads

    private void WaitForPage(long pageNo, ClientRequest request, DateTime now, List<WriterOutput> outputs)
    {
        if (!_pageWaiters.TryGetValue(pageNo, out var waiters))
        {
            _pageWaiters[pageNo] = waiters = new List<ClientRequest>();
            RequestPage(pageNo, nextReplica: false, now, outputs);
        }
        waiters.Add(request);
    }

    /// <summary>Reads a page from one segment of its PG (design.md, "Pages": one read, no quorum). First choice: a segment
    /// that installed this epoch, with the highest SCL; a refusal or no answer within
    /// <see cref="WriterEngineSettings.PageReadRetryAfter"/> moves on to the next replica.</summary>
    private void RequestPage(long pageNo, bool nextReplica, DateTime now, List<WriterOutput> outputs)
    {
        var pg = _geometry.PgOf(pageNo);
        var required = _engine.ReadRequirement(pg);
        int replica;
        if (nextReplica && _pageReadReplica.TryGetValue(pageNo, out var previous))
        {
            // The next replica that takes messages now, if any does (a read to one with no node would wait in the region),
            // skipping one whose copy is damaged and answered already (it is being repaired; asking it again only spins).
            replica = (previous.Replica + 1) % VolumeGeometry.SegmentsPerPg;
            for (var step = 1; step <= VolumeGeometry.SegmentsPerPg; step++)
            {
                var candidate = (previous.Replica + step) % VolumeGeometry.SegmentsPerPg;
                if (_damagedCopies.TryGetValue(pageNo, out var damaged) && damaged.Contains(candidate)) continue;
                if (_links.Why(pg, candidate, now) is SegmentAbsence.None or SegmentAbsence.Silent) { replica = candidate; break; }
            }
        }
        else
        {
            replica = -1;
            for (var r = 0; r < VolumeGeometry.SegmentsPerPg; r++)
            {
                if (!_opened.Contains((pg, r))) continue;
                if (replica < 0 || _engine.Tracker.Scl(pg, r) > _engine.Tracker.Scl(pg, replica)) replica = r;
            }
            if (replica < 0) replica = 0;
        }
        _pageReadReplica[pageNo] = (replica, now);
        outputs.Add(new WriterOutput.SendToSegment(pg, replica, new SegmentRequest.ReadPage(pageNo, _engine.Vdl, required)));
    }

    /// <summary>Input: segment <paramref name="replica"/> of <paramref name="pg"/> cannot serve page <paramref name="pageNo"/>:
    /// the next replica is asked; a <paramref name="damaged"/> copy is not asked again by this read, and when all six
    /// copies are damaged the read fails at once, naming the page and PG (every waiting request gets that error).</summary>
    public void OnPageUnavailable(int pg, int replica, long pageNo, bool damaged, DateTime now, List<WriterOutput> outputs)
    {
        if (State.IsFinal || !_pageWaiters.ContainsKey(pageNo)) return;
        if (damaged && replica is >= 0 and < VolumeGeometry.SegmentsPerPg && pg == _geometry.PgOf(pageNo))
        {
            if (!_damagedCopies.TryGetValue(pageNo, out var copies)) _damagedCopies[pageNo] = copies = new HashSet<int>();
            copies.Add(replica);
            if (copies.Count == VolumeGeometry.SegmentsPerPg)
            {
                FailPageRead(pg, pageNo, now, outputs);
                return;
            }
        }
        RequestPage(pageNo, nextReplica: true, now, outputs);
    }

    /// <summary>No copy of <paramref name="pageNo"/> can be read: every request waiting for it fails with one error naming
    /// the page and the PG, and its transaction is aborted; other pages go on being served.</summary>
    private void FailPageRead(int pg, long pageNo, DateTime now, List<WriterOutput> outputs)
    {
        _pageReadReplica.Remove(pageNo);
        _damagedCopies.Remove(pageNo);
        if (!_pageWaiters.Remove(pageNo, out var waiters)) return;
        var error = new TransactionAbortedException(PageRepair.Unreadable(pg, pageNo));
        if (_unreadablePages.Occurred($"page {pageNo} of PG {pg}", now))
            Log(outputs, EngineLogLevel.Error, "{Error}; reads of it fail until a copy is repaired (repeats are summarised every 10 s)", error.Message);
        foreach (var request in waiters)
        {
            var txnId = TxnOf(request);
            if (txnId != 0) Resume(_engine.Abort(txnId), outputs);
            outputs.Add(ErrorReply(request, error));
        }
    }

    /// <summary>Input: page <paramref name="pageNo"/>'s image at the read point (null: never written, an empty page): it is
    /// installed in the buffer cache and every request waiting for it runs again (<see cref="WriterOutput.Rerun"/>).</summary>
    public void OnPageImage(long pageNo, byte[]? image, List<WriterOutput> outputs)
    {
        if (State.IsFinal) return;
        _pageReadReplica.Remove(pageNo);
        _damagedCopies.Remove(pageNo);
        if (!_pageWaiters.Remove(pageNo, out var waiters)) return;
        _engine.InstallPage(pageNo, image ?? new byte[_geometry.PageSize]);
        foreach (var request in waiters) outputs.Add(new WriterOutput.Rerun(request));
    }

    // ---------------------------------------------------------------- segment answers

    /// <summary>
    /// Input: segment <paramref name="replica"/> of <paramref name="pg"/>, on <paramref name="node"/> (null: unknown), holds
    /// its PG's records up to <paramref name="scl"/> in <paramref name="epoch"/> (another epoch's ack is ignored), its
    /// fsync taking <paramref name="syncMicros"/> µs. Outputs: what the segment lacks if it was absent (a resend), then the
    /// <see cref="CommitPipeline.OnAck"/> outputs (durable commits, lock waiters run again, LAL waiters, batches).
    /// </summary>
    public void OnAck(int pg, int replica, long epoch, Lsn scl, long syncMicros, string? node, DateTime now, List<WriterOutput> outputs)
    {
        if (State.IsFinal || epoch != _engine.Epoch) return;
        if (_links.Heard(pg, replica, node, null, now) && scl < _engine.Outboxes[pg].LastSent)
            ResendNow(pg, replica, now, outputs);   // back after an absence: what it lacks, from the window
        if (scl > _lastAcked[pg][replica])
        {
            _lastAcked[pg][replica] = scl;
            _lastProgress[pg][replica] = now;
        }
        var from = outputs.Count;
        _pipeline.OnAck(pg, replica, epoch, scl, syncMicros * _ticksPerSecond / 1_000_000, now, _ticks(), outputs);
        Expand(from, outputs);
        if (_drain is not null) CheckDrain(now, outputs);
    }

    /// <summary>Input: segment <paramref name="replica"/> of <paramref name="pg"/> installed <paramref name="epoch"/> at
    /// <paramref name="scl"/> (after the writer reopened it): its SCL is seeded and taken as an ack.</summary>
    public void OnEpochOpened(int pg, int replica, long epoch, Lsn scl, string? node, DateTime now, List<WriterOutput> outputs)
    {
        if (State.IsFinal || epoch != _engine.Epoch) return;
        _refused.Remove((pg, replica));
        _hinted.Remove((pg, replica));
        _opened.Add((pg, replica));
        SeedScl(pg, replica, scl, outputs);
        OnAck(pg, replica, epoch, scl, 0, node, now, outputs);
    }

    /// <summary>
    /// Input: a segment rejected redo (<paramref name="r"/>), sent from <paramref name="node"/> (null: no sender, e.g. the
    /// region answered for it). By <see cref="CommitPipeline.Judge"/>: refused (logged once), fenced by a newer epoch (the
    /// writer steps down: commits in flight abandoned as ambiguous, parked requests answered with a stale-epoch error,
    /// <see cref="WriterOutput.Fenced"/>), reopen (the newest record as a hint, a fence and an OpenEpoch through the
    /// region), or a fault of its own (a repeated condition).
    /// </summary>
    public void OnRejected(SegmentRejection r, string? node, DateTime now, List<WriterOutput> outputs)
    {
        if (State.IsFinal) return;
        // A refusal is an answer: the segment is there, and says whether a storage fault keeps it from taking redo.
        if (node is not null) _links.Heard(r.Pg, r.Replica, node, r.Fault, now);
        switch (CommitPipeline.Judge(r.Refused, r.StaleEpoch, r.SegmentEpoch, _engine.Epoch))
        {
            case RedoRejectionVerdict.Refused:
                // The segment does not take this writer's node as its epoch's writer (SegmentAuthority): not a writer node, or
                // another node fenced it at this epoch. Re-sending cannot help; a newer epoch or a fix of the roles must.
                if (_refused.Add((r.Pg, r.Replica)))
                    Log(outputs, EngineLogLevel.Error, "Segment {Segment} (PG {Pg}) refuses this writer in epoch {Epoch}: {Reason}", Segment(r.Pg, r.Replica), r.Pg, _engine.Epoch, r.Reason);
                return;
            case RedoRejectionVerdict.Fenced:
                BecomeFenced(r, outputs);
                return;
            case RedoRejectionVerdict.Reopen:
                // The segment missed the epoch change (it was down, or restarted and lost who fenced it): fence it at this epoch
                // (a segment takes an OpenEpoch only from the node that fenced it), install it, then the resend path fills it in.
                _opened.Remove((r.Pg, r.Replica));
                // First the PG's newest record (refused, but it tells a segment that lost its data how far the PG has come:
                // its join target), then the fence and the open, all through the region so that they arrive in this order.
                if (_engine.Outboxes[r.Pg].Newest is { } newest && _hinted.Add((r.Pg, r.Replica)))
                    outputs.Add(new WriterOutput.SendToSegment(r.Pg, r.Replica, new SegmentRequest.Redo(_engine.Epoch, [newest], _engine.Vdl), ViaRegion: true));
                outputs.Add(new WriterOutput.SendToSegment(r.Pg, r.Replica, new SegmentRequest.Fence(_plan.Epoch), ViaRegion: true));
                outputs.Add(new WriterOutput.SendToSegment(r.Pg, r.Replica,
                    new SegmentRequest.OpenEpoch(_plan.Epoch, _plan.Vdl, _plan.TruncateTo, _plan.PgTail[r.Pg]), ViaRegion: true));
                return;
            default:
                // A full or failed segment rejects every batch and resend: one line when it starts, then summaries (Tick).
                if (_conditions.Occurred($"segment {Segment(r.Pg, r.Replica)} rejecting redo", now))
                    Log(outputs, EngineLogLevel.Warning, "Segment {Segment} (PG {Pg}) rejected redo in epoch {Epoch}: {Reason} (repeats are summarised every {Seconds} s)",
                        Segment(r.Pg, r.Replica), r.Pg, _engine.Epoch, r.Reason, (int)_conditions.SummaryEvery.TotalSeconds);
                return;
        }
    }

    private void BecomeFenced(SegmentRejection r, List<WriterOutput> outputs)
    {
        var failure = $"fenced: segment {Segment(r.Pg, r.Replica)} is in epoch {r.SegmentEpoch}, this writer in epoch {_engine.Epoch}";
        Log(outputs, EngineLogLevel.Error, "Writer fenced in epoch {Epoch} by segment {Segment} (PG {Pg}) in epoch {SegmentEpoch}; no further commit can be acknowledged",
            _engine.Epoch, Segment(r.Pg, r.Replica), r.Pg, r.SegmentEpoch);
        // A commit in flight may or may not have reached the read quorum the new epoch recovered from: ambiguous.
        var parked = _pipeline.StepDown(r.SegmentEpoch, failure, outputs);
        outputs.Add(new WriterOutput.Fenced(_engine.Epoch, r.SegmentEpoch, failure));
        var error = _finalError = new StaleEpochException($"the writer of epoch {_engine.Epoch} was fenced by epoch {r.SegmentEpoch}", ambiguous: false);
        foreach (var w in _lockWaits.Values) outputs.Add(ErrorReply(w.Request, error));
        foreach (var list in _pageWaiters.Values) foreach (var w in list) outputs.Add(ErrorReply(w, error));
        foreach (ClientRequest w in parked) outputs.Add(ErrorReply(w, error));
        _lockWaits.Clear(); _pageWaiters.Clear(); _damagedCopies.Clear(); _pageReadReplica.Clear();
        _drain = null;
    }

    /// <summary>Input: the segment's actor stopped (hand-off, crash): it has no node until it answers again.</summary>
    public void OnSegmentLost(int pg, int replica, DateTime now)
    {
        if (!State.IsFinal) _links.Lost(pg, replica, now);
    }

    /// <summary>Input: the cluster marks <paramref name="node"/> unreachable: nothing is sent to its segments.</summary>
    public void OnNodeUnreachable(string node)
    {
        if (!State.IsFinal) _links.NodeUnreachable(node);
    }

    /// <summary>Input: <paramref name="node"/> is reachable again: its live segments are resent what they lack.</summary>
    public void OnNodeReachable(string node, DateTime now, List<WriterOutput> outputs)
    {
        if (State.IsFinal) return;
        foreach (var (pg, replica) in _links.NodeReachable(node, now)) ResendNow(pg, replica, now, outputs);
    }

    /// <summary>Input: <paramref name="node"/> left the cluster: its segments have no node until they answer again.</summary>
    public void OnNodeRemoved(string node, DateTime now)
    {
        if (!State.IsFinal) _links.NodeRemoved(node, now);
    }

    // ---------------------------------------------------------------- redo shipping

    private void Ship(DateTime now, List<WriterOutput> outputs) => _pipeline.Ship(now, _ticks(), outputs);

    /// <summary>Carries out, inside the engine, the pipeline outputs appended from <paramref name="from"/> on that concern
    /// its own bookkeeping: a system MTR made durable (the volume opens, a table's creation is answered) and lock requests
    /// granted (their parked requests run again), each followed by its consequences; the outputs stay in the list.</summary>
    private void Expand(int from, List<WriterOutput> outputs)
    {
        for (var i = from; i < outputs.Count; i++)
        {
            switch (outputs[i])
            {
                case WriterOutput.SystemMtrDurable { Commit.ReplyTo: FormatMtr f }:
                {
                    var more = new List<WriterOutput>();
                    Opened($"new volume formatted: catalog MTR at LSN {f.CommitLsn}", more);
                    outputs.InsertRange(i + 1, more);
                    i += more.Count;
                    break;
                }
                case WriterOutput.SystemMtrDurable { Commit.ReplyTo: DdlMtr d }:
                    outputs.Insert(++i, new WriterOutput.ReplyToClient(d.Client, new ClientReply.TableReply(d.Schema, null)));
                    break;
                case WriterOutput.LocksGranted g:
                {
                    var more = new List<WriterOutput>();
                    Resume(g.Granted, more);
                    outputs.InsertRange(i + 1, more);
                    i += more.Count;
                    break;
                }
            }
        }
    }

    /// <summary>Sends a live segment what it lacks above its SCL from the PG's resend window, or reports once that the
    /// window no longer holds it (the segment then catches up from its peers).</summary>
    private void ResendNow(int pg, int replica, DateTime now, List<WriterOutput> outputs)
    {
        var scl = _engine.Tracker.Scl(pg, replica);
        var outbox = _engine.Outboxes[pg];
        _lastProgress[pg][replica] = now;   // one resend per interval
        if (scl >= outbox.LastSent) return;
        var missing = outbox.RetainedAbove(scl);
        if (missing is { Length: > 0 })
        {
            outputs.Add(new WriterOutput.SendToSegment(pg, replica, new SegmentRequest.Redo(_engine.Epoch, missing, _engine.Vdl)));
            _links.Shipped(pg, replica, now);
        }
        else if (missing is null && _behind.Add((pg, replica)))
            Log(outputs, EngineLogLevel.Warning, "Segment {Segment} (PG {Pg}) at SCL {Scl} lacks records the writer no longer keeps; it must catch up from its peers",
                Segment(pg, replica), pg, scl);
    }

    // ---------------------------------------------------------------- periodic work

    /// <summary>
    /// Input: the periodic tick (every <see cref="WriterEngineSettings.TickInterval"/>). Summaries of repeated conditions,
    /// lock waits past the lock timeout (aborted), page reads unanswered for
    /// <see cref="WriterEngineSettings.PageReadRetryAfter"/> (the next replica), probes of absent segments, resends to live
    /// segments that made no progress for <c>resend-after</c>, stalled and resumed PGs, and the drain's deadline.
    /// </summary>
    public void Tick(DateTime now, List<WriterOutput> outputs)
    {
        if (State.IsFinal) return;
        foreach (var line in _unreadablePages.Due(now))
            if (line.Ended) Log(outputs, EngineLogLevel.Info, "Reads of {Page} no longer fail ({Count} failed in all)", line.Key, line.Total);
            else Log(outputs, EngineLogLevel.Warning, "Reads of {Page} still fail: no copy can serve it ({Count} more since the last line)", line.Key, line.Count);
        if (_lockWaits.Count > 0)
            foreach (var (txn, wait) in _lockWaits.Where(w => w.Value.Deadline <= now).ToList())
            {
                _lockWaits.Remove(txn);
                Resume(_engine.Abort(txn), outputs);
                outputs.Add(ErrorReply(wait.Request, new LockTimeoutException(
                    $"transaction {txn} aborted: a row lock was not granted within {_settings.LockTimeout.TotalMilliseconds} ms")));
            }

        AbortIdleTransactions(now, outputs);
        LogConditions(now, outputs);
        if (_pageReadReplica.Count > 0)
            foreach (var (pageNo, read) in _pageReadReplica.Where(r => now - r.Value.Sent > WriterEngineSettings.PageReadRetryAfter && _pageWaiters.ContainsKey(r.Key)).ToList())
            {
                if (_conditions.Occurred($"page reads unanswered in PG {_geometry.PgOf(pageNo)}", now))
                    Log(outputs, EngineLogLevel.Warning, "Page {PageNo} read from segment {Segment} unanswered after {Ms} ms in epoch {Epoch}; asking the next replica",
                        pageNo, Segment(_geometry.PgOf(pageNo), read.Replica), (int)(now - read.Sent).TotalMilliseconds, _engine.Epoch);
                RequestPage(pageNo, nextReplica: true, now, outputs);
            }

        for (var pg = 0; pg < _pgCount; pg++)
        {
            var outbox = _engine.Outboxes[pg];
            for (var r = 0; r < VolumeGeometry.SegmentsPerPg; r++)
            {
                // An absent segment gets a probe (an empty batch: it answers with its SCL or why it refuses), never redo.
                switch (_links.Due(pg, r, now))
                {
                    case SegmentProbe.Direct:
                        outputs.Add(new WriterOutput.SendToSegment(pg, r, new SegmentRequest.Redo(_engine.Epoch, [], _engine.Vdl)));
                        continue;
                    case SegmentProbe.ViaRegion:
                        outputs.Add(new WriterOutput.SendToSegment(pg, r, new SegmentRequest.Redo(_engine.Epoch, [], _engine.Vdl), ViaRegion: true));
                        continue;
                }
                if (!_links.Live(pg, r, now)) continue;
                if (_engine.Tracker.Scl(pg, r) >= outbox.LastSent || now - _lastProgress[pg][r] < _settings.ResendAfter) continue;
                ResendNow(pg, r, now, outputs);
            }
            CheckStall(pg, now, outputs);
        }
        if (_drain is not null) CheckDrain(now, outputs);
    }

    /// <summary>Aborts every open transaction with no statement for <see cref="WriterEngineSettings.IdleTransactionTimeout"/>
    /// that waits for nothing (no lock, no page): nobody is left to end it. Its client's next statement or commit is
    /// refused as for any aborted transaction. Logged as a repeated condition, not once per transaction.</summary>
    private void AbortIdleTransactions(DateTime now, List<WriterOutput> outputs)
    {
        if (_lastStatement.Count == 0) return;
        List<long>? ended = null, idle = null;
        foreach (var (txn, last) in _lastStatement)
        {
            if (!_engine.IsOpen(txn)) (ended ??= new()).Add(txn);   // committing, committed or rolled back: forget it
            else if (now - last >= _settings.IdleTransactionTimeout && !_lockWaits.ContainsKey(txn) && !WaitsForPage(txn)) (idle ??= new()).Add(txn);
        }
        if (ended is not null) foreach (var txn in ended) _lastStatement.Remove(txn);
        if (idle is null) return;
        foreach (var txn in idle)
        {
            _lastStatement.Remove(txn);
            Resume(_engine.Abort(txn), outputs);
            if (_conditions.Occurred("idle transactions aborted", now))
                Log(outputs, EngineLogLevel.Warning, "Transaction {Txn} aborted in epoch {Epoch}: no statement for {Ms} ms (idle-transaction-timeout); its row locks are free (repeats are summarised)",
                    txn, _engine.Epoch, (long)_settings.IdleTransactionTimeout.TotalMilliseconds);
        }
    }

    private bool WaitsForPage(long txn)
    {
        foreach (var list in _pageWaiters.Values)
            foreach (var w in list)
                if (w is ClientRequest.ExecuteStatement e && e.TxnId == txn || w is ClientRequest.CommitTransaction c && c.TxnId == txn) return true;
        return false;
    }

    /// <summary>Summaries and ends of the repeated conditions (<see cref="_conditions"/>), each at most every 10 s.</summary>
    private void LogConditions(DateTime now, List<WriterOutput> outputs)
    {
        if (_conditions.Count == 0) return;
        foreach (var line in _conditions.Due(now))
        {
            if (line.Ended) Log(outputs, EngineLogLevel.Info, "Writer: {Condition} ended in epoch {Epoch}: {Count} in all", line.Key, _engine.Epoch, line.Total);
            else Log(outputs, EngineLogLevel.Warning, "Writer: still {Condition} in epoch {Epoch}: {Count} more since the last line", line.Key, _engine.Epoch, line.Count);
        }
    }

    private void CheckStall(int pg, DateTime now, List<WriterOutput> outputs)
    {
        var oldest = _engine.Tracker.OldestOutstanding(pg);
        var stalled = oldest is not null && now - _pipeline.QuorumProgress(pg) > _settings.StallWarningAfter;
        if (stalled && !_stalled[pg])
        {
            _stalled[pg] = true;
            var missing = StalledReplicas(pg, oldest!.Value);
            Log(outputs, EngineLogLevel.Warning, "PG {Pg} stalled in epoch {Epoch}: LSN {Lsn} has lacked a write quorum for {Ms} ms; missing segments: {Missing}",
                pg, _engine.Epoch, oldest, (int)(now - _pipeline.QuorumProgress(pg)).TotalMilliseconds, _links.Describe(pg, missing, now, Segment));
        }
        else if (!stalled && _stalled[pg])
        {
            _stalled[pg] = false;
            Log(outputs, EngineLogLevel.Info, "PG {Pg} resumed in epoch {Epoch}: quorum LSN {Lsn}", pg, _engine.Epoch, _engine.Tracker.PgQuorumLsn(pg));
        }
    }

    // ---------------------------------------------------------------- clean stop

    /// <summary>
    /// Input: a clean stop asked by <paramref name="client"/>: nothing new is accepted, open transactions are aborted, and
    /// the writer waits (until now + <c>drain-timeout</c>, checked on acks and ticks) for the commits in flight; then
    /// the rest are abandoned as ambiguous, the state is Stopped and <see cref="WriterOutput.DrainEnded"/> answers. A
    /// writer already stopped, fenced or failed answers <see cref="ClientReply.Drained"/> (0) at once.
    /// </summary>
    public void Drain(object client, DateTime now, List<WriterOutput> outputs)
    {
        if (State.IsFinal) { outputs.Add(new WriterOutput.ReplyToClient(client, new ClientReply.Drained(0))); return; }
        _drain = (client, now + _settings.DrainTimeout);
        _pipeline.MoveTo(new WriterState.Draining(_drain.Value.Deadline));
        foreach (var txn in _engine.OpenTransactionIds())
        {
            if (_lockWaits.Remove(txn, out var w)) outputs.Add(ErrorReply(w.Request, new TransactionAbortedException("the writer is stopping")));
            Resume(_engine.Abort(txn), outputs);
        }
        Log(outputs, EngineLogLevel.Info, "Writer draining in epoch {Epoch}: {Commits} commits in flight, VDL {Vdl}", _engine.Epoch, _engine.CommitsInFlight, _engine.Vdl);
        Ship(now, outputs);
        CheckDrain(now, outputs);
    }

    private void CheckDrain(DateTime now, List<WriterOutput> outputs)
    {
        var (client, deadline) = _drain!.Value;
        var left = _engine.CommitsInFlight;
        if (left > 0 && now < deadline) return;
        if (left > 0)
            Log(outputs, EngineLogLevel.Warning, "Writer drain timed out in epoch {Epoch}: {Commits} commits not durable (VDL {Vdl}, allocated {Allocated})",
                _engine.Epoch, left, _engine.Vdl, _engine.Allocated);
        else Log(outputs, EngineLogLevel.Info, "Writer drained in epoch {Epoch}: VDL {Vdl}", _engine.Epoch, _engine.Vdl);
        _pipeline.Abandon("the writer stopped", fencedByEpoch: 0, outputs);
        _drain = null;
        _pipeline.MoveTo(WriterState.Stopped.Instance);
        // Drained means stopped: nothing new is accepted from here on (a client that still holds this writer gets an
        // abort, never a commit), while the node finishes its shutdown or hands the writer over.
        _finalError = new WriterStoppedException($"the writer of epoch {_engine.Epoch} has stopped (drained); nothing of this request was done");
        outputs.Add(new WriterOutput.DrainEnded(client, left));
    }
}
