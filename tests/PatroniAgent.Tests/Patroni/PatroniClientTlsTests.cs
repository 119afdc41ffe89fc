using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using PatroniAgent.Configuration;
using PatroniAgent.Patroni;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Patroni;

/// <summary>
/// <see cref="PatroniClient"/> against a stand-in Patroni over https, with the access the agent's
/// configuration loads from PEM files: server certificate and host name verified, client
/// certificate shown, basic auth sent, and each failure named with a short, stable reason.
/// </summary>
public sealed class PatroniClientTlsTests : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(5);

    private readonly TestCertificates _files = new();
    private readonly X509Certificate2 _ca = TestCertificates.CreateCa("patroni test CA");
    private readonly string _caFile;

    public PatroniClientTlsTests()
    {
        _caFile = _files.WriteCertificate("ca.pem", _ca);
    }

    public void Dispose() => _files.Dispose();

    private FakePatroni Patroni(X509Certificate2? server = null, bool requireClientCertificate = false, SslProtocols protocols = SslProtocols.None)
    {
        var fake = new FakePatroni(tls: new FakeTls(
            server ?? TestCertificates.CreateServer(_ca, ["127.0.0.1"]),
            requireClientCertificate ? _ca : null,
            protocols));
        fake.Status(PatroniFixtures.Load("v3.0.2-primary"));
        return fake;
    }

    /// <summary>A client built as the agent builds it: options parsed from flags, files read by the loader.</summary>
    private static PatroniClient Client(Uri url, params string[] flags)
    {
        var options = ConfigLoader.Parse(["--patroni-url", url.ToString(), .. flags], new ArgumentRules(LoadsPatroniAccess: true), new Dictionary<string, string>(), File.ReadAllText).Options;
        return new PatroniClient(options.PatroniUrl, Generous, access: options.PatroniAccess, leaderWait: Generous);
    }

    private string[] ClientCertificateFlags(X509Certificate2 certificate, string name = "client") =>
    [
        "--patroni-cert-file", _files.WriteCertificate($"{name}.pem", certificate),
        "--patroni-key-file", _files.WriteKey($"{name}-key.pem", certificate),
    ];

    [Fact]
    public async Task A_poll_over_tls_verified_against_the_ca_file_is_read()
    {
        await using var fake = Patroni();
        var client = Client(fake.Url, "--patroni-ca-file", _caFile);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal("master", result.Status!.RoleName);
        Assert.Equal(1, fake.Requests);
    }

    [Fact]
    public async Task A_server_certificate_of_another_ca_is_not_trusted()
    {
        var other = TestCertificates.CreateCa("another CA");
        await using var fake = Patroni(TestCertificates.CreateServer(other, ["127.0.0.1"]));
        var client = Client(fake.Url, "--patroni-ca-file", _caFile);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(new PollResult(null, "patroni TLS certificate not trusted", PollErrorKind.Tls), result);
        Assert.Equal(0, fake.Requests);
    }

    [Fact]
    public async Task Without_a_ca_file_the_system_store_decides_and_does_not_know_a_private_ca()
    {
        await using var fake = Patroni();
        var client = Client(fake.Url);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(new PollResult(null, "patroni TLS certificate not trusted", PollErrorKind.Tls), result);
        Assert.Equal(0, fake.Requests);
    }

    [Fact]
    public async Task A_trusted_certificate_for_another_host_is_refused()
    {
        await using var fake = Patroni(TestCertificates.CreateServer(_ca, ["db9.example.com", "127.0.0.9"]));
        var client = Client(fake.Url, "--patroni-ca-file", _caFile);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(new PollResult(null, "patroni TLS certificate is for another host", PollErrorKind.Tls), result);
        Assert.Equal(0, fake.Requests);
    }

    [Fact]
    public async Task A_host_name_in_the_url_is_matched_against_the_certificate()
    {
        await using var fake = Patroni(TestCertificates.CreateServer(_ca, ["localhost"]));
        var byName = Client(new Uri($"https://localhost:{fake.Port}"), "--patroni-ca-file", _caFile);
        var byAddress = Client(fake.Url, "--patroni-ca-file", _caFile);

        Assert.Null((byName.Poll(CancellationToken.None)).Error);
        Assert.Equal("patroni TLS certificate is for another host", (byAddress.Poll(CancellationToken.None)).Error);
    }

    [Fact]
    public async Task An_expired_certificate_is_named()
    {
        await using var fake = Patroni(TestCertificates.CreateServer(_ca, ["127.0.0.1"], notAfter: DateTimeOffset.UtcNow.AddHours(-1)));
        var client = Client(fake.Url, "--patroni-ca-file", _caFile);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(new PollResult(null, "patroni TLS certificate expired or not yet valid", PollErrorKind.Tls), result);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_required_client_certificate_is_shown_and_the_poll_is_read(SslProtocols version)
    {
        await using var fake = Patroni(requireClientCertificate: true, protocols: version);
        var client = Client(fake.Url, ["--patroni-ca-file", _caFile, .. ClientCertificateFlags(TestCertificates.CreateClient(_ca, "agent-on-pg1"))]);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal("master", result.Status!.RoleName);
        Assert.Equal("CN=agent-on-pg1", fake.LastClientSubject);
    }

    [Fact]
    public async Task A_key_held_in_the_certificate_file_is_used()
    {
        await using var fake = Patroni(requireClientCertificate: true);
        var certificate = TestCertificates.CreateClient(_ca);
        var both = _files.Write("client-and-key.pem", certificate.ExportCertificatePem() + "\n" + TestCertificates.PrivateKeyPem(certificate));
        var client = Client(fake.Url, "--patroni-ca-file", _caFile, "--patroni-cert-file", both);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal("CN=patroni-agent", fake.LastClientSubject);
    }

    [Fact]
    public async Task Intermediates_after_the_client_certificate_in_its_file_are_sent_with_it()
    {
        await using var fake = Patroni(requireClientCertificate: true);
        var intermediate = TestCertificates.CreateIntermediate(_ca, "agents CA");
        var client = TestCertificates.CreateClient(intermediate, "agent-via-intermediate");
        string key = _files.WriteKey("client-key.pem", client);
        string leafOnly = _files.WriteCertificate("leaf.pem", client);
        string withChain = _files.Write("chain.pem", client.ExportCertificatePem() + "\n" + intermediate.ExportCertificatePem() + "\n", TestCertificates.Public);
        var chained = Client(fake.Url, "--patroni-ca-file", _caFile, "--patroni-cert-file", withChain, "--patroni-key-file", key);
        var alone = Client(fake.Url, "--patroni-ca-file", _caFile, "--patroni-cert-file", leafOnly, "--patroni-key-file", key);

        Assert.Null((chained.Poll(CancellationToken.None)).Error);
        Assert.Equal("CN=agent-via-intermediate", fake.LastClientSubject);
        Assert.Equal("patroni refused our client certificate", (alone.Poll(CancellationToken.None)).Error);
    }

    /// <summary>TLS 1.2 refuses a client certificate within the handshake; TLS 1.3 after the client's side of it is done.</summary>
    public static TheoryData<SslProtocols> Versions => new() { SslProtocols.Tls12, SslProtocols.Tls13 };

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_missing_client_certificate_is_named_and_nothing_is_read(SslProtocols version)
    {
        await using var fake = Patroni(requireClientCertificate: true, protocols: version);
        var client = Client(fake.Url, "--patroni-ca-file", _caFile);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(new PollResult(null, "patroni demands a client certificate", PollErrorKind.Tls), result);
        Assert.Equal(0, fake.Requests);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_client_certificate_patroni_does_not_trust_is_named(SslProtocols version)
    {
        await using var fake = Patroni(requireClientCertificate: true, protocols: version);
        var stranger = TestCertificates.CreateClient(TestCertificates.CreateCa("another CA"));
        var client = Client(fake.Url, ["--patroni-ca-file", _caFile, .. ClientCertificateFlags(stranger)]);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(new PollResult(null, "patroni refused our client certificate", PollErrorKind.Tls), result);
        Assert.Equal(0, fake.Requests);
    }

    [Fact]
    public async Task Basic_auth_is_sent_on_every_request_of_a_poll()
    {
        await using var fake = Patroni();
        fake.Status(PatroniFixtures.Load("v4.1.4-replica"));
        fake.Set("/cluster", FakeReply.From(PatroniFixtures.Load("v4.1.4-cluster")));
        var auth = _files.Write("auth", "patroni:s3cr:et\nignored second line\n");
        var client = Client(fake.Url, "--patroni-ca-file", _caFile, "--patroni-auth-file", auth);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal(0, result.Status!.LagBytes);
        Assert.Equal(2, fake.Requests);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("patroni:s3cr:et")), fake.LastAuthorization);
    }

    [Fact]
    public async Task The_leader_is_reached_with_the_same_ca_client_certificate_and_basic_auth()
    {
        await using var fake = Patroni(requireClientCertificate: true);
        await using var leader = Patroni(requireClientCertificate: true);
        fake.Status(PatroniFixtures.Load("v4.1.4-replica"));
        var cluster = JsonNode.Parse(PatroniFixtures.Load("v4.1.4-cluster").Body)!;
        cluster["members"]![0]!["api_url"] = $"{leader.Url}patroni";
        fake.Set("/cluster", new FakeReply.Answer(200, Encoding.UTF8.GetBytes(cluster.ToJsonString())));
        var primary = JsonNode.Parse(PatroniFixtures.Load("v4.1.4-primary").Body)!;
        primary["xlog"]!["location"] = 67108864 + 2048;
        leader.Set("/patroni", new FakeReply.Answer(200, Encoding.UTF8.GetBytes(primary.ToJsonString())));
        var auth = _files.Write("auth", "patroni:s3cret\n");
        var client = Client(fake.Url, ["--patroni-ca-file", _caFile, "--patroni-auth-file", auth, .. ClientCertificateFlags(TestCertificates.CreateClient(_ca, "agent"))]);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal(2048, result.Status!.LagBytes);
        Assert.Equal(LagSource.Leader, result.LagSource);
        Assert.Equal(1, leader.Requests);
        Assert.Equal(fake.LastAuthorization, leader.LastAuthorization);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("patroni:s3cret")), leader.LastAuthorization);
        Assert.Equal("CN=agent", leader.LastClientSubject);
    }

    [Fact]
    public async Task A_leader_certificate_of_another_ca_falls_back_to_the_cluster_lag()
    {
        await using var fake = Patroni();
        await using var leader = Patroni(TestCertificates.CreateServer(TestCertificates.CreateCa("another CA"), ["127.0.0.1"]));
        fake.Status(PatroniFixtures.Load("v4.1.4-replica"));
        var cluster = JsonNode.Parse(PatroniFixtures.Load("v4.1.4-cluster").Body)!;
        cluster["members"]![0]!["api_url"] = $"{leader.Url}patroni";
        cluster["members"]![1]!["replay_lag"] = 500;
        fake.Set("/cluster", new FakeReply.Answer(200, Encoding.UTF8.GetBytes(cluster.ToJsonString())));
        var client = Client(fake.Url, "--patroni-ca-file", _caFile);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal(500, result.Status!.LagBytes);
        Assert.Equal(LagSource.Cluster, result.LagSource);
        Assert.Equal(0, leader.Requests);
    }

    [Fact]
    public async Task Without_an_auth_file_no_authorization_is_sent()
    {
        await using var fake = Patroni();
        var client = Client(fake.Url, "--patroni-ca-file", _caFile);

        Assert.Null((client.Poll(CancellationToken.None)).Error);
        Assert.Null(fake.LastAuthorization);
    }

    [Fact]
    public async Task A_401_says_whether_credentials_were_sent()
    {
        await using var fake = Patroni();
        fake.Status(new FakeReply.Answer(401, "{\"error\": \"unauthorized\"}"u8.ToArray()));
        var auth = _files.Write("auth", "patroni:wrong");
        var withCredentials = Client(fake.Url, "--patroni-ca-file", _caFile, "--patroni-auth-file", auth);
        var without = Client(fake.Url, "--patroni-ca-file", _caFile);

        Assert.Equal(new PollResult(null, "patroni answered 401 (basic auth rejected)", PollErrorKind.Http), withCredentials.Poll(CancellationToken.None));
        Assert.Equal(new PollResult(null, "patroni answered 401 (basic auth required)", PollErrorKind.Http), without.Poll(CancellationToken.None));
    }

    /// <summary>
    /// The timeout bounds the whole GET, not each read: a server that sends its side of the handshake a
    /// byte every 50 ms (here a relay in front of the stand-in) would otherwise keep one poll for minutes.
    /// </summary>
    [Fact]
    public async Task A_handshake_trickled_byte_by_byte_ends_at_the_timeout()
    {
        await using var fake = Patroni();
        Assert.Null(Client(fake.Url, "--patroni-ca-file", _caFile).Poll(CancellationToken.None).Error);
        using var relay = new TrickleRelay(new IPEndPoint(IPAddress.Loopback, fake.Port));
        var options = ConfigLoader.Parse(["--patroni-url", $"https://127.0.0.1:{relay.Port}", "--patroni-ca-file", _caFile], new ArgumentRules(LoadsPatroniAccess: true), new Dictionary<string, string>(), File.ReadAllText).Options;
        var client = new PatroniClient(options.PatroniUrl, TimeSpan.FromSeconds(3), access: options.PatroniAccess);

        var result = client.Poll(new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token);

        Assert.Equal(new PollResult(null, "no answer from patroni within 3000 ms", PollErrorKind.Timeout), result);
        Assert.InRange(relay.Trickled, 1, 200);
    }

    /// <summary>
    /// Relays one connection to a server, passing what the server sends one byte every 50 ms. It
    /// runs on threads of its own, so a busy thread pool in the test host does not hold back the
    /// first byte past the client's timeout.
    /// </summary>
    private sealed class TrickleRelay : IDisposable
    {
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly CancellationTokenSource _stop = new();
        private int _trickled;

        public TrickleRelay(IPEndPoint server)
        {
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen(1);
            new Thread(() => Relay(server)) { IsBackground = true, Name = "trickle relay" }.Start();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

        /// <summary>How many bytes of the server's went to the client.</summary>
        public int Trickled => Volatile.Read(ref _trickled);

        private void Relay(IPEndPoint target)
        {
            try
            {
                using var client = _listener.Accept();
                using var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                server.Connect(target);
                new Thread(() => Forward(client, server)) { IsBackground = true, Name = "trickle forward" }.Start();
                var one = new byte[1];
                while (!_stop.IsCancellationRequested && server.Receive(one) > 0)
                {
                    client.Send(one);
                    Interlocked.Increment(ref _trickled);
                    _stop.Token.WaitHandle.WaitOne(50);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }

        private static void Forward(Socket from, Socket to)
        {
            try
            {
                var buffer = new byte[4096];
                int n;
                while ((n = from.Receive(buffer)) > 0)
                {
                    to.Send(buffer.AsSpan(0, n));
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Dispose();
            _stop.Dispose();
        }
    }
}
