using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Core.Storage;

/// <summary>
/// The segment's self-healing (issue 12): an open that fails releases every file and lock it took and is retried with
/// back-off (<see cref="RetryBackoff"/>) while the segment rejects redo with <see cref="SegmentFault.OpenFailed"/>; a
/// damaged page-store slot found by a read, the materialization or the background scrub (<see cref="Scrubber"/>) is
/// repaired from a peer's image of that page (<see cref="PageRepair"/>, <see cref="FetchPage"/>) and written back durably
/// by a checkpoint started at once.
/// </summary>
public sealed partial class SegmentEngine
{
    /// <summary>How often the scrub reads its share of slots and due repair requests go out.</summary>
    private static readonly TimeSpan PageHealthInterval = TimeSpan.FromMilliseconds(100);
    /// <summary>A failing open, or a page no peer can serve, is summarised at most this often.</summary>
    private static readonly TimeSpan HealthSummaryEvery = TimeSpan.FromSeconds(10);

    private RetryBackoff _openRetry = null!;
    private PageRepair _repair = null!;
    private Scrubber? _scrub;
    private long _damagedFound;
    private long _blockedOnPage = -1;             // materialization waits for the repair of this page (-1: not blocked)
    private bool _repairsToCheckpoint;            // pages repaired since the last checkpoint started
    private DateTime _lastRepairLine = DateTime.MinValue;
    private DateTime _repairsSince;               // when the current run of damaged pages started (default: none open)
    private DateTime _lastRepairActivity;         // the last page found damaged or repaired
    /// <summary>A run of damaged pages ends (one line) once none is left and none was found or repaired for this long.</summary>
    private static readonly TimeSpan RepairRunEndsAfter = TimeSpan.FromSeconds(5);
    /// <summary>The longest the scrub reads in one <see cref="PageHealthInterval"/> tick (10% of the segment's time at
    /// most): whatever <c>scrub.pages-per-second</c> says, the fence, redo and repair requests queued behind it wait no
    /// longer than this. Measured before it existed: a scrub at 100,000 pages/s on six segments kept their fences
    /// unanswered for up to 24 s and failed the writer's recovery.</summary>
    private static readonly TimeSpan ScrubSliceMax = TimeSpan.FromMilliseconds(10);
    private long _foundAtLastLine, _repairedAtLastLine, _foundAtRunStart, _repairedAtRunStart;

    private bool TryOpen()
    {
        try
        {
            Open();
        }
        catch (Exception e)
        {
            ReleaseAfterFailedOpen();
            var now = _now;
            var (delay, line) = _openRetry.Failed(now, out var sinceLastLine);
            _state = _state.Transition(new SegmentLifecycle.Opening($"segment {_id.EntityId}: open failed: {e.Message}"));
            if (line == RetryLine.Started)
                Error(e, "Segment {Segment} (PG {Pg}) cannot open; every file and lock it took is released; it rejects redo (fault OpenFailed) and tries again in {Ms} ms, doubling up to {MaxMs} ms (summarised every {Seconds} s)",
                    _id.EntityId, _pg, (long)delay.TotalMilliseconds, (long)_settings.OpenRetryMax.TotalMilliseconds, (int)HealthSummaryEvery.TotalSeconds);
            else if (line == RetryLine.Summary)
                Warning("Segment {Segment} (PG {Pg}) still cannot open: {Count} more failed tries since the last line, {Total} in {Seconds:0} s; last: {Error}; next try in {Ms} ms",
                    new object[] { _id.EntityId, _pg, sinceLastLine, _openRetry.Failures, (now - _openRetry.FailingSince).TotalSeconds, e.Message, (long)delay.TotalMilliseconds });
            Schedule(SegmentTimer.Reopen, delay);
            return false;
        }
        var since = _openRetry.FailingSince;
        var failures = _openRetry.Succeeded();
        if (failures > 0)
            Info("Segment {Segment} (PG {Pg}) opened after {Failures} failed tries in {Seconds:0.0} s", _id.EntityId, _pg, failures, (_now - since).TotalSeconds);
        _state = _state.Transition(SegmentLifecycle.Serving.Instance);
        _scrub = new Scrubber(_store.FirstPageNo, _store.PageCount, _settings.ScrubPagesPerSecond, _now);
        Schedule(SegmentTimer.PageHealth, PageHealthInterval);
        return true;
    }

