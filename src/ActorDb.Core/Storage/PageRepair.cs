using ActorDb.Core;

namespace ActorDb.Core.Storage;

/// <summary>
/// The repairs of damaged page-store slots a segment has in progress (issue 12: a slot whose CRC, magic or page number
/// check fails is repaired from a peer). For each damaged page it asks one peer of its PG at a time, round robin over
/// the other five replicas, for the peer's image of that page; a peer that cannot serve it (its own copy damaged, its
/// materialization below this segment's checkpoint, not opened in the same epoch) or that does not answer within
/// <see cref="AnswerTimeout"/> moves the request on to the next peer. After a whole round of refusals the page waits
/// <see cref="RoundPause"/> before the next round, so a page no copy can serve costs a few messages a second, not a flood.
/// <para><b>Why a peer's image is a correct repair.</b> The damaged slot held the page as of this segment's checkpoint
/// <c>C</c>; the page is not in memory (else it would not have been read from the slot), so no record of it above
/// <c>C</c> was applied here. A peer's image holds every record of the page up to the peer's materialized point
/// <c>M</c> (page LSN in its first 8 bytes). With <c>M ≥ C</c> it holds everything the slot held; the records of the
/// page above its page LSN are then applied from this segment's own pending records, and those at or below it are
/// skipped (ARIES' page-LSN test): the same argument as for a whole page copy (<see cref="PageCopy"/>).</para>
/// <para>At most <see cref="MaxInFlight"/> requests are unanswered at once: a segment whose whole page store is
/// damaged (thousands of pages) repairs it as a steady stream instead of flooding its peers' mailboxes, where the
/// writer's fence and epoch install would queue behind the requests (measured: 14,613 requests at once kept five peers
/// from answering an epoch install for 60 s).</para>
/// Pure bookkeeping: the caller passes the time, sends the requests and writes the pages. Not thread-safe.
/// </summary>
/// <param name="replica">This segment's replica (0..5): never asked.</param>
/// <param name="maxInFlight">Requests unanswered at once, at most (≥ 1); <see cref="DefaultMaxInFlight"/> by default.</param>
public sealed class PageRepair(int replica, int maxInFlight = PageRepair.DefaultMaxInFlight)
{
    /// <summary>The default bound on unanswered requests: 32 pages (256 KiB of images at 8 KiB pages) over five peers.</summary>
    public const int DefaultMaxInFlight = 32;

    /// <summary>Requests unanswered at once, at most.</summary>
    public int MaxInFlight { get; } = maxInFlight >= 1 ? maxInFlight : throw new ArgumentOutOfRangeException(nameof(maxInFlight), maxInFlight, "at least 1");

    /// <summary>Requests sent and not yet answered, refused or timed out.</summary>
    public int InFlight { get; private set; }

    /// <summary>A request unanswered this long goes to the next peer.</summary>
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(1);
    /// <summary>After every peer refused a page, the next round for it starts this much later.</summary>
    public static readonly TimeSpan RoundPause = TimeSpan.FromSeconds(2);

    private sealed class Repair(DateTime now, string cause)
    {
        public readonly DateTime Started = now;
        public readonly string Cause = cause;
        public int Peer = -1;             // the peer asked last (-1: none yet)
        public int RefusedThisRound;
        public DateTime NextSend = now;   // when the next request may go out
        public bool Outstanding;
        public long Rounds;
    }

    private readonly Dictionary<long, Repair> _repairs = new();

    /// <summary>Pages being repaired.</summary>
    public int Count => _repairs.Count;

    /// <summary>Pages repaired since the start.</summary>
    public long Repaired { get; private set; }

    /// <summary>Whether <paramref name="pageNo"/> is being repaired.</summary>
    public bool Contains(long pageNo) => _repairs.ContainsKey(pageNo);

    /// <summary>The pages being repaired, ascending.</summary>
    public IEnumerable<long> Pages => _repairs.Keys.Order();

    /// <summary>Starts repairing <paramref name="pageNo"/> (found damaged by <paramref name="cause"/>: a read, the
    /// materialization, the scrub); true when it was not being repaired already (log it now).</summary>
    public bool Start(long pageNo, string cause, DateTime now)
    {
        if (_repairs.ContainsKey(pageNo)) return false;
        _repairs[pageNo] = new Repair(now, cause);
        return true;
    }

