using System.Buffers.Binary;
using System.ComponentModel;
using ActorDb.Core.Redo;

namespace ActorDb.Core.Storage;

/// <summary>
/// The small durable state of a segment besides its log: the newest epoch it accepted, the VDL installed
/// with that epoch, and the LSN ranges annulled by recoveries. Stored in <c>segment.meta</c> in the
/// segment directory, little-endian:
/// <code>
/// offset    size  field
///   0        4    magic "ADSM" (0x41 0x44 0x53 0x4D)
///   4        2    version u16 = 4 (versions 1 without the checkpoint fields, 2 without the join target and 3 without the
///                 distrusted log position are still read)
///   6        2    reserved u16 = 0
///   8        8    epoch i64 (&gt;= 0)
///  16        8    vdl i64 (&gt;= 0)
///  24        4    rangeCount i32 (&gt;= 0)
///  28     24*n    ranges: fromExclusive i64, toInclusive i64, epoch i64 (see <see cref="AnnulledRange"/>)
///  c=28+24n  8    openedEpoch i64 (version 2; version 1 files end before it: their opened epoch is the epoch)
///  c+8       8    materialized i64: the page-store checkpoint
///  c+16      8    checkpoint CPL LSN i64 (0: none)
///  c+24      4    tailCount i32 (&gt;= 0), then tailCount x i64: that CPL's per-PG tails
///  t=c+28+8k 8    joinTarget i64 (version 3): see <see cref="JoinTarget"/> (0: not joining)
///  t+8       8    distrusted file sequence i64 (version 4; 0: none), then t+16 8: its offset i64: see <see cref="Distrusted"/>
///  end-4     4    crc32c of every byte before it
/// </code>
/// Immutable; equality compares the annulled ranges element by element.
/// </summary>
/// <param name="Epoch">The newest volume epoch this segment accepted (0 = none yet): requests of older epochs are refused.
/// A recovery fences with it before it reads the segment's state (<see cref="WithFence"/>); the segment takes redo in it
/// only once the recovery opened it (<see cref="OpenedEpoch"/>).</param>
/// <param name="Vdl">The VDL installed together with <paramref name="Epoch"/> (Lsn.Zero when none).</param>
/// <param name="Annulled">Annulled LSN ranges, in the order they were added.</param>
public sealed record SegmentMetadata(long Epoch, Lsn Vdl, IReadOnlyList<AnnulledRange> Annulled)
{
    /// <summary>The epoch whose recovery installed its VDL and truncation here (<see cref="WithEpoch"/>); redo is accepted
    /// only when it equals <see cref="Epoch"/>. Below it between a recovery's fence and its open.</summary>
    public long OpenedEpoch { get; init; }

    /// <summary>A copy fenced at <paramref name="epoch"/>: older epochs are refused from now on, but redo of
    /// <paramref name="epoch"/> is not accepted before <see cref="WithEpoch"/> opens it (the truncation comes first).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is below <see cref="Epoch"/>.</exception>
    public SegmentMetadata WithFence(long epoch)
    {
        if (epoch < Epoch)
            throw new ArgumentOutOfRangeException(nameof(epoch), epoch, $"epoch {epoch} is older than the installed epoch {Epoch}");
        return this with { Epoch = epoch };
    }

    /// <summary>The page-store checkpoint: every record of the PG at or below it is applied to the durable page store
    /// (<see cref="PageStore"/>), so log files holding only such records may be deleted and opening the segment starts
    /// its SCL here. It is the LSN of a record of the PG (or zero), never above a VDL the segment was told.</summary>
    public Lsn Materialized { get; init; }

    /// <summary>The latest commit record at or below <see cref="Materialized"/>, with its per-PG tails, so that recovery
    /// still sees a complete commit point after the log holding it was garbage-collected; null when none.</summary>
    public Recovery.CplInfo? CheckpointCpl { get; init; }

    /// <summary>A copy recording a completed page-store checkpoint at <paramref name="materialized"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="materialized"/> is below the current <see cref="Materialized"/>.</exception>
    public SegmentMetadata WithCheckpoint(Lsn materialized, Recovery.CplInfo? cpl)
    {
        if (materialized < Materialized)
            throw new ArgumentOutOfRangeException(nameof(materialized), materialized, $"checkpoint {materialized} is below the previous one {Materialized}");
        return this with { Materialized = materialized, CheckpointCpl = cpl ?? CheckpointCpl };
    }

