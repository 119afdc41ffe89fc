using System.Security.Cryptography.X509Certificates;
using System.Text;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Commands;

/// <summary>
/// <c>haproxy-config --patroni-url</c> against a Patroni over https that verifies a client certificate
/// and asks for basic auth: the members are read with the same files the agent is given.
/// </summary>
public sealed class HaproxyConfigTlsTests : IDisposable
{
    private readonly TestCertificates _files = new();
    private readonly X509Certificate2 _ca = TestCertificates.CreateCa("patroni test CA");
    private readonly string _caFile;

    public HaproxyConfigTlsTests()
    {
        _caFile = _files.WriteCertificate("ca.pem", _ca);
    }

    public void Dispose() => _files.Dispose();

    private FakePatroni Patroni(bool requireClientCertificate = false) =>
        new FakePatroni(tls: new FakeTls(TestCertificates.CreateServer(_ca, ["127.0.0.1"]), requireClientCertificate ? _ca : null))
            .Set("/cluster", FakeReply.From(PatroniFixtures.Load("v4.1.4-cluster")));

    [Fact]
    public async Task Members_are_read_with_the_ca_file_client_certificate_and_basic_auth()
    {
        await using var patroni = Patroni(requireClientCertificate: true);
        var client = TestCertificates.CreateClient(_ca, "haproxy-host");
        string certificate = _files.WriteCertificate("client.pem", client);
        string key = _files.WriteKey("client-key.pem", client);
        string auth = _files.Write("auth", "patroni:s3cret\n");

        var result = HaproxyConfigCommandTests.Run("--patroni-url", patroni.Url.ToString(), "--patroni-ca-file", _caFile,
            "--patroni-cert-file", certificate, "--patroni-key-file", key, "--patroni-auth-file", auth);

        Assert.Equal("", result.Error);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("    server pg2 127.0.2.2:5432 check port 8009 agent-check", result.Output);
        Assert.Equal("CN=haproxy-host", patroni.LastClientSubject);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("patroni:s3cret")), patroni.LastAuthorization);
    }

    [Fact]
    public async Task A_private_ca_not_given_leaves_the_certificate_untrusted()
    {
        await using var patroni = Patroni();

        var result = HaproxyConfigCommandTests.Run("--patroni-url", patroni.Url.ToString());

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Output);
        Assert.Equal($"patroni-agent haproxy-config: cannot read the members from {patroni.Url}cluster: patroni TLS certificate not trusted\n", result.Error);
        Assert.Equal(0, patroni.Requests);
    }

    [Fact]
    public async Task A_client_certificate_not_given_is_named()
    {
        await using var patroni = Patroni(requireClientCertificate: true);

        var result = HaproxyConfigCommandTests.Run("--patroni-url", patroni.Url.ToString(), "--patroni-ca-file", _caFile);

        Assert.Equal(1, result.ExitCode);
        Assert.EndsWith(": patroni demands a client certificate\n", result.Error);
    }

    [Fact]
    public async Task Basic_auth_refused_is_named()
    {
        await using var patroni = Patroni();
        patroni.Set("/cluster", new FakeReply.Answer(401, "{\"error\": \"unauthorized\"}"u8.ToArray()));

        var result = HaproxyConfigCommandTests.Run("--patroni-url", patroni.Url.ToString(), "--patroni-ca-file", _caFile);

        Assert.Equal(1, result.ExitCode);
        Assert.EndsWith(": patroni answered 401 (basic auth required)\n", result.Error);
    }

    [Fact]
    public void A_file_that_cannot_serve_is_a_bad_command_line()
    {
        string readable = _files.Write("auth-for-everyone", "patroni:s3cret\n", TestCertificates.Public);
        string missing = Path.Combine(_files.Directory, "no-such-ca.pem");

        var cases = new[]
        {
            (new[] { "--patroni-url", "https://127.0.0.1:8008", "--patroni-ca-file", missing }, $"--patroni-ca-file: cannot read {missing}: no such file"),
            (new[] { "--patroni-url", "http://127.0.0.1:8008", "--patroni-ca-file", _caFile }, "--patroni-ca-file: needs an https patroni-url, not http://127.0.0.1:8008/ (--patroni-url)"),
            (new[] { "--patroni-url", "https://127.0.0.1:8008", "--patroni-auth-file", readable }, $"--patroni-auth-file: {readable} holds a password and is readable by every user"),
            (new[] { "--member", "pg1=10.0.0.1", "--patroni-ca-file", _caFile }, "the --patroni-*-file options need --patroni-url"),
        };
        foreach (var (args, message) in cases)
        {
            var result = HaproxyConfigCommandTests.Run(args);
            Assert.Equal(2, result.ExitCode);
            Assert.Equal("", result.Output);
            Assert.Contains(message, result.Error);
        }
    }
}
