using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace PatroniAgent.Patroni;

/// <summary>
/// What it takes to reach a Patroni REST API that demands TLS or authentication: the CA certificates
/// its server certificate must chain to, the client certificate shown to it and the basic-auth
/// credentials. Each is optional; <see cref="None"/> reaches a plain API. A class, not a record, so
/// that no generated <c>ToString</c> prints the credentials.
/// </summary>
public sealed class PatroniAccess
{
    public static PatroniAccess None { get; } = new();

    /// <summary>The CA certificates Patroni's certificate must chain to; null to verify against the system store.</summary>
    public X509Certificate2Collection? TrustedRoots { get; init; }

    /// <summary>The client certificate, with its private key and the intermediates sent with it; null to show none.</summary>
    public SslStreamCertificateContext? ClientCertificate { get; init; }

    /// <summary>The <c>Authorization</c> header sent on every request; null to send none.</summary>
    public AuthenticationHeaderValue? Authorization { get; init; }
}
