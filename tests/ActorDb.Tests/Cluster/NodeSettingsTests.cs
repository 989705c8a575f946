using Akka.Configuration;
using ActorDb.Hosting;

namespace ActorDb.Tests.Cluster;

public class NodeSettingsTests
{
    /// <summary>The TLS folder of the tests' CA, as HOCON: a process with seeds needs one.</summary>
    private static Config Tls => ConfigurationFactory.ParseString($"actordb.security.tls-dir = \"{TestCertificates.NodeDir("settings-tests")}\"");

    private static ActorDbNodeSettings Create(string hocon) => ActorDbNodeSettings.Create(ConfigurationFactory.ParseString(hocon).WithFallback(Tls));

    private const string Seeds = "akka.cluster.seed-nodes = [\"akka.ssl.tcp://actordb@127.0.0.1:4053\"]\n";

    [Fact]
    public void The_default_is_the_embedded_node_as_before()
    {
        var n = Create("");
        Assert.True(n.IsEmbedded);
        Assert.True(n.Writer && n.Storage);
        Assert.Null(n.Az);
        Assert.Equal("actordb", n.Cluster.ActorSystem);
        Assert.Equal("127.0.0.1", n.Cluster.Hostname);
        Assert.Equal("127.0.0.1", n.Cluster.PublicHostname);
        Assert.Equal(0, n.Cluster.Port);
        Assert.Equal(["writer", "storage"], n.Cluster.Roles);
    }

    [Fact]
    public void A_storage_node_of_a_cluster_carries_its_az_as_a_cluster_role()
    {
        var n = Create(Seeds + "actordb.roles = [storage]\nactordb.az = az-c\nakka.remote.dot-netty.tcp { hostname = \"0.0.0.0\", public-hostname = storage-5, port = 5055 }");
        Assert.False(n.IsEmbedded);
        Assert.False(n.Writer);
        Assert.Equal("az-c", n.Az);
        Assert.Equal(["storage", "voter", "az-c"], n.Cluster.Roles);
        Assert.Equal("0.0.0.0", n.Cluster.Hostname);
        Assert.Equal("akka.ssl.tcp://actordb@storage-5:5055", n.Cluster.SelfAddress);
        Assert.NotNull(n.Cluster.Tls);
    }

    [Fact]
    public void The_embedded_node_keeps_plain_remoting_on_loopback_and_needs_no_certificate()
    {
        var n = ActorDbNodeSettings.Create(ConfigurationFactory.ParseString(""));
        Assert.Null(n.Cluster.Tls);
        Assert.False(n.Cluster.InsecureCluster);
        Assert.Equal("akka.tcp", n.Cluster.Protocol);
    }

    [Fact]
    public void Insecure_is_plain_tcp_with_akka_tcp_seeds_and_says_so()
    {
        var n = ActorDbNodeSettings.Create(ConfigurationFactory.ParseString(
            "akka.cluster.seed-nodes = [\"akka.tcp://actordb@127.0.0.1:4053\"]\nactordb.roles = [writer]\nactordb.security.insecure = on"));
        Assert.Null(n.Cluster.Tls);
        Assert.True(n.Cluster.InsecureCluster);
        Assert.StartsWith("akka.tcp://", n.Cluster.SelfAddress);
    }

