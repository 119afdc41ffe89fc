using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using PatroniAgent.Tests.EndToEnd;

namespace PatroniAgent.Tests.Packaging;

/// <summary>
/// The .deb and the tarball of each CPU that scripts/release.sh makes, read with Debian's own tools.
/// The package is never installed on this machine with <c>dpkg -i</c> (its postinst would add a user
/// and enable a unit on the host): its files are unpacked into a throwaway root with
/// <c>dpkg-deb -x</c>, its maintainer scripts run in a private mount namespace over copies of /etc, the
/// unit directory and systemd's state, and <see cref="Debian11Tests"/> installs it into a Debian 11 root.
/// </summary>
[Trait("Category", "Release")]
[Collection(nameof(ReleaseCollection))]
public partial class ReleaseScriptTests(ReleaseBuild release)
{
    private const string Version = ReleaseBuild.Version;

    /// <summary>A line of <c>dpkg-deb --contents</c> or <c>tar -tv</c>: mode, owner, size, date, time, path.</summary>
    [GeneratedRegex(@"^(?<mode>\S+) (?<owner>\S+) +\d+ \S+ \S+ (?<path>.+)$")]
    private static partial Regex ListingLine();

    private static PublishedAgent.Result Run(string file, params string[] args) => ReleaseBuild.Ok(file, args);

    private static string ProjectVersion() =>
        Regex.Match(File.ReadAllText(Path.Combine(PublishedAgent.RepositoryRoot, "src", "PatroniAgent", "PatroniAgent.csproj")), "<Version>(.+)</Version>").Groups[1].Value;

    [Fact]
    public void It_prints_the_paths_of_the_debs_rpms_and_tarballs_of_both_cpus()
    {
        release.AssertBuilt();
        Assert.All(release.Files, file => Assert.True(File.Exists(file), file));
    }

    [Theory]
    [InlineData("amd64")]
    [InlineData("arm64")]
    public void The_control_file_names_the_cpu_the_version_the_dependencies_and_the_installed_size(string deb)
    {
        release.AssertBuilt();
        var arch = ReleaseArch.Of(deb);
        string Field(string name) => Run("dpkg-deb", "--field", release.Deb(arch), name).Output.Trim();

        Assert.Equal("patroni-agent", Field("Package"));
        Assert.Equal(Version, Field("Version"));
        Assert.Equal(deb, Field("Architecture"));
        Assert.Equal("database", Field("Section"));
        Assert.Equal("optional", Field("Priority"));
        Version floor = ReleaseBuild.GlibcFloor(release.Binary(arch));
        Assert.Equal($"libc6 (>= {floor}), libssl3 | libssl3t64 | libssl1.1, adduser", Field("Depends"));
        Assert.True(floor <= new Version(2, 28), $"the binary needs glibc {floor}");
        Assert.StartsWith("HAProxy agent-check daemon for Patroni clusters\n ", Field("Description"));
        long binaryKiB = new FileInfo(release.Binary(arch)).Length / 1024;
        long installedKiB = long.Parse(Field("Installed-Size"));
        Assert.InRange(installedKiB, binaryKiB, binaryKiB + 1024);
    }

    [Theory]
    [InlineData("amd64")]
    [InlineData("arm64")]
    public void The_deb_holds_the_expected_files_with_their_modes_all_owned_by_root(string deb)
    {
        release.AssertBuilt();
        SortedDictionary<string, string> files = new(StringComparer.Ordinal);
        foreach (string line in Run("dpkg-deb", "--contents", release.Deb(ReleaseArch.Of(deb))).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            Match entry = ListingLine().Match(line);
            Assert.True(entry.Success, $"not a listing line: {line}");
            Assert.Equal("root/root", entry.Groups["owner"].Value);
            string path = entry.Groups["path"].Value.TrimStart('.', '/');
            if (entry.Groups["mode"].Value.StartsWith('d'))
            {
                Assert.Equal("drwxr-xr-x", entry.Groups["mode"].Value);
                continue;
            }
            files[path] = entry.Groups["mode"].Value;
        }

        SortedDictionary<string, string> expected = ReleaseBuild.ExpectedFiles();
        expected["usr/share/doc/patroni-agent/changelog.gz"] = "-rw-r--r--";
        Assert.Equal(expected, files);
    }

