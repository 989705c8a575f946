using System.Buffers.Binary;
using System.ComponentModel;
using System.Globalization;
using System.Runtime.InteropServices;
using ActorDb.Core.Redo;
using Microsoft.Win32.SafeHandles;

namespace ActorDb.Core.Storage;

/// <summary>
/// The append-only redo log of one storage segment, in one directory.
/// <para><b>On disk.</b> Files <c>redo-{n:D8}.log</c>, where n is the file's sequence number
/// (1, 2, 3, ...; ordered numerically), each a plain concatenation of <see cref="RedoCodec"/> frames
/// (<c>[u32 bodyLength][u32 crc32c][body]</c>, little-endian) with no file header. Records are stored in
/// arrival order, which need not be LSN order. A frame never spans two files. The log rolls to file n+1
/// before a batch that would take the current file past <see cref="SegmentLogOptions.MaxFileBytes"/>
/// (unless the current file is empty). A lock file <c>redo.lock</c>, held with an exclusive advisory
/// lock while the log is open, keeps a second <see cref="SegmentLog"/> (in this or another process) out.</para>
/// <para><b>Recovery on open.</b> Every file is scanned frame by frame. A frame that does not decode
/// starts a damaged range, which extends to the next offset (found byte by byte) where a complete frame
/// with a sane length, valid fields and a matching CRC-32C starts, or to the end of the file. Damage
/// after the last valid frame of the whole log is the torn tail: it is cut (files truncated to the end of
/// the last valid frame, then fsynced) and reported in <see cref="OpenReport.TailBytesCut"/>. Damage
/// before a valid frame is a hole: it is skipped, never cut, and reported in
/// <see cref="OpenReport.CorruptRanges"/>; the records after it remain in the log.</para>
/// <para><b>Threading (group commit).</b> <see cref="Append(RedoRecord)"/> and <see cref="TakeBatch"/>
/// may be called from any thread (they take a short internal lock); typically one actor appends.
/// <see cref="WriteAndSync"/> does the I/O without that lock, so it can run on the thread pool while the
/// actor keeps appending to the next batch. <see cref="WriteAndSync"/> calls are serialised by a write
/// lock (one runs at a time; others wait), and non-empty batches must be written in the order they were
/// taken. A record is durable (and may be acknowledged) only after <see cref="WriteAndSync"/> returned for
/// the batch that holds it (<see cref="SyncBatch.CumulativeRecords"/> tells how many appends that covers).
/// Open also fsyncs every file it scanned (fsync on), so records found after a process crash are durable
/// before they are acknowledged again.</para>
/// <para><b>Failures.</b> Any I/O error in <see cref="WriteAndSync"/> (disk full, EIO, ...) throws a
/// <see cref="SegmentLogException"/> naming the file and the operation, and faults the log: the failed
/// batch and everything appended after it are not durable, the file is in an unknown state past the last
/// successful sync, and every later call other than <see cref="ReadAll"/>, the statistics and
/// <see cref="Dispose"/> throws a <see cref="SegmentLogException"/> (operation "state") wrapping the
/// original fault. The caller must stop acknowledging, dispose, and may reopen: reopening cuts any torn
/// tail. Records past the last successful sync may or may not survive a reopen.</para>
/// </summary>
public sealed class SegmentLog : IDisposable
{
    /// <summary>File name prefix of log files.</summary>
    public const string FilePrefix = "redo-";
    /// <summary>File name suffix of log files.</summary>
    public const string FileSuffix = ".log";
    /// <summary>Name of the lock file in the segment directory.</summary>
    public const string LockFileName = "redo.lock";
    /// <summary>File name of the next log file while it is zero-filled in the background (not a log file: never scanned).</summary>
    public const string PreparedFileName = "redo-next.tmp";

    private const int MaxRetainedBufferBytes = 16 * 1024 * 1024;

    private readonly object _gate = new();
    private readonly object _writeLock = new();          // serialises WriteAndSync, Sync and Dispose
    private readonly List<LogFile> _files;          // guarded by _gate
    private readonly HashSet<(string, long)> _knownHoles;
    private readonly IDisposable _lock;

    private IStorageFile _current;                   // written by the single WriteAndSync; replaced under _gate
    private long _currentLength;                     // bytes of the current file known durable; updated under _gate
    private long _preallocated;                      // the current file is zero-filled up to here (guarded by _writeLock)
    private Task<IStorageFile>? _prepared;           // the next file, zero-filled in the background (guarded by _writeLock)
    private long _preparedUsed;
    // Direct I/O (Options.DirectIo): an O_DIRECT | O_DSYNC handle on the current file, the bytes of its last partial 4 KiB
    // block (written again, unchanged, at the start of the next write), and a block-aligned staging buffer. All three
    // are used only under _writeLock.
    private IStorageFile? _direct;
    private readonly byte[] _tail = new byte[NativeFileSync.DirectIoAlignment];
    private int _tailLength;
    private unsafe byte* _staging;
    private int _stagingCapacity;
    private long _directWrites;
    private static readonly byte[] Zeros = new byte[1 << 20];
    private long _closedBytes;                       // bytes in files before the current one; guarded by _gate

    private byte[] _active;                          // guarded by _gate
    private int _activeLength;
    private int _activeRecords;
    private long _activeMaxLsn;                      // highest LSN in the write buffer; guarded by _gate
    private byte[]? _spare;
    private long _appendedRecords;
    private long _takenSeq;
    private long _writtenSeq;                        // guarded by _writeLock

