using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PatroniAgent.Tests.Support;

/// <summary>
/// Certificates made by a test: a CA, and server and client certificates it signs, written as PEM
/// files (keys and secrets mode 0600) to a temporary directory that disposing removes.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    public TestCertificates()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("patroni-agent-tls-").FullName;
    }

    public string Directory { get; }

    /// <summary>A self-signed CA certificate with its key.</summary>
    public static X509Certificate2 CreateCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-3), DateTimeOffset.UtcNow.AddYears(1));
    }

    /// <summary>An intermediate CA certificate with its key, signed by <paramref name="ca"/>.</summary>
    public static X509Certificate2 CreateIntermediate(X509Certificate2 ca, string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var issued = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(60), Serial());
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>A server certificate for the IP addresses and DNS names given, signed by <paramref name="ca"/>.</summary>
    public static X509Certificate2 CreateServer(X509Certificate2 ca, string[] names, DateTimeOffset? notAfter = null, string subject = "CN=patroni") =>
        Issue(ca, subject, ServerAuth, names, notAfter ?? DateTimeOffset.UtcNow.AddDays(30));

    /// <summary>A client certificate signed by <paramref name="ca"/>.</summary>
    public static X509Certificate2 CreateClient(X509Certificate2 ca, string name = "patroni-agent") =>
        Issue(ca, $"CN={name}", ClientAuth, [], DateTimeOffset.UtcNow.AddDays(30));

    private static X509Certificate2 Issue(X509Certificate2 ca, string subject, string usage, string[] names, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (names.Length > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var name in names)
            {
                if (IPAddress.TryParse(name, out var address)) san.AddIpAddress(address);
                else san.AddDnsName(name);
            }
            request.CertificateExtensions.Add(san.Build());
        }
        using var issued = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), notAfter, Serial());
        return issued.CopyWithPrivateKey(key);
    }

    private static byte[] Serial()
    {
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7f;
        return serial;
    }

    /// <summary>Mode 0600, for keys and passwords.</summary>
    public const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Mode 0644, for certificates.</summary>
    public const UnixFileMode Public = Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>Writes the certificate (PEM, mode 0644) and returns the path.</summary>
    public string WriteCertificate(string name, X509Certificate2 certificate) => Write(name, certificate.ExportCertificatePem() + "\n", Public);

    /// <summary>Writes the certificate's private key (PKCS#8 PEM, mode 0600) and returns the path.</summary>
    public string WriteKey(string name, X509Certificate2 certificate) => Write(name, PrivateKeyPem(certificate));

    public static string PrivateKeyPem(X509Certificate2 certificate) =>
        certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem() + "\n";

    /// <summary>Writes <paramref name="text"/> to a file of the directory with the mode given and returns the path.</summary>
    public string Write(string name, string text, UnixFileMode mode = Private)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, text);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
        return path;
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
