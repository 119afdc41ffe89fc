using PatroniAgent.Configuration;
using PatroniAgent.HaproxyConfig;

namespace PatroniAgent.Tests.HaproxyConfig;

public class HaproxyConfigGeneratorTests
{
    private static readonly HaproxyMember[] ThreeMembers =
    [
        new("pg1", "10.0.0.1", 5432),
        new("pg2", "10.0.0.2", 5432),
        new("pg3", "10.0.0.3", 5432),
    ];

    private static string[] Lines(HaproxyConfigOptions? options = null, IReadOnlyList<HaproxyMember>? members = null) =>
        HaproxyConfigGenerator.Generate(members ?? ThreeMembers, options ?? new HaproxyConfigOptions()).Split('\n');

    /// <summary>The lines of one section: from its header to the next blank line.</summary>
    private static string[] Section(string[] lines, string header) =>
        lines.SkipWhile(l => l != header).TakeWhile(l => l.Length > 0).ToArray();

    [Fact]
    public void The_read_write_backend_is_the_one_of_the_readme()
    {
        Assert.Equal(
            [
                "backend postgres_rw",
                "    option httpchk OPTIONS /primary",
                "    http-check expect status 200",
                "    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions",
                "    server pg1 10.0.0.1:5432 check port 8009 agent-check agent-port 5555 agent-send \"primary\\n\" agent-inter 20ms disabled",
                "    server pg2 10.0.0.2:5432 check port 8009 agent-check agent-port 5555 agent-send \"primary\\n\" agent-inter 20ms disabled",
                "    server pg3 10.0.0.3:5432 check port 8009 agent-check agent-port 5555 agent-send \"primary\\n\" agent-inter 20ms disabled",
            ],
            Section(Lines(), "backend postgres_rw"));
    }

    [Fact]
    public void The_read_only_backend_is_the_one_of_the_readme()
    {
        Assert.Equal(
            [
                "backend postgres_ro",
                "    balance roundrobin",
                "    option httpchk OPTIONS /replica",
                "    http-check expect status 200",
                "    default-server inter 500ms fall 2 rise 1",
                "    server pg1 10.0.0.1:5432 check port 8009 agent-check agent-port 5555 agent-send \"replica max-lag=16MB\\n\" agent-inter 200ms disabled",
                "    server pg2 10.0.0.2:5432 check port 8009 agent-check agent-port 5555 agent-send \"replica max-lag=16MB\\n\" agent-inter 200ms disabled",
                "    server pg3 10.0.0.3:5432 check port 8009 agent-check agent-port 5555 agent-send \"replica max-lag=16MB\\n\" agent-inter 200ms disabled",
            ],
            Section(Lines(), "backend postgres_ro"));
    }

    [Fact]
    public void Defaults_have_the_frontends_and_stats_of_the_readme_and_no_sync_or_async()
    {
        string[] lines = Lines();

        Assert.Equal(["frontend postgres_rw", "    bind *:5000", "    default_backend postgres_rw"], Section(lines, "frontend postgres_rw"));
        Assert.Equal(["frontend postgres_ro", "    bind *:5001", "    default_backend postgres_ro"], Section(lines, "frontend postgres_ro"));
        Assert.Contains("    bind *:7000", Section(lines, "listen stats"));
        Assert.DoesNotContain(lines, l => l.Contains("sync"));
    }

    [Fact]
    public void Sync_and_async_add_their_frontend_and_backend()
    {
        string[] lines = Lines(new HaproxyConfigOptions { Sync = true, Async = true });

        Assert.Equal(["frontend postgres_sync", "    bind *:5002", "    default_backend postgres_sync"], Section(lines, "frontend postgres_sync"));
        Assert.Equal(["frontend postgres_async", "    bind *:5003", "    default_backend postgres_async"], Section(lines, "frontend postgres_async"));
        string[] sync = Section(lines, "backend postgres_sync");
        Assert.Contains("    option httpchk OPTIONS /sync", sync);
        Assert.Contains("    server pg2 10.0.0.2:5432 check port 8009 agent-check agent-port 5555 agent-send \"sync max-lag=16MB\\n\" agent-inter 200ms disabled", sync);
        string[] async = Section(lines, "backend postgres_async");
        Assert.Contains("    option httpchk OPTIONS /async", async);
        Assert.Contains("    server pg3 10.0.0.3:5432 check port 8009 agent-check agent-port 5555 agent-send \"async max-lag=16MB\\n\" agent-inter 200ms disabled", async);
    }

