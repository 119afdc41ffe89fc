using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using PatroniAgent.Patroni;

namespace PatroniAgent.Configuration;

/// <summary>
/// Reads and checks, at start, the files that <c>patroni-ca-file</c>, <c>patroni-cert-file</c>,
/// <c>patroni-key-file</c> and <c>patroni-auth-file</c> name, so that a bad file stops the start
/// instead of failing every poll. Secrets (the private key, the password) must not be readable by
/// every user of the host.
/// </summary>
internal static class PatroniAccessLoader
{
    /// <summary>The largest file read; certificates and keys are a few kilobytes.</summary>
    public const int MaxFileBytes = 1 << 20;

    private static readonly string[] PrivateKeyLabels = ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];

    /// <summary>Builds the <see cref="PatroniAccess"/> of merged <paramref name="options"/>.</summary>
    /// <param name="options">The merged options; their file paths are read.</param>
    /// <param name="where">Names the source that set a key (by its name), as error messages start.</param>
    /// <exception cref="ConfigException">A file is missing, unreadable, not what its key needs, or the keys do not fit together.</exception>
    public static PatroniAccess Load(AgentOptions options, Func<string, string> where)
    {
        if (options.PatroniKeyFile is not null && options.PatroniCertFile is null)
            throw new ConfigException($"{where("patroni-key-file")}: needs patroni-cert-file, the certificate of this key");
        string? tlsKey = options.PatroniCaFile is not null ? "patroni-ca-file"
            : options.PatroniCertFile is not null ? "patroni-cert-file"
            : null;
        if (tlsKey is not null && options.PatroniUrl.Scheme != Uri.UriSchemeHttps)
            throw new ConfigException(
                $"{where(tlsKey)}: needs an https patroni-url, not {options.PatroniUrl} ({where("patroni-url")})");
        if (options.PatroniCaFile is null && options.PatroniCertFile is null && options.PatroniAuthFile is null)
            return PatroniAccess.None;

        return new PatroniAccess
        {
            TrustedRoots = options.PatroniCaFile is { } ca ? LoadRoots(ca, where("patroni-ca-file")) : null,
            ClientCertificate = options.PatroniCertFile is { } cert
                ? LoadClientCertificate(cert, where("patroni-cert-file"), options.PatroniKeyFile, where("patroni-key-file"))
                : null,
            Authorization = options.PatroniAuthFile is { } auth ? LoadAuthorization(auth, where("patroni-auth-file")) : null,
        };
    }

    private static X509Certificate2Collection LoadRoots(string path, string where)
    {
        string text = ReadText(path, where);
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPem(text);
        }
        catch (CryptographicException)
        {
            throw new ConfigException($"{where}: a certificate in {path} cannot be read (damaged PEM)");
        }
        if (roots.Count == 0)
            throw new ConfigException($"{where}: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        return roots;
    }

    private static SslStreamCertificateContext LoadClientCertificate(string certPath, string certWhere, string? keyPath, string keyWhere)
    {
        string certText = ReadText(certPath, certWhere);
        if (!Labels(certText).Contains("CERTIFICATE"))
            throw new ConfigException($"{certWhere}: {certPath} holds no PEM certificate (-----BEGIN CERTIFICATE-----)");

        (string keyText, string keySource, string keyOrigin) = keyPath is null
            ? (certText, certPath, certWhere)
            : (ReadText(keyPath, keyWhere), keyPath, keyWhere);
        List<string> keyLabels = Labels(keyText);
        if (keyLabels.Contains("ENCRYPTED PRIVATE KEY"))
            throw new ConfigException(
                $"{keyOrigin}: the private key in {keySource} is encrypted; the agent needs it unencrypted (openssl pkey -in {keySource} -out NEW)");
        if (!keyLabels.Any(PrivateKeyLabels.Contains))
            throw new ConfigException(keyPath is null
                ? $"{certWhere}: {certPath} holds no private key; put it in the file or give patroni-key-file"
                : $"{keyWhere}: {keyPath} holds no PEM private key (-----BEGIN PRIVATE KEY-----)");
        RefuseWorldReadable(keySource, keyOrigin, "a private key");

        X509Certificate2 certificate;
        var chain = new X509Certificate2Collection();
        try
        {
            certificate = X509Certificate2.CreateFromPem(certText, keyText);
            chain.ImportFromPem(certText);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            throw new ConfigException(keyPath is null
                ? $"{certWhere}: the private key in {certPath} does not match its certificate"
                : $"{keyWhere}: the private key in {keyPath} does not match the certificate in {certPath} ({certWhere})");
        }
        return SslStreamCertificateContext.Create(certificate, new X509Certificate2Collection(chain.Skip(1).ToArray()), offline: true);
    }

    private static AuthenticationHeaderValue LoadAuthorization(string path, string where)
    {
        RefuseWorldReadable(path, where, "a password");
        string text = ReadText(path, where).TrimStart('\uFEFF');
        int end = text.IndexOf('\n');
        string line = (end < 0 ? text : text[..end]).TrimEnd('\r');
        int colon = line.IndexOf(':');
        if (colon <= 0 || colon == line.Length - 1 || line.Any(char.IsControl))
            throw new ConfigException(
                $"{where}: the first line of {path} must be username:password (both not empty, no control characters)");
        return new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(line)));
    }

    private static void RefuseWorldReadable(string path, string where, string what)
    {
        if (OperatingSystem.IsWindows())
            return;
        UnixFileMode mode;
        try
        {
            mode = File.GetUnixFileMode(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CannotRead(path, where, e);
        }
        if ((mode & UnixFileMode.OtherRead) != 0)
            throw new ConfigException(
                $"{where}: {path} holds {what} and is readable by every user (mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')}); run chmod o-rwx {path}");
    }

    /// <summary>The file's text, read to at most <see cref="MaxFileBytes"/> (a device such as /dev/zero never ends).</summary>
    private static string ReadText(string path, string where)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
            byte[] buffer = new byte[MaxFileBytes + 1];
            int length = 0;
            int read;
            while (length < buffer.Length && (read = file.Read(buffer, length, buffer.Length - length)) > 0)
                length += read;
            if (length > MaxFileBytes)
                throw new ConfigException($"{where}: {path} is larger than {MaxFileBytes / 1024} kB");
            return Encoding.UTF8.GetString(buffer, 0, length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CannotRead(path, where, e);
        }
    }

    private static ConfigException CannotRead(string path, string where, Exception e)
    {
        string reason = e switch
        {
            FileNotFoundException or DirectoryNotFoundException => "no such file",
            UnauthorizedAccessException => "access denied (no permission, or not a file)",
            _ => e.Message,
        };
        return new ConfigException($"{where}: cannot read {path}: {reason}");
    }

    /// <summary>The labels of the PEM blocks in <paramref name="text"/>, in order.</summary>
    private static List<string> Labels(string text)
    {
        List<string> labels = [];
        ReadOnlySpan<char> rest = text;
        while (PemEncoding.TryFind(rest, out PemFields fields))
        {
            labels.Add(rest[fields.Label].ToString());
            rest = rest[fields.Location.End..];
        }
        return labels;
    }
}
