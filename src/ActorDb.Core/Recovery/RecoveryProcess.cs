using ActorDb.Core.Quorum;

namespace ActorDb.Core.Recovery;

/// <summary>The bounds of a <see cref="RecoveryProcess"/>.</summary>
/// <param name="PgCount">PGs of the volume, 1 or more.</param>
/// <param name="Lal">The LSN allocation limit the writers run with (records; <c>actordb.writer.lal</c>).</param>
/// <param name="OpenTimeout">The longest one recovery may take, all phases (<c>actordb.writer.open-timeout</c>).</param>
public sealed record RecoveryProcessSettings(int PgCount, long Lal, TimeSpan OpenTimeout)
{
    /// <summary>How often a running recovery is ticked: re-asks segments that did not answer, checks the timeout.</summary>
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>With a read quorum of every PG but not every segment, the read-quorum phase waits this long (from its
    /// start) for the others: a commit that reached a write quorum is within any read quorum, and waiting longer for
    /// segments that are down would only delay a failover.</summary>
    public TimeSpan WaitForAllReports { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A volume header read unanswered this long is asked of the next replica of PG 0.</summary>
    public TimeSpan HeaderReadRetry { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Checks the bounds.</summary>
    /// <exception cref="ArgumentOutOfRangeException">a PG count below 1, a LAL below 1, or a time not above zero.</exception>
    public RecoveryProcessSettings Validated()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(PgCount, 1, nameof(PgCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(Lal, 1, nameof(Lal));
        foreach (var (t, name) in new[] { (OpenTimeout, nameof(OpenTimeout)), (TickInterval, nameof(TickInterval)),
                     (WaitForAllReports, nameof(WaitForAllReports)), (HeaderReadRetry, nameof(HeaderReadRetry)) })
            if (t <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(name, t, "must be above zero");
        return this;
    }
}

/// <summary>What a <see cref="RecoveryProcess"/> asks its shell to do, in order.</summary>
public abstract record RecoveryOutput;

/// <summary>Send <c>GetSegmentState</c> to segment (<paramref name="Pg"/>, <paramref name="Replica"/>): with
/// <paramref name="FenceEpoch"/> 0 a probe, above 0 a fence at that epoch.</summary>
public sealed record AskSegmentState(int Pg, int Replica, long FenceEpoch) : RecoveryOutput;

/// <summary>Send <c>OpenEpoch</c>: install <paramref name="Epoch"/> with the truncation (<paramref name="Vdl"/>,
/// <paramref name="TruncateTo"/>] and the PG's tail <paramref name="PgTail"/> (LSNs).</summary>
public sealed record InstallEpoch(int Pg, int Replica, long Epoch, Lsn Vdl, Lsn TruncateTo, Lsn PgTail) : RecoveryOutput;

/// <summary>Send <c>ReadPage</c>: page <paramref name="PageNo"/> at read point <paramref name="ReadPoint"/> from a
/// segment holding its PG's records up to <paramref name="RequiredScl"/>.</summary>
public sealed record ReadHeader(int Pg, int Replica, long PageNo, Lsn ReadPoint, Lsn RequiredScl) : RecoveryOutput;

/// <summary>A segment that installed the recovery's epoch, with its SCL as it reported it then.</summary>
public sealed record InstalledSegment(int Pg, int Replica, Lsn Scl);

/// <summary>Start the writer with the plan, the segments that installed the epoch and the volume header
/// (null: a new volume, VDL 0, which the writer formats); it answers with <see cref="RecoveryProcess.WriterOpened"/>.</summary>
public sealed record StartWriter(RecoveryPlan Plan, IReadOnlyList<InstalledSegment> Installed, byte[]? Header) : RecoveryOutput;

/// <summary>A phase ended after <paramref name="Duration"/> (for the phase-duration metric).</summary>
public sealed record PhaseEnded(string Name, TimeSpan Duration) : RecoveryOutput;

/// <summary>Tick the process at <paramref name="At"/> (<see cref="RecoveryProcess.Tick"/>).</summary>
public sealed record ScheduleTick(DateTime At) : RecoveryOutput;

/// <summary>Log a line: a message template with named holes (<c>{Epoch}</c>) and their values, in order.</summary>
public sealed record RecoveryLog(EngineLogLevel Level, string Template, params object[] Args) : RecoveryOutput;

/// <summary>The recovery ended on its own: opened (tell the writer), failed or fenced (no writer serves). Endings the
/// shell asks for (<see cref="RecoveryProcess.Cancel"/>, <see cref="RecoveryProcess.Abandon"/>,
/// <see cref="RecoveryProcess.Fenced"/>) produce none.</summary>
public sealed record RecoveryEnded(RecoveryRecord Record) : RecoveryOutput;

/// <summary>
/// One supervisor's recoveries of the volume as a deterministic state machine (design.md, "Recovery"; issue 17): no
/// clock (every input takes <c>now</c>), no I/O (it returns <see cref="RecoveryOutput"/>s that the shell performs in
/// order). A recovery runs in four phases:
/// <list type="number">
/// <item><b>read-quorum</b>: every segment is probed for its epoch (<see cref="RecoveryStep.Probing"/>), then fenced
/// at the epoch above all of them (<see cref="Epochs.Next"/>; <see cref="RecoveryStep.Fencing"/>), and the reports
/// given after the fence are what the plan uses: a writer of an older epoch can no longer get a record onto 4 segments
/// of a PG. Each step ends when every segment answered, or <see cref="RecoveryProcessSettings.WaitForAllReports"/>
/// after the phase began once a read quorum of every PG (<see cref="QuorumRules"/>) has.</item>
/// <item><b>plan</b>: <see cref="RecoveryPlanner"/>.</item>
/// <item><b>install-epoch</b>: every segment is sent the epoch and the truncation until a read quorum of every PG has
/// installed it (a segment counts when its report after the fence counts, <see cref="QuorumRules.CountsInReadQuorum"/>).</item>
/// <item><b>open-volume</b>: page 0 is read at VDL from a segment of PG 0 (none for a new volume), the writer is
/// started (<see cref="StartWriter"/>) and reports <see cref="WriterOpened"/>.</item>
/// </list>
/// The whole recovery must end within <see cref="RecoveryProcessSettings.OpenTimeout"/>, checked on ticks; past it, it
/// fails with the phase and the segments that did not answer named. Every recovery is kept in <see cref="History"/>.
/// Not thread-safe: one owner.
/// </summary>
public sealed class RecoveryProcess
{
    private readonly RecoveryProcessSettings _settings;
    private readonly RepeatedConditions _rejections = new();   // per segment, summarised on ticks
    private readonly Dictionary<SegmentId, SegmentReport> _probes = new();    // before the fence: epochs seen
    private readonly Dictionary<SegmentId, SegmentReport> _reports = new();   // after the fence, at FenceEpoch
    private readonly Dictionary<SegmentId, InstalledSegment> _installed = new();
    private readonly HashSet<SegmentId> _refusedBy = new();                                // refusals logged once per recovery
    private RecoveryRecord? _running;
    private DateTime _started;
    private DateTime _phaseStarted;
    private DateTime _deadline;
    private int _headerReplica;
    private DateTime? _headerSent;
    private string? _headerSource;

    /// <summary>Creates the process; no recovery runs until <see cref="Start"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">bad settings (<see cref="RecoveryProcessSettings.Validated"/>).</exception>
    public RecoveryProcess(RecoveryProcessSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings.Validated();
    }

    /// <summary>Where the current (or last) recovery is.</summary>
    public RecoveryStep Step { get; private set; } = RecoveryStep.Idle;

    /// <summary>The epoch the segments were fenced at (0 until the probe decided it).</summary>
    public long FenceEpoch { get; private set; }

    /// <summary>The plan of the current or last recovery, once planned.</summary>
    public RecoveryPlan? Plan { get; private set; }

    /// <summary>Recoveries started so far.</summary>
    public int Recoveries { get; private set; }

    /// <summary>Whether a recovery runs now.</summary>
    public bool IsRunning => _running is not null;

    /// <summary>The recoveries that ended, oldest first.</summary>
    public RecoveryHistory History { get; } = new();

    /// <summary>The running recovery as of <paramref name="now"/> (its total so far), or null.</summary>
    public RecoveryRecord? Running(DateTime now) => _running is null ? null : _running with { Total = now - _started };

    private int SegmentCount => _settings.PgCount * VolumeGeometry.SegmentsPerPg;

    private IEnumerable<SegmentId> AllSegments() => Enumerable.Range(0, _settings.PgCount).SelectMany(SegmentId.OfPg);

    /// <summary>The entity id of a segment already checked to be in the volume (<see cref="InVolume"/>).</summary>
    private static string Id(int pg, int replica) => new SegmentId(pg, replica).EntityId;

    private void Move(RecoveryStep to) => Step = RecoverySteps.Transition(Step, to);

    // ---------------------------------------------------------------- inputs

    /// <summary>Starts a recovery for <paramref name="reason"/>: probes every segment.</summary>
    /// <exception cref="InvalidOperationException">a recovery runs already.</exception>
    public void Start(string reason, DateTime now, List<RecoveryOutput> outputs)
    {
        if (_running is not null) throw RecoveryErrors.AlreadyRunning(Recoveries, Step);
        Move(RecoveryStep.Probing);
        Recoveries++;
        _running = RecoveryRecord.Start(Recoveries, reason, now);
        _started = _phaseStarted = now;
        _deadline = now + _settings.OpenTimeout;
        _probes.Clear();
        _reports.Clear();
        _installed.Clear();
        _refusedBy.Clear();
        FenceEpoch = 0;
        Plan = null;
        _headerSent = null;
        _headerSource = null;
        outputs.Add(new RecoveryLog(EngineLogLevel.Info, "Recovery {Number} starting ({Reason}): asking {Segments} segments of {Pgs} PGs for their state",
            Recoveries, reason, SegmentCount, _settings.PgCount));
        foreach (var (pg, r) in AllSegments()) outputs.Add(new AskSegmentState(pg, r, 0));
        outputs.Add(new ScheduleTick(now + _settings.TickInterval));
    }

    /// <summary>A tick: logs the rejection summaries that are due, fails the recovery past its timeout, re-asks the
    /// segments that did not answer, ends the read-quorum phase on a read quorum once it waited long enough.</summary>
    public void Tick(DateTime now, List<RecoveryOutput> outputs)
    {
        if (_running is null) return;
        foreach (var line in _rejections.Due(now))
        {
            if (line.Ended) outputs.Add(new RecoveryLog(EngineLogLevel.Info, "Recovery epoch {Epoch}: {Condition} ended: {Count} in all", CurrentEpoch, line.Key, line.Total));
            else outputs.Add(new RecoveryLog(EngineLogLevel.Warning, "Recovery epoch {Epoch}: still {Condition}: {Count} more since the last line", CurrentEpoch, line.Key, line.Count));
        }
        if (now > _deadline)
        {
            Fail(TimeoutReason(), now, outputs);
            return;
        }
        var waited = now - _phaseStarted > _settings.WaitForAllReports;
        switch (Step)
        {
            case RecoveryStep.Probing:
                if (QuorumRules.HasReadQuorum(_settings.PgCount, _probes.Values) && waited) Fence(now, outputs);
                else foreach (var (pg, r) in AllSegments().Where(s => !_probes.ContainsKey(s))) outputs.Add(new AskSegmentState(pg, r, 0));
                break;
            case RecoveryStep.Fencing:
                if (QuorumRules.HasReadQuorum(_settings.PgCount, _reports.Values) && waited) PlanRecovery(now, outputs);
                else foreach (var (pg, r) in AllSegments().Where(s => !_reports.ContainsKey(s))) outputs.Add(new AskSegmentState(pg, r, FenceEpoch));
                break;
            case RecoveryStep.Installing:
                // The fence again first: a segment that restarted since its fence no longer knows which node fenced it,
                // and takes an OpenEpoch only from that node (SegmentAuthority.Open).
                foreach (var (pg, r) in AllSegments().Where(s => !_installed.ContainsKey(s)))
                {
                    outputs.Add(new AskSegmentState(pg, r, FenceEpoch));
                    outputs.Add(InstallFor(pg, r));
                }
                break;
            case RecoveryStep.ReadingHeader:
                if (_headerSent is { } sent && now - sent > _settings.HeaderReadRetry)
                {
                    outputs.Add(new RecoveryLog(EngineLogLevel.Warning, "Recovery epoch {Epoch}: the volume header read from segment {Segment} is unanswered; asking the next replica",
                        Plan!.Epoch, Id(0, _headerReplica)));
                    ReadHeaderFrom(nextReplica: true, now, outputs);
                }
                break;
        }
        if (_running is not null) outputs.Add(new ScheduleTick(now + _settings.TickInterval));
    }

    /// <summary>A segment's <c>SegmentState</c>. Before the fence it is a probe (its epoch); after, a report at the fence
    /// epoch (an answer below it is a late probe answer, ignored; above it, another recovery took the volume over and this
    /// one ends fenced). A report naming a segment outside the volume is dropped with a warning.</summary>
    public void SegmentStateReceived(SegmentReport report, DateTime now, List<RecoveryOutput> outputs)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (_running is null || !InVolume(report.Pg, report.Replica, "segment state", now, outputs)) return;
        var key = new SegmentId(report.Pg, report.Replica);
        switch (Step)
        {
            case RecoveryStep.Probing:
                _probes[key] = report;
                if (_probes.Count == SegmentCount) Fence(now, outputs);
                return;
            case RecoveryStep.Fencing:
                if (report.Epoch > FenceEpoch)
                {
                    EndFenced($"segment {Id(report.Pg, report.Replica)} is already in epoch {report.Epoch}, above this recovery's epoch {FenceEpoch}: another recovery took the volume over", now, outputs);
                    return;
                }
                if (report.Epoch < FenceEpoch) return;   // an answer to the probe, arriving late
                _reports[key] = report;
                if (_reports.Count == SegmentCount) PlanRecovery(now, outputs);
                return;
            case RecoveryStep.Installing when report.Epoch == FenceEpoch:
                _reports[key] = report;   // a fence answered late: whether the segment counts in the installation quorum
                return;
        }
    }

    /// <summary>A segment installed <paramref name="epoch"/> (<c>EpochOpened</c>) with SCL <paramref name="scl"/>; counted
    /// when it is this recovery's planned epoch. Once a read quorum of every PG has installed it, the open-volume phase
    /// begins.</summary>
    public void EpochOpened(int pg, int replica, long epoch, Lsn scl, DateTime now, List<RecoveryOutput> outputs)
    {
        if (_running is null || Plan is null || epoch != Plan.Epoch || !InVolume(pg, replica, "epoch installation", now, outputs)) return;
        if (Step is not (RecoveryStep.Installing or RecoveryStep.ReadingHeader)) return;
        _installed[new SegmentId(pg, replica)] = new InstalledSegment(pg, replica, scl);
        if (Step != RecoveryStep.Installing || !InstalledOnReadQuorum()) return;
        EndPhase(RecoveryPhaseNames.InstallEpoch, Describe(_installed.Keys, "installed"), now, outputs);
        LogPhase(RecoveryPhaseNames.InstallEpoch, outputs);
        if (Plan.Vdl == Lsn.Zero) StartWriterWith(null, null, outputs);   // a new volume: the writer formats it
        else
        {
            Move(RecoveryStep.ReadingHeader);
            ReadHeaderFrom(nextReplica: false, now, outputs);
        }
    }

    /// <summary>A segment rejected this recovery's fence or epoch (<c>RedoRejected</c>). A stale-epoch answer above the
    /// planned epoch ends the recovery fenced; a refusal is logged once per segment and recovery; other rejections
    /// once when they start, then in summaries. One naming a segment outside the volume is dropped with a warning.</summary>
    public void Rejected(int pg, int replica, long segmentEpoch, bool staleEpoch, bool refused, string reason, DateTime now, List<RecoveryOutput> outputs)
    {
        if (_running is null || !InVolume(pg, replica, "rejection", now, outputs)) return;
        if (staleEpoch && Plan is not null && segmentEpoch > Plan.Epoch)
        {
            EndFenced($"segment {Id(pg, replica)} is already in epoch {segmentEpoch}, above this recovery's epoch {Plan.Epoch}: another recovery took the volume over", now, outputs);
            return;
        }
        if (refused && !_refusedBy.Add(new SegmentId(pg, replica))) return;
        if (!refused && !_rejections.Occurred($"segment {Id(pg, replica)} rejecting the recovery", now)) return;
        outputs.Add(new RecoveryLog(EngineLogLevel.Warning, "Recovery epoch {Epoch}: segment {Segment} refused: {Reason}", CurrentEpoch, Id(pg, replica), reason));
    }

    /// <summary>A page image arrived; the volume header (page 0) being read starts the writer with it. An image that does
    /// not come from a segment of PG 0 (which owns page 0) is ignored.</summary>
    public void HeaderRead(int pg, int replica, long pageNo, byte[]? image, List<RecoveryOutput> outputs)
    {
        if (Step != RecoveryStep.ReadingHeader || _headerSent is null || pageNo != Tables.Catalog.HeaderPage) return;
        if (pg != 0 || replica is < 0 or >= VolumeGeometry.SegmentsPerPg) return;
        _headerSent = null;
        StartWriterWith(image, $"catalog read from {Id(pg, replica)}", outputs);
    }

    /// <summary>A segment cannot serve page <paramref name="pageNo"/>; for the volume header, the next replica is asked.</summary>
    public void HeaderUnavailable(long pageNo, DateTime now, List<RecoveryOutput> outputs)
    {
        if (Step == RecoveryStep.ReadingHeader && pageNo == Tables.Catalog.HeaderPage) ReadHeaderFrom(nextReplica: true, now, outputs);
    }

    /// <summary>The writer opened the volume: the open-volume phase and the recovery end (<see cref="RecoveryEnded"/>,
    /// outcome Opened). <paramref name="detail"/> describes what the writer did.</summary>
    public void WriterOpened(string detail, DateTime now, List<RecoveryOutput> outputs)
    {
        if (Step != RecoveryStep.OpeningVolume || _running is null) return;
        EndPhase(RecoveryPhaseNames.OpenVolume, _headerSource is null ? detail : $"{_headerSource}, {detail}", now, outputs);
        var record = _running.Finish(RecoveryOutcome.Opened, now - _started);
        End(record);
        outputs.Add(new RecoveryLog(EngineLogLevel.Info, "Recovery epoch {Epoch}: {Phases}; total {TotalMs} ms; recovered VDL {Vdl} ({Reason})",
            record.Epoch, record.PhasesText(), (long)record.Total.TotalMilliseconds, record.Vdl, record.Reason));
        outputs.Add(new RecoveryEnded(record));
    }

    /// <summary>The writer could not open the volume: the recovery fails with <paramref name="reason"/>.</summary>
    public void WriterOpenFailed(string reason, DateTime now, List<RecoveryOutput> outputs)
    {
        if (Step == RecoveryStep.OpeningVolume && _running is not null) Fail(reason, now, outputs);
    }

    /// <summary>The shell stops the running recovery (the node stops, or hands the writer over): recorded as cancelled
    /// with <paramref name="failure"/>, logged with <paramref name="logReason"/>. Nothing when none runs.</summary>
    public void Cancel(string failure, string logReason, DateTime now, List<RecoveryOutput> outputs)
    {
        if (_running is null) return;
        outputs.Add(new RecoveryLog(EngineLogLevel.Info, "Recovery {Number} cancelled in phase {Phase}: {Reason}", _running.Number, RecoverySteps.PhaseName(Step), logReason));
        End(_running.Finish(RecoveryOutcome.Cancelled, now - _started, failure));
    }

    /// <summary>The writer the recovery started is gone (<paramref name="reason"/>): recorded as failed, not logged (the
    /// shell logs the failure and starts the next recovery). Nothing when none runs.</summary>
    public void Abandon(string reason, DateTime now)
    {
        if (_running is not null) End(_running.Finish(RecoveryOutcome.Failed, now - _started, reason));
    }

    /// <summary>The writer the recovery started was fenced by a newer epoch (<paramref name="reason"/>): recorded as
    /// fenced. Nothing when none runs.</summary>
    public void Fenced(string reason, DateTime now)
    {
        if (_running is not null) End(_running.Finish(RecoveryOutcome.Fenced, now - _started, reason));
    }

    // ---------------------------------------------------------------- steps

    private long CurrentEpoch => Plan?.Epoch ?? FenceEpoch;

    private bool InVolume(int pg, int replica, string what, DateTime now, List<RecoveryOutput> outputs)
    {
        if (pg >= 0 && pg < _settings.PgCount && replica >= 0 && replica < VolumeGeometry.SegmentsPerPg) return true;
        var condition = $"{what} naming segment pg-{pg}-{replica}, outside the volume's {_settings.PgCount} PG(s) of {VolumeGeometry.SegmentsPerPg}";
        if (_rejections.Occurred(condition, now))
            outputs.Add(new RecoveryLog(EngineLogLevel.Warning, "Recovery epoch {Epoch}: dropped a {Condition}", CurrentEpoch, condition));
        return false;
    }

    /// <summary>Fences every segment at the epoch above the highest one probed (<see cref="Epochs.Next"/>, checked: a
    /// segment reporting an epoch at the bound fails the recovery with that error instead of overflowing).</summary>
    private void Fence(DateTime now, List<RecoveryOutput> outputs)
    {
        var highest = _probes.Values.MaxBy(r => r.Epoch)!;
        try
        {
            FenceEpoch = Epochs.Next(highest.Epoch);
        }
        catch (EpochOutOfRangeException e)
        {
            Fail($"cannot fence: segment {Id(highest.Pg, highest.Replica)} reports epoch {highest.Epoch}: {e.Message}", now, outputs);
            return;
        }
        Move(RecoveryStep.Fencing);
        _running = _running!.WithEpoch(FenceEpoch);
        foreach (var (pg, r) in AllSegments()) outputs.Add(new AskSegmentState(pg, r, FenceEpoch));
    }

    private void PlanRecovery(DateTime now, List<RecoveryOutput> outputs)
    {
        EndPhase(RecoveryPhaseNames.ReadQuorum, Describe(_reports.Keys, $"fenced at epoch {FenceEpoch} and answered"), now, outputs);
        RecoveryPlan plan;
        try
        {
            plan = RecoveryPlanner.Plan(_settings.PgCount, _reports.Values.ToList(), _settings.Lal, FenceEpoch);
        }
        catch (InvalidOperationException e)
        {
            Fail($"cannot open the volume: {e.Message}", now, outputs);
            return;
        }
        Plan = plan;
        _running = _running!.WithPlan(plan);
        EndPhase(RecoveryPhaseNames.Plan, plan.TruncateTo > plan.Vdl
            ? $"VDL {plan.Vdl}, truncate ({plan.TruncateAfter}, {plan.TruncateTo}]"
            : $"VDL {plan.Vdl}, a new volume: nothing to truncate", now, outputs);
        LogPhase(RecoveryPhaseNames.ReadQuorum, outputs);
        LogPhase(RecoveryPhaseNames.Plan, outputs);
        Move(RecoveryStep.Installing);
        foreach (var (pg, r) in AllSegments()) outputs.Add(InstallFor(pg, r));
    }

    private InstallEpoch InstallFor(int pg, int replica) => new(pg, replica, Plan!.Epoch, Plan.Vdl, Plan.TruncateTo, Plan.PgTail[pg]);

    /// <summary>Every PG has a read quorum of installed segments whose report after the fence counts (a segment that
    /// joined empty and had not caught up then, or one whose report never arrived, is not counted).</summary>
    private bool InstalledOnReadQuorum()
    {
        var counting = _installed.Keys.Where(k => _reports.ContainsKey(k)).Select(k => _reports[k]).ToList();
        return QuorumRules.HasReadQuorum(_settings.PgCount, counting);
    }

    /// <summary>Reads page 0 at VDL from a segment of PG 0 that installed the epoch and holds the PG's records up to
    /// VDL (first the one with the highest SCL); a refusal or no answer moves on to the next replica.</summary>
    private void ReadHeaderFrom(bool nextReplica, DateTime now, List<RecoveryOutput> outputs)
    {
        var plan = Plan!;
        if (nextReplica) _headerReplica = (_headerReplica + 1) % VolumeGeometry.SegmentsPerPg;
        else
            _headerReplica = _installed.Values.Where(s => s.Pg == 0).OrderByDescending(s => s.Scl >= plan.PgTail[0]).ThenByDescending(s => s.Scl)
                .Select(s => s.Replica).DefaultIfEmpty(0).First();
        _headerSent = now;
        outputs.Add(new ReadHeader(0, _headerReplica, Tables.Catalog.HeaderPage, plan.Vdl, plan.PgTail[0]));
    }

    private void StartWriterWith(byte[]? header, string? headerSource, List<RecoveryOutput> outputs)
    {
        _headerSource = headerSource;
        Move(RecoveryStep.OpeningVolume);
        outputs.Add(new StartWriter(Plan!, _installed.Values.ToList(), header));
    }

    private void Fail(string reason, DateTime now, List<RecoveryOutput> outputs)
    {
        var phase = RecoverySteps.PhaseName(Step);
        var record = _running!.Finish(RecoveryOutcome.Failed, now - _started, reason);
        End(record);
        outputs.Add(new RecoveryLog(EngineLogLevel.Error, "Recovery {Number} failed after {Ms} ms in phase {Phase}: {Reason}",
            record.Number, (long)record.Total.TotalMilliseconds, phase, reason));
        outputs.Add(new RecoveryEnded(record));
    }

    private void EndFenced(string reason, DateTime now, List<RecoveryOutput> outputs)
    {
        var record = _running!.Finish(RecoveryOutcome.Fenced, now - _started, reason);
        End(record);
        outputs.Add(new RecoveryEnded(record));
    }

    private void End(RecoveryRecord record)
    {
        History.Add(record);
        _running = null;
        Move(RecoveryStep.Ended);
    }

    private string TimeoutReason()
    {
        var within = _settings.OpenTimeout;
        return Step switch
        {
            RecoveryStep.Probing or RecoveryStep.Fencing => $"no read quorum of segments within {within}: missing {Missing(_reports.Keys)}",
            RecoveryStep.Installing => $"epoch {Plan!.Epoch} was not installed on a read quorum of every PG within {within}: no answer from {Missing(_installed.Keys)}",
            RecoveryStep.ReadingHeader => $"the volume header (page 0) could not be read at VDL {Plan!.Vdl} within {within}",
            _ => $"the writer did not open the volume within {within} (a new volume's catalog needs a write quorum of PG 0)",
        };
    }

    private string Missing(IEnumerable<SegmentId> answered)
    {
        var set = answered.ToHashSet();
        return string.Join(", ", AllSegments().Where(s => !set.Contains(s)));
    }

    private string Describe(IEnumerable<SegmentId> answered, string verb)
    {
        var keys = answered.ToList();
        return string.Join("; ", Enumerable.Range(0, _settings.PgCount).Select(pg =>
            $"PG {pg}: segments {string.Join(",", keys.Where(k => k.Pg == pg).Select(k => k.Replica).Order())} {verb}"));
    }

    private void EndPhase(string name, string detail, DateTime now, List<RecoveryOutput> outputs)
    {
        var duration = now - _phaseStarted;
        _phaseStarted = now;
        _running = _running!.WithPhase(name, duration, detail);
        outputs.Add(new PhaseEnded(name, duration));
    }

    private void LogPhase(string name, List<RecoveryOutput> outputs)
    {
        var phase = _running!.Phases.Last(p => p.Name == name);
        outputs.Add(new RecoveryLog(EngineLogLevel.Info, "Recovery epoch {Epoch}: phase {Phase} {Ms} ms ({Detail})",
            _running.Epoch, name, (long)phase.Duration.TotalMilliseconds, phase.Detail));
    }
}
