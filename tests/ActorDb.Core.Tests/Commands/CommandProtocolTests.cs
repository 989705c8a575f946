using ActorDb.Commands;
using ActorDb.Core.Commands;

namespace ActorDb.Core.Tests.Commands;

public class CommandProtocolTests
{
    private static readonly SwitchDefinition Address = new("address", ["-a", "--address"], "a member's address", Required: true);

    private static readonly IReadOnlyList<PaletteDefinition> Palettes =
    [
        new("cluster", "membership",
        [
            new CommandDefinition("show", "members"),
            new CommandDefinition("leave", "leave", [Address]),
            new CommandDefinition("down", "down", [Address]),
            new CommandDefinition("down-unreachable", "down the unreachable"),
        ]),
        new("pg", "protection groups",
        [
            new CommandDefinition("show", "segments", [new SwitchDefinition("pg", ["-g", "--pg"], "the PG", Required: true, Values: ["0", "1"]),
                new SwitchDefinition("wide", ["-w"], "more columns", IsFlag: true)], ReadOnly: true),
        ]),
        new("metrics", "measurements", [new CommandDefinition("show", "values")], DefaultCommand: "show"),
    ];

    [Fact]
    public void A_command_line_parses_into_palette_command_and_switches()
    {
        var parsed = CommandParser.Parse(CommandParser.Tokenize("pg show -w --pg 3"), Palettes);
        Assert.Equal(("pg", "show"), (parsed.Palette, parsed.Command));
        Assert.Equal("3", parsed.Get("pg"));
        Assert.Equal("true", parsed.Get("wide"));
        Assert.Equal("show", CommandParser.Parse(["metrics"], Palettes).Command);
        Assert.Equal(["cluster", "leave", "-a", "akka.tcp://a b@h:1"], CommandParser.Tokenize("cluster leave -a \"akka.tcp://a b@h:1\""));
    }

