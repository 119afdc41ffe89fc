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
/// it makes the port refuse connections. It accepts and serves on threads of its own, never on the
/// thread pool, which a busy test host can starve for seconds: an agent polling it would then find
/// Patroni silent, and its answers stale, when the test meant Patroni to answer at once.
/// </summary>
public sealed class FakePatroni : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, FakeReply> _replies = new();
    private readonly HashSet<Socket> _open = new();
    private readonly Thread _accepting;
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
        _accepting = new Thread(AcceptLoop) { IsBackground = true, Name = "fake-patroni-accept" };
        _accepting.Start();
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

    private void AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = _listener.AcceptSocket();
            }
            catch (Exception)
            {
                return;
            }
            lock (_open)
            {
                if (_stop.IsCancellationRequested)
                {
                    client.Dispose();
                    return;
                }
                _open.Add(client);
            }
            new Thread(() => Serve(client)) { IsBackground = true, Name = "fake-patroni-serve" }.Start();
        }
    }

    private void Serve(Socket client)
    {
        try
        {
            using var stream = Open(client);
            var request = new StringBuilder();
            var buffer = new byte[4096];
            while (!request.ToString().Contains("\r\n\r\n"))
            {
                int n = stream.Read(buffer);
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
            Send(stream, reply ?? new FakeReply.Answer(404, "{}"u8.ToArray()));
        }
        catch (Exception)
        {
        }
        finally
        {
            lock (_open)
            {
                _open.Remove(client);
            }
            client.Dispose();
        }
    }

    /// <summary>The connection's stream: plain, or after a TLS handshake that, like Patroni's, refuses a missing or untrusted client certificate when one is required.</summary>
    private Stream Open(Socket client)
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
            tls.AuthenticateAsServer(options);
        }
        catch (Exception)
        {
            tls.Dispose();
            throw;
        }
        Volatile.Write(ref _lastClientSubject, tls.RemoteCertificate?.Subject);
        return tls;
    }

    private void Send(Stream client, FakeReply reply)
    {
        switch (reply)
        {
            case FakeReply.Answer answer:
                var head = $"HTTP/1.0 {answer.Status} X\r\nServer: BaseHTTP/0.6 Python/3.11\r\nContent-Type: {answer.ContentType}\r\n\r\n";
                client.Write(Encoding.ASCII.GetBytes(head).Concat(answer.Body).ToArray());
                break;
            case FakeReply.Silence:
                _stop.Token.WaitHandle.WaitOne();
                break;
            case FakeReply.Delayed delayed:
                if (!_stop.Token.WaitHandle.WaitOne(delayed.Delay))
                {
                    Send(client, delayed.Then);
                }
                break;
            case FakeReply.Raw raw:
                client.Write(raw.Bytes);
                if (!raw.Close)
                {
                    _stop.Token.WaitHandle.WaitOne();
                }
                break;
        }
    }

    /// <summary>Stops accepting and closes every open connection: the port refuses from now on.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return ValueTask.CompletedTask;
        }
        lock (_open)
        {
            _stop.Cancel();
            foreach (var socket in _open)
            {
                socket.Dispose();
            }
        }
        _listener.Stop();
        _accepting.Join();
        return ValueTask.CompletedTask;
    }
}
