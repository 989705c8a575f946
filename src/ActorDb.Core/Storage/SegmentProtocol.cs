using ActorDb.Core.Recovery;
using ActorDb.Core.Redo;

namespace ActorDb.Core.Storage;

/// <summary>A message for one segment entity; routed by Cluster.Sharding on its <see cref="SegmentId.EntityId"/> (one shard per segment).</summary>
public interface ISegmentMessage
{
    /// <summary>The protection group.</summary>
    int Pg { get; }
    /// <summary>The replica, 0..5.</summary>
    int Replica { get; }
    /// <summary>The segment addressed.</summary>
    /// <exception cref="ArgumentOutOfRangeException">a negative PG or a replica outside 0..5 (a message from outside).</exception>
    SegmentId Segment => new(Pg, Replica);
}

/// <summary>Messages between the writer and storage segments.</summary>
public static class SegmentProtocol
{
    /// <summary>Redo records for one segment, in LSN order; <paramref name="WriterVdl"/> lets the segment materialize up to it.
    /// Taken only in the epoch the segment opened, from the node that opened it (<see cref="SegmentAuthority.Redo"/>).</summary>
    public sealed record RedoBatch(int Pg, int Replica, long Epoch, RedoRecord[] Records, Lsn WriterVdl) : ISegmentMessage, IActorDbMessage;

    /// <summary>The segment holds (fsynced) every record of its PG up to <paramref name="Scl"/>; <paramref name="SyncMicros"/>
    /// is how long the group commit (log write + fdatasync) that got it there took, µs (0 for a re-acknowledgement).</summary>
    public sealed record RedoAck(int Pg, int Replica, long Epoch, Lsn Scl, long SyncMicros = 0) : IActorDbMessage;

    /// <summary>The segment refused a request: <paramref name="SegmentEpoch"/> is newer than the sender's (stale epoch), or
    /// the segment failed (<paramref name="Reason"/> says why: e.g. a full disk), or (<paramref name="Refused"/>) the sender
    /// may not do it: an epoch outside 1..<see cref="Epochs.Max"/>, a sender not on a <c>writer</c> node, an
    /// <see cref="OpenEpoch"/> not preceded by its sender's fence, redo from a node other than the one that opened the epoch
    /// (<see cref="SegmentAuthority"/>). A refusal names the segment, the sender and the epoch in <paramref name="Reason"/>;
    /// nothing was changed or persisted, and sending it again is refused again.</summary>
    /// <param name="Fault">set when the segment refuses because of a storage fault on its node (a full disk, an I/O
    /// error, a damaged store): the writer names it in its stall line; <see cref="SegmentFault.None"/> otherwise.</param>
    public sealed record RedoRejected(int Pg, int Replica, long SegmentEpoch, string Reason, bool StaleEpoch, bool Refused = false,
        SegmentFault Fault = SegmentFault.None, PageHealth? Pages = null) : IActorDbMessage;

    /// <summary>Why a segment acknowledges nothing for now, as its node's storage sees it: carried by
    /// <see cref="RedoRejected"/> and <see cref="SegmentStatus"/> so that the writer's stall line and <c>pg show</c> can say
    /// <c>disk full on pg-0-0, pg-0-2</c> rather than only that the segments are missing.</summary>
    public enum SegmentFault
    {
        /// <summary>No storage fault (the segment may still refuse for a protocol reason: a stale epoch, a refusal).</summary>
        None = 0,
        /// <summary>A write or preallocation failed with ENOSPC; the segment retries with back-off and resumes by itself once
        /// space is free.</summary>
        DiskFull = 1,
        /// <summary>A write or fsync failed with an I/O error (EIO and the like); the failed range is never trusted again and
        /// is fetched from peers.</summary>
        IoError = 2,
        /// <summary>The segment's files could not be opened (damaged metadata or page store, a held lock); it retries with
        /// back-off.</summary>
        OpenFailed = 3,
    }

    /// <summary>Asks the segment for its <see cref="SegmentReport"/> (recovery's read quorum). With
    /// <paramref name="FenceEpoch"/> above the segment's epoch, the segment first installs it durably as a fence (it refuses
    /// every older epoch from then on, including acknowledgements of records still being synced) and reports its state after
    /// the fence; it takes redo of the new epoch only after <see cref="OpenEpoch"/> (design.md, Recovery steps 2-4). The
    /// sender's node then owns the epoch on this segment (<see cref="SegmentAuthority.Fence"/>): a fence is taken only from a
    /// <c>writer</c> node and only at an epoch in 1..<see cref="Epochs.Max"/> (0: no fence); a fence at the segment's own
    /// epoch is taken from its owner again (or, after a restart that lost the owner, makes the sender the owner). Otherwise
    /// the answer is a <see cref="RedoRejected"/> with <c>Refused</c> set.</summary>
    public sealed record GetSegmentState(int Pg, int Replica, long FenceEpoch = 0) : ISegmentMessage, IActorDbMessage;