    [Theory]
    [InlineData("frobnicate", "unknown command 'frobnicate'")]
    [InlineData("cluster", "cluster: which command? (show, leave, down, down-unreachable)")]
    [InlineData("cluster sho", "cluster: unknown command 'sho'")]
    [InlineData("cluster leave", "cluster leave: missing -a|--address")]
    [InlineData("cluster leave -a", "cluster leave: switch -a needs a value")]
    [InlineData("cluster leave -x 1", "cluster leave: unknown switch '-x'")]
    [InlineData("cluster show extra", "cluster show: unexpected argument 'extra'")]
    [InlineData("cluster show -a 1", "cluster show: unknown switch '-a' (the command takes none)")]
    public void A_bad_command_line_is_one_line_naming_what_is_wrong(string line, string expected)
    {
        var e = Assert.Throws<CommandSyntaxException>(() => CommandParser.Parse(CommandParser.Tokenize(line), Palettes));
        Assert.StartsWith(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Completion_offers_palettes_commands_switches_and_values()
    {
        Assert.Equal(["cluster", "help", "metrics", "pg"], CommandCompleter.Complete("", Palettes, ["help"]));
        Assert.Equal(["cluster"], CommandCompleter.Complete("cl", Palettes));
        Assert.Equal(["down", "down-unreachable"], CommandCompleter.Complete("cluster do", Palettes));
        Assert.Equal(["--pg", "-w"], CommandCompleter.Complete("pg show ", Palettes));
        Assert.Equal(["-w"], CommandCompleter.Complete("pg show -g 1 ", Palettes));
        Assert.Equal(["0", "1"], CommandCompleter.Complete("pg show -g ", Palettes));
        Assert.Empty(CommandCompleter.Complete("nope ", Palettes));
        Assert.Equal("down", CommandCompleter.CommonPrefix(["down", "down-unreachable"]));
        Assert.Equal("cluster show ", CommandCompleter.Apply("cluster sh", "show", final: true));
    }

    [Fact]
    public void Requests_and_every_response_item_survive_the_wire()
    {
        var request = CommandWire.DecodeRequest(CommandWire.Encode(CommandRequest.Run(["cluster", "leave", "-a", "x \"y\""])));
        Assert.Equal("run", request.Op);
        Assert.Equal(["cluster", "leave", "-a", "x \"y\""], request.Args);

        var row = CommandRow.Record(("state", "serving"), ("epoch", 3), ("vdl", new Lsn(42).Value), ("rate", 1.5), ("failure", null), ("ok", true));
        var line = CommandWire.Encode(row);
        Assert.DoesNotContain('\n', line);
        var back = Assert.IsType<CommandRow>(CommandWire.DecodeItem(line));
        Assert.True(back.Vertical);
        Assert.Equal(["state", "epoch", "vdl", "rate", "failure", "ok"], back.Fields.Select(f => f.Key));
        Assert.Equal(new object?[] { "serving", 3L, 42L, 1.5, null, true }, back.Fields.Select(f => f.Value));

        Assert.Equal(new CommandEnd(2, "bad"), CommandWire.DecodeItem(CommandWire.Encode(new CommandEnd(2, "bad"))));
        Assert.Equal(new CommandFooter("Count: 1 nodes"), CommandWire.DecodeItem(CommandWire.Encode(new CommandFooter("Count: 1 nodes"))));
        var palettes = Assert.IsType<CommandPalettes>(CommandWire.DecodeItem(CommandWire.Encode(new CommandPalettes(Palettes, "akka.tcp://a@h:1"))));
        Assert.Equal("akka.tcp://a@h:1", palettes.Node);
        Assert.Equal(Palettes.Select(p => p.Name), palettes.Palettes.Select(p => p.Name));
        Assert.Equal("show", palettes.Palettes[2].DefaultCommand);
        var pgShow = palettes.Palettes[1].Commands[0];
        Assert.Equal("show -g|--pg PG [-w]", pgShow.Usage);
        Assert.Equal(["0", "1"], pgShow.Switches[0].Values);
        Assert.True(pgShow.Switches[1].IsFlag);
        Assert.Throws<FormatException>(() => CommandWire.DecodeItem("not json"));
    }

    [Fact]
    public void Text_output_is_pbm_style_and_json_output_one_object_per_row()
    {
        var member = CommandRow.Of(("address", "akka.tcp://actordb@127.0.0.1:4053"), ("roles", "[storage,writer]"), ("status", "up"), ("reachability", ""));
        Assert.Equal(["akka.tcp://actordb@127.0.0.1:4053 | [storage,writer] | up |"], CommandFormatter.Text(member));
        Assert.Equal(["epoch     | 3", "commits/s | 1234.57"],
            CommandFormatter.Text(CommandRow.Record(("epoch", 3), ("commits/s", 1234.5678))));
        Assert.Equal(["{\"epoch\":3,\"vdl\":42,\"failure\":null}"], CommandFormatter.Json(CommandRow.Of(("epoch", 3), ("vdl", 42L), ("failure", null))));
        Assert.Equal(["Count: 1 nodes"], CommandFormatter.Text(new CommandFooter("Count: 1 nodes")));
        Assert.Null(CommandFormatter.Header(member, null));   // pbm's member rows have no header
        var pg = CommandRow.Of(("pg", 0), ("scl", 7)).WithHeader();
        var wire = Assert.IsType<CommandRow>(CommandWire.DecodeItem(CommandWire.Encode(pg)));
        Assert.Equal("pg | scl", CommandFormatter.Header(wire, null));
        Assert.Null(CommandFormatter.Header(wire, "pg | scl"));   // once per table
        Assert.Contains("  pg show -g|--pg PG [-w]  -- segments", CommandFormatter.Help(Palettes));   // read-only: no mark
        Assert.Contains("  cluster down -a|--address ADDRESS  -- down (admin)", CommandFormatter.Help(Palettes));
    }

    [Theory]
    [InlineData(false, null, 1, 1, 1, 10, 10, SegmentHealth.Unreachable)]
    [InlineData(true, "disk full", 1, 1, 1, 10, 10, SegmentHealth.Failed)]
    [InlineData(true, null, 2, 1, 1, 10, 10, SegmentHealth.Fenced)]      // fenced by a recovery, not opened yet
    [InlineData(true, null, 3, 3, 2, 10, 10, SegmentHealth.Fenced)]      // newer than the writer: the writer is stale
    [InlineData(true, null, 1, 1, 2, 10, 10, SegmentHealth.StaleEpoch)]  // missed the writer's epoch
    [InlineData(true, null, 2, 2, 2, 7, 10, SegmentHealth.CatchingUp)]
    [InlineData(true, null, 2, 2, 2, 10, 10, SegmentHealth.Serving)]
    [InlineData(true, null, 2, 2, 0, 10, 0, SegmentHealth.Serving)]      // no writer on this node
    public void A_segment_state_follows_from_its_status_and_the_writer(bool answered, string? failure, long epoch, long opened, long writerEpoch,
        long scl, long quorum, string expected) =>
        Assert.Equal(expected, SegmentHealth.Classify(answered, failure, epoch, opened, writerEpoch, scl, quorum));

    [Fact]
    public void A_segment_that_reports_a_catch_up_is_catching_up_even_at_the_quorum_point()
    {
        Assert.Equal("catching-up", SegmentHealth.Classify(true, null, 2, 2, 2, 10, 10, catchingUp: true));
        Assert.Equal("catching-up", SegmentHealth.Classify(true, null, 2, 2, 0, 0, 0, catchingUp: true));   // no writer on this node
        Assert.Equal(SegmentHealth.Failed, SegmentHealth.Classify(true, "disk full", 2, 2, 2, 0, 10, catchingUp: true));
        Assert.Equal(SegmentHealth.Fenced, SegmentHealth.Classify(true, null, 3, 2, 2, 0, 10, catchingUp: true));
    }
}