    /// <summary>Closes whatever a failed open took (the shell's group-commit runner, log and its redo.lock, page store) and forgets what it read.</summary>
    private void ReleaseAfterFailedOpen()
    {
        _out.Add(new SegmentOutput.CancelTick(SegmentTimer.CatchUp));
        try { _closingLog?.Invoke(); } catch (Exception e) { Debug("Segment {Segment}: sync thread stop after a failed open: {Error}", _id.EntityId, e.Message); }
        try { _segmentLog?.Dispose(); } catch (Exception e) { Debug("Segment {Segment}: log close after a failed open: {Error}", _id.EntityId, e.Message); }
        try { _store?.Dispose(); } catch (Exception e) { Debug("Segment {Segment}: page store close after a failed open: {Error}", _id.EntityId, e.Message); }
        _startSync = null;
        _segmentLog = null!;
        _store = null!;
        _meta = null!;
        _held.Clear();
        _dirty = new();
        _flushing = null;
        _materialized = Lsn.Zero;
        _materializedCpl = null;
        _blockedOnPage = -1;
        _repair.Clear();
    }

    /// <summary>The answers while the segment's files cannot be opened: it holds nothing it can serve.</summary>
    private bool ReceiveWhileOpening(object message)
    {
        if (AnswerUnservable(message, _state.Failure ?? "segment is opening", Lsn.Zero)) return true;
        switch (message)
        {
            // The segment's epoch is unknown until it opens: the answer carries the sender's, so it reads as a fault, never a fence.
            case RedoBatch b: Reply(new RedoRejected(_pg, _replica, b.Epoch, _state.Failure ?? "segment is opening", StaleEpoch: false, Fault: SegmentFault.OpenFailed)); break;
            case GetSegmentStatus:
                Reply(new SegmentStatus(_pg, _replica, 0, Lsn.Zero, Lsn.Zero, 0, 0, 0, 0, 0, Lsn.Zero, Lsn.Zero, 0, 0,
                    _state.Failure, 0, Node: _selfNode, Fault: SegmentFault.OpenFailed));
                break;
            case Stop: StopNow(); break;
            // A fence or an OpenEpoch gets no answer: the segment has no state to report until it opens (as if unreachable).
        }
        return true;
    }

    /// <summary>A heal whose reopen failed leaves the log and the page store closed until the next heal tick: reads and
    /// peers' requests are answered unavailable, peers' answers dropped (the catch-up or copy starts over once the
    /// storage is open). Found by the simulator (seed 10872: a peer's FetchRedo read the disposed log). Returns false
    /// for what the faulted state already answers (redo, fence, OpenEpoch, status, stop).</summary>
    private bool ReceiveWhileStorageClosed(object message) =>
        AnswerUnservable(message, _state.Failure ?? $"{_id} is reopening its storage after a fault", _durableScl);

    /// <summary>One rule for a segment that can read neither its log nor its pages (opening, or its storage closed for a
    /// heal): a page read, a redo fetch, a page-copy chunk and a page repair are answered unavailable with
    /// <paramref name="why"/> and SCL <paramref name="scl"/>; a peer's answer to an earlier request of its own is dropped.
    /// Returns false for any other message.</summary>
    private bool AnswerUnservable(object message, string why, Lsn scl)
    {
        switch (message)
        {
            case ReadPage r: Reply(new PageUnavailable(_pg, _replica, r.PageNo, scl)); return true;
            case FetchRedo: Reply(new PeerRedo(_pg, _replica, [], why, scl)); return true;
            case FetchPages f: Reply(new PeerPages(_pg, _replica, f.Session, f.FromPageNo, [], [], -1, 0, 0, [], [], scl, why)); return true;
            case FetchPage f: Reply(new PeerPage(_pg, _replica, f.PageNo, null, Lsn.Zero, why)); return true;
            case PeerRedo or PeerPages or PeerPage: return true;
            default: return false;
        }
    }

    private PageHealth Health() => new(_scrub?.Pages ?? 0, _scrub?.Bytes ?? 0, _scrub?.Passes ?? 0, _damagedFound, _repair.Repaired, _repair.Count);

    /// <summary>The slot of <paramref name="pageNo"/> is damaged (found by <paramref name="cause"/>): starts its repair
    /// from peers. Damaged pages are one condition: logged when the first is found, summarised every
    /// <see cref="HealthSummaryEvery"/> while any is unrepaired, and when the last is repaired (<see cref="LogRepairs"/>).</summary>
    private void PageDamaged(long pageNo, string cause)
    {
        var now = _now;
        if (!_repair.Start(pageNo, cause, now)) return;
        _damagedFound++;
        Metric(SegmentMetric.DamagedPages, 1);
        _lastRepairActivity = now;
        if (_repairsSince == default)
        {
            (_repairsSince, _lastRepairLine) = (now, now);
            (_foundAtRunStart, _repairedAtRunStart) = (_damagedFound - 1, _repair.Repaired);
            (_foundAtLastLine, _repairedAtLastLine) = (_damagedFound, _repair.Repaired);
            Warning("Segment {Segment} (PG {Pg}): page {PageNo} is damaged in {File} (found by {Cause}); repairing it from a peer (more damaged pages are summarised every {Seconds} s)",
                _id.EntityId, _pg, pageNo, PageStore.FileName, cause, (int)HealthSummaryEvery.TotalSeconds);
        }
        if (_repair.InFlight < _repair.MaxInFlight) SendRepairRequests();
    }

