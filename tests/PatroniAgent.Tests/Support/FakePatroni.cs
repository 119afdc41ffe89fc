using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace PatroniAgent.Tests.Support;

/// <summary>What the stand-in Patroni does with a request.</summary>
public abstract record FakeReply
{
    /// <summary>An HTTP/1.0 answer like Patroni's: no Content-Length, the body ends at close.</summary>
    public sealed record Answer(int Status, byte[] Body, string ContentType = "application/json") : FakeReply;
    /// <summary>Accepts, reads the request, never answers.</summary>
    public sealed record Silence : FakeReply;
    /// <summary>Answers after a delay.</summary>
    public sealed record Delayed(TimeSpan Delay, FakeReply Then) : FakeReply;
    /// <summary>Sends raw bytes and closes, or with <paramref name="Close"/> false stays connected and silent.</summary>
    public sealed record Raw(byte[] Bytes, bool Close = true) : FakeReply;

    public static FakeReply From(PatroniFixture fixture) => new Answer(fixture.Status, fixture.Body);
}

/// <summary>
/// TLS for the stand-in Patroni: its server certificate and, as with Patroni's <c>verify_client: required</c>,
/// the CA a client certificate must chain to (null: none asked for), and the TLS versions it speaks
/// (<see cref="SslProtocols.None"/>: the system's choice).
/// </summary>
public sealed record FakeTls(X509Certificate2 ServerCertificate, X509Certificate2? ClientCa = null, SslProtocols Protocols = SslProtocols.None);

/// <summary>
/// A stand-in for Patroni's REST API on 127.0.0.1, over http or (with <see cref="FakeTls"/>) https:
/// answers each path with what the test set, counts requests and notes what they carried. Stopping
/// it makes the port refuse connections.
/// </summary>
public sealed class FakePatroni : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, FakeReply> _replies = new();
    private readonly Task _accepting;
    private readonly FakeTls? _tls;
    private int _requests;
    private int _disposed;
    private string? _lastRequest;
    private string? _lastClientSubject;

    public FakePatroni(int port = 0, FakeTls? tls = null)
    {
        _tls = tls;
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = Task.Run(AcceptLoop);
    }

    public int Port { get; }
    public Uri Url => new($"{(_tls is null ? "http" : "https")}://127.0.0.1:{Port}");
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The request line and headers of the last request, blank line included; null before the first.</summary>
    public string? LastRequest => Volatile.Read(ref _lastRequest);

    /// <summary>The <c>Authorization</c> header of the last request; null when it had none.</summary>
    public string? LastAuthorization => LastRequest?.Split("\r\n")
        .FirstOrDefault(h => h.StartsWith("Authorization:", StringComparison.OrdinalIgnoreCase))?["Authorization:".Length..].Trim();

    /// <summary>The subject of the client certificate of the last request; null when none was shown.</summary>
    public string? LastClientSubject => Volatile.Read(ref _lastClientSubject);

    /// <summary>Sets the reply to <c>GET /</c>.</summary>
    public FakePatroni Status(FakeReply reply) => Set("/", reply);

    public FakePatroni Status(PatroniFixture fixture) => Set("/", FakeReply.From(fixture));

    public FakePatroni Set(string path, FakeReply reply)
    {
        lock (_replies)
        {
            _replies[path] = reply;
        }
        return this;
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            _ = Task.Run(() => Serve(client));
        }
    }

    private async Task Serve(Socket client)
    {
        using var _ = client;
        try
        {
            await using var stream = await Open(client);
            var request = new StringBuilder();
            var buffer = new byte[4096];
            while (!request.ToString().Contains("\r\n\r\n"))
            {
                int n = await stream.ReadAsync(buffer, _stop.Token);
                if (n == 0) return;
                request.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
            Interlocked.Increment(ref _requests);
            string head = request.ToString();
            string path = head.Split(' ')[1];
            Volatile.Write(ref _lastRequest, head);
            FakeReply? reply;
            lock (_replies)
            {
                _replies.TryGetValue(path, out reply);
            }
            await Send(stream, reply ?? new FakeReply.Answer(404, "{}"u8.ToArray()));
        }
        catch (Exception)
        {
        }
    }

    /// <summary>The connection's stream: plain, or after a TLS handshake that, like Patroni's, refuses a missing or untrusted client certificate when one is required.</summary>
    private async Task<Stream> Open(Socket client)
    {
        var plain = new NetworkStream(client, ownsSocket: false);
        if (_tls is null)
        {
            return plain;
        }
        var tls = new SslStream(plain);
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(_tls.ServerCertificate, null, offline: true),
            ClientCertificateRequired = _tls.ClientCa is not null,
            EnabledSslProtocols = _tls.Protocols,
            RemoteCertificateValidationCallback = (_, _, _, errors) => _tls.ClientCa is null || errors == SslPolicyErrors.None,
        };
        if (_tls.ClientCa is { } ca)
        {
            options.CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            options.CertificateChainPolicy.CustomTrustStore.Add(ca);
        }
        try
        {
            await tls.AuthenticateAsServerAsync(options, _stop.Token);
        }
        catch (Exception)
        {
            await tls.DisposeAsync();
            throw;
        }
        Volatile.Write(ref _lastClientSubject, tls.RemoteCertificate?.Subject);
        return tls;
    }

    private async Task Send(Stream client, FakeReply reply)
    {
        switch (reply)
        {
            case FakeReply.Answer answer:
                var head = $"HTTP/1.0 {answer.Status} X\r\nServer: BaseHTTP/0.6 Python/3.11\r\nContent-Type: {answer.ContentType}\r\n\r\n";
                await client.WriteAsync(Encoding.ASCII.GetBytes(head).Concat(answer.Body).ToArray(), _stop.Token);
                break;
            case FakeReply.Silence:
                await Task.Delay(Timeout.Infinite, _stop.Token);
                break;
            case FakeReply.Delayed delayed:
                await Task.Delay(delayed.Delay, _stop.Token);
                await Send(client, delayed.Then);
                break;
            case FakeReply.Raw raw:
                await client.WriteAsync(raw.Bytes, _stop.Token);
                if (!raw.Close)
                {
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                }
                break;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
