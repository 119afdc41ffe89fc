using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.EndToEnd;

/// <summary><c>patroni-agent haproxy-config</c> as the published binary runs it, checked by the real HAProxy.</summary>
public sealed class HaproxyConfigBinaryTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("patroni-agent-haproxy-config-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private void AssertHaproxyAccepts(string configuration)
    {
        string file = Path.Combine(_directory, "haproxy.cfg");
        File.WriteAllText(file, configuration);
        var check = PublishedAgent.Run("/usr/sbin/haproxy", ["-c", "-f", file], Limit);
        Assert.True(check.ExitCode == 0, check.Output + check.Error);
    }

    [Fact]
    public void Members_from_the_command_line()
    {
        var result = PublishedAgent.Run(PublishedAgent.Path,
            ["haproxy-config", "--member", "pg1=10.0.0.1", "--member", "pg2=10.0.0.2", "--member", "pg3=10.0.0.3", "--sync", "--async"], Limit);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Error);
        Assert.Contains("backend postgres_sync\n", result.Output);
        AssertHaproxyAccepts(result.Output);
    }

    [Fact]
    public async Task Members_from_patroni()
    {
        await using var patroni = new FakePatroni().Set("/cluster", FakeReply.From(PatroniFixtures.Load("v4.1.4-cluster")));

        var result = await Task.Run(() => PublishedAgent.Run(PublishedAgent.Path, ["haproxy-config", "--patroni-url", patroni.Url.ToString()], Limit));

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("    server pg3 127.0.2.3:5432 check port 8009 agent-check agent-port 5555 agent-send \"primary\\n\" agent-inter 20ms disabled\n", result.Output);
        AssertHaproxyAccepts(result.Output);
    }

    [Fact]
    public void No_members_exits_2_and_an_unreachable_patroni_1()
    {
        var none = PublishedAgent.Run(PublishedAgent.Path, ["haproxy-config"], Limit);
        Assert.Equal(2, none.ExitCode);
        Assert.Equal("", none.Output);
        Assert.Contains("no members", none.Error);

        var unreachable = PublishedAgent.Run(PublishedAgent.Path, ["haproxy-config", "--patroni-url", $"http://127.0.0.1:{PublishedAgent.FreePort()}"], Limit);
        Assert.Equal(1, unreachable.ExitCode);
        Assert.Contains("patroni refused the connection", unreachable.Error);
    }
}
