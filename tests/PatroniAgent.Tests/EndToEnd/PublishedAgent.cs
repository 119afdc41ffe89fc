using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.EndToEnd;

/// <summary>
/// The native AOT binary, as users get it: taken from AGENT_UNDER_TEST when set (CI publishes it
/// first), otherwise published once per test run into artifacts/publish by scripts/publish.sh.
/// </summary>
public static partial class PublishedAgent
{
    private static readonly Lazy<string> LazyPath = new(Locate, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Path => LazyPath.Value;

    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "PatroniAgent.sln")))
            {
                dir = dir.Parent;
            }
            return dir?.FullName ?? throw new InvalidOperationException("PatroniAgent.sln not found above " + AppContext.BaseDirectory);
        }
    }

    private static string Locate()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("AGENT_UNDER_TEST");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return File.Exists(fromEnvironment) ? fromEnvironment : throw new FileNotFoundException("AGENT_UNDER_TEST does not exist", fromEnvironment);
        }
        var output = System.IO.Path.Combine(RepositoryRoot, "artifacts", "publish");
        var publish = Run(System.IO.Path.Combine(RepositoryRoot, "scripts", "publish.sh"), ["x64", output], TimeSpan.FromMinutes(8));
        if (publish.ExitCode != 0)
        {
            throw new InvalidOperationException("scripts/publish.sh failed:\n" + publish.Error);
        }
        return System.IO.Path.Combine(output, "patroni-agent");
    }

    public sealed record Result(int ExitCode, string Output, string Error);

    /// <summary>Runs a command to its end and returns its exit code, standard output and standard error.</summary>
    public static Result Run(string file, IEnumerable<string> args, TimeSpan timeout, IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {timeout}");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>A port on 127.0.0.1 that was free a moment ago.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    public static void Terminate(Process process) => kill(process.Id, 15);

    /// <summary>Sends SIGHUP, the reload signal.</summary>
    public static void HangUp(Process process) => kill(process.Id, 1);
}

/// <summary>
/// A running <c>patroni-agent</c> process whose log is collected. Unless the test sets it, the agent waits
/// up to 1 s for a check's line (<c>--send-wait</c>): a test client slowed down by a busy machine would
/// otherwise get the listener's answer, and the reset after it, before it has sent its line.
/// </summary>
public sealed class AgentProcess : IDisposable
{
    private readonly StringBuilder _log = new();

    public AgentProcess(params string[] args)
        : this(new Dictionary<string, string>(), args)
    {
    }

    /// <summary>Starts the agent with <paramref name="environment"/> added to the test's own environment.</summary>
    public AgentProcess(IDictionary<string, string> environment, params string[] args)
        : this([], environment, args)
    {
    }

    /// <summary>
    /// Starts the agent through <paramref name="launcher"/>, a command that runs the command line after it
    /// in place of itself (e.g. <c>nsenter --target PID --mount --</c>), so that the process is the agent.
    /// </summary>
    public AgentProcess(string[] launcher, IDictionary<string, string> environment, params string[] args)
        : this(launcher, PublishedAgent.Path, environment, args)
    {
    }

    /// <summary>Starts <paramref name="binary"/>, another build of the agent, through <paramref name="launcher"/> (e.g. qemu-user).</summary>
    public AgentProcess(string[] launcher, string binary, IDictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo(launcher.Length == 0 ? binary : launcher[0])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var arg in launcher.Skip(1)) info.ArgumentList.Add(arg);
        if (launcher.Length > 0) info.ArgumentList.Add(binary);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        if (!args.Contains("--send-wait"))
        {
            info.ArgumentList.Add("--send-wait");
            info.ArgumentList.Add("1s");
        }
        foreach (var (key, value) in environment) info.Environment[key] = value;
        Process = Process.Start(info)!;
        Process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <summary>
    /// Waits until the agent has logged <paramref name="text"/>: its lines reach the log through a writer
    /// thread and this process's pipe reader, so a line can arrive after the answer it goes with.
    /// </summary>
    public Task EventuallyLoggedAsync(string text) =>
        Eventually.WaitFor(() => Log.Contains(text, StringComparison.Ordinal), TimeSpan.FromSeconds(10), () => $"the agent did not log \"{text}\":\n{Log}");

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill();
            Process.WaitForExit();
        }
        Process.Dispose();
    }
}
