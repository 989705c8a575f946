using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace ActorDb.Security;

/// <summary>
/// Settings of the links between the processes of a cluster (section <c>actordb.security</c>). A process with seeds
/// (every node of a cluster, the lighthouse, <c>actordb bench --seeds</c>) runs Akka.Remote over mutual TLS unless
/// <see cref="Insecure"/> is on; the embedded node (no seeds) keeps plain remoting on loopback.
/// </summary>
/// <param name="Insecure"><c>insecure</c>: plain TCP between nodes, no authentication: anyone who reaches a node's
/// remoting port can join the cluster and read or change the volume. Each node logs a warning at start.</param>
/// <param name="TlsDir"><c>tls-dir</c>: a folder with <c>ca.crt</c>, <c>node.crt</c> and <c>node.key</c>, as
/// <c>actordb certs</c> writes one per node; the three file keys below override its files one by one.</param>
/// <param name="CaFile"><c>ca-file</c>: PEM certificate(s) of the cluster's CA: a peer is accepted only with a
/// certificate issued by one of them (several concatenated: a trust bundle, for rotating the CA).</param>
/// <param name="CertificateFile"><c>certificate-file</c>: this process's PEM certificate.</param>
/// <param name="KeyFile"><c>key-file</c>: its PEM private key (PKCS#8 or SEC1).</param>
public sealed record SecuritySettings(bool Insecure, string TlsDir, string CaFile, string CertificateFile, string KeyFile)
{
    /// <summary>The section's path.</summary>
    public const string Section = "actordb.security";

    /// <summary>Reads <c>actordb.security</c> from <paramref name="config"/> (ActorDb's defaults as fallback).</summary>
    /// <exception cref="ConfigurationException">a key has a value of the wrong type (the message names it).</exception>
    public static SecuritySettings Create(Config config)
    {
        var c = config.WithFallback(Hosting.HostingSettings.DefaultConfig());
        var insecure = Read(c, "insecure", k => c.GetBoolean(k));
        string S(string key) => Read(c, key, k => c.GetString(k)) ?? "";
        return new SecuritySettings(insecure, S("tls-dir"), S("ca-file"), S("certificate-file"), S("key-file"));
    }

    /// <summary>The CA file in force (<see cref="CaFile"/>, else <c>TLS-DIR/ca.crt</c>; empty when neither is set).</summary>
    public string CaPath => Resolve(CaFile, ClusterCertificates.CaFile);
    /// <summary>The certificate file in force.</summary>
    public string CertificatePath => Resolve(CertificateFile, ClusterCertificates.CertificateFile);
    /// <summary>The key file in force.</summary>
    public string KeyPath => Resolve(KeyFile, ClusterCertificates.KeyFile);

    private string Resolve(string file, string inDir) => file != "" ? file : TlsDir != "" ? Path.Combine(TlsDir, inDir) : "";

    private static T Read<T>(Config c, string key, Func<string, T> get) => Hosting.HostingSettings.Read(c, $"{Section}.{key}", get);
}

/// <summary>The errors of the security subsystem: one factory, each message naming the key and file at fault.</summary>
public static class SecurityErrors
{
    /// <summary>A process of a cluster without TLS material and without <c>insecure = on</c>.</summary>
    public static ConfigurationException NoCertificates() => new(
        $"{SecuritySettings.Section}: a process of a cluster (with seeds) links to its peers over mutual TLS and needs the cluster's " +
        $"certificates: set {SecuritySettings.Section}.tls-dir (ACTORDB__SECURITY__TLS_DIR; a folder with ca.crt, node.crt and node.key, " +
        "as `actordb certs --out DIR --nodes NAME,...` writes one per node), or ca-file, certificate-file and key-file; or, on a " +
        $"network you trust entirely, {SecuritySettings.Section}.insecure = on (plain TCP, no authentication)");

    /// <summary>A TLS file that is missing or cannot be read.</summary>
    public static ConfigurationException Unreadable(string key, string path, string reason) =>
        new($"{SecuritySettings.Section}.{key}: cannot read '{path}': {reason}");

    /// <summary>A certificate that is not usable for this process.</summary>
    public static ConfigurationException Unusable(string key, string path, string reason) =>
        new($"{SecuritySettings.Section}.{key}: '{path}' {reason}");
}

