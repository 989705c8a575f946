using ActorDb.Commands;
using Akka.Configuration;

namespace ActorDb.Tests;

public class SettingsTests
{
    private static ActorDbSettings Create(string hocon) => ActorDbSettings.Create(ConfigurationFactory.ParseString(hocon));

    [Fact]
    public void Defaults_come_from_reference_conf()
    {
        var s = Create("");
        Assert.Equal("actordb-data", s.DataDir);
        Assert.Equal(1, s.Geometry.PgCount);
        Assert.Equal(10_000_000, s.Writer.Lal);
        Assert.True(s.Segment.Fsync);
    }

    [Fact]
    public void An_unknown_key_is_refused_naming_it()
    {
        var e = Assert.Throws<ConfigurationException>(() => Create("actordb.writer.lla = 5"));
        Assert.Contains("actordb.writer.lla", e.Message);
    }

    [Fact]
    public void An_out_of_range_value_is_one_line_naming_the_key()
    {
        var e = Assert.Throws<ConfigurationException>(() => Create("actordb.volume.page-size = 100"));
        Assert.Equal("actordb.volume.page-size = 100: page size must be a power of two between 4096 and 65536 bytes", e.Message);
        Assert.Contains("actordb.writer.lal = -5", Assert.Throws<ConfigurationException>(() => Create("actordb.writer.lal = -5")).Message);
    }

    [Fact]
    public void Dispatcher_sections_take_akka_keys()
    {
        var s = Create("actordb.segment-dispatcher.dedicated-thread-pool.thread-count = 3\nactordb.writer.lal = 20000");
        Assert.Equal(20000, s.Writer.Lal);
    }

    [Fact]
    public void The_command_host_is_off_on_loopback_9110_by_default_and_its_port_is_checked()
    {
        var data = Path.GetFullPath("actordb-data");
        Assert.Equal(new CommandHostSettings(false, "127.0.0.1", 9110, Path.Combine(data, "cmd-admin.token"), Path.Combine(data, "cmd-read.token"),
            64 << 10, 1 << 20, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(5), 64), Create("").Cmd);
        Assert.Equal("/run/secrets/admin", Create("actordb.cmd.admin-token-file = \"/run/secrets/admin\"").Cmd.AdminTokenFile);
        Assert.Contains("actordb.cmd.max-line-bytes = 100", Assert.Throws<ConfigurationException>(() => Create("actordb.cmd.max-line-bytes = 100")).Message);
        Assert.Contains("actordb.cmd.max-connections = 0", Assert.Throws<ConfigurationException>(() => Create("actordb.cmd.max-connections = 0")).Message);
        Assert.Equal(0, Create("actordb.cmd { enabled = on, port = 0 }").Cmd.Port);
        Assert.Contains("actordb.cmd.port = 70000", Assert.Throws<ConfigurationException>(() => Create("actordb.cmd.port = 70000")).Message);
        Assert.Contains("actordb.cmd.hots", Assert.Throws<ConfigurationException>(() => Create("actordb.cmd.hots = x")).Message);
    }
}