    [Fact]
    public void A_node_with_seeds_and_no_certificates_is_refused_with_one_line_naming_the_settings()
    {
        var e = Assert.Throws<ConfigurationException>(() => ActorDbNodeSettings.Create(ConfigurationFactory.ParseString(Seeds + "actordb.roles = [writer]")));
        Assert.StartsWith("actordb.security: a process of a cluster (with seeds) links to its peers over mutual TLS", e.Message);
        Assert.Contains("actordb certs", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_certificate_from_another_ca_is_refused_at_start_naming_the_file()
    {
        using var dir = new TestDirectory();
        var now = DateTimeOffset.UtcNow;
        using var otherCa = ActorDb.Security.ClusterCertificates.CreateAuthority("other", now, TimeSpan.FromDays(1));
        using var cert = ActorDb.Security.ClusterCertificates.Issue(otherCa, "stranger", [], now, TimeSpan.FromDays(1));
        var node = Path.Combine(dir.Path, "stranger");
        // The folder trusts the tests' CA but holds a certificate of another CA.
        ActorDb.Security.ClusterCertificates.WriteNode(node, cert, File.ReadAllText(Path.Combine(TestCertificates.CaDir, "ca.crt")));
        var e = Assert.Throws<ConfigurationException>(() => ActorDbNodeSettings.Create(ConfigurationFactory.ParseString(
            Seeds + $"actordb.roles = [writer]\nactordb.security.tls-dir = \"{node}\"")));
        Assert.StartsWith($"actordb.security.certificate-file: '{Path.Combine(node, "node.crt")}' is not accepted by this cluster's CA", e.Message);
    }

    [Theory]
    [InlineData("akka.tcp://actordb@127.0.0.1:4053", false, "akka.cluster.seed-nodes: 'akka.tcp://actordb@127.0.0.1:4053' is a plain-TCP address, but this process links over TLS")]
    [InlineData("akka.ssl.tcp://actordb@127.0.0.1:4053", true, "akka.cluster.seed-nodes: 'akka.ssl.tcp://actordb@127.0.0.1:4053' is a TLS address, but actordb.security.insecure = on")]
    public void A_seed_whose_protocol_is_not_the_transport_is_refused(string seed, bool insecure, string expected)
    {
        var e = Assert.Throws<ConfigurationException>(() => Create(
            $"akka.cluster.seed-nodes = [\"{seed}\"]\nactordb.roles = [writer]\nactordb.security.insecure = {(insecure ? "on" : "off")}"));
        Assert.StartsWith(expected, e.Message);
    }

    [Fact]
    public void A_writer_node_needs_no_az()
    {
        var n = Create(Seeds + "actordb.roles = [writer]");
        Assert.True(n.Writer);
        Assert.False(n.Storage);
        Assert.Equal(["writer", "voter"], n.Cluster.Roles);
    }

    [Theory]
    [InlineData(Seeds + "actordb.roles = [storage]", "actordb.az: a storage node of a cluster needs its availability zone")]
    [InlineData(Seeds + "actordb.roles = [writer, storage]", "actordb.az: a storage node of a cluster needs its availability zone")]
    [InlineData("actordb.roles = [writer]", "actordb.roles = [writer]: a node without seeds")]
    [InlineData("actordb.roles = [writer, reader]", "actordb.roles: unknown role 'reader'")]
    [InlineData("actordb.roles = []", "actordb.roles: names no role")]
    [InlineData("actordb.az = az-q", "actordb.az = az-q: not an availability zone")]
    [InlineData("akka.remote.dot-netty.tcp.port = abc", "akka.remote.dot-netty.tcp.port: ")]
    [InlineData("akka.remote.dot-netty.tcp.port = 70000", "akka.remote.dot-netty.tcp.port = 70000: must be 0..65535")]
    [InlineData("akka.cluster.seed-nodes = [\"lighthouse:4053\"]", "akka.cluster.seed-nodes: 'lighthouse:4053' is not an address")]
    [InlineData("actordb.actor-system = \"a b\"", "actordb.actor-system = a b: not an actor system name")]
    public void A_wrong_or_missing_setting_is_one_line_naming_the_key(string hocon, string expected)
    {
        var e = Assert.Throws<ConfigurationException>(() => Create(hocon));
        Assert.StartsWith(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void The_environment_reaches_the_node_settings()
    {
        var env = new Dictionary<string, string?>
        {
            ["CLUSTER_SEEDS"] = "akka.ssl.tcp://prod@10.0.0.1:4053", ["ACTORSYSTEM"] = "prod", ["CLUSTER_IP"] = "10.0.0.7",
            ["CLUSTER_PORT"] = "5055", ["ACTORDB_ROLES"] = "storage", ["ACTORDB_AZ"] = "az-b",
            ["ACTORDB__SECURITY__TLS_DIR"] = TestCertificates.NodeDir("settings-tests"),
        };
        var n = ActorDbNodeSettings.Create(ConfigurationFactory.ParseString(EnvironmentConfig.ToHocon(env)));
        Assert.Equal("akka.ssl.tcp://prod@10.0.0.7:5055", n.Cluster.SelfAddress);
        Assert.Equal(["akka.ssl.tcp://prod@10.0.0.1:4053"], n.Cluster.Seeds);
        Assert.Equal(["storage", "voter", "az-b"], n.Cluster.Roles);
    }

    [Fact]
    public void A_storage_node_announces_the_segments_its_data_directory_holds_as_roles()
    {
        using var dir = new TestDirectory();
        void Segment(string az, string id, bool meta = true)
        {
            var d = Path.Combine(dir.Path, az, id);
            Directory.CreateDirectory(d);
            if (meta) File.WriteAllText(Path.Combine(d, ActorDb.Core.Storage.SegmentMetadata.FileName), "x");
        }
        Segment("az-b", "pg-0-2");
        Segment("az-b", "pg-3-3");
        Segment("az-b", "pg-1-2", meta: false);   // never opened: nothing on it
        Segment("az-a", "pg-0-2");                // not where replica 2 lives
        Segment("az-b", "pages-old");             // not a segment
        var n = Create(
            $"akka.cluster.seed-nodes = [\"akka.ssl.tcp://prod@10.0.0.1:4053\"]\nactordb.roles = [storage]\nactordb.az = az-b\n" +
            $"actordb.data-dir = \"{dir.Path.Replace("\\", "\\\\")}\"");
        Assert.Equal(["storage", "voter", "az-b", "holds-pg-0-2", "holds-pg-3-3"], n.Cluster.Roles);
    }

    private static string RepoFile(string relative)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "ActorDb.sln"))) return Path.Combine(d.FullName, relative);
        }
        throw new DirectoryNotFoundException("repository root (ActorDb.sln) not found");
    }

    [Fact]
    public void The_cluster_node_conf_with_the_compose_environment_is_a_storage_node_in_its_az()
    {
        var env = new Dictionary<string, string?>
        {
            ["CLUSTER_IP"] = "storage-b1", ["CLUSTER_SEEDS"] = "akka.ssl.tcp://actordb@lighthouse:4053", ["ACTORDB_ROLES"] = "storage",
            ["ACTORDB_AZ"] = "az-b", ["ACTORDB_DATA_DIR"] = "/var/lib/actordb", ["ACTORDB__SECURITY__TLS_DIR"] = TestCertificates.NodeDir("settings-tests"),
        };
        var config = ConfigurationFactory.ParseString(File.ReadAllText(RepoFile("hocon/cluster-node.conf")) + "\n" + EnvironmentConfig.ToHocon(env));
        var n = ActorDbNodeSettings.Create(config);
        Assert.Equal("akka.ssl.tcp://actordb@storage-b1:5055", n.Cluster.SelfAddress);
        Assert.Equal("0.0.0.0", n.Cluster.Hostname);
        Assert.Equal(["storage", "voter", "az-b"], n.Cluster.Roles);
        Assert.Equal("/var/lib/actordb", ActorDbSettings.Create(config).DataDir);

        // The file alone names no seeds and only the storage role: refused, not run as a half embedded node.
        var alone = Assert.Throws<ConfigurationException>(() => ActorDbNodeSettings.Create(ConfigurationFactory.ParseString(File.ReadAllText(RepoFile("hocon/cluster-node.conf")))));
        Assert.StartsWith("actordb.roles = [storage]: a node without seeds", alone.Message);
    }

    [Fact]
    public void The_node_and_lighthouse_conf_files_are_valid()
    {
        ActorDbSettings.Create(ConfigurationFactory.ParseString(File.ReadAllText(RepoFile("hocon/node.conf"))));
        Assert.True(ActorDbNodeSettings.Create(ConfigurationFactory.ParseString(File.ReadAllText(RepoFile("hocon/node.conf")))).IsEmbedded);
        var lighthouse = ConfigurationFactory.ParseString(File.ReadAllText(RepoFile("hocon/lighthouse.conf")));
        var cluster = ClusterNodeSettings.Create(lighthouse.WithFallback(Tls), 4053, ["lighthouse"], clusterProcess: true);
        Assert.Equal("akka.ssl.tcp://actordb@127.0.0.1:4053", cluster.SelfAddress);
        Assert.Equal(ClusterNodeSettings.VoterRole, lighthouse.GetString("akka.cluster.split-brain-resolver.keep-majority.role"));
    }
}