    /// <summary>The requests to send at <paramref name="now"/>: each page whose next request is due (never asked, its
    /// last peer timed out or refused, or its pause after a round of refusals is over), with the peer to ask next, while
    /// fewer than <see cref="MaxInFlight"/> are unanswered. A request unanswered for <see cref="AnswerTimeout"/> counts
    /// as that peer's refusal.</summary>
    public IReadOnlyList<(long PageNo, int Peer)> Due(DateTime now)
    {
        foreach (var r in _repairs.Values)
            if (r.Outstanding && now >= r.NextSend) Refuse(r, now);   // no answer in time: a refusal of that peer
        if (InFlight >= MaxInFlight) return [];
        List<(long, int)>? due = null;
        foreach (var (pageNo, r) in _repairs)
        {
            if (r.Outstanding || now < r.NextSend) continue;
            r.Peer = NextPeer(r.Peer);
            r.Outstanding = true;
            r.NextSend = now + AnswerTimeout;
            InFlight++;
            (due ??= new()).Add((pageNo, r.Peer));
            if (InFlight >= MaxInFlight) break;
        }
        return due ?? (IReadOnlyList<(long, int)>)[];
    }

    /// <summary>Peer <paramref name="peer"/> cannot serve <paramref name="pageNo"/>: the next peer is due at once (or the
    /// round pause starts when every peer refused). Ignored for a page not being repaired or another peer's late answer.</summary>
    public void Refused(long pageNo, int peer, DateTime now)
    {
        if (!_repairs.TryGetValue(pageNo, out var r) || !r.Outstanding || r.Peer != peer) return;
        Refuse(r, now);
    }

    private void Refuse(Repair r, DateTime now)
    {
        r.Outstanding = false;
        InFlight--;
        r.RefusedThisRound++;
        r.NextSend = now;
        if (r.RefusedThisRound >= VolumeGeometry.SegmentsPerPg - 1)
        {
            r.RefusedThisRound = 0;
            r.Rounds++;
            r.NextSend = now + RoundPause;
        }
    }

    /// <summary>Whether every peer has refused <paramref name="pageNo"/> at least once (no copy can serve it for now).</summary>
    public bool Unservable(long pageNo) => _repairs.TryGetValue(pageNo, out var r) && r.Rounds > 0;

    /// <summary>The page was repaired (its image is durable again): returns how long it took and what found it.</summary>
    /// <exception cref="KeyNotFoundException">the page was not being repaired.</exception>
    public (TimeSpan Took, string Cause, long Rounds) Done(long pageNo, DateTime now)
    {
        if (!_repairs.Remove(pageNo, out var r)) throw new KeyNotFoundException($"page {pageNo} is not being repaired");
        if (r.Outstanding) InFlight--;
        Repaired++;
        return (now - r.Started, r.Cause, r.Rounds);
    }

    /// <summary>Forgets every repair (a page copy or a reopen replaced the page store's contents).</summary>
    public void Clear()
    {
        _repairs.Clear();
        InFlight = 0;
    }

    /// <summary>
    /// Checks a peer's answer before it is written: an image of exactly <paramref name="pageSize"/> bytes (or none: the
    /// peer never wrote the page), taken at a materialized point at or above this segment's checkpoint.
    /// </summary>
    /// <returns>Null when it may be installed, else why not (for the log).</returns>
    public static string? Check(byte[]? image, int pageSize, Lsn peerMaterialized, Lsn checkpoint)
    {
        if (image is not null && image.Length != pageSize) return $"an image of {image.Length} bytes, not {pageSize}";
        if (peerMaterialized < checkpoint) return $"the peer materialized only up to {peerMaterialized.Value}, below this segment's checkpoint {checkpoint.Value}";
        return null;
    }

    /// <summary>The error of a page read that no copy can serve: every replica of <paramref name="pg"/> answered that its
    /// copy of <paramref name="pageNo"/> is damaged.</summary>
    public static string Unreadable(int pg, long pageNo) =>
        $"page {pageNo} of PG {pg} cannot be read: its copy is damaged on all {VolumeGeometry.SegmentsPerPg} segments (pg-{pg}-0..{VolumeGeometry.SegmentsPerPg - 1}) and no peer could repair it";

    private int NextPeer(int previous)
    {
        var next = previous < 0 ? replica : previous;
        next = (next + 1) % VolumeGeometry.SegmentsPerPg;
        if (next == replica) next = (next + 1) % VolumeGeometry.SegmentsPerPg;
        return next;
    }
}