    public static TheoryData<HaproxyConfigOptions, string, string> OptionCases() => new()
    {
        { new() { AgentPort = 6000 }, "backend postgres_rw", "    server pg1 10.0.0.1:5432 check port 8009 agent-check agent-port 6000 agent-send \"primary\\n\" agent-inter 20ms disabled" },
        { new() { HttpCheckPort = 8008 }, "backend postgres_ro", "    server pg1 10.0.0.1:5432 check port 8008 agent-check agent-port 5555 agent-send \"replica max-lag=16MB\\n\" agent-inter 200ms disabled" },
        { new() { MaxLag = "1GB" }, "backend postgres_ro", "    server pg1 10.0.0.1:5432 check port 8009 agent-check agent-port 5555 agent-send \"replica max-lag=1GB\\n\" agent-inter 200ms disabled" },
        { new() { MaxLag = "0" }, "backend postgres_ro", "    server pg1 10.0.0.1:5432 check port 8009 agent-check agent-port 5555 agent-send \"replica max-lag=0\\n\" agent-inter 200ms disabled" },
        { new() { ReadWritePort = 6432 }, "frontend postgres_rw", "    bind *:6432" },
        { new() { ReadOnlyPort = 6433 }, "frontend postgres_ro", "    bind *:6433" },
        { new() { Sync = true, SyncPort = 6434 }, "frontend postgres_sync", "    bind *:6434" },
        { new() { Async = true, AsyncPort = 6435 }, "frontend postgres_async", "    bind *:6435" },
        { new() { StatsPort = 8404 }, "listen stats", "    bind *:8404" },
        { new() { BindAddress = "10.0.0.10" }, "frontend postgres_rw", "    bind 10.0.0.10:5000" },
        { new() { BindAddress = "::" }, "frontend postgres_ro", "    bind [::]:5001" },
    };

    [Theory]
    [MemberData(nameof(OptionCases))]
    public void Each_option_changes_its_line(HaproxyConfigOptions options, string section, string line)
    {
        Assert.Contains(line, Section(Lines(options), section));
    }

    [Theory]
    [InlineData("10.0.0.1", 5432, "10.0.0.1:5432")]
    [InlineData("fd00::1", 5432, "[fd00::1]:5432")]
    [InlineData("db1.example.com", 6432, "db1.example.com:6432")]
    public void A_member_host_is_written_as_haproxy_reads_it(string host, int port, string address)
    {
        string[] lines = Lines(members: [new HaproxyMember("pg1", host, port)]);

        Assert.Contains($"    server pg1 {address} check port 8009 agent-check agent-port 5555 agent-send \"primary\\n\" agent-inter 20ms disabled", lines);
    }

    public static TheoryData<HaproxyMember[], HaproxyConfigOptions, string> InvalidCases() => new()
    {
        { [], new(), "no members" },
        { [new("pg 1", "10.0.0.1", 5432)], new(), "member name \"pg 1\" cannot be an HAProxy server name" },
        { [new("", "10.0.0.1", 5432)], new(), "member name \"\" cannot be" },
        { [new("pg1\n    server evil", "10.0.0.1", 5432)], new(), "cannot be an HAProxy server name" },
        { [new("pg1", "10.0.0.300", 5432)], new(), "member pg1: \"10.0.0.300\" is not an IP address or a host name" },
        { [new("pg1", "10.0.0.01", 5432)], new(), "is not an IP address or a host name" },
        { [new("pg1", "10.0.0.1 backup", 5432)], new(), "is not an IP address or a host name" },
        { [new("pg1", "", 5432)], new(), "is not an IP address or a host name" },
        { [new("pg1", "-db.example", 5432)], new(), "is not an IP address or a host name" },
        { [new("pg1", "fe80::1%eth0", 5432)], new(), "is not an IP address or a host name" },
        { [new("pg1", "10.0.0.1", 0)], new(), "member pg1: PostgreSQL port: 0 is not a port 1..65535" },
        { [new("pg1", "10.0.0.1", 5432), new("pg1", "10.0.0.2", 5432)], new(), "member name pg1 is given twice" },
        { [new("pg1", "db1.example", 5432), new("pg2", "DB1.example", 5433)], new(), "members pg1 and pg2 have the same host DB1.example" },
        { [new("pg1", "fd00::1", 5432), new("pg2", "fd00:0::1", 5432)], new(), "members pg1 and pg2 have the same host" },
        { [new("pg1", "10.0.0.1", 5432)], new() { AgentPort = 8009 }, "--agent-port and --http-check-port are both 8009" },
        { [new("pg1", "10.0.0.1", 5432)], new() { ReadOnlyPort = 5000 }, "--read-write-port and --read-only-port are all 5000" },
        { [new("pg1", "10.0.0.1", 5432)], new() { Sync = true, SyncPort = 7000 }, "--stats-port and --sync-port are all 7000" },
        { [new("pg1", "10.0.0.1", 5432)], new() { Async = true, AsyncPort = 5001 }, "--read-only-port and --async-port are all 5001" },
        { [new("pg1", "10.0.0.1", 5432)], new() { StatsPort = 70000 }, "--stats-port: 70000 is not a port" },
        { [new("pg1", "10.0.0.1", 5432)], new() { BindAddress = "localhost" }, "--bind: \"localhost\" is not * or an IP address" },
        { [new("pg1", "10.0.0.1", 5432)], new() { MaxLag = "16 MB" }, "--max-lag: \"16 MB\" is not a size" },
        { [new("pg1", "10.0.0.1", 5432)], new() { MaxLag = "16MB\\n\" disabled" }, "--max-lag" },
        { [new("pg1", "10.0.0.1", 5432)], new() { MaxLag = "lots" }, "--max-lag" },
    };

    [Theory]
    [MemberData(nameof(InvalidCases))]
    public void Bad_input_is_a_clear_error(HaproxyMember[] members, HaproxyConfigOptions options, string message)
    {
        var error = Assert.Throws<ConfigException>(() => HaproxyConfigGenerator.Generate(members, options));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Unused_sync_and_async_ports_may_collide()
    {
        string[] lines = Lines(new HaproxyConfigOptions { SyncPort = 5000, AsyncPort = 5000 });

        Assert.Contains("    bind *:5000", lines);
    }
}