    /// <summary>The summary line of the damaged pages while some are unrepaired, and the line that ends the condition.</summary>
    private void LogRepairs(DateTime now)
    {
        if (_repairsSince == default) return;
        if (_repair.Count == 0 && now - _lastRepairActivity >= RepairRunEndsAfter)
        {
            // The time is from the first damaged page found to the last repaired (not to this line, which waits
            // RepairRunEndsAfter for more): repair-bench reads its rate from here.
            Info("Segment {Segment} (PG {Pg}): every damaged page is repaired: {Found} found, {Repaired} repaired from peers in {Seconds:0.000} s (first found to last repaired)",
                _id.EntityId, _pg, _damagedFound - _foundAtRunStart, _repair.Repaired - _repairedAtRunStart, (_lastRepairActivity - _repairsSince).TotalSeconds);
            _repairsSince = default;
            return;
        }
        if (now - _lastRepairLine < HealthSummaryEvery || (_repair.Count == 0 && _damagedFound == _foundAtLastLine && _repair.Repaired == _repairedAtLastLine)) return;
        var unservable = _repair.Pages.Where(_repair.Unservable).ToList();
        Warning("Segment {Segment} (PG {Pg}): {Found} more damaged page(s) found and {Repaired} repaired in the last {Seconds:0} s; {Left} still damaged, {Unservable} of them no peer could serve yet{Pages}",
            new object[] { _id.EntityId, _pg, _damagedFound - _foundAtLastLine, _repair.Repaired - _repairedAtLastLine, (now - _lastRepairLine).TotalSeconds,
                _repair.Count, unservable.Count, unservable.Count == 0 ? "" : " (" + string.Join(", ", unservable.Take(10)) + (unservable.Count > 10 ? ", ..." : "") + ")" });
        (_foundAtLastLine, _repairedAtLastLine, _lastRepairLine) = (_damagedFound, _repair.Repaired, now);
    }

    private void SendRepairRequests()
    {
        if (_repair.Count == 0 || _meta is null || _meta.OpenedEpoch == 0) return;
        foreach (var (pageNo, peer) in _repair.Due(_now))
            SendToPeer(new FetchPage(_pg, peer, _meta.OpenedEpoch, _replica, pageNo, _meta.Materialized));
    }

    private void OnPageHealthTick()
    {
        if (_repairsToCheckpoint && _checkpoint is null && _copy is null)
        {
            _repairsToCheckpoint = false;
            MaybeCheckpoint(now: true);
        }
        SendRepairRequests();
        Scrub();
        LogRepairs(_now);
    }

    /// <summary>Reads and verifies this tick's share of slots (<see cref="Scrubber"/>), skipping the holes of the sparse
    /// file and pages in memory (their slot is rewritten by the next checkpoint); a damaged one starts its repair.</summary>
    private void Scrub()
    {
        if (_scrub is null || _store is null || _copy is not null || _state is not SegmentLifecycle.Serving) return;
        var budget = _scrub.Budget(_now);
        var sliceEnds = _workClock?.Invoke() + ScrubSliceMax;
        long scrubbedBytes = 0;
        try
        {
            while (budget > 0)
            {
                if (sliceEnds is { } ends && _workClock!() >= ends)
                {
                    _scrub.Unused(budget);   // the rest waits for the next tick: the segment answers its mail meanwhile
                    return;
                }
                var pageNo = _store.NextWrittenPage(_scrub.Cursor);
                if (pageNo < 0)
                {
                    _scrub.MoveTo(-1);   // end of this pass: the next tick starts the next
                    return;
                }
                if (_repair.Contains(pageNo) || _dirty.ContainsKey(pageNo) || (_flushing is not null && _flushing.ContainsKey(pageNo)))
                {
                    _scrub.MoveTo(pageNo + 1);
                    continue;
                }
                var state = _store.Verify(pageNo);
                _scrub.Scrubbed(pageNo, _store.SlotBytes, state == SlotState.Damaged);
                scrubbedBytes += _store.SlotBytes;
                budget--;
                if (state == SlotState.Damaged) PageDamaged(pageNo, "the scrub");
            }
        }
        catch (SegmentLogException e)
        {
            if (_refusals.Occurred($"scrub read error: {e.Message}", _now))
                Warning("Segment {Segment} (PG {Pg}): the scrub cannot read {File}: {Error} (repeats are summarised)", _id.EntityId, _pg, PageStore.FileName, e.Message);
        }
        finally
        {
            if (scrubbedBytes > 0) Metric(SegmentMetric.ScrubbedBytes, scrubbedBytes);
        }
    }

