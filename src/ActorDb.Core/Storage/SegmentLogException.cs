namespace ActorDb.Core.Storage;

/// <summary>
/// An I/O failure of a segment's durable files (segment log or <c>segment.meta</c>). The message
/// names the file and the operation; <see cref="Exception.InnerException"/> carries the original
/// error (an <see cref="IOException"/>, <see cref="UnauthorizedAccessException"/> or
/// <see cref="System.ComponentModel.Win32Exception"/> with the errno text, e.g. "No space left on device").
/// </summary>
public sealed class SegmentLogException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Full message; should include <paramref name="path"/> and <paramref name="operation"/>.</param>
    /// <param name="path">The file or directory the operation was on.</param>
    /// <param name="operation">The failed operation: "open", "scan", "read", "write", "fsync",
    /// "truncate", "create", "rename", "lock", or "state" (the log is faulted or disposed).</param>
    /// <param name="inner">The original error, if any.</param>
    public SegmentLogException(string message, string path, string operation, Exception? inner = null)
        : base(message, inner)
    {
        Path = path;
        Operation = operation;
    }

    /// <summary>The file or directory the failed operation was on.</summary>
    public string Path { get; }

    /// <summary>The failed operation ("write", "fsync", ...; see the constructor).</summary>
    public string Operation { get; }
}
