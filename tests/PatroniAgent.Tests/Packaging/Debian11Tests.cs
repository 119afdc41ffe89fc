using PatroniAgent.Tests.EndToEnd;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Packaging;

/// <summary>
/// A Debian 11 root (debootstrap's minbase of bullseye: glibc 2.31, OpenSSL 1.1), made once and kept
/// in artifacts/debian11-root. Commands run in it through chroot, in a mount namespace of their own
/// with /proc mounted, as root; the network is the host's, so loopback reaches the test's servers.
/// </summary>
public sealed class Debian11Root
{
    public static readonly string Directory = Path.Combine(PublishedAgent.RepositoryRoot, "artifacts", "debian11-root");

    private static readonly string Marker = Path.Combine(Directory, ".debian11-root");

    public Debian11Root()
    {
        if (File.Exists(Marker)) return;
        if (System.IO.Directory.Exists(Directory)) System.IO.Directory.Delete(Directory, recursive: true);
        var made = PublishedAgent.Run("debootstrap", ["--variant=minbase", "bullseye", Directory, "http://deb.debian.org/debian"], TimeSpan.FromMinutes(15));
        Assert.True(made.ExitCode == 0, $"debootstrap exited {made.ExitCode}:\n{made.Output}\n{made.Error}");
        File.WriteAllText(Marker, "");
    }

    /// <summary>Runs a shell script in the root; its result, whatever the exit code.</summary>
    public static PublishedAgent.Result Shell(string script) =>
        PublishedAgent.Run("unshare", ["--mount", "--fork", "sh", "-c", "mount -t proc proc \"$1/proc\" && exec chroot \"$1\" /bin/sh -c \"$2\"", "root", Directory, script],
            TimeSpan.FromMinutes(10), new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive", ["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin", ["LANG"] = "C" });

    /// <summary>Copies a file of the host into the root's /tmp and returns its path there.</summary>
    public static string Copy(string file)
    {
        string inside = "/tmp/" + Path.GetFileName(file);
        File.Copy(file, Path.Combine(Directory, "tmp", Path.GetFileName(file)), overwrite: true);
        return inside;
    }
}

/// <summary>The amd64 .deb installed by apt into Debian 11, where it must pull its dependencies in and run.</summary>
[Trait("Category", "Release")]
[Collection(nameof(ReleaseCollection))]
public class Debian11Tests(ReleaseBuild release) : IClassFixture<Debian11Root>
{
    private static string Ok(string script)
    {
        var result = Debian11Root.Shell(script);
        Assert.True(result.ExitCode == 0, $"in Debian 11: {script}\nexited {result.ExitCode}:\n{result.Output}\n{result.Error}");
        return result.Output;
    }

    [Fact]
    public async Task Apt_installs_it_on_debian_11_and_it_reads_patroni_over_https_with_openssl_1_1()
    {
        release.AssertBuilt();
        Ok("dpkg --purge patroni-agent >/dev/null 2>&1; true");
        string deb = Debian11Root.Copy(release.Deb(ReleaseArch.X64));

        Ok($"apt-get update -qq && apt-get install -y -qq {deb}");

        Assert.Equal($"install ok installed {ReleaseBuild.Version}", Ok("dpkg-query -W -f '${Status} ${Version}' patroni-agent"));
        Assert.StartsWith("2.31-", Ok("dpkg-query -W -f '${Version}' libc6"));
        Assert.Equal("install ok installed", Ok("dpkg-query -W -f '${Status}' libssl1.1"));
        Assert.Equal($"patroni-agent {ReleaseBuild.Version}\n", Ok("patroni-agent --version"));
        Assert.Matches(@"^patroni-agent:x:\d+:\d+::/nonexistent:/usr/sbin/nologin\n$", Ok("getent passwd patroni-agent"));
        Assert.Equal("/usr/share/bash-completion/completions/patroni-agent\n/usr/share/man/man1/patroni-agent.1.gz\n",
            Ok("ls /usr/share/man/man1/patroni-agent.1.gz /usr/share/bash-completion/completions/patroni-agent"));

        using var files = new TestCertificates();
        var ca = TestCertificates.CreateCa("patroni test CA");
        await using var patroni = new FakePatroni(tls: new FakeTls(TestCertificates.CreateServer(ca, ["127.0.0.1"])))
            .Status(PatroniFixtures.Load("v3.0.2-primary"));
        string caFile = Debian11Root.Copy(files.WriteCertificate("debian11-ca.pem", ca));
        var check = Debian11Root.Shell($"patroni-agent check --patroni-url {patroni.Url} --patroni-ca-file {caFile}");
        Assert.True(check.ExitCode == 0, $"{check.Output}\n{check.Error}");
        Assert.Contains("primary         up ready 100% #primary, timeline ", check.Output);

        Ok("apt-get remove -y -qq patroni-agent");
        Assert.Equal("deinstall ok config-files", Ok("dpkg-query -W -f '${Status}' patroni-agent"));
        Assert.Equal("no binary, config kept\n", Ok("test ! -e /usr/bin/patroni-agent && test -f /etc/patroni-agent/patroni-agent.conf && echo 'no binary, config kept'"));
    }
}
