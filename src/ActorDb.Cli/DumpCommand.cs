using System.CommandLine;
using System.Text.Json;
using ActorDb.Client;
using ActorDb.Hosting;

namespace ActorDb.Cli;

/// <summary><c>actordb dump</c>: opens the volume and prints a table as JSON lines sorted by key.</summary>
internal static class DumpCommand
{
    public static Command Create()
    {
        var dataDir = CommonOptions.DataDir();
        var table = new Option<string>("--table") { Description = "table to print", Required = true };
        var logLevel = CommonOptions.LogLevel();
        var config = CommonOptions.Config();
        var seeds = CommonOptions.Seeds();
        var tlsDir = CommonOptions.TlsDir();
        var command = new Command("dump", "print a table as JSON lines sorted by key: {\"key\": ..., \"fields\": {...}}") { dataDir, table, logLevel, config, seeds, tlsDir };
        command.SetAction(async (parse, ct) =>
        {
            var stdout = CommonOptions.ReserveStdout();   // JSON lines only on stdout; logs go to stderr
            try
            {
                var hocon = CommonOptions.ReadConfig(parse.GetValue(config));
                if (parse.GetValue(seeds) is { } seedList)
                {
                    if (parse.GetValue(dataDir) is not null) return CommonOptions.Error("dump", "--data-dir cannot be used with --seeds: the cluster's storage nodes own the volume");
                    try { hocon += "\n" + CommonOptions.ClientNodeHocon(seedList, parse.GetValue(tlsDir)); }
                    catch (Exception e) when (e is FormatException or EnvironmentConfigException) { return CommonOptions.Error("dump", e.Message); }
                }
                var options = new ActorDbOptions { DataDir = parse.GetValue(dataDir), Hocon = hocon };
                var dir = ActorDbSettings.Create(options.ToConfig()).DataDir;
                if (parse.GetValue(seeds) is null && !Directory.Exists(dir)) return CommonOptions.Error("dump", $"data directory '{dir}' does not exist");
                await using var node = await EmbeddedNode.StartAsync(options, parse.GetValue(logLevel)!, ct: ct);
                return await DumpAsync(node.Client, parse.GetValue(table)!, stdout, ct);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ActorDbException or Akka.Configuration.ConfigurationException)
            {
                return CommonOptions.Error("dump", e.Message);
            }
        });
        return command;
    }

    /// <summary>Writes every row of <paramref name="table"/> as a JSON line, in key order. Returns the exit code.</summary>
    public static async Task<int> DumpAsync(IActorDbClient client, string table, TextWriter output, CancellationToken ct)
    {
        var schema = await client.GetTableAsync(table, ct);
        if (schema is null) return CommonOptions.Error("dump", $"no table '{table}'");
        object from = schema.Key.Type == ColumnType.Int64 ? long.MinValue : "";
        const int chunk = 1000;
        while (true)
        {
            IReadOnlyList<Row> rows;
            await using (var tx = client.Begin())
            {
                rows = await tx.ScanAsync(table, from, chunk, ct);
                await tx.CommitAsync(ct);
            }
            foreach (var row in rows) output.WriteLine(Format(row));
            if (rows.Count < chunk) return 0;
            var last = rows[^1].Key;
            from = last is long l ? l + 1 : (string)last + "\0";
        }
    }

    /// <summary>One row as <c>{"key": ..., "fields": {...}}</c>; bytes are base64.</summary>
    public static string Format(Row row)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            RowJson.WriteKeyAndFields(json, row.Key, row.Fields);
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