    private long _bytesWritten;
    private long _syncCount;
    private long _fsyncCount;
    private Exception? _fault;
    private LogPosition? _failedAt;                  // where the bytes no longer trusted start (set with _fault)
    private bool _disposed;

    private SegmentLog(string directory, SegmentLogOptions options, IDisposable lockFile, List<LogFile> files,
        IStorageFile current, OpenReport report)
    {
        Directory = directory;
        Options = options;
        _lock = lockFile;
        _files = files;
        _current = current;
        _currentLength = files[^1].Length;
        _preallocated = _currentLength;
        for (int i = 0; i < files.Count - 1; i++) _closedBytes += files[i].Length;
        Recovery = report;
        _knownHoles = report.CorruptRanges.Select(r => (r.File, r.Offset)).ToHashSet();
        _active = new byte[options.InitialBufferBytes];
        OpenDirect(files[^1].Path);
        PrepareNext();
    }

    /// <summary>Whether batches are written with O_DIRECT | O_DSYNC (see <see cref="SegmentLogOptions.DirectIo"/>): false
    /// when turned off, with fsync or preallocation off, or where the platform or file system does not allow it.</summary>
    public bool DirectIo => _direct is not null;

    /// <summary>Batches written with one O_DIRECT | O_DSYNC write since open (the others went through the page cache).</summary>
    public long DirectWrites => Interlocked.Read(ref _directWrites);

    /// <summary>Opens the direct handle on <paramref name="path"/> (the current file, <see cref="_currentLength"/> bytes
    /// long) when the options ask for it, and reads the bytes of its last partial block. Without it, writes go through
    /// the page cache.</summary>
    private void OpenDirect(string path)
    {
        _tailLength = 0;
        if (!Options.WantsDirectIo) return;
        _direct = Io(path, "open", () => Options.Storage.OpenDirect(path));
        if (_direct is null) return;
        var tail = (int)(_currentLength % NativeFileSync.DirectIoAlignment);
        if (tail == 0) return;
        var n = Io(path, "read", () => _current.Read(_tail.AsSpan(0, tail), _currentLength - tail));
        if (n != tail) throw new SegmentLogException($"segment log {Directory}: reading the last {tail} bytes of {path} returned {n}", path, "read");
        _tailLength = tail;
    }

    /// <summary>Full path of the segment directory.</summary>
    public string Directory { get; }

    /// <summary>The options the log was opened with.</summary>
    public SegmentLogOptions Options { get; }

    /// <summary>What the scan at open found: counts, holes skipped, tail cut.</summary>
    public OpenReport Recovery { get; }

    /// <summary>Bytes written to log files by this instance (successful <see cref="WriteAndSync"/> calls).</summary>
    public long BytesWritten { get { lock (_gate) return _bytesWritten; } }

    /// <summary>Number of successful <see cref="WriteAndSync"/> calls that wrote a non-empty batch.</summary>
    public long SyncCount { get { lock (_gate) return _syncCount; } }

    /// <summary>Number of fdatasync calls after writes (equals <see cref="SyncCount"/> with fsync on, 0 with it off).</summary>
    public long FsyncCount { get { lock (_gate) return _fsyncCount; } }

    /// <summary>Number of log files.</summary>
    public int FileCount { get { lock (_gate) return _files.Count; } }

    /// <summary>Total bytes of all log files as known to this instance (the durable end, excluding a write in flight).</summary>
    public long DiskBytes { get { lock (_gate) return _closedBytes + _currentLength; } }

    /// <summary>Full path of the file the next batch is written to (before any roll).</summary>
    public string CurrentFile { get { lock (_gate) return _files[^1].Path; } }

    /// <summary>Bytes appended but not yet taken by <see cref="TakeBatch"/>.</summary>
    public int BufferedBytes { get { lock (_gate) return _activeLength; } }

    /// <summary>Records appended but not yet taken by <see cref="TakeBatch"/>.</summary>
    public int BufferedRecords { get { lock (_gate) return _activeRecords; } }

    /// <summary>Records appended through this instance since open (see <see cref="SyncBatch.CumulativeRecords"/>).</summary>
    public long AppendedRecords { get { lock (_gate) return _appendedRecords; } }

    /// <summary>True when the next log file is zero-filled and synced, ready for the next roll-over.</summary>
    public bool NextFileReady { get { lock (_writeLock) return _prepared is { IsCompletedSuccessfully: true }; } }

    /// <summary>Roll-overs that took a file zero-filled ahead in the background (no zero-fill in the write path).</summary>
    public long PreparedFilesUsed => Interlocked.Read(ref _preparedUsed);

    /// <summary>The error that faulted the log, or null while it is healthy.</summary>
    public Exception? Fault { get { lock (_gate) return _fault; } }

    /// <summary>Set with <see cref="Fault"/>: the durable end of the log when the failed write or sync began. Every byte from
    /// there on is distrusted (a failed write may have left part of its batch; after a failed fsync the kernel may have dropped
    /// or marked clean the dirty pages, and a later fsync proves nothing): reopen with it as <c>distrustedFrom</c> to cut them.</summary>
    public LogPosition? FailedAt { get { lock (_gate) return _failedAt; } }

    /// <summary>Bytes cut at open because they were at or after the <c>distrustedFrom</c> position passed to <see cref="Open"/>.</summary>
    public long DistrustedBytesCut { get; private init; }