    /// <summary>Reply to <see cref="GetSegmentState"/>.</summary>
    public sealed record SegmentState(SegmentReport Report) : IActorDbMessage;

    /// <summary>Installs epoch <paramref name="Epoch"/>: from now on older epochs are refused; the range
    /// (<paramref name="Vdl"/>, <paramref name="TruncateTo"/>] is annulled durably; <paramref name="PgTail"/> is the PG's
    /// latest record at or below VDL. Taken only at the epoch the segment was fenced at, from the node that fenced it
    /// (<see cref="SegmentAuthority.Open"/>): whoever sends it sends its fence (<see cref="GetSegmentState"/>) first.</summary>
    public sealed record OpenEpoch(int Pg, int Replica, long Epoch, Lsn Vdl, Lsn TruncateTo, Lsn PgTail) : ISegmentMessage, IActorDbMessage;

    /// <summary>Reply to <see cref="OpenEpoch"/>: installed, with the segment's SCL afterwards.</summary>
    public sealed record EpochOpened(int Pg, int Replica, long Epoch, Lsn Scl) : IActorDbMessage;

    /// <summary>Reads a page as of <paramref name="ReadPoint"/> (the writer's VDL). The segment serves it only when its SCL is
    /// at least <paramref name="RequiredScl"/>: the PG's latest record at or below the read point.</summary>
    public sealed record ReadPage(int Pg, int Replica, long PageNo, Lsn ReadPoint, Lsn RequiredScl) : ISegmentMessage, IActorDbMessage;

    /// <summary>A page image (null: never written, i.e. a zero page) with its page LSN.</summary>
    public sealed record PageImage(int Pg, int Replica, long PageNo, byte[]? Image, Lsn PageLsn) : IActorDbMessage;

    /// <summary>The segment cannot serve the read: its SCL is below the read point, or (<paramref name="Damaged"/>) its
    /// copy of the page is damaged and being repaired from a peer. A read that every replica answers with
    /// <paramref name="Damaged"/> fails: no copy can serve it.</summary>
    public sealed record PageUnavailable(int Pg, int Replica, long PageNo, Lsn Scl, bool Damaged = false) : IActorDbMessage;

    /// <summary>Single-page repair: segment <paramref name="RequesterReplica"/> found its slot of <paramref name="PageNo"/>
    /// damaged and asks peer (<paramref name="Pg"/>, <paramref name="Replica"/>) for its image, materialized at or above
    /// <paramref name="AtLeast"/> (the requester's page-store checkpoint; <see cref="PageRepair"/>).
    /// Served only when both are opened in <paramref name="Epoch"/>.</summary>
    public sealed record FetchPage(int Pg, int Replica, long Epoch, int RequesterReplica, long PageNo, Lsn AtLeast) : ISegmentMessage, IActorDbMessage;

    /// <summary>Reply to <see cref="FetchPage"/>: the peer's image of the page (null: it never wrote the page, a zero page)
    /// holding every record of the page up to <paramref name="Materialized"/>, or why it cannot serve it
    /// (<paramref name="Unavailable"/>).</summary>
    public sealed record PeerPage(int Pg, int FromReplica, long PageNo, byte[]? Image, Lsn Materialized, string? Unavailable) : IActorDbMessage;

    /// <summary>Peer catch-up: segment <paramref name="RequesterReplica"/> asks segment (<paramref name="Pg"/>,
    /// <paramref name="Replica"/>) for the records of their PG in (<paramref name="FromExclusive"/>, <paramref name="ToInclusive"/>]
    /// that it holds durably. Served only when both are opened in <paramref name="Epoch"/> (same truncation) and the range
    /// starts at or above the peer's page-store checkpoint (older records are in pages only).</summary>
    public sealed record FetchRedo(int Pg, int Replica, long Epoch, Lsn FromExclusive, Lsn ToInclusive, int RequesterReplica) : ISegmentMessage, IActorDbMessage;

    /// <summary>Reply to <see cref="FetchRedo"/>: records in LSN order (at most a bounded batch: ask again from the new SCL),
    /// or why none can be served (<paramref name="Unavailable"/>); <paramref name="PeerScl"/> tells how far the peer's chain goes.
    /// <paramref name="CopyPagesAt"/> above zero means the records the asker needs next are below the peer's log start and
    /// are in its pages only: the asker must copy its pages (<see cref="FetchPages"/>) as of that checkpoint LSN first
    /// (<see cref="PageCopy.Decide"/>).</summary>
    public sealed record PeerRedo(int Pg, int FromReplica, RedoRecord[] Records, string? Unavailable, Lsn PeerScl, long CopyPagesAt = 0) : IActorDbMessage;

