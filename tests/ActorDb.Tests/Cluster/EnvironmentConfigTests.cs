using Akka.Configuration;
using ActorDb.Hosting;

namespace ActorDb.Tests.Cluster;

public class EnvironmentConfigTests
{
    private static string Hocon(params (string Name, string Value)[] vars) =>
        EnvironmentConfig.ToHocon(vars.Select(v => new KeyValuePair<string, string?>(v.Name, v.Value)));

    private static Config Parse(params (string Name, string Value)[] vars) => ConfigurationFactory.ParseString(Hocon(vars));

    [Fact]
    public void Double_underscore_is_a_dot_and_single_underscore_a_dash()
    {
        var c = Parse(("AKKA__CLUSTER__SHARDING__RETRY_INTERVAL", "2s"), ("AKKA__REMOTE__DOT_NETTY__TCP__BATCHING__ENABLED", "false"));
        Assert.Equal(TimeSpan.FromSeconds(2), c.GetTimeSpan("akka.cluster.sharding.retry-interval"));
        Assert.False(c.GetBoolean("akka.remote.dot-netty.tcp.batching.enabled"));
    }

    [Fact]
    public void An_actordb_key_reaches_the_settings()
    {
        var s = ActorDbSettings.Create(Parse(("ACTORDB__WRITER__LOCK_TIMEOUT", "2s"), ("ACTORDB__VOLUME__PG_COUNT", "3")));
        Assert.Equal(TimeSpan.FromSeconds(2), s.Writer.LockTimeout);
        Assert.Equal(3, s.Geometry.PgCount);
    }

    [Fact]
    public void An_unknown_actordb_key_is_refused_by_the_settings_naming_it()
    {
        var e = Assert.Throws<ConfigurationException>(() => ActorDbSettings.Create(Parse(("ACTORDB__WRITER__LOCK_TIMEOUTT", "2s"))));
        Assert.Contains("actordb.writer.lock-timeoutt", e.Message);
    }

    [Fact]
    public void The_named_variables_map_to_their_keys()
    {
        var c = Parse(("ACTORSYSTEM", "prod"), ("CLUSTER_IP", "node-1.example"), ("CLUSTER_PORT", "5055"),
            ("CLUSTER_SEEDS", "akka.tcp://prod@lighthouse-1:4053, akka.tcp://prod@lighthouse-2:4053"),
            ("ACTORDB_ROLES", "writer,storage"), ("ACTORDB_AZ", "az-b"), ("ACTORDB_DATA_DIR", "/var/lib/actordb"));
        Assert.Equal("prod", c.GetString("actordb.actor-system"));
        Assert.Equal("node-1.example", c.GetString("akka.remote.dot-netty.tcp.public-hostname"));
        Assert.Equal(5055, c.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.Equal(["akka.tcp://prod@lighthouse-1:4053", "akka.tcp://prod@lighthouse-2:4053"], c.GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal(["writer", "storage"], c.GetStringList("actordb.roles"));
        Assert.Equal("az-b", c.GetString("actordb.az"));
        Assert.Equal("/var/lib/actordb", c.GetString("actordb.data-dir"));
    }

    [Fact]
    public void A_named_variable_wins_over_the_generic_spelling_of_its_key()
    {
        var c = Parse(("AKKA__REMOTE__DOT_NETTY__TCP__PORT", "1111"), ("CLUSTER_PORT", "2222"));
        Assert.Equal(2222, c.GetInt("akka.remote.dot-netty.tcp.port"));
    }

    [Fact]
    public void Empty_seeds_and_empty_or_unrelated_variables_add_nothing()
    {
        Assert.Empty(Parse(("CLUSTER_SEEDS", "[]")).GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal("", Hocon(("PATH", "/usr/bin"), ("ACTORDB_AZ", ""), ("HOME", "/root")));
    }

    [Fact]
    public void A_value_with_quotes_and_backslashes_stays_one_string()
    {
        Assert.Equal("C:\\data \"x\"", Parse(("ACTORDB_DATA_DIR", "C:\\data \"x\"")).GetString("actordb.data-dir"));
    }

    [Theory]
    [InlineData("CLUSTER_PORT", "abc")]
    [InlineData("CLUSTER_PORT", "70000")]
    [InlineData("CLUSTER_PORT", "-1")]
    [InlineData("ACTORDB_AZ", "az-q")]
    [InlineData("ACTORDB_ROLES", "writer,reader")]
    [InlineData("ACTORDB_ROLES", ",")]
    [InlineData("CLUSTER_SEEDS", "lighthouse:4053")]
    [InlineData("CLUSTER_SEEDS", "akka.tcp://actordb@lighthouse")]
    [InlineData("ACTORSYSTEM", "my system")]
    [InlineData("AKKA__CLUSTER___ROLES", "x")]
    [InlineData("ACTORDB__", "x")]
    public void A_bad_value_is_one_line_naming_the_variable(string name, string value)
    {
        var e = Assert.Throws<EnvironmentConfigException>(() => Hocon((name, value)));
        Assert.Equal(name, e.Variable);
        Assert.StartsWith(name + ": ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
