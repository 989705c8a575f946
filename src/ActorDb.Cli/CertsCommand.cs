using System.CommandLine;
using ActorDb.Security;

namespace ActorDb.Cli;

/// <summary>
/// <c>actordb certs</c>: the certificates of a cluster's mutual TLS (<see cref="ClusterCertificates"/>). Creates the
/// cluster's CA in <c>--out</c> (or reuses the one there) and a folder per node with what that node's
/// <c>actordb.security.tls-dir</c> needs.
/// </summary>
internal static class CertsCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out", "-o") { Description = "folder of the CA (ca.crt, ca.key) and of one folder per node", Required = true };
        var nodes = new Option<string>("--nodes", "-n")
        {
            Description = "comma-separated node names: one folder OUT/NAME with ca.crt, node.crt, node.key each (e.g. " +
                          "lighthouse,storage-a1,writer-1,client)",
            Required = true,
        };
        var addresses = new Option<string?>("--addresses")
        {
            Description = "comma-separated host names or IP addresses added to every node certificate's subject alternative " +
                          "names (informational: peers are checked against the CA, not the host name)",
        };
        var days = new Option<int>("--days") { Description = "validity of the node certificates, days", DefaultValueFactory = _ => 365 };
        var caDays = new Option<int>("--ca-days") { Description = "validity of a new CA, days", DefaultValueFactory = _ => 3650 };
        var trust = new Option<string?>("--trust")
        {
            Description = "PEM file of more CA certificates that the nodes also accept (CA rotation: the old CA's ca.crt)",
        };
        var command = new Command("certs",
            "create the cluster's CA (or reuse OUT/ca.key) and a certificate folder per node for mutual TLS between nodes")
        {
            output, nodes, addresses, days, caDays, trust,
        };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(output)!;
            var names = parse.GetValue(nodes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (names.Length == 0) return CommonOptions.Error("certs", "--nodes: names no node");
            foreach (var name in names)
            {
                if (!ClusterCertificates.IsNodeName(name) || name is ClusterCertificates.CaFile or ClusterCertificates.CaKeyFile)
                    return CommonOptions.Error("certs", $"--nodes: '{name}' is not a node name (letters, digits, '-', '_' and '.', at most 64)");
            }
            if (names.Distinct(StringComparer.Ordinal).Count() != names.Length) return CommonOptions.Error("certs", "--nodes: a name is given twice");
            var nodeDays = parse.GetValue(days);
            var authorityDays = parse.GetValue(caDays);
            if (nodeDays < 1 || authorityDays < 1) return CommonOptions.Error("certs", "--days and --ca-days must be at least 1");
            var extra = (parse.GetValue(addresses) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            try
            {
                var now = DateTimeOffset.UtcNow;
                var reused = File.Exists(Path.Combine(dir, ClusterCertificates.CaKeyFile));
                var authority = reused
                    ? ClusterCertificates.ReadAuthority(dir)
                    : ClusterCertificates.CreateAuthority($"ActorDb cluster CA {now:yyyy-MM-dd}", now, TimeSpan.FromDays(authorityDays));
                if (!reused) ClusterCertificates.WriteAuthority(dir, authority);
                var bundle = authority.ExportCertificatePem() + "\n";
                if (parse.GetValue(trust) is { } trustFile)
                {
                    if (!File.Exists(trustFile)) return CommonOptions.Error("certs", $"--trust: '{trustFile}' not found");
                    var more = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
                    more.ImportFromPemFile(trustFile);
                    if (more.Count == 0) return CommonOptions.Error("certs", $"--trust: '{trustFile}' holds no PEM certificate");
                    bundle += string.Concat(more.Select(c => c.ExportCertificatePem() + "\n"));
                }
                Console.WriteLine(reused
                    ? $"certs: issuing with the CA in {Path.GetFullPath(dir)} ({authority.Subject}, valid to {authority.NotAfter:u})"
                    : $"certs: created the CA {Path.GetFullPath(Path.Combine(dir, ClusterCertificates.CaFile))} ({authority.Subject}); " +
                      $"keep {ClusterCertificates.CaKeyFile} off the nodes: it admits processes to the cluster");
                foreach (var name in names)
                {
                    using var cert = ClusterCertificates.Issue(authority, name, extra, now, TimeSpan.FromDays(nodeDays));
                    var nodeDir = Path.Combine(dir, name);
                    ClusterCertificates.WriteNode(nodeDir, cert, bundle);
                    Console.WriteLine($"certs: {Path.GetFullPath(nodeDir)}: node {name}, valid to {cert.NotAfter:u} (actordb.security.tls-dir, ACTORDB__SECURITY__TLS_DIR)");
                }
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                return CommonOptions.Error("certs", e.Message);
            }
        });
        return command;
    }
}