    /// <summary>
    /// A copy recording a page copy from a peer (<see cref="PageCopy"/>): the pages as of the peer's checkpoint
    /// <paramref name="checkpoint"/> are durable in this segment's page store, so it becomes this segment's checkpoint
    /// with the peer's commit point <paramref name="cpl"/>, and the peer's annulled ranges are added (records in them
    /// must stay annulled here too). Unlike <see cref="WithCheckpoint"/> the commit point is replaced, not kept: this
    /// segment's own one is older.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="checkpoint"/> is not above the current <see cref="Materialized"/>.</exception>
    public SegmentMetadata WithPageCopy(Lsn checkpoint, Recovery.CplInfo? cpl, IEnumerable<AnnulledRange> peerAnnulled)
    {
        ArgumentNullException.ThrowIfNull(peerAnnulled);
        if (checkpoint <= Materialized)
            throw new ArgumentOutOfRangeException(nameof(checkpoint), checkpoint, $"a page copy at {checkpoint} is not above the checkpoint {Materialized}");
        var meta = this with { Materialized = checkpoint, CheckpointCpl = cpl };
        foreach (var r in peerAnnulled) meta = meta.WithAnnulled(r);
        return meta;
    }

    /// <summary>
    /// Set while the segment joins its PG empty (new node, lost disk, moved shard): the PG's state when it joined, a record
    /// LSN of the PG. Until its SCL reaches it, the segment counts in no quorum (design.md), a recovery's read quorum
    /// included (<see cref="Quorum.QuorumRules.CountsInReadQuorum"/>): it may have acknowledged records before it
    /// lost them. Durable, so a restart mid-catch-up does not make it count. Lsn.Zero: not joining.
    /// </summary>
    public Lsn JoinTarget { get; init; }

    /// <summary>
    /// Where the bytes a failed log write or fsync left start (<see cref="SegmentLog.FailedAt"/>), recorded before anything
    /// else happens after the failure: every later open cuts the log there (<see cref="SegmentLog.Open"/>'s
    /// <c>distrustedFrom</c>) and the records are fetched from peers, so bytes whose write or fsync failed are never trusted
    /// (fsyncgate). Cleared (<see cref="WithDistrusted"/> null) once a cut is durable, before anything is written after it. Null: none.
    /// </summary>
    public LogPosition? Distrusted { get; init; }

    /// <summary>A copy recording <paramref name="from"/> as <see cref="Distrusted"/> (null clears it).</summary>
    /// <exception cref="ArgumentOutOfRangeException">a file sequence below 1 or a negative offset.</exception>
    public SegmentMetadata WithDistrusted(LogPosition? from)
    {
        if (from is { } p && (p.FileSeq < 1 || p.Offset < 0))
            throw new ArgumentOutOfRangeException(nameof(from), from, "a distrusted log position needs a file sequence >= 1 and an offset >= 0");
        return this with { Distrusted = from };
    }

    /// <summary>A copy joining its PG until its SCL reaches <paramref name="target"/> (Lsn.Zero: joined).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="target"/> is negative.</exception>
    public SegmentMetadata WithJoinTarget(Lsn target)
    {
        if (target.Value < 0) throw new ArgumentOutOfRangeException(nameof(target), target, "the join target must be >= 0");
        return this with { JoinTarget = target };
    }

    /// <summary>File name of the metadata file in the segment directory.</summary>
    public const string FileName = "segment.meta";

    /// <summary>File name of the temporary file written before the atomic rename.</summary>
    public const string TempFileName = "segment.meta.tmp";

    /// <summary>Current format version.</summary>
    public const ushort FormatVersion = 4;

    private const uint Magic = 0x4D534441; // "ADSM" little-endian
    private const int HeaderSize = 28;
    private const int RangeSize = 24;

    /// <summary>The state of a segment that never saw a recovery: epoch 0, VDL 0, nothing annulled.</summary>
    public static SegmentMetadata Default { get; } = new(0, Lsn.Zero, Array.Empty<AnnulledRange>());

    /// <summary>The annulled ranges (never null).</summary>
    /// <exception cref="ArgumentNullException">on construction with null.</exception>
    public IReadOnlyList<AnnulledRange> Annulled { get; init; } = Annulled ?? throw new ArgumentNullException(nameof(Annulled));

