using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace ActorDb.Security;

/// <summary>
/// The cluster's own certificate authority, as <c>actordb certs</c> makes it: a self-signed CA (ECDSA P-256, SHA-256)
/// and node certificates it issues, each in PEM files. Every process of a cluster presents a node certificate issued by
/// the CA and accepts only peers presenting one (<see cref="ClusterTls"/>), so the CA's private key is what admits a
/// process to the cluster: keep <see cref="CaKeyFile"/> off the nodes.
/// </summary>
/// <remarks>Files written: <c>OUT/ca.crt</c> and <c>OUT/ca.key</c> (the authority), and for each node
/// <c>OUT/NODE/ca.crt</c>, <c>OUT/NODE/node.crt</c>, <c>OUT/NODE/node.key</c>: the folder a node's
/// <c>actordb.security.tls-dir</c> names. Keys and folders are created 0600/0700.</remarks>
public static class ClusterCertificates
{
    /// <summary>File name of the CA's certificate (PEM; several concatenated CAs form a trust bundle).</summary>
    public const string CaFile = "ca.crt";
    /// <summary>File name of the CA's private key (PEM, PKCS#8). Only <c>actordb certs</c> reads it.</summary>
    public const string CaKeyFile = "ca.key";
    /// <summary>File name of a node's certificate (PEM).</summary>
    public const string CertificateFile = "node.crt";
    /// <summary>File name of a node's private key (PEM, PKCS#8).</summary>
    public const string KeyFile = "node.key";

    /// <summary>Marker in the subject of every certificate ActorDb issues (<c>OU=actordb-cluster</c>).</summary>
    public const string OrganizationalUnit = "actordb-cluster";

    /// <summary>A new self-signed CA named <c>CN=<paramref name="name"/></c>, valid from a minute before
    /// <paramref name="now"/> for <paramref name="validity"/>.</summary>
    public static X509Certificate2 CreateAuthority(string name, DateTimeOffset now, TimeSpan validity)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(Subject(name), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(now.AddMinutes(-1), now + validity);
    }

    /// <summary>A node certificate <c>CN=<paramref name="node"/></c> issued by <paramref name="authority"/> (which must
    /// hold its private key), for TLS server and client authentication, with <paramref name="node"/> (and
    /// <paramref name="addresses"/>) as subject alternative names.</summary>
    /// <exception cref="ArgumentException">the authority has no private key, or <paramref name="node"/> is not a name
    /// (letters, digits, '-', '_' and '.').</exception>
    public static X509Certificate2 Issue(X509Certificate2 authority, string node, IEnumerable<string> addresses, DateTimeOffset now, TimeSpan validity)
    {
        if (!authority.HasPrivateKey) throw new ArgumentException($"the CA certificate {authority.Subject} has no private key", nameof(authority));
        if (!IsNodeName(node)) throw new ArgumentException($"'{node}' is not a node name (letters, digits, '-', '_' and '.')", nameof(node));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(Subject(node), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));   // TLS server and client
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(node);
        foreach (var address in addresses.Distinct())
        {
            if (System.Net.IPAddress.TryParse(address, out var ip)) san.AddIpAddress(ip);
            else san.AddDnsName(address);
        }
        request.CertificateExtensions.Add(san.Build());
        var notAfter = now + validity;
        if (notAfter > authority.NotAfter) notAfter = authority.NotAfter;
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var issued = request.Create(authority, now.AddMinutes(-1), notAfter, serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>Whether <paramref name="name"/> can name a node (and its folder): letters, digits, '-', '_' and '.',
    /// not starting with '.'.</summary>
    public static bool IsNodeName(string name) =>
        name.Length is > 0 and <= 64 && name[0] != '.' && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Writes <paramref name="authority"/> as <c>ca.crt</c> and <c>ca.key</c> into <paramref name="dir"/>
    /// (created 0700; the key 0600). Refuses to overwrite an existing CA key.</summary>
    /// <exception cref="IOException">the key exists already, or a file cannot be written (the message names it).</exception>
    public static void WriteAuthority(string dir, X509Certificate2 authority)
    {
        CreatePrivateDirectory(dir);
        var keyPath = Path.Combine(dir, CaKeyFile);
        if (File.Exists(keyPath)) throw new IOException($"{keyPath} exists already: remove it, or pass it to issue node certificates with it");
        WritePrivate(keyPath, authority.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        WritePrivate(Path.Combine(dir, CaFile), authority.ExportCertificatePem());
    }

    /// <summary>Reads a CA written by <see cref="WriteAuthority"/> (certificate and private key).</summary>
    /// <exception cref="IOException">a file is missing or not a PEM certificate / key (the message names it).</exception>
    public static X509Certificate2 ReadAuthority(string dir)
    {
        var cert = Path.Combine(dir, CaFile);
        var key = Path.Combine(dir, CaKeyFile);
        try { return X509Certificate2.CreateFromPemFile(cert, key); }
        catch (Exception e) when (e is CryptographicException or FileNotFoundException or DirectoryNotFoundException or ArgumentException)
        {
            throw new IOException($"cannot read the CA from {cert} and {key}: {e.Message}", e);
        }
    }

    /// <summary>Writes a node's folder <paramref name="dir"/> (0700): the CA certificate(s) it trusts, its certificate and
    /// its key (0600).</summary>
    /// <exception cref="IOException">a file cannot be written (the message names it).</exception>
    public static void WriteNode(string dir, X509Certificate2 node, string trustedCaPem)
    {
        CreatePrivateDirectory(dir);
        WritePrivate(Path.Combine(dir, CaFile), trustedCaPem);
        WritePrivate(Path.Combine(dir, CertificateFile), node.ExportCertificatePem());
        WritePrivate(Path.Combine(dir, KeyFile), node.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
    }

    private static X500DistinguishedName Subject(string cn)
    {
        var b = new X500DistinguishedNameBuilder();
        b.AddCommonName(cn);
        b.AddOrganizationalUnitName(OrganizationalUnit);
        return b.Build();
    }

    private static void CreatePrivateDirectory(string dir) => PrivateFiles.CreateDirectory(dir);

    private static void WritePrivate(string path, string pem)
    {
        try
        {
            using var stream = PrivateFiles.OpenStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
            stream.Write(Encoding.ASCII.GetBytes(pem.EndsWith('\n') ? pem : pem + "\n"));
            stream.Flush(true);
        }
        catch (UnauthorizedAccessException e) { throw new IOException($"cannot write {path}: {e.Message}", e); }
    }
}
