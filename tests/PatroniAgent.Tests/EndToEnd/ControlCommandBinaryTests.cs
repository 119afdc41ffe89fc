using System.Diagnostics;
using System.Net;
using System.Runtime.Versioning;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.EndToEnd;

/// <summary>
/// notify, drain, maint and ready with the published binary, against a running published agent: the
/// callback makes the agent poll at once, and an override is answered, kept across a restart and cleared.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class ControlCommandBinaryTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("patroni-agent-control-").FullName;

    private string Socket => Path.Combine(_directory, "control.sock");

    private string StateFile => Path.Combine(_directory, "state", "override");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Callbacks_prints_the_patroni_yml_lines_that_run_notify_on_this_control_socket()
    {
        var result = Run("callbacks");
        Assert.Equal(0, result.ExitCode);
        string command = $"{PublishedAgent.Path} notify --control-socket {Socket}";
        string[] lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines.TakeWhile(l => l.StartsWith('#')), l => Assert.StartsWith("# ", l));
        Assert.Equal(
        [
            "postgresql:",
            "  callbacks:",
            $"    on_role_change: {command}",
            $"    on_stop: {command}",
            $"    on_start: {command}",
            $"    on_restart: {command}",
        ], lines.SkipWhile(l => l.StartsWith('#')));

        var byDefault = PublishedAgent.Run(PublishedAgent.Path, ["callbacks"], Limit);
        Assert.Contains($"    on_role_change: {PublishedAgent.Path} notify\n", byDefault.Output);
    }

    [Fact]
    public async Task Notify_makes_the_agent_follow_a_role_change_that_shows_after_the_callback_despite_a_long_poll_interval()
    {
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        int port = PublishedAgent.FreePort();
        using var agent = StartAgent(patroni, port, "--poll-interval", "60s", "--stale-after", "10m");
        await AgentClient.EventuallyAsync(new IPEndPoint(IPAddress.Loopback, port), "primary\n", "up ready 100% #primary, timeline 1\n");
        await WaitForSocketAsync();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(Socket));
        Assert.Equal(1, patroni.Requests);

        var result = Run("notify", "on_role_change", "primary", "batman");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Error);
        await agent.EventuallyLoggedAsync("role change notified through the control socket: polling patroni at once, then every 20 ms for 5 s");
        await Task.Delay(300);
        patroni.Status(PatroniFixtures.Load("v3.0.2-primary"));
        await AgentClient.EventuallyAsync(new IPEndPoint(IPAddress.Loopback, port), "primary\n", "up ready 100% #primary, timeline 4\n");
        Assert.True(patroni.Requests > 2, $"{patroni.Requests} requests");
    }

    [Fact]
    public void Notify_without_a_running_agent_exits_0_at_once_with_a_message()
    {
        var watch = Stopwatch.StartNew();
        var result = Run("notify", "on_role_change", "master", "batman");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"notify took {watch.Elapsed}");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Output);
        Assert.Contains($"patroni-agent: notify: cannot reach the agent at {Socket}: the agent is not running (nothing listens on it)", result.Error);
    }

    [Fact]
    public async Task Maint_is_answered_at_once_survives_a_restart_and_ready_clears_it()
    {
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        int port = PublishedAgent.FreePort();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        const string Ready = "up ready 100% #primary, timeline 1\n";
        const string Maint = "up maint #operator: disk replacement\n";
        using (var first = StartAgent(patroni, port))
        {
            await AgentClient.EventuallyAsync(endPoint, "primary\n", Ready);
            await WaitForSocketAsync();
            var set = Run("maint", "--reason", "disk replacement");
            Assert.Equal(0, set.ExitCode);
            Assert.Contains("override maint set", set.Output);
            Assert.Equal("", set.Error);
            await AgentClient.EventuallyAsync(endPoint, "primary\n", Maint);
            Assert.Equal("up maint #primary, timeline 1\n", await AgentClient.CheckAsync(endPoint, "replica\n"));
            PublishedAgent.Terminate(first.Process);
            Assert.True(first.Process.WaitForExit(10_000));
        }
        Assert.False(File.Exists(Socket));
        Assert.Equal("maint disk replacement\n", File.ReadAllText(StateFile));

        using var second = StartAgent(patroni, port);
        await AgentClient.EventuallyAsync(endPoint, "primary\n", Maint);
        var check = Run("check", "--patroni-url", patroni.Url.ToString());
        Assert.Contains("override: maint, answers say \"#operator: disk replacement\"", check.Output);
        Assert.Contains("primary         up maint #operator: disk replacement\n", check.Output);

        await WaitForSocketAsync();
        var drain = Run("drain");
        Assert.Equal(0, drain.ExitCode);
        await AgentClient.EventuallyAsync(endPoint, "primary\n", "up drain #operator: drain\n");

        var clear = Run("ready");
        Assert.Equal(0, clear.ExitCode);
        Assert.Contains("override cleared", clear.Output);
        await AgentClient.EventuallyAsync(endPoint, "primary\n", Ready);
        Assert.False(File.Exists(StateFile));
    }

    [Fact]
    public async Task Drain_wait_returns_once_every_checker_heard_it_and_ready_wait_names_the_checker_that_stopped()
    {
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        int port = PublishedAgent.FreePort();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        using var agent = StartAgent(patroni, port, "--poll-interval", "200ms");
        await AgentClient.EventuallyAsync(endPoint, "primary\n", "up ready 100% #primary, timeline 1\n");
        await WaitForSocketAsync();
        using var done = new CancellationTokenSource();
        var haproxy = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                await AgentClient.CheckAsync(endPoint, "primary\n");
                await Task.Delay(20);
            }
        });
        try
        {
            var drained = await Task.Run(() => Run("drain", "--reason", "kernel update", "--wait", "--timeout", "20s"));
            Assert.True(drained.ExitCode == 0, drained.Error);
            Assert.Matches(@"override drain set, answers say ""#operator: kernel update""; heard by 1 of 1 checkers in \d+ ms: 127\.0\.0\.1\n$", drained.Output);
            Assert.Equal("up drain #operator: kernel update\n", await AgentClient.CheckAsync(endPoint, "primary\n"));
            await agent.EventuallyLoggedAsync("primary: drain heard by 1 of 1 checkers in ");

            var (reply, _) = await AgentClient.ReadUntilTheEndAsync(endPoint, "primary\n", IPAddress.Parse("127.0.0.2"));
            Assert.Equal("up drain #operator: kernel update\n", reply);
            var check = Run("check", "--patroni-url", patroni.Url.ToString());
            Assert.Matches(@"heard by \(the running agent's checkers, the most recent first\):\n  127\.0\.0\.[12] asked primary, answered drain; \d+ checks", check.Output);
            Assert.Contains("  127.0.0.2 asked primary, answered drain; 1 checks, the first ", check.Output);

            var ready = await Task.Run(() => Run("ready", "--wait", "--timeout", "1s"));
            Assert.Equal(1, ready.ExitCode);
            Assert.Matches(@"ready: override cleared, but not every checker heard it within 1 s: heard by 1 of 2 checkers; not by 127\.0\.0\.2 \(last check \d+\.\d s ago\)", ready.Error);
            Assert.Equal("up ready 100% #primary, timeline 1\n", await AgentClient.CheckAsync(endPoint, "primary\n"));
        }
        finally
        {
            done.Cancel();
            await haproxy;
        }
        var unreachable = PublishedAgent.Run(PublishedAgent.Path,
            ["drain", "--wait", "--control-socket", Path.Combine(_directory, "none.sock"), "--state-file", StateFile], Limit);
        Assert.Equal(1, unreachable.ExitCode);
        Assert.Contains("cannot reach the agent", unreachable.Error);
    }

    [Fact]
    public void A_bad_reason_is_refused_with_exit_2_and_nothing_is_stored()
    {
        var result = Run("drain", "--reason", "half # half");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("patroni-agent: --reason: the reason must not contain #", result.Error);
        Assert.False(File.Exists(StateFile));

        var control = Run("maint", "--reason", "line\u0007bell");
        Assert.Equal(2, control.ExitCode);
        Assert.Contains("printable ASCII", control.Error);
    }

    [Fact]
    public void Maint_without_a_running_agent_stores_the_override_and_says_so()
    {
        var result = Run("maint", "--reason", "kernel update");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("it applies when the agent starts", result.Error);
        Assert.Equal("maint kernel update\n", File.ReadAllText(StateFile));
    }

    private AgentProcess StartAgent(FakePatroni patroni, int port, params string[] extra) =>
        new(["--listen", $"127.0.0.1:{port}", "--patroni-url", patroni.Url.ToString(),
             "--control-socket", Socket, "--state-file", StateFile, .. extra]);

    private PublishedAgent.Result Run(params string[] args) =>
        PublishedAgent.Run(PublishedAgent.Path, [.. args, "--control-socket", Socket, "--state-file", StateFile], Limit);

    private Task WaitForSocketAsync() =>
        Eventually.WaitFor(() => File.Exists(Socket), TimeSpan.FromSeconds(10), () => "the control socket did not appear");
}
