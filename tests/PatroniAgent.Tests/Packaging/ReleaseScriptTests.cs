using System.Text.RegularExpressions;
using PatroniAgent.Tests.EndToEnd;

namespace PatroniAgent.Tests.Packaging;

/// <summary>
/// scripts/release.sh, run once into a temporary directory: the .deb and the tarball it makes, read
/// with Debian's own tools. The package is never installed on this machine with <c>dpkg -i</c>
/// (its postinst would add a user and enable a unit on the host): its files are unpacked into a
/// throwaway root with <c>dpkg-deb -x</c>, and its maintainer scripts run in a private mount
/// namespace over copies of /etc, the unit directory and systemd's state.
/// </summary>
[Trait("Category", "Release")]
public partial class ReleaseScriptTests(ReleaseScriptTests.Release release) : IClassFixture<ReleaseScriptTests.Release>
{
    /// <summary>Not the project's version, so the tests see that --version reaches the binary and the names.</summary>
    private const string Version = "9.8.7";

    private static readonly string Script = Path.Combine(PublishedAgent.RepositoryRoot, "scripts", "release.sh");

    /// <summary>The two files of one run of the script, deleted with their directory at the end.</summary>
    public sealed class Release : IDisposable
    {
        public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("patroni-agent-release-").FullName;

        public string Deb => Path.Combine(Directory, $"patroni-agent_{Version}_amd64.deb");

        public string Tarball => Path.Combine(Directory, $"patroni-agent-{Version}-linux-x64.tar.gz");

        public PublishedAgent.Result Run { get; }

        public Release()
        {
            Run = PublishedAgent.Run(Script, ["--version", Version, "--out", Directory], TimeSpan.FromMinutes(10));
        }

        /// <summary>A new empty directory inside this run's directory.</summary>
        public string NewDirectory(string name) => System.IO.Directory.CreateDirectory(Path.Combine(Directory, name)).FullName;

        public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
    }

    /// <summary>The files every install has, with their modes: the .deb's and the tarball's tree.</summary>
    private static SortedDictionary<string, string> ExpectedFiles()
    {
        SortedDictionary<string, string> files = new(StringComparer.Ordinal)
        {
            ["usr/bin/patroni-agent"] = "-rwxr-xr-x",
            ["lib/systemd/system/patroni-agent.service"] = "-rw-r--r--",
            ["etc/patroni-agent/patroni-agent.conf"] = "-rw-r--r--",
            ["usr/share/doc/patroni-agent/README.md"] = "-rw-r--r--",
            ["usr/share/doc/patroni-agent/copyright"] = "-rw-r--r--",
            ["usr/share/doc/patroni-agent/changelog.gz"] = "-rw-r--r--",
        };
        foreach (string doc in Directory.GetFiles(Path.Combine(PublishedAgent.RepositoryRoot, "docs"), "*.md"))
        {
            files["usr/share/doc/patroni-agent/" + Path.GetFileName(doc)] = "-rw-r--r--";
        }
        return files;
    }

    /// <summary>A line of <c>dpkg-deb --contents</c> or <c>tar -tv</c>: mode, owner, size, date, time, path.</summary>
    [GeneratedRegex(@"^(?<mode>\S+) (?<owner>\S+) +\d+ \S+ \S+ (?<path>.+)$")]
    private static partial Regex ListingLine();

