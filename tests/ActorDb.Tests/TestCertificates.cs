using System.Security.Cryptography.X509Certificates;
using ActorDb.Security;

namespace ActorDb.Tests;

/// <summary>
/// The certificates of the tests' clusters: one CA for the test run (made with <see cref="ClusterCertificates"/>, as
/// <c>actordb certs</c> makes one), and a folder per process name with <c>ca.crt</c>, <c>node.crt</c> and
/// <c>node.key</c>: what <c>actordb.security.tls-dir</c> takes. Every process the tests start gets one
/// (<see cref="CliProcess"/>), so every process-level cluster test runs over mutual TLS.
/// </summary>
public static class TestCertificates
{
    private static readonly Lock Gate = new();
    private static readonly Lazy<(string Dir, X509Certificate2 Ca)> Authority = new(() =>
    {
        var dir = Path.Combine(Path.GetTempPath(), "actordb-test-certs-" + Guid.NewGuid().ToString("N")[..8]);
        var ca = ClusterCertificates.CreateAuthority("ActorDb test CA", DateTimeOffset.UtcNow, TimeSpan.FromDays(2));
        ClusterCertificates.WriteAuthority(dir, ca);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { /* best effort */ }
        };
        return (dir, ca);
    });

    /// <summary>The folder of the test CA (<c>ca.crt</c>, <c>ca.key</c>).</summary>
    public static string CaDir => Authority.Value.Dir;

    /// <summary>The TLS folder of process <paramref name="name"/> (issued on first use), for
    /// <c>ACTORDB__SECURITY__TLS_DIR</c> or <c>--tls-dir</c>.</summary>
    public static string NodeDir(string name)
    {
        var (dir, ca) = Authority.Value;
        var nodeDir = Path.Combine(dir, name);
        lock (Gate)
        {
            if (!File.Exists(Path.Combine(nodeDir, ClusterCertificates.KeyFile)))
            {
                using var cert = ClusterCertificates.Issue(ca, name, ["127.0.0.1"], DateTimeOffset.UtcNow, TimeSpan.FromDays(1));
                ClusterCertificates.WriteNode(nodeDir, cert, ca.ExportCertificatePem());
            }
        }
        return nodeDir;
    }

    /// <summary>Loaded TLS material of process <paramref name="name"/>, for an actor system started in this process.</summary>
    public static ClusterTls Load(string name)
    {
        var dir = NodeDir(name);
        return ClusterTls.Load(new SecuritySettings(false, dir, "", "", ""), DateTimeOffset.UtcNow);
    }
}
