using System.Runtime.Serialization;
using ActorDb.Core.Redo;

namespace ActorDb.Serialization;

/// <summary>
/// The one place <see cref="ActorDbSerializer"/>'s decoding errors are built. Every one is a
/// <see cref="SerializationException"/> whose message starts <c>ActorDbSerializer: message '&lt;manifest&gt;'</c>,
/// then names the field (when there is one), the byte offset and what was wrong; Akka's remoting logs it and drops
/// the message, so nothing of a bad message reaches an actor.
/// </summary>
internal static class SerializerErrors
{
    private static string Prefix(string manifest) => $"ActorDbSerializer: message '{manifest}'";

    /// <summary>A manifest this serializer does not know (a newer sender, or a forged one).</summary>
    public static SerializationException UnknownManifest(string manifest, int length) =>
        new($"{Prefix(manifest)} of {length} bytes: unknown manifest");

    /// <summary>The message ends inside a field: <paramref name="needed"/> bytes wanted at <paramref name="offset"/>.</summary>
    public static SerializationException Truncated(string manifest, int length, int offset, int needed) =>
        new($"{Prefix(manifest)} of {length} bytes is truncated: {needed} bytes needed at offset {offset}, {length - offset} left");

    /// <summary>A count or length that is negative or claims more elements than the bytes left can hold.</summary>
    public static SerializationException CountOutOfRange(string manifest, string field, long count, int minElementBytes, int left, int offset) =>
        new($"{Prefix(manifest)}: {field} at offset {offset} claims {count} elements of at least {minElementBytes} bytes, " +
            (count < 0 ? "a negative count" : $"but only {left} bytes are left"));

    /// <summary>A length prefix that is malformed, or bytes that are not what the field holds (e.g. not UTF-8).</summary>
    public static SerializationException BadLength(string manifest, string field, int offset, string what, Exception? inner = null) =>
        new($"{Prefix(manifest)}: {field} at offset {offset}: {what}", inner);

    /// <summary>A tag, kind or flag byte with no meaning.</summary>
    public static SerializationException UnknownTag(string manifest, string field, byte tag, int offset) =>
        new($"{Prefix(manifest)}: {field} at offset {offset} is {tag}, not a known value");

    /// <summary>A field that decoded but breaks a rule of its message (e.g. a field name given twice).</summary>
    public static SerializationException Invalid(string manifest, string field, string what) =>
        new($"{Prefix(manifest)}: {field} {what}");

    /// <summary>A redo record whose log frame is incomplete or damaged (<see cref="RedoCodec.CheckFrame"/>).</summary>
    public static SerializationException RedoFrame(string manifest, string field, DecodeResult result, int offset) =>
        new($"{Prefix(manifest)}: {field} does not decode (damaged on the wire): its frame at offset {offset} is " +
            (result == DecodeResult.NeedMoreData ? "cut short" : "corrupt"));

    /// <summary>Bytes after a complete binary message (the writer never sends any).</summary>
    public static SerializationException TrailingBytes(string manifest, int extra, int length) =>
        new($"{Prefix(manifest)} of {length} bytes has {extra} bytes after its end");

    /// <summary>Bytes that do not decode as the message's type: bad JSON, a missing or mistyped property, or a value
    /// the message's constructor refuses; <paramref name="inner"/> says which.</summary>
    public static SerializationException DoesNotDecode(string manifest, int length, Exception inner) =>
        new($"{Prefix(manifest)} of {length} bytes does not decode: {inner.Message}", inner);

    /// <summary>A JSON message that is the literal <c>null</c>.</summary>
    public static SerializationException Null(string manifest) => new($"{Prefix(manifest)} is null");
}
