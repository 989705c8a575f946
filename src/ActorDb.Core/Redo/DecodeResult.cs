namespace ActorDb.Core.Redo;

/// <summary>Outcome of decoding one redo frame with <see cref="RedoCodec"/>.</summary>
public enum DecodeResult
{
    /// <summary>A complete frame with a matching CRC-32C and valid fields was decoded.</summary>
    Ok = 0,

    /// <summary>
    /// The bytes are a plausible but incomplete frame: fewer than the 4 bytes of the length field, or a
    /// sane body length followed by fewer than <c>8 + bodyLength</c> bytes in all. At the end of a log this
    /// is a torn tail.
    /// </summary>
    NeedMoreData = 1,

    /// <summary>
    /// The bytes are not a valid frame: the body length is outside
    /// [<see cref="RedoCodec.BodyFixedSize"/>, <see cref="RedoCodec.MaxBodyLength"/>], the CRC-32C
    /// does not match, or a field is impossible (see <see cref="RedoCodec.CheckFrame"/>).
    /// </summary>
    Corrupt = 2,
}
