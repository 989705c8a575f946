using System.Text.Json;

namespace ActorDb.Cli;

/// <summary>How the CLI writes row values as JSON (the ack log and <c>dump</c> must agree, so checks can compare them):
/// Int64 as a number, String as a string, Bytes as base64, null as null.</summary>
internal static class RowJson
{
    /// <summary>Writes one value.</summary>
    public static void WriteValue(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null: json.WriteNullValue(); break;
            case long l: json.WriteNumberValue(l); break;
            case int i: json.WriteNumberValue(i); break;
            case string s: json.WriteStringValue(s); break;
            case byte[] b: json.WriteBase64StringValue(b); break;
            default: json.WriteStringValue(value.ToString()); break;
        }
    }

    /// <summary>Writes <c>"key": …, "fields": {…}</c> inside the current object.</summary>
    public static void WriteKeyAndFields(Utf8JsonWriter json, object key, IReadOnlyDictionary<string, object?> fields)
    {
        json.WritePropertyName("key");
        WriteValue(json, key);
        json.WriteStartObject("fields");
        foreach (var (name, value) in fields)
        {
            json.WritePropertyName(name);
            WriteValue(json, value);
        }
        json.WriteEndObject();
    }
}