    /// <summary>Page copy: segment <paramref name="RequesterReplica"/> asks peer (<paramref name="Pg"/>, <paramref name="Replica"/>)
    /// for the next chunk of its materialized pages, the pages numbered <paramref name="FromPageNo"/> and up, at most
    /// <paramref name="MaxBytes"/> bytes of page images. Served only when both are opened in <paramref name="Epoch"/>.
    /// <paramref name="Session"/> is echoed so the requester ignores answers of an abandoned copy.</summary>
    public sealed record FetchPages(int Pg, int Replica, long Epoch, int RequesterReplica, long Session, long FromPageNo, int MaxBytes) : ISegmentMessage, IActorDbMessage;

    /// <summary>Reply to <see cref="FetchPages"/>: one chunk of a page copy, made of arrays and primitives only (it crosses
    /// the network). <paramref name="PageNos"/>[i] has the image <paramref name="Images"/>[i * pageSize .. (i+1) * pageSize)
    /// (page LSN in its first 8 bytes); <paramref name="NextPageNo"/> is where the next chunk starts (-1: this was the
    /// last). <paramref name="Checkpoint"/> is the peer's durable page-store checkpoint now: every image is at or above it.
    /// <paramref name="CheckpointCpl"/> and <paramref name="CheckpointCplTails"/> are its commit point (0: none) and
    /// <paramref name="Annulled"/> its annulled ranges as (from, to, epoch) triples. <paramref name="Unavailable"/> says
    /// why nothing can be served (the copy must start over, with this peer or another).</summary>
    public sealed record PeerPages(int Pg, int FromReplica, long Session, long FromPageNo, long[] PageNos, byte[] Images, long NextPageNo,
        long Checkpoint, long CheckpointCpl, long[] CheckpointCplTails, long[] Annulled, Lsn PeerScl, string? Unavailable) : IActorDbMessage;

    /// <summary>Asks for <see cref="SegmentStatus"/>.</summary>
    public sealed record GetSegmentStatus(int Pg, int Replica) : ISegmentMessage, IActorDbMessage;

    /// <summary>A segment's state for operators and benchmarks; <paramref name="SyncMicros"/> is the total time spent in log
    /// write+fsync, µs, over <paramref name="Syncs"/> group commits; <paramref name="BytesWritten"/> is log bytes written since
    /// open and <paramref name="BytesOnDisk"/> the log's size now; <paramref name="Materialized"/> the last record applied to
    /// pages, <paramref name="Checkpoint"/> the durable page-store checkpoint, and <paramref name="PageStoreBytesWritten"/>
    /// the bytes its <paramref name="Checkpoints"/> wrote since open (doublewrite included). <paramref name="Epoch"/> is the
    /// newest epoch it accepted (a fence), <paramref name="OpenedEpoch"/> the one it takes redo in (below it between a
    /// recovery's fence and its truncation). <paramref name="CatchUp"/> is set while the segment catches up from its peers
    /// (a page copy and/or records): it counts in no quorum and serves no read above its SCL meanwhile. <paramref name="JoinTarget"/>
    /// is set while it joins its PG empty (durable; see <see cref="SegmentMetadata.JoinTarget"/>): until
    /// its SCL reaches it, it counts in no quorum, a recovery's read quorum included. <paramref name="Node"/> is the
    /// address of the node that hosts it (the actor system's default address); <paramref name="Fault"/> the storage fault
    /// it is in, if any (<paramref name="Failure"/> then says more). <paramref name="Pages"/> is what its scrub verified and
    /// its page repairs did since it opened.</summary>
    public sealed record SegmentStatus(int Pg, int Replica, long Epoch, Lsn Scl, Lsn MaxLsn, long Fsyncs, long Syncs, long SyncMicros,
        long BytesWritten, long BytesOnDisk, Lsn Materialized, Lsn Checkpoint, long Checkpoints, long PageStoreBytesWritten, string? Failure,
        long OpenedEpoch, CatchUpProgress? CatchUp = null, Lsn JoinTarget = default, string? Node = null,
        SegmentFault Fault = SegmentFault.None, PageHealth? Pages = null) : IActorDbMessage;

    /// <summary>Handoff/shutdown stop message: the segment finishes its fsync, then stops.</summary>
    public sealed record Stop : IActorDbMessage
    {
        /// <summary>The instance.</summary>
        public static readonly Stop Instance = new();
    }
}
