using Akka.Actor;
using ActorDb.Core;
using ActorDb.Core.Recovery;

namespace ActorDb.Recovery;

/// <summary>Messages of the <see cref="RecoverySupervisor"/>: with clients (finding the writer, the recovery history)
/// and with the writer it starts.</summary>
public static class RecoveryProtocol
{
    // ---------------------------------------------------------------- clients

    /// <summary>Asks for the writer that serves transactions. Answered with <see cref="CurrentWriter"/> once a recovery
    /// has opened the volume (held until then), or <see cref="WriterUnavailable"/> when there is none and will be none.</summary>
    public sealed record GetWriter : IActorDbMessage
    {
        /// <summary>The instance.</summary>
        public static readonly GetWriter Instance = new();
    }

    /// <summary>The writer serving epoch <paramref name="Epoch"/>: send transactions to it directly.</summary>
    public sealed record CurrentWriter(IActorRef Writer, long Epoch) : IActorDbMessage;

    /// <summary>No writer serves: recovery failed, the writer was fenced by a newer epoch (<paramref name="Fenced"/>), or
    /// the supervisor's node is stopping or handing the writer over (<paramref name="Stopping"/>: in a cluster a standby
    /// writer node takes over, so a client asks again). <paramref name="Reason"/> says which.</summary>
    public sealed record WriterUnavailable(string Reason, bool Fenced, bool Stopping = false) : IActorDbMessage;

    /// <summary>
    /// The cluster singleton's termination message (Akka.Cluster.Tools' <c>ClusterSingletonManager</c> sends it when the
    /// supervisor's node leaves, before the singleton starts on the next writer node): the supervisor drains its writer
    /// (in-flight commits finish or abort), or cancels a recovery still running, and then stops itself.
    /// </summary>
    public sealed record HandOver
    {
        /// <summary>The instance.</summary>
        public static readonly HandOver Instance = new();
    }

    /// <summary>Asks for the recoveries run so far. Reply: <see cref="RecoveryHistoryReply"/>.</summary>
    public sealed record GetRecoveryHistory : IActorDbMessage
    {
        /// <summary>The instance.</summary>
        public static readonly GetRecoveryHistory Instance = new();
    }

    /// <summary>Reply to <see cref="GetRecoveryHistory"/>: finished recoveries oldest first, and the one running now, if any.</summary>
    public sealed record RecoveryHistoryReply(IReadOnlyList<RecoveryRecord> Recoveries, RecoveryRecord? Running) : IActorDbMessage;

    // ---------------------------------------------------------------- supervisor and writer

    /// <summary>A segment that installed the recovery's epoch: its SCL as it reported it then, and the actor that
    /// answered (the sharding entity), which the writer may address directly.</summary>
    public sealed record OpenedSegment(int Pg, int Replica, Lsn Scl, IActorRef Ref);

    /// <summary>What a recovery hands the writer it starts: the plan (epoch, VDL, annulled range, PG tails), the segments
    /// that installed the epoch, and the volume header page (page 0) read at VDL; null for a new volume (VDL 0), which
    /// the writer formats.</summary>
    public sealed record RecoveredVolume(RecoveryPlan Plan, IReadOnlyList<OpenedSegment> Opened, byte[]? Header);

    /// <summary>Writer to supervisor: the volume is open (catalog loaded or a new volume formatted durably); the
    /// writer serves transactions from now on. <paramref name="Detail"/> describes the open-volume phase.</summary>
    public sealed record WriterOpened(long Epoch, string Detail);

    /// <summary>Writer to supervisor: the volume cannot be opened (the catalog page does not load); the writer stops.</summary>
    public sealed record WriterOpenFailed(long Epoch, string Reason);

    /// <summary>Writer to supervisor: a segment holds a newer epoch (<paramref name="SegmentEpoch"/>): another recovery
    /// took the volume over; the writer answers every request with a stale-epoch error from now on.</summary>
    public sealed record WriterFenced(long Epoch, long SegmentEpoch, string Reason);

    /// <summary>Supervisor to writer: the finished record of the recovery that started it (the writer includes it in
    /// its <see cref="Writer.WriterProtocol.WriterStatus"/>).</summary>
    public sealed record Recovered(RecoveryRecord Record);
}