    /// <summary>Serves a peer's repair of one page: this segment's current image of it, materialized at least up to the
    /// asker's checkpoint, or why not.</summary>
    private void OnFetchPage(FetchPage f)
    {
        byte[]? image = null;
        var store = _store;
        string? unavailable =
            _state.Failure is { } failure ? failure
            : _meta.OpenedEpoch != f.Epoch ? $"{_id} is opened in epoch {_meta.OpenedEpoch}, not {f.Epoch}"
            : _copy is not null ? $"{_id} is copying its pages from a peer"
            : f.PageNo < store.FirstPageNo || f.PageNo >= store.FirstPageNo + store.PageCount ? $"page {f.PageNo} is not in PG {_pg}"
            : _repair.Contains(f.PageNo) ? $"{_id}'s own copy of page {f.PageNo} is damaged"
            : null;
        if (unavailable is null)
        {
            Materialize(Lsn.Min(_durableScl, _knownVdl));
            if (_materialized < f.AtLeast) unavailable = $"{_id} materialized only up to {_materialized.Value}, below {f.AtLeast.Value}";
            else if (_blockedOnPage == f.PageNo) unavailable = $"{_id}'s own copy of page {f.PageNo} is damaged";
            else
            {
                try
                {
                    image = _dirty.TryGetValue(f.PageNo, out var d) ? d.ToArray()
                        : _flushing is not null && _flushing.TryGetValue(f.PageNo, out var fl) ? fl.ToArray()
                        : store.Read(f.PageNo);
                }
                catch (DamagedPageException)
                {
                    PageDamaged(f.PageNo, $"a repair request of pg-{_pg}-{f.RequesterReplica}");
                    unavailable = $"{_id}'s own copy of page {f.PageNo} is damaged";
                }
                catch (SegmentLogException e)
                {
                    unavailable = $"{_id}: page store read failed: {e.Message}";
                }
            }
        }
        Reply(new PeerPage(_pg, _replica, f.PageNo, unavailable is null ? image : null, _materialized, unavailable));
    }

    /// <summary>A peer's image of a page being repaired: checked, written back durably (or kept in memory for the next
    /// checkpoint while one is in flight), then materialization resumes.</summary>
    private void OnPeerPage(PeerPage p)
    {
        if (!FromStorageNode("a peer page")) return;
        if (p.Pg != _pg || p.FromReplica is < 0 or >= VolumeGeometry.SegmentsPerPg || !_repair.Contains(p.PageNo)) return;
        var now = _now;
        var why = p.Unavailable ?? PageRepair.Check(p.Image, _settings.Geometry.PageSize, p.Materialized, _meta.Materialized)
            ?? (_copy is not null ? "a page copy is in progress" : null);
        if (why is not null)
        {
            Debug("Segment {Segment} (PG {Pg}): pg-{Pg}-{Peer} cannot repair page {PageNo}: {Reason}", new object[] { _id.EntityId, _pg, _pg, p.FromReplica, p.PageNo, why });
            _repair.Refused(p.PageNo, p.FromReplica, now);
            SendMoreRepairRequests();
            return;
        }
        // In memory at once (reads and materialization use it), durable with the next checkpoint, which the next tick
        // starts (in the background, many repaired pages in one doublewrite + fsync).
        var image = p.Image ?? new byte[_settings.Geometry.PageSize];
        _dirty[p.PageNo] = image;
        _repairsToCheckpoint = true;
        var (took, cause, rounds) = _repair.Done(p.PageNo, now);
        _lastRepairActivity = now;
        Metric(SegmentMetric.RepairedPages, 1);
        Debug("Segment {Segment} (PG {Pg}): page {PageNo} repaired from pg-{Pg}-{Peer} in {Ms} ms (found by {Cause}; page LSN {PageLsn}, peer materialized to {Materialized}{Rounds})",
            new object[] { _id.EntityId, _pg, p.PageNo, _pg, p.FromReplica, (long)took.TotalMilliseconds, cause, PageLsnOf(image).Value, p.Materialized.Value,
                rounds > 0 ? $"; after {rounds} round(s) in which no peer could serve it" : "" });
        if (_blockedOnPage == p.PageNo) Materialize(Lsn.Min(_durableScl, _knownVdl));
        SendMoreRepairRequests();
    }

    /// <summary>After an answer: refills the window of repair requests once half of it is free (the tick does it
    /// otherwise), so a long repair streams without scanning every pending page at each answer.</summary>
    private void SendMoreRepairRequests()
    {
        if (_repair.InFlight <= _repair.MaxInFlight / 2) SendRepairRequests();
    }
}
