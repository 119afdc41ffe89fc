using PatroniAgent.Commands;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Commands;

/// <summary><c>patroni-agent haproxy-config</c>'s command line and its use of Patroni, in process.</summary>
public class HaproxyConfigCommandTests
{
    internal sealed record Outcome(int ExitCode, string Output, string Error);

    /// <summary>Runs the command in process with its output and error captured.</summary>
    internal static Outcome Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = HaproxyConfigCommand.Run(args, output, error);
        return new Outcome(code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Members_and_options_from_the_command_line()
    {
        var result = Run(
            "--member", "pg1=10.0.0.1", "--member=pg2=10.0.0.2", "--postgres-port", "6432", "--agent-port=6555",
            "--http-check-port", "8008", "--max-lag", "1MB", "--sync", "--bind", "127.0.0.1", "--read-write-port", "6000");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Error);
        Assert.Contains("    server pg1 10.0.0.1:6432 check port 8008 agent-check agent-port 6555 agent-send \"primary\\n\" agent-inter 20ms disabled\n", result.Output);
        Assert.Contains("    server pg2 10.0.0.2:6432 check port 8008 agent-check agent-port 6555 agent-send \"sync max-lag=1MB\\n\" agent-inter 200ms disabled\n", result.Output);
        Assert.Contains("    bind 127.0.0.1:6000\n", result.Output);
        Assert.DoesNotContain("postgres_async", result.Output);
    }

    [Theory]
    [InlineData(new string[0], "no members: give --member NAME=HOST (repeatable) or --patroni-url URL")]
    [InlineData(new[] { "--member", "pg1" }, "--member: \"pg1\" is not NAME=HOST")]
    [InlineData(new[] { "--member", "=10.0.0.1" }, "is not NAME=HOST")]
    [InlineData(new[] { "--member" }, "--member: missing value")]
    [InlineData(new[] { "--member", "pg1=10.0.0.1", "--member", "pg1=10.0.0.2" }, "member name pg1 is given twice")]
    [InlineData(new[] { "--member", "pg1=10.0.0.1", "--member", "pg2=10.0.0.1" }, "have the same host 10.0.0.1")]
    [InlineData(new[] { "--member", "pg1=not a host" }, "\"not a host\" is not an IP address or a host name")]
    [InlineData(new[] { "--member", "pg1=10.0.0.1", "--agent-port", "x" }, "--agent-port: \"x\" is not a port 1..65535")]
    [InlineData(new[] { "--member", "pg1=10.0.0.1", "--agent-port", "0" }, "--agent-port: \"0\" is not a port")]
    [InlineData(new[] { "--member", "pg1=10.0.0.1", "--stats-port", "1", "--stats-port", "2" }, "--stats-port: given more than once")]
    [InlineData(new[] { "--member", "pg1=10.0.0.1", "--sync=yes" }, "--sync takes no value")]
    [InlineData(new[] { "--member", "pg1=10.0.0.1", "--frobnicate", "1" }, "unknown option \"--frobnicate\"")]
    [InlineData(new[] { "--member", "pg1=10.0.0.1", "extra" }, "unexpected argument \"extra\"")]
    [InlineData(new[] { "--member", "pg1=10.0.0.1", "--patroni-url", "http://127.0.0.1:8008" }, "either --member or --patroni-url, not both")]
    [InlineData(new[] { "--patroni-url", "ftp://127.0.0.1" }, "--patroni-url: \"ftp://127.0.0.1\" is not an absolute http or https URL")]
    [InlineData(new[] { "--patroni-url", "http://u:p@127.0.0.1:8008" }, "--patroni-url: must not contain a user name or password")]
    public void A_bad_command_line_exits_2_with_the_problem(string[] args, string message)
    {
        var result = Run(args);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.Output);
        Assert.Contains(message, result.Error);
        Assert.StartsWith("patroni-agent haproxy-config: ", result.Error);
    }

    [Fact]
    public void Help_prints_the_options()
    {
        var result = Run("--member", "x", "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("Usage: patroni-agent haproxy-config", result.Output);
        Assert.Contains("--max-lag SIZE", result.Output);
    }

    [Theory]
    [InlineData("v3.0.2-cluster", "127.0.1")]
    [InlineData("v4.1.4-cluster", "127.0.2")]
    public async Task Members_from_patroni(string fixture, string network)
    {
        await using var patroni = new FakePatroni().Set("/cluster", FakeReply.From(PatroniFixtures.Load(fixture)));

        var result = Run("--patroni-url", patroni.Url.ToString(), "--async");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Error);
        for (int n = 1; n <= 3; n++)
        {
            Assert.Contains($"    server pg{n} {network}.{n}:5432 check port 8009 agent-check agent-port 5555 agent-send \"primary\\n\" agent-inter 20ms disabled\n", result.Output);
            Assert.Contains($"    server pg{n} {network}.{n}:5432 check port 8009 agent-check agent-port 5555 agent-send \"async max-lag=16MB\\n\" agent-inter 200ms disabled\n", result.Output);
        }
    }

    [Fact]
    public async Task A_path_in_the_patroni_url_is_kept()
    {
        await using var patroni = new FakePatroni().Set("/api/cluster", FakeReply.From(PatroniFixtures.Load("v4.1.4-cluster")));

        var result = Run("--patroni-url", new Uri(patroni.Url, "/api/").ToString());

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("server pg1 127.0.2.1:5432", result.Output);
    }

    public static TheoryData<FakeReply, string> PatroniFaults() => new()
    {
        { new FakeReply.Answer(503, "{}"u8.ToArray()), "patroni answered HTTP 503" },
        { new FakeReply.Answer(200, "<html>oops</html>"u8.ToArray(), "text/html"), "not valid JSON" },
        { new FakeReply.Answer(200, "{\"members\": []}"u8.ToArray()), "lists no member" },
        { new FakeReply.Answer(200, "{\"members\": [{\"name\": \"pg 1\", \"host\": \"10.0.0.1\"}]}"u8.ToArray()), "member name \"pg 1\" cannot be an HAProxy server name" },
        { new FakeReply.Answer(200, "{\"members\": [{\"name\": \"pg1\", \"host\": \"10.0.0.1;\"}]}"u8.ToArray()), "is not an IP address or a host name" },
        { new FakeReply.Raw("not http at all\r\n\r\n"u8.ToArray()), "/cluster: patroni request failed" },
        { new FakeReply.Answer(200, new byte[2 << 20]), "/cluster: patroni answer larger than 1024 kB" },
        { new FakeReply.Silence(), "no answer from patroni within 5000 ms" },
    };

    [Theory]
    [MemberData(nameof(PatroniFaults))]
    public async Task An_unusable_patroni_answer_exits_1_with_the_reason(FakeReply reply, string message)
    {
        await using var patroni = new FakePatroni().Set("/cluster", reply);

        var result = Run("--patroni-url", patroni.Url.ToString());

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Output);
        Assert.Contains(message, result.Error);
        Assert.Contains("/cluster", result.Error);
    }

    [Fact]
    public async Task An_unreachable_patroni_exits_1()
    {
        int port;
        await using (var closed = new FakePatroni())
        {
            port = closed.Port;
        }

        var result = Run("--patroni-url", $"http://127.0.0.1:{port}");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"patroni-agent haproxy-config: cannot read the members from http://127.0.0.1:{port}/cluster: patroni refused the connection\n", result.Error);
    }
}
