using System.Text.RegularExpressions;
using PatroniAgent.Tests.EndToEnd;

namespace PatroniAgent.Tests.Packaging;

/// <summary>One CPU of a release: its names in .NET, Debian and RPM, and its ELF machine.</summary>
public sealed record ReleaseArch(string Dotnet, string Deb, string Rpm, string Machine)
{
    public static readonly ReleaseArch X64 = new("x64", "amd64", "x86_64", "Advanced Micro Devices X86-64");
    public static readonly ReleaseArch Arm64 = new("arm64", "arm64", "aarch64", "AArch64");

    public static ReleaseArch Of(string deb) => deb == X64.Deb ? X64 : deb == Arm64.Deb ? Arm64 : throw new ArgumentOutOfRangeException(nameof(deb));

    public override string ToString() => Deb;
}

/// <summary>
/// scripts/release.sh, run once into a temporary directory for every test of the collection: the
/// .deb, .rpm and tarball of each CPU, deleted with their directory at the end.
/// </summary>
public sealed partial class ReleaseBuild : IDisposable
{
    /// <summary>Not the project's version, so the tests see that --version reaches the binaries and the names.</summary>
    public const string Version = "9.8.7";

    public static readonly string Script = Path.Combine(PublishedAgent.RepositoryRoot, "scripts", "release.sh");

    public static readonly string Packaging = Path.Combine(PublishedAgent.RepositoryRoot, "src", "PatroniAgent", "Packaging");

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("patroni-agent-release-").FullName;

    public PublishedAgent.Result Run { get; }

    public ReleaseBuild()
    {
        Run = PublishedAgent.Run(Script, ["--version", Version, "--out", Directory], TimeSpan.FromMinutes(15));
    }

    public string Deb(ReleaseArch arch) => Path.Combine(Directory, $"patroni-agent_{Version}_{arch.Deb}.deb");

    public string Rpm(ReleaseArch arch) => Path.Combine(Directory, $"patroni-agent-{Version}-1.{arch.Rpm}.rpm");

    public string Tarball(ReleaseArch arch) => Path.Combine(Directory, $"patroni-agent-{Version}-linux-{arch.Dotnet}.tar.gz");

    /// <summary>The six files, in the order the script prints them.</summary>
    public IEnumerable<string> Files =>
    [
        Deb(ReleaseArch.X64), Deb(ReleaseArch.Arm64), Rpm(ReleaseArch.X64), Rpm(ReleaseArch.Arm64),
        Tarball(ReleaseArch.X64), Tarball(ReleaseArch.Arm64),
    ];

    /// <summary>Fails the test unless the script made every file.</summary>
    public void AssertBuilt()
    {
        Assert.True(Run.ExitCode == 0, $"release.sh exited {Run.ExitCode}:\n{Run.Error}");
        Assert.Equal(string.Concat(Files.Select(f => f + "\n")), Run.Output);
    }

    /// <summary>A new empty directory inside this run's directory.</summary>
    public string NewDirectory(string name) => System.IO.Directory.CreateDirectory(Path.Combine(Directory, name)).FullName;

    /// <summary>The .deb of <paramref name="arch"/> unpacked into a throwaway root, once.</summary>
    public string Unpacked(ReleaseArch arch)
    {
        string root = Path.Combine(Directory, $"deb-root-{arch.Deb}");
        lock (this)
        {
            if (!System.IO.Directory.Exists(root))
            {
                Ok("dpkg-deb", "--extract", Deb(arch), NewDirectory($"deb-root-{arch.Deb}"));
            }
        }
        return root;
    }

    /// <summary>The binary of <paramref name="arch"/>, from its .deb.</summary>
    public string Binary(ReleaseArch arch) => Path.Combine(Unpacked(arch), "usr", "bin", "patroni-agent");

    /// <summary>The files every .deb and tarball holds, with their modes.</summary>
    public static SortedDictionary<string, string> ExpectedFiles()
    {
        SortedDictionary<string, string> files = new(StringComparer.Ordinal)
        {
            ["usr/bin/patroni-agent"] = "-rwxr-xr-x",
            ["lib/systemd/system/patroni-agent.service"] = "-rw-r--r--",
            ["lib/systemd/system/patroni-agent@.service"] = "-rw-r--r--",
            ["etc/patroni-agent/patroni-agent.conf"] = "-rw-r--r--",
            ["usr/share/man/man1/patroni-agent.1.gz"] = "-rw-r--r--",
            ["usr/share/bash-completion/completions/patroni-agent"] = "-rw-r--r--",
            ["usr/share/doc/patroni-agent/README.md"] = "-rw-r--r--",
            ["usr/share/doc/patroni-agent/copyright"] = "-rw-r--r--",
        };
        foreach (string file in System.IO.Directory.GetFiles(Path.Combine(PublishedAgent.RepositoryRoot, "src", "PatroniAgent", "Packaging", "monitoring")))
        {
            files["usr/share/patroni-agent/monitoring/" + Path.GetFileName(file)] = "-rw-r--r--";
        }
        foreach (string doc in System.IO.Directory.GetFiles(Path.Combine(PublishedAgent.RepositoryRoot, "docs"), "*.md"))
        {
            files["usr/share/doc/patroni-agent/" + Path.GetFileName(doc)] = "-rw-r--r--";
        }
        return files;
    }

    /// <summary>Runs a command that must succeed, with a failure message holding both outputs.</summary>
    public static PublishedAgent.Result Ok(string file, params string[] args)
    {
        var result = PublishedAgent.Run(file, args, TimeSpan.FromMinutes(5));
        Assert.True(result.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {result.ExitCode}:\n{result.Output}\n{result.Error}");
        return result;
    }

    /// <summary>The highest GLIBC_ symbol version an ELF binary needs, as <c>objdump -T</c> lists them.</summary>
    public static Version GlibcFloor(string binary) =>
        GlibcVersion().Matches(Ok("objdump", "-T", binary).Output).Select(m => System.Version.Parse(m.Groups[1].Value)).Max()
        ?? throw new InvalidOperationException($"no GLIBC_ symbol version in {binary}");

    [GeneratedRegex(@"\(GLIBC_(\d+\.\d+(?:\.\d+)?)\)")]
    private static partial Regex GlibcVersion();

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

[CollectionDefinition(nameof(ReleaseCollection))]
public sealed class ReleaseCollection : ICollectionFixture<ReleaseBuild>;