    /// <summary>A copy with <paramref name="epoch"/> opened, with its installed <paramref name="vdl"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is below the current
    /// <see cref="Epoch"/> (epochs never go back), or <paramref name="vdl"/> is negative.</exception>
    public SegmentMetadata WithEpoch(long epoch, Lsn vdl)
    {
        if (epoch < Epoch)
            throw new ArgumentOutOfRangeException(nameof(epoch), epoch, $"epoch {epoch} is older than the installed epoch {Epoch}");
        if (vdl.Value < 0)
            throw new ArgumentOutOfRangeException(nameof(vdl), vdl, "VDL must be >= 0");
        return this with { Epoch = epoch, OpenedEpoch = epoch, Vdl = vdl };
    }

    /// <summary>A copy with <paramref name="range"/> added to <see cref="Annulled"/> (unchanged if already present).</summary>
    public SegmentMetadata WithAnnulled(AnnulledRange range)
    {
        foreach (AnnulledRange r in Annulled)
            if (r == range) return this;
        var list = new AnnulledRange[Annulled.Count + 1];
        for (int i = 0; i < Annulled.Count; i++) list[i] = Annulled[i];
        list[^1] = range;
        return this with { Annulled = list };
    }

    /// <summary>True when <paramref name="lsn"/> lies in any annulled range.</summary>
    public bool IsAnnulled(Lsn lsn)
    {
        foreach (AnnulledRange r in Annulled)
            if (r.Contains(lsn)) return true;
        return false;
    }