    private static PublishedAgent.Result Run(string file, params string[] args)
    {
        var result = PublishedAgent.Run(file, args, TimeSpan.FromMinutes(2));
        Assert.True(result.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {result.ExitCode}:\n{result.Output}\n{result.Error}");
        return result;
    }

    private static string ProjectVersion() =>
        Regex.Match(File.ReadAllText(Path.Combine(PublishedAgent.RepositoryRoot, "src", "PatroniAgent", "PatroniAgent.csproj")), "<Version>(.+)</Version>").Groups[1].Value;

    private void AssertBuilt()
    {
        Assert.True(release.Run.ExitCode == 0, $"release.sh exited {release.Run.ExitCode}:\n{release.Run.Error}");
        Assert.Equal($"{release.Deb}\n{release.Tarball}\n", release.Run.Output);
    }

    [Fact]
    public void It_prints_the_paths_of_the_deb_and_the_tarball()
    {
        AssertBuilt();
        Assert.True(File.Exists(release.Deb));
        Assert.True(File.Exists(release.Tarball));
    }

    [Fact]
    public void The_control_file_names_the_version_the_dependencies_and_the_installed_size()
    {
        AssertBuilt();
        string Field(string name) => Run("dpkg-deb", "--field", release.Deb, name).Output.Trim();

        Assert.Equal("patroni-agent", Field("Package"));
        Assert.Equal(Version, Field("Version"));
        Assert.Equal("amd64", Field("Architecture"));
        Assert.Equal("database", Field("Section"));
        Assert.Equal("optional", Field("Priority"));
        Assert.Matches(@"^libc6 \(>= 2\.\d+\), adduser$", Field("Depends"));
        Assert.StartsWith("HAProxy agent-check daemon for Patroni clusters\n ", Field("Description"));
        long binaryKiB = new FileInfo(Path.Combine(Unpacked(), "usr", "bin", "patroni-agent")).Length / 1024;
        long installedKiB = long.Parse(Field("Installed-Size"));
        Assert.InRange(installedKiB, binaryKiB, binaryKiB + 1024);
    }

    [Fact]
    public void The_deb_holds_the_expected_files_with_their_modes_all_owned_by_root()
    {
        AssertBuilt();
        SortedDictionary<string, string> files = new(StringComparer.Ordinal);
        foreach (string line in Run("dpkg-deb", "--contents", release.Deb).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
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

        Assert.Equal(ExpectedFiles(), files);
    }

    [Fact]
    public void The_config_file_is_a_conffile_and_the_maintainer_scripts_are_executable_shell()
    {
        AssertBuilt();
        string control = release.NewDirectory("control");
        Run("dpkg-deb", "--control", release.Deb, control);

        Assert.Equal("/etc/patroni-agent/patroni-agent.conf\n", File.ReadAllText(Path.Combine(control, "conffiles")));
        foreach (string script in new[] { "postinst", "prerm", "postrm" })
        {
            string path = Path.Combine(control, script);
            Assert.Equal("-rwxr-xr-x", Run("stat", "-c", "%A", path).Output.Trim());
            Assert.StartsWith("#!/bin/sh\n", File.ReadAllText(path));
            Run("sh", "-n", path);
        }
    }

    [Fact]
    public void Lintian_finds_no_error()
    {
        AssertBuilt();
        var result = PublishedAgent.Run("lintian", ["--fail-on", "error", release.Deb], TimeSpan.FromMinutes(5));

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
        AssertBuilt();
        string control = release.NewDirectory("scripts-control");
        Run("dpkg-deb", "--control", release.Deb, control);
        string unit = Path.Combine(Unpacked(), "lib", "systemd", "system", "patroni-agent.service");

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

    /// <summary>The .deb's files unpacked into a throwaway root, once.</summary>
    private string Unpacked()
    {
        string root = Path.Combine(release.Directory, "deb-root");
        lock (release)
        {
            if (!Directory.Exists(root))
            {
                Run("dpkg-deb", "--extract", release.Deb, release.NewDirectory("deb-root"));
            }
        }
        return root;
    }

    [Fact]
    public void The_binary_in_the_deb_prints_the_release_version()
    {
        AssertBuilt();
        var result = Run(Path.Combine(Unpacked(), "usr", "bin", "patroni-agent"), "--version");

        Assert.Equal($"patroni-agent {Version}\n", result.Output);
    }

    [Fact]
    public void The_deb_ships_the_repository_unit_and_example_config_unchanged()
    {
        AssertBuilt();
        string packaging = Path.Combine(PublishedAgent.RepositoryRoot, "src", "PatroniAgent", "Packaging");

        Assert.Equal(File.ReadAllText(Path.Combine(packaging, "patroni-agent.service")),
            File.ReadAllText(Path.Combine(Unpacked(), "lib", "systemd", "system", "patroni-agent.service")));
        Assert.Equal(File.ReadAllText(Path.Combine(packaging, "patroni-agent.conf")),
            File.ReadAllText(Path.Combine(Unpacked(), "etc", "patroni-agent", "patroni-agent.conf")));
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

    [Fact]
    public void The_tarballs_install_sh_installs_the_debs_tree_into_DESTDIR_and_keeps_a_changed_config()
    {
        AssertBuilt();
        string unpacked = release.NewDirectory("tarball");
        Run("tar", "-xzf", release.Tarball, "-C", unpacked);
        string installer = Path.Combine(unpacked, $"patroni-agent-{Version}-linux-x64", "install.sh");
        string destination = release.NewDirectory("destdir");
        var environment = new Dictionary<string, string> { ["DESTDIR"] = destination };

        var first = PublishedAgent.Run(installer, [], TimeSpan.FromMinutes(1), environment);
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Equal(ExpectedFiles(), FilesUnder(destination));
        Assert.Equal(File.ReadAllBytes(Path.Combine(Unpacked(), "usr", "bin", "patroni-agent")),
            File.ReadAllBytes(Path.Combine(destination, "usr", "bin", "patroni-agent")));

        string config = Path.Combine(destination, "etc", "patroni-agent", "patroni-agent.conf");
        File.WriteAllText(config, "listen = *:6000=replica\n");
        var second = PublishedAgent.Run(installer, [], TimeSpan.FromMinutes(1), environment);
        Assert.True(second.ExitCode == 0, second.Error);
        Assert.Equal("listen = *:6000=replica\n", File.ReadAllText(config));
        Assert.Equal(File.ReadAllText(Path.Combine(Unpacked(), "etc", "patroni-agent", "patroni-agent.conf")), File.ReadAllText(config + ".new"));
        Assert.Contains("kept /etc/patroni-agent/patroni-agent.conf", second.Error);
    }

    [Fact]
    public void The_tarball_holds_the_same_tree_and_install_sh_owned_by_root()
    {
        AssertBuilt();
        string prefix = $"patroni-agent-{Version}-linux-x64/";
        SortedDictionary<string, string> files = new(StringComparer.Ordinal);
        foreach (string line in Run("tar", "-tvzf", release.Tarball).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
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

        SortedDictionary<string, string> expected = ExpectedFiles();
        expected["install.sh"] = "-rwxr-xr-x";
        Assert.Equal(expected, files);
    }

    [Fact]
    public void Without_version_it_builds_the_projects_version_and_an_unusable_out_dir_fails_before_building()
    {
        var result = PublishedAgent.Run(Script, ["--out", "/dev/null/release"], TimeSpan.FromMinutes(1));

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
        var result = PublishedAgent.Run(Script, ["--version", version, "--out", "/dev/null/never"], TimeSpan.FromMinutes(1));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal(message + "\n", result.Error);
    }

    [Theory]
    [InlineData(new[] { "--fast" }, "release: unknown argument: --fast (usage: scripts/release.sh [--version V] [--out DIR])\n")]
    [InlineData(new[] { "--version" }, "release: --version needs a value\n")]
    [InlineData(new[] { "--out" }, "release: --out needs a value\n")]
    public void Bad_arguments_are_refused_with_a_message(string[] args, string message)
    {
        var result = PublishedAgent.Run(Script, args, TimeSpan.FromMinutes(1));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal(message, result.Error);
    }
}