    [Theory]
    [InlineData("amd64")]
    [InlineData("arm64")]
    public void The_config_file_is_a_conffile_and_the_maintainer_scripts_are_executable_shell(string deb)
    {
        release.AssertBuilt();
        string control = release.NewDirectory($"control-{deb}");
        Run("dpkg-deb", "--control", release.Deb(ReleaseArch.Of(deb)), control);

        Assert.Equal("/etc/patroni-agent/patroni-agent.conf\n", File.ReadAllText(Path.Combine(control, "conffiles")));
        foreach (string script in new[] { "postinst", "prerm", "postrm" })
        {
            string path = Path.Combine(control, script);
            Assert.Equal("-rwxr-xr-x", Run("stat", "-c", "%A", path).Output.Trim());
            Assert.Equal(File.ReadAllText(Path.Combine(ReleaseBuild.Packaging, "deb", script)), File.ReadAllText(path));
            Run("sh", "-n", path);
        }
    }

    [Theory]
    [InlineData("amd64")]
    [InlineData("arm64")]
    public void Lintian_finds_no_error(string deb)
    {
        release.AssertBuilt();
        var result = PublishedAgent.Run("lintian", ["--fail-on", "error", release.Deb(ReleaseArch.Of(deb))], TimeSpan.FromMinutes(5));

        Assert.True(result.ExitCode == 0, $"lintian exited {result.ExitCode}:\n{result.Output}\n{result.Error}");
        Assert.DoesNotContain("E: ", result.Output);
    }

    /// <summary>
    /// Runs the maintainer scripts as dpkg does (install, upgrade, remove, purge) in a private mount
    /// namespace: copies of /etc, of the unit directory (with the package's unit) and of systemd's
    /// state are mounted over the real ones, and an empty /run/systemd says systemd is not running,
    /// as in a container. Prints what a test checks after each step.
    /// </summary>
    private const string MaintainerScriptsHarness = """
        set -eu
        control=$1 work=$2 unit=$3
        mkdir "$work/state" "$work/units"
        cp -a /etc "$work/etc" && mount --bind "$work/etc" /etc
        cp -a /var/lib/systemd/. "$work/state/" && mount --bind "$work/state" /var/lib/systemd
        cp -a /lib/systemd/system/. "$work/units/" && cp "$unit" "$work/units/" && mount --bind "$work/units" /lib/systemd/system
        if [ -d /run/systemd ]; then mount -t tmpfs tmpfs /run/systemd; fi
        # dpkg names the package and the script; deb-systemd-helper refuses to run otherwise.
        maintscript() { DPKG_MAINTSCRIPT_PACKAGE=patroni-agent DPKG_MAINTSCRIPT_NAME=$1 "$control/$@"; }
        wants=/etc/systemd/system/multi-user.target.wants/patroni-agent.service
        maintscript postinst configure
        echo "user: $(getent passwd patroni-agent | cut -d: -f3,6,7)"
        echo "group: $(getent group patroni-agent | cut -d: -f1)"
        echo "postgres in the group: $(id -nG postgres | tr ' ' '\n' | grep -cx patroni-agent)"
        echo "enabled: $(readlink "$wants")"
        maintscript postinst configure 9.8.6
        echo "upgraded: $(readlink "$wants")"
        echo "postgres in the group once: $(getent group patroni-agent | cut -d: -f4)"
        maintscript prerm remove
        maintscript postrm remove
        echo "masked: $(readlink /etc/systemd/system/patroni-agent.service)"
        maintscript postrm purge
        echo "purged: $(ls /etc/systemd/system/patroni-agent.service "$wants" 2>/dev/null | wc -l)"
        echo "user kept: $(getent passwd patroni-agent | cut -d: -f1)"
        """;

