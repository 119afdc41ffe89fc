using System.Diagnostics;

namespace PatroniAgent.LoadTest;

/// <summary>Finds the repository and builds what the comparison runs: the agent binary and the C reference responder.</summary>
internal static class Prerequisites
{
    /// <summary>The folder holding PatroniAgent.sln, above the current directory or this program.</summary>
    public static string RepositoryRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "PatroniAgent.sln")))
                {
                    return dir.FullName;
                }
            }
        }
        throw new UsageException("cannot find PatroniAgent.sln above the current directory; run from the repository");
    }

    /// <summary>The published agent binary; publishes it (native AOT) when it is missing.</summary>
    public static string Agent(string root, TextWriter log)
    {
        var path = Path.Combine(root, "artifacts", "publish", "patroni-agent");
        if (!File.Exists(path))
        {
            log.WriteLine($"{path} is missing: publishing it");
            Execute(Path.Combine(root, "scripts", "publish.sh"), ["x64", "artifacts/publish"], root, TimeSpan.FromMinutes(10));
        }
        return path;
    }

    /// <summary>The C reference responder, compiled into artifacts/loadtest when missing or older than its source.</summary>
    public static string Responder(string root, TextWriter log)
    {
        var source = Path.Combine(root, "loadtest", "reference", "responder.c");
        var binary = Path.Combine(root, "artifacts", "loadtest", "responder");
        if (!File.Exists(binary) || File.GetLastWriteTimeUtc(binary) < File.GetLastWriteTimeUtc(source))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(binary)!);
            var compiler = new[] { "/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang" }.FirstOrDefault(File.Exists)
                ?? throw new InvalidOperationException("no C compiler (cc, gcc or clang) in /usr/bin");
            log.WriteLine($"compiling {source} with {compiler}");
            Execute(compiler, ["-O2", "-Wall", "-Wextra", "-Werror", "-o", binary, source], root, TimeSpan.FromMinutes(2));
        }
        return binary;
    }

    /// <summary>
    /// loadtest/saea-responder published native AOT into artifacts/loadtest/saea-responder when missing or older
    /// than its sources (warnings are errors).
    /// </summary>
    public static string SaeaResponder(string root, TextWriter log)
    {
        var project = Path.Combine(root, "loadtest", "saea-responder");
        var output = Path.Combine(root, "artifacts", "loadtest", "saea-responder");
        var binary = Path.Combine(output, "saea-responder");
        var sources = Directory.GetFiles(project, "*.cs*", SearchOption.TopDirectoryOnly)
            .Append(Path.Combine(root, "Directory.Packages.props")).Append(Path.Combine(root, "Directory.Build.props"));
        if (!File.Exists(binary) || sources.Any(s => File.GetLastWriteTimeUtc(s) > File.GetLastWriteTimeUtc(binary)))
        {
            var rid = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "linux-arm64" : "linux-x64";
            log.WriteLine($"publishing {project} (native AOT, {rid}) into {output}");
            Execute("dotnet", ["publish", project, "-c", "Release", "-r", rid, "-warnaserror", "-nologo", "-v", "quiet", "-o", output], root, TimeSpan.FromMinutes(10));
            // dotnet publish leaves an unchanged binary's time as it was: touch it so the check above holds.
            File.SetLastWriteTimeUtc(binary, DateTime.UtcNow);
        }
        return binary;
    }

    private static void Execute(string file, string[] arguments, string directory, TimeSpan limit)
    {
        var info = new ProcessStartInfo(file) { WorkingDirectory = directory, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        if (!process.WaitForExit(limit))
        {
            process.Kill();
            throw new InvalidOperationException($"{file} took longer than {limit.TotalMinutes} min");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed with status {process.ExitCode}");
        }
    }
}