/// <summary>
/// The TLS material of one process of a cluster, loaded and checked once at start: its certificate with private key and
/// the CAs it trusts. <see cref="Validate"/> is the peer check of Akka.Remote's mutual TLS handshake (both directions):
/// a peer is accepted only when its certificate chains to one of <see cref="TrustedAuthorities"/> (system roots are not
/// trusted, revocation is not checked) and is valid now. Host names are not checked: nodes are named by their
/// certificate, not their address, which a cluster on VMs and containers does not fix.
/// </summary>
public sealed class ClusterTls
{
    private readonly object _gate = new();
    private long _refused, _refusedSinceLog;
    private DateTime _lastRefusalLog = DateTime.MinValue;

    private ClusterTls(X509Certificate2 certificate, X509Certificate2Collection trusted)
    {
        Certificate = certificate;
        TrustedAuthorities = trusted;
    }

    /// <summary>This process's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The CA certificates a peer's certificate must chain to.</summary>
    public X509Certificate2Collection TrustedAuthorities { get; }

    /// <summary>Peers refused so far.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Loads and checks the files <paramref name="settings"/> name.</summary>
    /// <exception cref="ConfigurationException">no files are named (<see cref="SecurityErrors.NoCertificates"/>), a file
    /// cannot be read or is not PEM, the key does not match the certificate, the certificate is not valid now or is not
    /// issued by a trusted CA; the message names the key and the file.</exception>
    public static ClusterTls Load(SecuritySettings settings, DateTimeOffset now)
    {
        if (settings.CaPath == "" || settings.CertificatePath == "" || settings.KeyPath == "") throw SecurityErrors.NoCertificates();
        var trusted = new X509Certificate2Collection();
        try { trusted.ImportFromPemFile(settings.CaPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw SecurityErrors.Unreadable("ca-file", settings.CaPath, e.Message);
        }
        if (trusted.Count == 0) throw SecurityErrors.Unusable("ca-file", settings.CaPath, "holds no PEM certificate");
        foreach (var file in new[] { ("certificate-file", settings.CertificatePath), ("key-file", settings.KeyPath) })
        {
            if (!File.Exists(file.Item2)) throw SecurityErrors.Unreadable(file.Item1, file.Item2, "no such file");
        }
        X509Certificate2 certificate;
        try { certificate = X509Certificate2.CreateFromPemFile(settings.CertificatePath, settings.KeyPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw SecurityErrors.Unreadable("certificate-file", settings.CertificatePath, $"{e.Message} (with key-file '{settings.KeyPath}')");
        }
        var tls = new ClusterTls(certificate, trusted);
        if (tls.Check(certificate, now) is { } problem)
            throw SecurityErrors.Unusable("certificate-file", settings.CertificatePath, $"is not accepted by this cluster's CA ({settings.CaPath}): {problem}");
        return tls;
    }

    /// <summary>Material made in memory (tests, tools): <paramref name="certificate"/> must hold its private key.</summary>
    public static ClusterTls From(X509Certificate2 certificate, X509Certificate2Collection trusted) => new(certificate, trusted);

    /// <summary>Why <paramref name="peer"/> is refused at <paramref name="now"/>; null when it is accepted.</summary>
    public string? Check(X509Certificate2? peer, DateTimeOffset now)
    {
        if (peer is null) return "it presented no certificate";
        if (now < peer.NotBefore || now > peer.NotAfter) return $"its certificate {peer.Subject} is valid only from {peer.NotBefore:u} to {peer.NotAfter:u}";
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(TrustedAuthorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        if (chain.Build(peer)) return null;
        var status = string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()).Distinct());
        return $"its certificate {peer.Subject} (issuer {peer.Issuer}) does not chain to a trusted CA ({status})";
    }

    /// <summary>
    /// Akka.Remote's peer check (<see cref="CertificateValidationCallback"/>): <see cref="Check"/> at the current time. A
    /// refusal is logged as a warning when refusals start, then at most once per 10 s with the count since, naming the
    /// peer's address and certificate.
    /// </summary>
    public bool Validate(X509Certificate2? certificate, X509Chain? chain, string remotePeer, SslPolicyErrors errors, ILoggingAdapter log)
    {
        var problem = Check(certificate, DateTimeOffset.UtcNow);
        if (problem is null) return true;
        Interlocked.Increment(ref _refused);
        lock (_gate)
        {
            _refusedSinceLog++;
            var now = DateTime.UtcNow;
            if (now - _lastRefusalLog >= TimeSpan.FromSeconds(10))
            {
                log.Warning("ActorDb TLS: refused peer {0}: {1} ({2} refused since the last such line, {3} in all)", remotePeer, problem, _refusedSinceLog, Refused);
                _refusedSinceLog = 0;
                _lastRefusalLog = now;
            }
        }
        return false;
    }
}