    [Fact]
    public void The_maintainer_scripts_add_the_system_user_put_postgres_in_its_group_and_enable_mask_and_forget_the_unit_without_systemd_running()
    {
        release.AssertBuilt();
        string control = release.NewDirectory("scripts-control");
        Run("dpkg-deb", "--control", release.Deb(ReleaseArch.X64), control);
        string unit = Path.Combine(release.Unpacked(ReleaseArch.X64), "lib", "systemd", "system", "patroni-agent.service");

        var result = Run("unshare", "--mount", "--propagation", "private", "sh", "-c", MaintainerScriptsHarness,
            "harness", control, release.NewDirectory("scripts-root"), unit);

        string[] lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Match user = Regex.Match(lines[0], @"^user: (\d+):/nonexistent:(\S+)$");
        Assert.True(user.Success, lines[0]);
        Assert.InRange(int.Parse(user.Groups[1].Value), 1, 999);
        Assert.EndsWith("nologin", user.Groups[2].Value);
        Assert.Equal(
        [
            "group: patroni-agent",
            "postgres in the group: 1",
            "enabled: /lib/systemd/system/patroni-agent.service",
            "upgraded: /lib/systemd/system/patroni-agent.service",
            "postgres in the group once: postgres",
            "masked: /dev/null",
            "purged: 0",
            "user kept: patroni-agent",
        ], lines[1..]);
    }

    [Fact]
    public void The_x64_binary_prints_the_release_version()
    {
        release.AssertBuilt();
        var result = Run(release.Binary(ReleaseArch.X64), "--version");

        Assert.Equal($"patroni-agent {Version}\n", result.Output);
    }

    [Theory]
    [InlineData("amd64")]
    [InlineData("arm64")]
    public void The_deb_ships_the_repository_units_and_example_config_unchanged(string deb)
    {
        release.AssertBuilt();
        string root = release.Unpacked(ReleaseArch.Of(deb));

        foreach (string unit in new[] { "patroni-agent.service", "patroni-agent@.service" })
        {
            Assert.Equal(File.ReadAllText(Path.Combine(ReleaseBuild.Packaging, unit)),
                File.ReadAllText(Path.Combine(root, "lib", "systemd", "system", unit)));
        }
        Assert.Equal(File.ReadAllText(Path.Combine(ReleaseBuild.Packaging, "patroni-agent.conf")),
            File.ReadAllText(Path.Combine(root, "etc", "patroni-agent", "patroni-agent.conf")));
        Assert.Equal(File.ReadAllText(Path.Combine(PublishedAgent.RepositoryRoot, "src", "PatroniAgent", "Packaging", "copyright")),
            File.ReadAllText(Path.Combine(root, "usr", "share", "doc", "patroni-agent", "copyright")));
    }

    [Theory]
    [InlineData("amd64")]
    [InlineData("arm64")]
    public void The_man_page_and_the_completion_are_what_the_release_binary_prints(string deb)
    {
        release.AssertBuilt();
        string root = release.Unpacked(ReleaseArch.Of(deb));
        using var gzip = new GZipStream(File.OpenRead(Path.Combine(root, "usr", "share", "man", "man1", "patroni-agent.1.gz")), CompressionMode.Decompress);
        using var man = new StreamReader(gzip, Encoding.UTF8);

        Assert.Equal(Run(release.Binary(ReleaseArch.X64), "manpage").Output, man.ReadToEnd());
        Assert.Equal(Run(release.Binary(ReleaseArch.X64), "completion", "bash").Output,
            File.ReadAllText(Path.Combine(root, "usr", "share", "bash-completion", "completions", "patroni-agent")));
        Assert.Contains($"\"patroni\\-agent {Version}\"", Run(release.Binary(ReleaseArch.X64), "manpage").Output);
    }

    /// <summary>The regular files under a directory, relative, with their modes as <c>ls -l</c> shows them.</summary>
    private static SortedDictionary<string, string> FilesUnder(string root)
    {
        SortedDictionary<string, string> files = new(StringComparer.Ordinal);
        foreach (string file in Directory.GetFiles(root, "*", SearchOption.AllDirectories))
        {
            files[Path.GetRelativePath(root, file)] = Run("stat", "-c", "%A", file).Output.Trim();
        }
        return files;
    }

