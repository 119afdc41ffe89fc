using System.Text.RegularExpressions;
using PatroniAgent.Tests.EndToEnd;

namespace PatroniAgent.Tests.Packaging;

/// <summary>The .rpm of each CPU that scripts/release.sh makes, read with rpm itself and checked by rpmlint.</summary>
[Trait("Category", "Release")]
[Collection(nameof(ReleaseCollection))]
public partial class RpmPackageTests(ReleaseBuild release)
{
    private string Query(ReleaseArch arch, params string[] args) => ReleaseBuild.Ok("rpm", ["-qp", .. args, release.Rpm(arch)]).Output;

    [GeneratedRegex(@"^libc\.so\.6\(GLIBC_(\d+\.\d+(?:\.\d+)?)\)\(64bit\)$", RegexOptions.Multiline)]
    private static partial Regex LibcRequirement();

    [Theory]
    [InlineData("amd64")]
    [InlineData("arm64")]
    public void The_header_names_the_cpu_the_version_and_the_licence(string deb)
    {
        release.AssertBuilt();
        var arch = ReleaseArch.Of(deb);
        Assert.Equal($"patroni-agent {ReleaseBuild.Version} 1 {arch.Rpm} MIT Applications/Databases\n",
            Query(arch, "--queryformat", "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE} %{GROUP}\n"));
        Assert.StartsWith("HAProxy agent-check daemon for Patroni clusters", Query(arch, "--queryformat", "%{SUMMARY}"));
        Assert.StartsWith("patroni-agent runs next to Patroni", Query(arch, "--queryformat", "%{DESCRIPTION}"));
    }

    [Theory]
    [InlineData("amd64")]
    [InlineData("arm64")]
    public void It_holds_the_binary_both_units_the_config_man_page_completion_docs_and_licence(string deb)
    {
        release.AssertBuilt();
        var arch = ReleaseArch.Of(deb);
        string[] expected =
        [
            "/etc/patroni-agent",
            "/etc/patroni-agent/patroni-agent.conf",
            "/usr/bin/patroni-agent",
            "/usr/lib/systemd/system/patroni-agent.service",
            "/usr/lib/systemd/system/patroni-agent@.service",
            "/usr/share/bash-completion/completions/patroni-agent",
            "/usr/share/doc/patroni-agent",
            .. ReleaseBuild.ExpectedFiles().Keys.Where(k => k.StartsWith("usr/share/doc/") && !k.EndsWith("/copyright")).Select(k => "/" + k),
            "/usr/share/licenses/patroni-agent/LICENSE",
            "/usr/share/man/man1/patroni-agent.1.gz",
            "/usr/share/patroni-agent",
            "/usr/share/patroni-agent/monitoring",
            .. ReleaseBuild.ExpectedFiles().Keys.Where(k => k.StartsWith("usr/share/patroni-agent/")).Select(k => "/" + k),
        ];

        Assert.Equal(expected.Order(StringComparer.Ordinal), Query(arch, "--list").Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("/etc/patroni-agent/patroni-agent.conf\n", Query(arch, "--configfiles"));
        Assert.Contains("cn /etc/patroni-agent/patroni-agent.conf\n", Query(arch, "--queryformat", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]"));
        Assert.Contains("l /usr/share/licenses/patroni-agent/LICENSE\n", Query(arch, "--queryformat", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]"));
        Assert.Contains("-rwxr-xr-x root root /usr/bin/patroni-agent\n", Query(arch, "--queryformat", "[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\n]"));
    }

    [Theory]
    [InlineData("amd64")]
    [InlineData("arm64")]
    public void It_requires_libssl_for_https_and_the_glibc_symbol_versions_the_binary_needs(string deb)
    {
        release.AssertBuilt();
        var arch = ReleaseArch.Of(deb);
        string requires = Query(arch, "--requires");

        Assert.Contains("(libssl.so.3()(64bit) or libssl.so.1.1()(64bit))\n", requires);
        Assert.Contains("shadow-utils\n", requires);
        Assert.Contains("libc.so.6()(64bit)\n", requires);
        Version highest = LibcRequirement().Matches(requires).Select(m => Version.Parse(m.Groups[1].Value))
            .Concat(Regex.Matches(requires, @"^libm\.so\.6\(GLIBC_(\d+\.\d+)\)\(64bit\)$", RegexOptions.Multiline).Select(m => Version.Parse(m.Groups[1].Value)))
            .Max()!;
        Assert.Equal(ReleaseBuild.GlibcFloor(release.Binary(arch)), highest);
        Assert.True(highest <= new Version(2, 28), $"the rpm requires glibc {highest}");
    }

    [Theory]
    [InlineData("amd64")]
    [InlineData("arm64")]
    public void It_ships_the_debs_binary_units_and_config(string deb)
    {
        release.AssertBuilt();
        var arch = ReleaseArch.Of(deb);
        string root = release.NewDirectory($"rpm-root-{deb}");
        ReleaseBuild.Ok("sh", "-c", "cd \"$1\" && rpm2cpio \"$2\" | cpio -idm --quiet", "extract", root, release.Rpm(arch));

        Assert.Equal(File.ReadAllBytes(release.Binary(arch)), File.ReadAllBytes(Path.Combine(root, "usr", "bin", "patroni-agent")));
        foreach (string unit in new[] { "patroni-agent.service", "patroni-agent@.service" })
        {
            Assert.Equal(File.ReadAllText(Path.Combine(ReleaseBuild.Packaging, unit)), File.ReadAllText(Path.Combine(root, "usr", "lib", "systemd", "system", unit)));
        }
        Assert.Equal(File.ReadAllText(Path.Combine(ReleaseBuild.Packaging, "patroni-agent.conf")), File.ReadAllText(Path.Combine(root, "etc", "patroni-agent", "patroni-agent.conf")));
        Assert.Equal(File.ReadAllText(Path.Combine(PublishedAgent.RepositoryRoot, "LICENSE")), File.ReadAllText(Path.Combine(root, "usr", "share", "licenses", "patroni-agent", "LICENSE")));
    }

    [Fact]
    public void The_scriptlets_add_the_system_user_before_the_files_and_never_start_the_unit()
    {
        release.AssertBuilt();
        string scripts = Query(ReleaseArch.X64, "--scripts");

        Assert.Contains("preinstall scriptlet (using /bin/sh):\n# The system user and group", scripts);
        Assert.Contains("useradd --system --gid patroni-agent --no-create-home", scripts);
        Assert.Contains("usermod --append --groups patroni-agent postgres", scripts);
        Assert.Contains("systemctl --no-reload preset patroni-agent.service", scripts);
        Assert.DoesNotContain("systemctl start", scripts);
        Assert.DoesNotContain("enable --now", scripts);
        foreach (string scriptlet in Regex.Split(scripts, @"^\S+ scriptlet \(using /bin/sh\):\n", RegexOptions.Multiline).Where(s => s.Length > 0))
        {
            ReleaseBuild.Ok("sh", "-n", "-c", scriptlet);
        }
    }

    [Fact]
    public void Rpmlint_finds_no_error()
    {
        release.AssertBuilt();
        var result = PublishedAgent.Run("rpmlint", ["-c", Path.Combine(ReleaseBuild.Packaging, "rpm", "rpmlint.toml"), release.Rpm(ReleaseArch.X64), release.Rpm(ReleaseArch.Arm64)], TimeSpan.FromMinutes(5));

        Assert.True(result.ExitCode == 0, $"rpmlint exited {result.ExitCode}:\n{result.Output}\n{result.Error}");
        Assert.Contains("2 packages and 0 specfiles checked; 0 errors", result.Output);
    }
}
