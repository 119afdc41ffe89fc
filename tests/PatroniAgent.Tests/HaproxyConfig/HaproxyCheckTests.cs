using PatroniAgent.HaproxyConfig;
using PatroniAgent.Tests.EndToEnd;

namespace PatroniAgent.Tests.HaproxyConfig;

/// <summary>The real HAProxy (Debian's 2.6, <c>haproxy -c</c>) accepts what the generator writes.</summary>
public sealed class HaproxyCheckTests : IDisposable
{
    private const string Haproxy = "/usr/sbin/haproxy";

    private readonly string _directory = Directory.CreateTempSubdirectory("patroni-agent-haproxy-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static TheoryData<string, HaproxyMember[], HaproxyConfigOptions> Variants() => new()
    {
        { "defaults", [new("pg1", "10.0.0.1", 5432), new("pg2", "10.0.0.2", 5432), new("pg3", "10.0.0.3", 5432)], new() },
        { "one member", [new("db-1.a", "192.0.2.7", 5432)], new() },
        {
            "sync, async, IPv6, own ports",
            [new("pg1", "fd00::1", 6432), new("pg2", "10.0.0.2", 6433), new("pg_3:x", "::1", 5432)],
            new() { Sync = true, Async = true, AgentPort = 6555, HttpCheckPort = 8008, BindAddress = "::", ReadWritePort = 6000, ReadOnlyPort = 6001, SyncPort = 6002, AsyncPort = 6003, StatsPort = 8404, MaxLag = "512kB" }
        },
        { "bound to one address", [new("pg1", "127.0.1.1", 5432), new("pg2", "127.0.1.2", 5432)], new() { BindAddress = "127.0.0.1", Async = true } },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Haproxy_accepts_the_configuration(string variant, HaproxyMember[] members, HaproxyConfigOptions options)
    {
        string file = Path.Combine(_directory, "haproxy.cfg");
        File.WriteAllText(file, HaproxyConfigGenerator.Generate(members, options));

        var result = PublishedAgent.Run(Haproxy, ["-c", "-f", file], TimeSpan.FromSeconds(30));

        Assert.True(result.ExitCode == 0, $"{variant}: haproxy -c exited {result.ExitCode}:\n{result.Output}{result.Error}");
        Assert.Contains("Configuration file is valid", result.Output + result.Error);
        Assert.DoesNotContain("WARNING", result.Output + result.Error);
    }
}