    [Theory]
    [InlineData("amd64")]
    [InlineData("arm64")]
    public void The_tarballs_install_sh_installs_the_debs_tree_into_DESTDIR_and_keeps_a_changed_config(string deb)
    {
        release.AssertBuilt();
        var arch = ReleaseArch.Of(deb);
        string unpacked = release.NewDirectory($"tarball-{deb}");
        Run("tar", "-xzf", release.Tarball(arch), "-C", unpacked);
        string installer = Path.Combine(unpacked, $"patroni-agent-{Version}-linux-{arch.Dotnet}", "install.sh");
        string destination = release.NewDirectory($"destdir-{deb}");
        var environment = new Dictionary<string, string> { ["DESTDIR"] = destination };

        var first = PublishedAgent.Run(installer, [], TimeSpan.FromMinutes(1), environment);
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Equal(ReleaseBuild.ExpectedFiles(), FilesUnder(destination));
        foreach (string file in ReleaseBuild.ExpectedFiles().Keys)
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(release.Unpacked(arch), file)), File.ReadAllBytes(Path.Combine(destination, file)));
        }

        string config = Path.Combine(destination, "etc", "patroni-agent", "patroni-agent.conf");
        File.WriteAllText(config, "listen = *:6000=replica\n");
        var second = PublishedAgent.Run(installer, [], TimeSpan.FromMinutes(1), environment);
        Assert.True(second.ExitCode == 0, second.Error);
        Assert.Equal("listen = *:6000=replica\n", File.ReadAllText(config));
        Assert.Equal(File.ReadAllText(Path.Combine(release.Unpacked(arch), "etc", "patroni-agent", "patroni-agent.conf")), File.ReadAllText(config + ".new"));
        Assert.Contains("kept /etc/patroni-agent/patroni-agent.conf", second.Error);
    }

    [Theory]
    [InlineData("amd64")]
    [InlineData("arm64")]
    public void The_tarball_holds_the_same_tree_and_install_sh_owned_by_root(string deb)
    {
        release.AssertBuilt();
        var arch = ReleaseArch.Of(deb);
        string prefix = $"patroni-agent-{Version}-linux-{arch.Dotnet}/";
        SortedDictionary<string, string> files = new(StringComparer.Ordinal);
        foreach (string line in Run("tar", "-tvzf", release.Tarball(arch)).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            Match entry = ListingLine().Match(line);
            Assert.True(entry.Success, $"not a listing line: {line}");
            Assert.Equal("0/0", entry.Groups["owner"].Value);
            Assert.StartsWith(prefix, entry.Groups["path"].Value);
            if (!entry.Groups["mode"].Value.StartsWith('d'))
            {
                files[entry.Groups["path"].Value[prefix.Length..]] = entry.Groups["mode"].Value;
            }
        }

        SortedDictionary<string, string> expected = ReleaseBuild.ExpectedFiles();
        expected["install.sh"] = "-rwxr-xr-x";
        Assert.Equal(expected, files);
    }

    [Fact]
    public void Without_version_it_builds_the_projects_version_and_an_unusable_out_dir_fails_before_building()
    {
        var result = PublishedAgent.Run(ReleaseBuild.Script, ["--out", "/dev/null/release"], TimeSpan.FromMinutes(1));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"release: patroni-agent {ProjectVersion()} into /dev/null/release", result.Error);
        Assert.Contains("release: cannot create the output directory /dev/null/release", result.Error);
        Assert.DoesNotContain("Generating native code", result.Error + result.Output);
    }

    [Theory]
    [InlineData("1.2", "release: version must be X.Y.Z (digits), not '1.2'")]
    [InlineData("1.2.3-rc1", "release: version must be X.Y.Z (digits), not '1.2.3-rc1'")]
    [InlineData("1.2.3;rm", "release: version must be X.Y.Z (digits), not '1.2.3;rm'")]
    public void A_version_that_is_not_digits_and_dots_is_refused(string version, string message)
    {
        var result = PublishedAgent.Run(ReleaseBuild.Script, ["--version", version, "--out", "/dev/null/never"], TimeSpan.FromMinutes(1));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal(message + "\n", result.Error);
    }

    [Theory]
    [InlineData(new[] { "--fast" }, "release: unknown argument: --fast (usage: scripts/release.sh [--version V] [--out DIR])\n")]
    [InlineData(new[] { "--version" }, "release: --version needs a value\n")]
    [InlineData(new[] { "--out" }, "release: --out needs a value\n")]
    public void Bad_arguments_are_refused_with_a_message(string[] args, string message)
    {
        var result = PublishedAgent.Run(ReleaseBuild.Script, args, TimeSpan.FromMinutes(1));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal(message, result.Error);
    }
}
