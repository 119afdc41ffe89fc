using System.Net;
using PatroniAgent.Tests.EndToEnd;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Packaging;

/// <summary>
/// The release's binaries run where Patroni runs: their ELF symbol versions ask for glibc 2.28 (RHEL 8) at most,
/// and the arm64 binary, run by qemu-user on Debian 11's arm64 C library (the sysroot it was linked
/// against), answers real agent and HTTP checks from a stand-in Patroni.
/// </summary>
[Trait("Category", "Release")]
[Collection(nameof(ReleaseCollection))]
public class PortableBinaryTests(ReleaseBuild release)
{
    private static readonly string Arm64Sysroot = Path.Combine(PublishedAgent.RepositoryRoot, "artifacts", "sysroot", "bullseye-arm64");

    private static readonly string[] Qemu = ["qemu-aarch64-static", "-L", Arm64Sysroot];

    [Theory]
    [InlineData("amd64")]
    [InlineData("arm64")]
    public void The_binary_is_for_its_cpu_and_starts_on_glibc_2_28_rhel_8(string deb)
    {
        release.AssertBuilt();
        var arch = ReleaseArch.Of(deb);

        Assert.Contains($"Machine:                           {arch.Machine}\n", ReleaseBuild.Ok("readelf", "-h", release.Binary(arch)).Output);
        Version floor = ReleaseBuild.GlibcFloor(release.Binary(arch));
        Assert.True(floor <= new Version(2, 28), $"{deb} needs glibc {floor}");
        Assert.True(floor >= new Version(2, 17), $"{deb}: {floor} is not a plausible floor");
    }

    [Fact]
    public void The_sysroot_qemu_runs_it_on_is_debian_11s_arm64_c_library()
    {
        Assert.StartsWith("bullseye arm64: ", File.ReadLines(Path.Combine(Arm64Sysroot, ".sysroot")).First());
        Assert.Contains("libc6 2.31-", File.ReadAllText(Path.Combine(Arm64Sysroot, ".sysroot")));
        Assert.True(File.Exists(Path.Combine(Arm64Sysroot, "lib", "ld-linux-aarch64.so.1")));
    }

    [Fact]
    public void The_arm64_binary_prints_the_release_version_under_qemu()
    {
        release.AssertBuilt();
        var result = ReleaseBuild.Ok(Qemu[0], [.. Qemu[1..], release.Binary(ReleaseArch.Arm64), "--version"]);

        Assert.Equal($"patroni-agent {ReleaseBuild.Version}\n", result.Output);
    }

    [Fact]
    public async Task The_arm64_binary_answers_agent_and_http_checks_from_patroni_under_qemu()
    {
        release.AssertBuilt();
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        int port = PublishedAgent.FreePort(), httpPort = PublishedAgent.FreePort();
        var agent = new IPEndPoint(IPAddress.Loopback, port);
        using var process = new AgentProcess(Qemu, release.Binary(ReleaseArch.Arm64), new Dictionary<string, string>(),
            "--listen", $"127.0.0.1:{port}=primary", "--http-listen", $"127.0.0.1:{httpPort}",
            "--patroni-url", patroni.Url.ToString(), "--poll-interval", "100ms", "--control-socket", Path.Combine(release.NewDirectory("arm64-agent"), "control.sock"));

        await AgentClient.EventuallyAsync(agent, "primary\n", "up ready 100% #primary, timeline 1\n");
        Assert.Equal("up maint #primary, timeline 1\n", await AgentClient.CheckAsync(agent, "replica\n"));
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", await AgentClient.CheckAsync(new IPEndPoint(IPAddress.Loopback, httpPort), "OPTIONS /primary HTTP/1.0\r\n\r\n"));

        patroni.Status(PatroniFixtures.Load("v3.0.2-replica"));
        await AgentClient.EventuallyAsync(agent, "primary\n", "up maint #replica, lag unknown\n");
        Assert.StartsWith("HTTP/1.1 503 Service Unavailable\r\n", await AgentClient.CheckAsync(new IPEndPoint(IPAddress.Loopback, httpPort), "OPTIONS / HTTP/1.0\r\n\r\n"));
        Assert.False(process.Process.HasExited, process.Log);
    }

    [Fact]
    public void The_arm64_binary_says_when_patroni_is_unreachable_under_qemu()
    {
        release.AssertBuilt();
        var result = PublishedAgent.Run(Qemu[0], [.. Qemu[1..], release.Binary(ReleaseArch.Arm64), "check", "--patroni-url", "http://127.0.0.1:1"], TimeSpan.FromMinutes(1));

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("patroni refused the connection", result.Output);
        Assert.Contains("primary         down #", result.Output);
    }
}