    /// <summary>The file's bytes in the layout described on the type.</summary>
    public byte[] Serialize()
    {
        int n = Annulled.Count;
        int tails = CheckpointCpl?.PgTail.Count ?? 0;
        int c = HeaderSize + RangeSize * n;
        var bytes = new byte[c + 28 + 8 * tails + 8 + 16 + 4];
        Span<byte> s = bytes;
        BinaryPrimitives.WriteUInt32LittleEndian(s, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(s.Slice(4), FormatVersion);
        BinaryPrimitives.WriteInt64LittleEndian(s.Slice(8), Epoch);
        BinaryPrimitives.WriteInt64LittleEndian(s.Slice(16), Vdl.Value);
        BinaryPrimitives.WriteInt32LittleEndian(s.Slice(24), n);
        for (int i = 0; i < n; i++)
        {
            Span<byte> r = s.Slice(HeaderSize + RangeSize * i);
            BinaryPrimitives.WriteInt64LittleEndian(r, Annulled[i].FromExclusive.Value);
            BinaryPrimitives.WriteInt64LittleEndian(r.Slice(8), Annulled[i].ToInclusive.Value);
            BinaryPrimitives.WriteInt64LittleEndian(r.Slice(16), Annulled[i].Epoch);
        }
        BinaryPrimitives.WriteInt64LittleEndian(s.Slice(c), OpenedEpoch);
        BinaryPrimitives.WriteInt64LittleEndian(s.Slice(c + 8), Materialized.Value);
        BinaryPrimitives.WriteInt64LittleEndian(s.Slice(c + 16), CheckpointCpl?.Lsn.Value ?? 0);
        BinaryPrimitives.WriteInt32LittleEndian(s.Slice(c + 24), tails);
        for (int i = 0; i < tails; i++) BinaryPrimitives.WriteInt64LittleEndian(s.Slice(c + 28 + 8 * i), CheckpointCpl!.PgTail[i].Value);
        BinaryPrimitives.WriteInt64LittleEndian(s.Slice(c + 28 + 8 * tails), JoinTarget.Value);
        BinaryPrimitives.WriteInt64LittleEndian(s.Slice(c + 36 + 8 * tails), Distrusted?.FileSeq ?? 0);
        BinaryPrimitives.WriteInt64LittleEndian(s.Slice(c + 44 + 8 * tails), Distrusted?.Offset ?? 0);
        int crcAt = bytes.Length - 4;
        BinaryPrimitives.WriteUInt32LittleEndian(s.Slice(crcAt), Crc32C.Compute(s.Slice(0, crcAt)));
        return bytes;
    }

    /// <summary>Parses bytes written by <see cref="Serialize"/>.</summary>
    /// <param name="bytes">The whole file.</param>
    /// <param name="source">Name used in error messages (the file path).</param>
    /// <exception cref="InvalidDataException">wrong size, magic, version, CRC-32C or an invalid field;
    /// the message names <paramref name="source"/>.</exception>
    public static SegmentMetadata Deserialize(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < HeaderSize + 4)
            throw new InvalidDataException($"segment metadata {source}: {bytes.Length} bytes, at least {HeaderSize + 4} expected");
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
            throw new InvalidDataException($"segment metadata {source}: bad magic 0x{BinaryPrimitives.ReadUInt32LittleEndian(bytes):X8} at offset 0");
        int crcAt = bytes.Length - 4;
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(crcAt));
        uint actual = Crc32C.Compute(bytes.Slice(0, crcAt));
        if (stored != actual)
            throw new InvalidDataException($"segment metadata {source}: CRC-32C mismatch (stored 0x{stored:X8} at offset {crcAt}, computed 0x{actual:X8}); the file is corrupt");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(4));
        if (version is not (1 or 2 or 3 or FormatVersion))
            throw new InvalidDataException($"segment metadata {source}: unsupported version {version} at offset 4, expected 1 to {FormatVersion}");
        long epoch = BinaryPrimitives.ReadInt64LittleEndian(bytes.Slice(8));
        long vdl = BinaryPrimitives.ReadInt64LittleEndian(bytes.Slice(16));
        int n = BinaryPrimitives.ReadInt32LittleEndian(bytes.Slice(24));
        long c = (long)HeaderSize + (long)RangeSize * n;
        if (epoch < 0 || vdl < 0 || n < 0 || (version == 1 ? c + 4 != bytes.Length : c + 32 > bytes.Length))
            throw new InvalidDataException($"segment metadata {source}: invalid header (epoch {epoch}, vdl {vdl}, {n} ranges in {bytes.Length} bytes)");
        var ranges = new AnnulledRange[n];
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<byte> r = bytes.Slice(HeaderSize + RangeSize * i);
            long from = BinaryPrimitives.ReadInt64LittleEndian(r);
            long to = BinaryPrimitives.ReadInt64LittleEndian(r.Slice(8));
            long e = BinaryPrimitives.ReadInt64LittleEndian(r.Slice(16));
            if (from < 0 || to <= from || e < 0)
                throw new InvalidDataException($"segment metadata {source}: invalid annulled range #{i} ({from}, {to}] epoch {e} at offset {HeaderSize + RangeSize * i}");
            ranges[i] = new AnnulledRange(new Lsn(from), new Lsn(to), e);
        }
        var meta = new SegmentMetadata(epoch, new Lsn(vdl), ranges) { OpenedEpoch = epoch };
        if (version == 1) return meta;
        ReadOnlySpan<byte> k = bytes.Slice((int)c);
        long opened = BinaryPrimitives.ReadInt64LittleEndian(k);
        long materialized = BinaryPrimitives.ReadInt64LittleEndian(k.Slice(8));
        long cpl = BinaryPrimitives.ReadInt64LittleEndian(k.Slice(16));
        int tails = BinaryPrimitives.ReadInt32LittleEndian(k.Slice(24));
        long join = version >= 3 && tails >= 0 && c + 40 + 8L * tails <= bytes.Length ? BinaryPrimitives.ReadInt64LittleEndian(k.Slice(28 + 8 * tails)) : 0;
        long distrustedSeq = 0, distrustedOffset = 0;
        if (version >= 4 && tails >= 0 && c + 56 + 8L * tails <= bytes.Length)
        {
            distrustedSeq = BinaryPrimitives.ReadInt64LittleEndian(k.Slice(36 + 8 * tails));
            distrustedOffset = BinaryPrimitives.ReadInt64LittleEndian(k.Slice(44 + 8 * tails));
        }
        if (opened < 0 || opened > epoch || materialized < 0 || cpl < 0 || tails < 0 || join < 0 || distrustedSeq < 0 || distrustedOffset < 0
            || (distrustedSeq == 0 && distrustedOffset != 0)
            || c + 32 + 8L * tails + (version >= 3 ? 8 : 0) + (version >= 4 ? 16 : 0) != bytes.Length)
            throw new InvalidDataException($"segment metadata {source}: invalid checkpoint section (opened epoch {opened}, materialized {materialized}, CPL {cpl}, {tails} tails) at offset {c}");
        var tail = new Lsn[tails];
        for (int i = 0; i < tails; i++) tail[i] = new Lsn(BinaryPrimitives.ReadInt64LittleEndian(k.Slice(28 + 8 * i)));
        return meta with { OpenedEpoch = opened, Materialized = new Lsn(materialized), CheckpointCpl = cpl == 0 ? null : new Recovery.CplInfo(new Lsn(cpl), tail), JoinTarget = new Lsn(join),
            Distrusted = distrustedSeq == 0 ? null : new LogPosition(distrustedSeq, distrustedOffset) };
    }

    /// <summary>
    /// Loads <c>segment.meta</c> from <paramref name="directory"/>; <see cref="Default"/> when the file (or
    /// the directory) does not exist. A leftover <c>segment.meta.tmp</c> is ignored.
    /// </summary>
    /// <exception cref="InvalidDataException">the file is corrupt; the message names it.</exception>
    /// <exception cref="SegmentLogException">the file cannot be read (operation "read").</exception>
    public static SegmentMetadata Load(string directory, IStorage? storage = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        storage ??= DiskStorage.Instance;
        string path = Path.GetFullPath(Path.Combine(directory, FileName));
        byte[] bytes;
        try
        {
            if (!storage.FileExists(path)) return Default;
            bytes = storage.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Win32Exception)
        {
            throw new SegmentLogException($"segment metadata {path}: read failed: {e.Message}", path, "read", e);
        }
        return Deserialize(bytes, path);
    }

    /// <summary>
    /// Atomically replaces <c>segment.meta</c> in <paramref name="directory"/> (created, with its missing parents, each
    /// fsynced in its parent, if missing): writes <c>segment.meta.tmp</c>, fsyncs it, renames it over <c>segment.meta</c>,
    /// and fsyncs the directory. With <paramref name="fsync"/> false every fsync is skipped (tests and benchmarks only).
    /// A crash at any point leaves either the old or the new file.
    /// </summary>
    /// <param name="directory">The segment directory.</param>
    /// <param name="fsync">Whether to fsync (see above).</param>
    /// <param name="storage">The storage (the disk when null).</param>
    /// <exception cref="SegmentLogException">an I/O error (operation "write", "fsync" or "rename"); the
    /// message names the file. The previous <c>segment.meta</c> is then still intact.</exception>
    public void Save(string directory, bool fsync, IStorage? storage = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        storage ??= DiskStorage.Instance;
        string dir = Path.GetFullPath(directory);
        string tmp = Path.Combine(dir, TempFileName);
        string path = Path.Combine(dir, FileName);
        byte[] bytes = Serialize();
        string op = "write";
        try
        {
            storage.EnsureDirectory(dir, fsync);
            using (var fs = storage.Open(tmp, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
            {
                fs.Write(bytes, 0);
                op = "fsync";
                if (fsync) fs.Flush();
            }
            op = "rename";
            storage.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Win32Exception)
        {
            string target = op == "rename" ? path : tmp;
            throw new SegmentLogException($"segment metadata {target}: {op} failed: {e.Message}", target, op, e);
        }
        if (!fsync) return;
        try
        {
            storage.FsyncDirectory(dir);
        }
        catch (Exception e) when (e is Win32Exception or IOException)
        {
            throw new SegmentLogException($"segment metadata {path}: fsync of directory {dir} after rename failed: {e.Message}", dir, "fsync", e);
        }
    }

    /// <summary>Value equality: same epoch, VDL and annulled ranges in the same order.</summary>
    public bool Equals(SegmentMetadata? other)
    {
        if (other is null || Epoch != other.Epoch || Vdl != other.Vdl || Annulled.Count != other.Annulled.Count
            || OpenedEpoch != other.OpenedEpoch || Materialized != other.Materialized || JoinTarget != other.JoinTarget || Distrusted != other.Distrusted || CheckpointCpl?.Lsn != other.CheckpointCpl?.Lsn
            || !(CheckpointCpl?.PgTail ?? []).SequenceEqual(other.CheckpointCpl?.PgTail ?? [])) return false;
        for (int i = 0; i < Annulled.Count; i++)
            if (Annulled[i] != other.Annulled[i]) return false;
        return true;
    }

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Epoch);
        h.Add(Vdl);
        h.Add(Materialized);
        foreach (AnnulledRange r in Annulled) h.Add(r);
        return h.ToHashCode();
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"epoch {Epoch} (opened {OpenedEpoch}), VDL {Vdl}, materialized {Materialized}, annulled: " + (Annulled.Count == 0 ? "none" : string.Join(", ", Annulled));
}