    /// <summary>
    /// Opens (creating if needed) the log in <paramref name="directory"/>, scans and repairs it as
    /// described on <see cref="SegmentLog"/>. With fsync on, a newly created directory is made durable in
    /// its parent, a newly created file in the directory, and a truncation in its file.
    /// </summary>
    /// <param name="directory">The segment directory (created with its parents when missing).</param>
    /// <param name="options">Settings; see <see cref="SegmentLogOptions"/>.</param>
    /// <param name="onRecord">Optional callback invoked for every valid record during the scan, in log
    /// order (the same sequence <see cref="ReadAll"/> yields), so a segment can rebuild its state in a
    /// single pass. Exceptions from it abort the open and propagate.</param>
    /// <exception cref="ArgumentNullException">a required argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">invalid options.</exception>
    /// <param name="distrustedFrom">Where the bytes a failed write or sync left start (<see cref="FailedAt"/>, kept durably by
    /// the caller): the file with that sequence number is cut there and every later file is deleted, durably, before the
    /// scan, so none of those bytes is ever read or acknowledged. Null: nothing is distrusted.</param>
    /// <exception cref="SegmentLogException">the directory cannot be created, is locked by another open
    /// log (operation "lock"), or a file cannot be read, created or truncated; the message names the path.</exception>
    public static SegmentLog Open(string directory, SegmentLogOptions options, Action<RedoRecord>? onRecord = null, LogPosition? distrustedFrom = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        string dir = Path.GetFullPath(directory);
        IStorage storage = options.Storage;

        Io(dir, "create", () => storage.EnsureDirectory(dir, options.Fsync));

        string lockPath = Path.Combine(dir, LockFileName);
        IDisposable lockFile;
        try
        {
            lockFile = storage.Lock(lockPath);
        }
        catch (IOException e)
        {
            throw new SegmentLogException($"segment log {dir}: cannot lock {lockPath}; is the log already open (here or in another process)? {e.Message}", lockPath, "lock", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new SegmentLogException($"segment log {dir}: cannot open lock file {lockPath}: {e.Message}", lockPath, "lock", e);
        }

        try
        {
            string prepared = Path.Combine(dir, PreparedFileName);
            Io(prepared, "delete", () => storage.Delete(prepared));   // a background zero-fill cut short: never part of the log
            List<LogFile> files = ListFiles(storage, dir);
            long distrusted = distrustedFrom is { } cut ? CutDistrusted(storage, dir, files, cut, options.Fsync) : 0;
            if (files.Count == 0)
            {
                string first = Path.Combine(dir, FileName(1));
                Io(first, "create", () => storage.Open(first, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read).Dispose());
                if (options.Fsync) Io(dir, "fsync", () => storage.FsyncDirectory(dir));
                files.Add(new LogFile(1, first, 0));
            }

            OpenReport report = ScanAndRepair(files, options, onRecord);
            if (options.Fsync) MakeDurable(storage, dir, files);
            string currentPath = files[^1].Path;
            IStorageFile current = Io(currentPath, "open",
                () => storage.Open(currentPath, FileMode.Open, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete));
            return new SegmentLog(dir, options, lockFile, files, current, report) { DistrustedBytesCut = distrusted };
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Encodes <paramref name="record"/> into the in-memory write buffer (no system call). The record is
    /// not durable until a <see cref="WriteAndSync"/> of the batch holding it returns.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="record"/> is null.</exception>
    /// <exception cref="ArgumentException">the record cannot be encoded (see <see cref="RedoCodec.Encode(RedoRecord, Span{byte})"/>); nothing is appended.</exception>
    /// <exception cref="SegmentLogException">the log is faulted (operation "state").</exception>
    /// <exception cref="ObjectDisposedException">the log is disposed.</exception>
    public void Append(RedoRecord record)
    {
        int size = RedoCodec.FrameSize(record);
        RedoCodec.Validate(record);
        lock (_gate)
        {
            ThrowIfUnusable();
            EnsureCapacity(size);
            _activeLength += RedoCodec.EncodeValidated(record, _active.AsSpan(_activeLength), size);
            _activeRecords++;
            if (record.Lsn.Value > _activeMaxLsn) _activeMaxLsn = record.Lsn.Value;
            _appendedRecords++;
        }
    }

    /// <summary>
    /// Encodes all <paramref name="records"/>, in order, into the write buffer under one lock, so they land
    /// in the same batch. Either all are appended or (on an exception) none.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="records"/> or an element is null.</exception>
    /// <exception cref="ArgumentException">a record cannot be encoded; nothing is appended.</exception>
    /// <exception cref="SegmentLogException">the log is faulted (operation "state").</exception>
    /// <exception cref="ObjectDisposedException">the log is disposed.</exception>
    public void Append(IReadOnlyList<RedoRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        long total = 0;
        for (int i = 0; i < records.Count; i++)
        {
            total += RedoCodec.FrameSize(records[i]);
            RedoCodec.Validate(records[i]);
        }
        if (total == 0) return;
        lock (_gate)
        {
            ThrowIfUnusable();
            EnsureCapacity(total);
            for (int i = 0; i < records.Count; i++)
            {
                RedoRecord r = records[i];
                _activeLength += RedoCodec.EncodeValidated(r, _active.AsSpan(_activeLength), RedoCodec.HeaderSize + RedoCodec.BodyFixedSize + r.Payload.Length);
                if (r.Lsn.Value > _activeMaxLsn) _activeMaxLsn = r.Lsn.Value;
            }
            _activeRecords += records.Count;
            _appendedRecords += records.Count;
        }
    }

    /// <summary>
    /// Swaps the write buffer out (under the internal lock) and returns it as a batch; later appends go to
    /// a fresh buffer. Every non-empty batch must be passed to <see cref="WriteAndSync"/>, in the order taken;
    /// dropping one loses its records and makes later batches fail.
    /// </summary>
    /// <returns>The batch; <see cref="SyncBatch.IsEmpty"/> when nothing was appended since the last take.</returns>
    /// <exception cref="SegmentLogException">the log is faulted (operation "state").</exception>
    /// <exception cref="ObjectDisposedException">the log is disposed.</exception>
    public SyncBatch TakeBatch()
    {
        lock (_gate)
        {
            ThrowIfUnusable();
            if (_activeLength == 0) return new SyncBatch(null, 0, 0, 0, _appendedRecords);
            var batch = new SyncBatch(_active, _activeLength, _activeRecords, ++_takenSeq, _appendedRecords) { MaxLsn = _activeMaxLsn };
            _active = _spare ?? new byte[Options.InitialBufferBytes];
            _spare = null;
            _activeLength = 0;
            _activeRecords = 0;
            _activeMaxLsn = 0;
            return batch;
        }
    }

    /// <summary>
    /// Writes <paramref name="batch"/> to the end of the current log file with one positional write
    /// (rolling to a new file first if needed) and, with <see cref="SegmentLogOptions.Fsync"/> on, makes it
    /// durable with fdatasync (on non-Linux systems: <see cref="RandomAccess.FlushToDisk"/>). Does not hold
    /// the append lock during I/O, so appends continue meanwhile. Calls are serialised by a write lock: a
    /// second concurrent call (or <see cref="Sync"/>, <see cref="Dispose"/>) waits for the first. An empty
    /// batch returns at once with nothing written.
    /// </summary>
    /// <returns>Bytes written, records, and whether a flush to disk happened.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="batch"/> is null.</exception>
    /// <exception cref="InvalidOperationException">the batch was already written, or an earlier non-empty
    /// batch was not written yet (the batch is left untouched and can be written after that one).</exception>
    /// <exception cref="SegmentLogException">an I/O error (operation "write", "fsync" or "create" of a
    /// rolled file; the message names the file and the lost batch) — the log is now faulted — or the log
    /// was already faulted (operation "state").</exception>
    /// <exception cref="ObjectDisposedException">the log is disposed.</exception>
    public SyncResult WriteAndSync(SyncBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        lock (_writeLock)
        {
            lock (_gate) ThrowIfUnusable();
            if (batch.IsEmpty) return default;
            if (batch.Consumed)
                throw new InvalidOperationException($"segment log {Directory}: batch {batch.Sequence} was already written");
            if (batch.Sequence != _writtenSeq + 1)
                throw new InvalidOperationException($"segment log {Directory}: batch {batch.Sequence} written out of order; batch {_writtenSeq + 1} was taken earlier and must be written first");
            batch.Consumed = true;

            byte[] buffer = batch.Buffer!;
            long offset = _currentLength;
            if (offset > 0 && offset + batch.Length > Options.MaxFileBytes)
            {
                Roll(batch);
                offset = 0;
            }

            string path;
            lock (_gate) path = _files[^1].Path;
            // A direct write covers whole blocks: from the block holding the end of the log to the block after the batch.
            long end = _direct is null ? offset + batch.Length : RoundUpToBlock(offset + batch.Length);
            if (Options.PreallocateBytes > 0 && end > _preallocated)
            {
                // A random extent in [P/2, 3P/2): replicas of one PG hold the same bytes, and would otherwise all stop to
                // zero-fill at the same offset, stalling the PG's write quorum at once.
                var extent = Options.PreallocateBytes / 2 + Options.Random.NextInt64(Math.Max(1, Options.PreallocateBytes));
                // Never past the roll-over size (beyond the last block): those zeros would only be given back when the file is closed.
                Preallocate(Math.Max(end, Math.Min(offset + batch.Length + extent, Options.MaxFileBytes)), path, batch);
            }
            bool fsynced = false;
            if (_direct is not null)
            {
                try
                {
                    WriteDirect(buffer.AsSpan(0, batch.Length), offset);
                    fsynced = true;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or OutOfMemoryException)
                {
                    throw Faulted(e, path, "write", $"direct write (O_DIRECT | O_DSYNC) of {batch.Length} bytes at offset {offset} failed", batch);
                }
            }
            else
            {
                try
                {
                    _current.Write(buffer.AsSpan(0, batch.Length), offset);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
                {
                    throw Faulted(e, path, "write", $"write of {batch.Length} bytes at offset {offset} failed", batch);
                }
            }

            if (Options.Fsync && !fsynced)
            {
                try
                {
                    _current.Flush();
                    fsynced = true;
                }
                catch (Exception e) when (e is IOException or Win32Exception or UnauthorizedAccessException)
                {
                    throw Faulted(e, path, "fsync", $"fdatasync after writing {batch.Length} bytes at offset {offset} failed", batch);
                }
            }

            _writtenSeq = batch.Sequence;
            lock (_gate)
            {
                _currentLength = offset + batch.Length;
                _files[^1] = _files[^1] with { Length = _currentLength, MaxLsn = Math.Max(_files[^1].MaxLsn, batch.MaxLsn) };
                _bytesWritten += batch.Length;
                _syncCount++;
                if (fsynced) _fsyncCount++;
                if (_spare is null && buffer.Length <= Math.Max(MaxRetainedBufferBytes, Options.InitialBufferBytes))
                    _spare = buffer;
            }
            batch.Buffer = null;
            return new SyncResult(batch.Length, batch.RecordCount, fsynced);
        }
    }

    /// <summary>
    /// Convenience: <see cref="TakeBatch"/> then <see cref="WriteAndSync"/> on the calling thread, both under
    /// the write lock, so concurrent <see cref="Sync"/> calls are safe. Do not mix with a separate
    /// <see cref="TakeBatch"/>/<see cref="WriteAndSync"/> pipeline on other threads (a batch taken there
    /// but not yet written makes this call fail as out of order).
    /// </summary>
    /// <exception cref="SegmentLogException">as for <see cref="WriteAndSync"/>.</exception>
    /// <exception cref="InvalidOperationException">as for <see cref="WriteAndSync"/>.</exception>
    /// <exception cref="ObjectDisposedException">the log is disposed.</exception>
    public SyncResult Sync()
    {
        lock (_writeLock) return WriteAndSync(TakeBatch());
    }

    /// <summary>
    /// Log garbage collection (design.md, "Storage segment on disk"): deletes every log file except the current one whose
    /// records all have LSN &lt;= <paramref name="materialized"/>, i.e. are in the segment's page store. The caller
    /// guarantees that (a page-store checkpoint at <paramref name="materialized"/> is durable). No directory fsync: a
    /// deleted file that reappears after a power loss holds only records at or below the checkpoint, which are skipped.
    /// Safe to call while appends and <see cref="WriteAndSync"/> run (the current file is never deleted).
    /// </summary>
    /// <returns>The number of files deleted and their bytes.</returns>
    /// <exception cref="SegmentLogException">a file cannot be deleted (operation "delete"); the files before it are gone.</exception>
    /// <exception cref="ObjectDisposedException">the log is disposed.</exception>
    public (int Files, long Bytes) CollectGarbage(Lsn materialized)
    {
        List<LogFile> doomed;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            doomed = _files.Take(_files.Count - 1).Where(f => f.MaxLsn <= materialized.Value).ToList();
            if (doomed.Count == 0) return (0, 0);
            foreach (LogFile f in doomed)
            {
                _files.Remove(f);
                _closedBytes -= f.Length;
            }
        }
        long bytes = 0;
        foreach (LogFile f in doomed)
        {
            Io(f.Path, "delete", () => Options.Storage.Delete(f.Path));
            bytes += f.Length;
        }
        return (doomed.Count, bytes);
    }

    /// <summary>
    /// Reads every record of the log from disk, in log order: file by file, up to each file's length known
    /// at the time of the call (durable bytes only; later appends are not included). Holes reported at
    /// open are skipped. Lazy; safe to run concurrently with appends and syncs; a file removed meanwhile
    /// fails the enumeration. Allocates one record (and payload copy) per frame.
    /// </summary>
    /// <exception cref="ObjectDisposedException">the log is disposed (at the call).</exception>
    /// <exception cref="SegmentLogException">during enumeration: a read fails (operation "read"), or a
    /// damaged range not reported at open is found (operation "scan"); the message names file and offset.</exception>
    public IEnumerable<RedoRecord> ReadAll()
    {
        (string Path, long Length)[] snapshot;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            snapshot = _files.Select(f => (f.Path, f.Length)).ToArray();
        }
        return ReadFiles(Options.Storage, snapshot, _knownHoles);
    }

    private static IEnumerable<RedoRecord> ReadFiles(IStorage storage, (string Path, long Length)[] files, HashSet<(string, long)> knownHoles)
    {
        foreach (var (path, length) in files)
        {
            if (length == 0) continue;
            using LogFileScanner scanner = Io(path, "read", () => new LogFileScanner(storage, path, length));
            while (true)
            {
                RedoRecord? record = ReadNext(scanner, knownHoles, out bool end);
                if (end) break;
                if (record is not null) yield return record;
            }
        }
    }

    private static RedoRecord? ReadNext(LogFileScanner scanner, HashSet<(string, long)> knownHoles, out bool end)
    {
        ScanItem item;
        long offset, length;
        ReadOnlySpan<byte> frame;
        try
        {
            item = scanner.Next(out offset, out length, out frame);
        }
        catch (IOException e)
        {
            throw new SegmentLogException($"segment log file {scanner.Path}: read failed: {e.Message}", scanner.Path, "read", e);
        }
        end = item == ScanItem.End;
        switch (item)
        {
            case ScanItem.Frame:
                RedoCodec.TryDecode(frame, out RedoRecord? record, out _);
                return record;
            case ScanItem.Damage when !knownHoles.Contains((scanner.Path, offset)):
                throw new SegmentLogException(
                    $"segment log file {scanner.Path}: damaged frame at offset {offset} ({length} bytes) that was not present when the log was opened",
                    scanner.Path, "scan");
            default:
                return null;
        }
    }

    /// <summary>
    /// Closes the file handles and releases the directory lock. Does <b>not</b> write or sync: records
    /// appended or taken but not yet written by a completed <see cref="WriteAndSync"/> are discarded. Waits
    /// for a running <see cref="WriteAndSync"/> to finish. Idempotent.
    /// </summary>
    public void Dispose()
    {
        lock (_writeLock)
        {
            lock (_gate)
            {
                if (_disposed) return;
                _disposed = true;
            }
            // A clean close gives back the unused zero padding, so a tail cut at the next open means a crash.
            if (_preallocated > _currentLength && _fault is null)
            {
                try
                {
                    _current.SetLength(_currentLength);
                    if (Options.Fsync) _current.Flush();
                }
                catch (Exception e) when (e is IOException or Win32Exception or UnauthorizedAccessException)
                {
                    // Left padded: the next open cuts the zeros as a tail. Nothing acknowledged is affected.
                }
            }
            _current.Dispose();
            _direct?.Dispose();
            FreeStaging();
            if (_prepared is not null)
            {
                try
                {
                    _prepared.Wait();
                    _prepared.Result.Dispose();
                }
                catch (AggregateException) { /* a failed background zero-fill: nothing to keep */ }
                try { Options.Storage.Delete(Path.Combine(Directory, PreparedFileName)); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* deleted at the next open */ }
            }
            _lock.Dispose();
        }
    }

    // ---- internals ----

    private readonly record struct LogFile(long Seq, string Path, long Length, long MaxLsn = 0);

    /// <summary>The name of log file number <paramref name="seq"/>: <c>redo-{seq:D8}.log</c>.</summary>
    public static string FileName(long seq) =>
        FilePrefix + seq.ToString("D8", CultureInfo.InvariantCulture) + FileSuffix;

    private static List<LogFile> ListFiles(IStorage storage, string dir)
    {
        var files = new List<LogFile>();
        IEnumerable<string> paths = Io(dir, "open", () => storage.ListFiles(dir, FilePrefix + "*" + FileSuffix));
        foreach (string path in paths)
        {
            string name = Path.GetFileName(path);
            string digits = name.Substring(FilePrefix.Length, name.Length - FilePrefix.Length - FileSuffix.Length);
            if (digits.Length < 8 || !digits.All(char.IsAsciiDigit)
                || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long seq) || seq < 1)
                continue;
            long length = Io(path, "open", () => storage.FileLength(path));
            files.Add(new LogFile(seq, path, length));
        }
        files.Sort((a, b) => a.Seq != b.Seq ? a.Seq.CompareTo(b.Seq) : string.CompareOrdinal(a.Path, b.Path));
        for (int i = 1; i < files.Count; i++)
            if (files[i].Seq == files[i - 1].Seq)
                throw new SegmentLogException($"segment log {dir}: two files with sequence number {files[i].Seq}: {files[i - 1].Path} and {files[i].Path}", files[i].Path, "open");
        return files;
    }

    private static OpenReport ScanAndRepair(List<LogFile> files, SegmentLogOptions options, Action<RedoRecord>? onRecord)
    {
        var damage = new List<(int File, CorruptRange Range)>();
        long records = 0, validBytes = 0;
        int lastFile = -1;       // file index of the last valid frame
        long lastEnd = 0;        // end offset of the last valid frame in that file

        for (int f = 0; f < files.Count; f++)
        {
            string path = files[f].Path;
            if (files[f].Length == 0) continue;
            using LogFileScanner scanner = Io(path, "scan", () => new LogFileScanner(options.Storage, path, files[f].Length));
            while (true)
            {
                ScanItem item;
                long offset, length;
                RedoRecord? record = null;
                try
                {
                    item = scanner.Next(out offset, out length, out ReadOnlySpan<byte> frame);
                    if (item == ScanItem.Frame)
                    {
                        long lsn = BinaryPrimitives.ReadInt64LittleEndian(frame.Slice(RedoCodec.HeaderSize));
                        if (lsn > files[f].MaxLsn) files[f] = files[f] with { MaxLsn = lsn };
                        if (onRecord is not null) RedoCodec.TryDecode(frame, out record, out _);
                    }
                }
                catch (IOException e)
                {
                    throw new SegmentLogException($"segment log file {path}: read failed while scanning: {e.Message}", path, "scan", e);
                }
                if (item == ScanItem.End) break;
                if (item == ScanItem.Frame)
                {
                    records++;
                    validBytes += length;
                    lastFile = f;
                    lastEnd = offset + length;
                    if (record is not null) onRecord!(record);
                }
                else
                {
                    damage.Add((f, new CorruptRange(path, offset, length)));
                }
            }
            if (scanner.Limit < files[f].Length) files[f] = files[f] with { Length = scanner.Limit };
        }

        var holes = new List<CorruptRange>();
        foreach (var (f, range) in damage)
            if (f < lastFile || (f == lastFile && range.Offset < lastEnd))
                holes.Add(range);

        string? tailFile = null;
        long tailOffset = -1, tailCut = 0, tailTorn = 0;
        for (int f = Math.Max(lastFile, 0); f < files.Count; f++)
        {
            long keep = f == lastFile ? lastEnd : 0;
            if (files[f].Length <= keep) continue;
            string path = files[f].Path;
            tailFile ??= path;
            if (tailOffset < 0) tailOffset = keep;
            tailCut += files[f].Length - keep;
            tailTorn += Io(path, "scan", () => LogFileScanner.NonZeroEnd(options.Storage, path, keep, files[f].Length)) - keep;   // the rest is zeros
            Io(path, "truncate", () =>
            {
                using IStorageFile h = options.Storage.Open(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
                h.SetLength(keep);
                if (options.Fsync) h.Flush();
            });
            files[f] = files[f] with { Length = keep };
        }

        return new OpenReport(files.Count, records, validBytes, holes, tailFile, tailOffset, tailCut, tailTorn);
    }

    // What the scan read may still be only in the page cache (a crash of the process, not of the machine,
    // before its fsync): flush every file and the directory before any of it is acknowledged again.
    private static void MakeDurable(IStorage storage, string dir, List<LogFile> files)
    {
        foreach (LogFile f in files)
        {
            if (f.Length == 0) continue;
            Io(f.Path, "fsync", () =>
            {
                using IStorageFile h = storage.Open(f.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
                h.Flush();
            });
        }
        Io(dir, "fsync", () => storage.FsyncDirectory(dir));
    }

    private unsafe void FreeStaging()
    {
        if (_staging is not null) NativeMemory.AlignedFree(_staging);
        _staging = null;
        _stagingCapacity = 0;
    }

    private static long RoundUpToBlock(long n) => (n + NativeFileSync.DirectIoAlignment - 1) & ~((long)NativeFileSync.DirectIoAlignment - 1);

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="offset"/> (the end of the log) through the O_DIRECT | O_DSYNC
    /// handle: one aligned write of the last partial block's bytes again (unchanged, so a torn write cannot damage them:
    /// every sector holds either the old or the new copy of the same bytes), then the data, then zeros up to the next
    /// block boundary (inside the preallocated zeros). Durable when it returns. Keeps the new last partial block.
    /// </summary>
    private unsafe void WriteDirect(ReadOnlySpan<byte> data, long offset)
    {
        const int block = NativeFileSync.DirectIoAlignment;
        var start = offset - _tailLength;
        var total = _tailLength + data.Length;
        var padded = (int)RoundUpToBlock(total);
        if (padded > _stagingCapacity)
        {
            // Doubling up to the size kept between writes; a larger batch gets a buffer of its own size, freed below.
            var capacity = (int)Math.Max(padded, Math.Min(RoundUpToBlock(2L * _stagingCapacity), MaxRetainedBufferBytes));
            FreeStaging();
            _staging = (byte*)NativeMemory.AlignedAlloc((nuint)capacity, block);
            _stagingCapacity = capacity;
        }
        var staging = new Span<byte>(_staging, padded);
        _tail.AsSpan(0, _tailLength).CopyTo(staging);
        data.CopyTo(staging[_tailLength..]);
        staging[total..].Clear();
        _direct!.Write(staging, start);
        var newTail = total % block;
        staging.Slice(total - newTail, newTail).CopyTo(_tail);
        _tailLength = newTail;
        if (_stagingCapacity > MaxRetainedBufferBytes) FreeStaging();   // one big batch does not pin its buffer
        Interlocked.Increment(ref _directWrites);
    }

    /// <summary>Zero-fills the current file up to <paramref name="end"/> and, with fsync on, makes the new size durable,
    /// so the data writes that follow overwrite allocated blocks. A full disk shows up here, before any data is lost.</summary>
    private void Preallocate(long end, string path, SyncBatch batch)
    {
        var at = _preallocated;
        try
        {
            while (at < end)
            {
                var n = (int)Math.Min(Zeros.Length, end - at);
                _current.Write(Zeros.AsSpan(0, n), at);
                at += n;
            }
            if (Options.Fsync) _current.Flush();
        }
        catch (Exception e) when (e is IOException or Win32Exception or UnauthorizedAccessException or NotSupportedException)
        {
            throw Faulted(e, path, "preallocate", $"zero-filling the log up to {end} bytes failed", batch);
        }
        _preallocated = end;
    }

    private void Roll(SyncBatch batch)
    {
        LogFile last;
        lock (_gate) last = _files[^1];
        string path = Path.Combine(Directory, FileName(last.Seq + 1));
        IStorageFile next;
        long preallocated = 0;
        if (_prepared is { IsCompletedSuccessfully: true } ready)
        {
            // Zero-filled and fdatasynced in the background: the write path pays only a rename.
            next = ready.Result;
            _prepared = null;
            try
            {
                Options.Storage.Move(Path.Combine(Directory, PreparedFileName), path, overwrite: false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                next.Dispose();
                throw Faulted(e, path, "create", "renaming the prepared next log file failed", batch);
            }
            preallocated = Options.MaxFileBytes;
            Interlocked.Increment(ref _preparedUsed);
        }
        else
        {
            if (_prepared is { IsCompleted: true } failed)
            {
                _ = failed.Exception;   // observed: a failed zero-fill (e.g. a full disk) is retried after this roll
                _prepared = null;
            }
            try
            {
                next = Options.Storage.Open(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw Faulted(e, path, "create", "creating the next log file failed", batch);
            }
        }
        if (Options.Fsync)
        {
            try
            {
                Options.Storage.FsyncDirectory(Directory);
            }
            catch (Exception e) when (e is IOException or Win32Exception or UnauthorizedAccessException)
            {
                next.Dispose();
                throw Faulted(e, Directory, "fsync", $"fsync of the directory after creating {path} failed", batch);
            }
        }
        if (_preallocated > last.Length)
        {
            // Give back the zero padding of the file being closed: zeros before later frames would read as a hole at open.
            try
            {
                _current.SetLength(last.Length);
                if (Options.Fsync) _current.Flush();
            }
            catch (Exception e) when (e is IOException or Win32Exception or UnauthorizedAccessException)
            {
                next.Dispose();
                throw Faulted(e, last.Path, "truncate", "giving back the preallocated padding before rolling over failed", batch);
            }
        }
        IStorageFile old;
        lock (_gate)
        {
            old = _current;
            _closedBytes += _currentLength;
            _files.Add(new LogFile(last.Seq + 1, path, 0));
            _current = next;
            _currentLength = 0;
        }
        _preallocated = preallocated;
        old.Dispose();
        _direct?.Dispose();
        _direct = null;
        try
        {
            OpenDirect(path);
        }
        catch (SegmentLogException e)
        {
            throw Faulted(e, path, "open", "opening the new log file for direct writes failed", batch);
        }
        PrepareNext();
    }

    /// <summary>Starts zero-filling the next log file (<see cref="PreparedFileName"/>, <see cref="SegmentLogOptions.MaxFileBytes"/>
    /// bytes, fdatasynced) in the background, unless preallocation is off, one is already under way, or the file system has
    /// less than twice that free.</summary>
    private void PrepareNext()
    {
        if (Options.PreallocateBytes <= 0 || _prepared is not null) return;
        string path = Path.Combine(Directory, PreparedFileName);
        long size = Options.MaxFileBytes;
        // Zeros for a file not needed yet must not take the last free space from the file being written: on a nearly
        // full disk the roll-over creates the next file itself, and a full disk fails in the write path, naming the file.
        IStorage storage = Options.Storage;
        if (storage.AvailableFreeSpace(Directory) is { } free && free < 2 * size) return;   // unknown: prepare
        bool fsync = Options.Fsync;
        _prepared = Task.Run(() =>
        {
            IStorageFile h = storage.Open(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
            try
            {
                for (long at = 0; at < size;)
                {
                    int n = (int)Math.Min(Zeros.Length, size - at);
                    h.Write(Zeros.AsSpan(0, n), at);
                    at += n;
                }
                if (fsync) h.Flush();
                return h;
            }
            catch
            {
                h.Dispose();
                throw;
            }
        });
    }

    /// <summary>
    /// After a fault, cuts the current file at <see cref="FailedAt"/> now (length set, then fdatasync; neither needs free
    /// space), so the bytes of the failed batch are gone even if the process dies before the log is reopened. For when the
    /// position cannot be recorded durably elsewhere (a full disk refuses the write of <c>segment.meta</c>). Returns false
    /// when there is nothing to cut in the current file or the cut failed.
    /// </summary>
    public bool TryCutFailed()
    {
        lock (_writeLock)
        {
            LogPosition at;
            long seq;
            lock (_gate)
            {
                if (_disposed || _failedAt is not { } f) return false;
                at = f;
                seq = _files[^1].Seq;
            }
            if (at.FileSeq != seq) return false;
            try
            {
                _current.SetLength(at.Offset);
                if (Options.Fsync) _current.Flush();
                _preallocated = at.Offset;
                return true;
            }
            catch (Exception e) when (e is IOException or Win32Exception or UnauthorizedAccessException)
            {
                return false;
            }
        }
    }

    /// <summary>Cuts the log at <paramref name="cut"/>: the file of that sequence number to its offset, later files deleted;
    /// durable (file and directory synced) with <paramref name="fsync"/>. Returns the bytes cut.</summary>
    private static long CutDistrusted(IStorage storage, string dir, List<LogFile> files, LogPosition cut, bool fsync)
    {
        long bytes = 0;
        bool deleted = false;
        for (int i = files.Count - 1; i >= 0; i--)
        {
            LogFile f = files[i];
            if (f.Seq > cut.FileSeq)
            {
                Io(f.Path, "delete", () => storage.Delete(f.Path));
                bytes += f.Length;
                files.RemoveAt(i);
                deleted = true;
            }
            else if (f.Seq == cut.FileSeq && f.Length > cut.Offset)
            {
                Io(f.Path, "truncate", () =>
                {
                    using IStorageFile h = storage.Open(f.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
                    h.SetLength(cut.Offset);
                    if (fsync) h.Flush();
                });
                bytes += f.Length - cut.Offset;
                files[i] = f with { Length = cut.Offset };
            }
        }
        if (deleted && fsync) Io(dir, "fsync", () => storage.FsyncDirectory(dir));
        return bytes;
    }

    private SegmentLogException Faulted(Exception e, string path, string operation, string what, SyncBatch batch)
    {
        var ex = new SegmentLogException(
            $"segment log {path}: {operation} failed: {what}: {e.Message}. The batch of {batch.RecordCount} record(s) "
            + $"({batch.Length} bytes, records through #{batch.CumulativeRecords} appended since open) is NOT durable; "
            + "the log is faulted: stop acknowledging, dispose and reopen (reopening cuts a torn tail).",
            path, operation, e);
        lock (_gate)
        {
            if (_fault is null) _failedAt = new LogPosition(_files[^1].Seq, _currentLength);
            _fault ??= ex;
        }
        return ex;
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_fault is not null)
            throw new SegmentLogException($"segment log {Directory} is faulted by an earlier error and accepts no more work; dispose and reopen it. Earlier error: {_fault.Message}",
                Directory, "state", _fault);
    }

    private void EnsureCapacity(long extra)
    {
        long needed = _activeLength + extra;
        if (needed <= _active.Length) return;
        if (needed > Array.MaxLength)
            throw new InvalidOperationException($"segment log {Directory}: write buffer would exceed {Array.MaxLength} bytes; take and write a batch first");
        long size = Math.Max(needed, Math.Min((long)_active.Length * 2, Array.MaxLength));
        var bigger = new byte[size];
        _active.AsSpan(0, _activeLength).CopyTo(bigger);
        _active = bigger;
    }

    /// <summary>Runs <paramref name="action"/>, turning an I/O error into a <see cref="SegmentLogException"/> that names <paramref name="what"/>, the path and the operation.</summary>
    internal static void Io(string path, string operation, Action action, string what = "segment log") => Io<object?>(path, operation, () => { action(); return null; }, what);

    /// <summary>As <see cref="Io(string, string, Action, string)"/>, with a result.</summary>
    internal static T Io<T>(string path, string operation, Func<T> func, string what = "segment log")
    {
        try
        {
            return func();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Win32Exception && e is not SegmentLogException)
        {
            throw new SegmentLogException($"{what} {path}: {operation} failed: {e.Message}", path, operation, e);
        }
    }
}

/// <summary>A byte position in a <see cref="SegmentLog"/>: the file's sequence number (<c>redo-{FileSeq:D8}.log</c>) and the
/// offset in it, bytes.</summary>
public readonly record struct LogPosition(long FileSeq, long Offset)
{
    /// <inheritdoc />
    public override string ToString() => $"{SegmentLog.FileName(FileSeq)} at offset {Offset}";
}
