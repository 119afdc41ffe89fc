using System.Diagnostics;
using System.Net;
using System.Runtime.Versioning;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.EndToEnd;

/// <summary>
/// Two agents on one host, as two instances of patroni-agent@.service run them (<c>--instance NAME</c>):
/// each reads /etc/patroni-agent/NAME.conf, creates its own control socket under /run/patroni-agent/NAME
/// and keeps its override in /var/lib/patroni-agent/NAME, and every command reaches the instance it names.
/// The agents and commands run in a private mount namespace with a copy of /etc and empty /run and /var/lib,
/// so the host's own directories are never touched.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class InstanceBinaryTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    /// <summary>Sets the namespace up, then holds it open: commands enter it with nsenter.</summary>
    private const string NamespaceSetup = """
        set -eu
        work=$1
        cp -a /etc "$work/etc" && mount --bind "$work/etc" /etc
        mkdir -p /etc/patroni-agent
        mount -t tmpfs tmpfs /run
        mount -t tmpfs tmpfs /var/lib
        echo ready
        exec sleep 600
        """;

    private readonly string _work = Directory.CreateTempSubdirectory("patroni-agent-instances-").FullName;
    private readonly FakePatroni _primary = new();
    private readonly FakePatroni _replica = new();
    private readonly int _portA = PublishedAgent.FreePort();
    private readonly int _portB = PublishedAgent.FreePort();
    private Process? _namespace;

    public async Task InitializeAsync()
    {
        _primary.Status(PatroniFixtures.Load("v4.1.4-primary"));
        _replica.Status(PatroniFixtures.Load("v4.1.4-replica"));
        var info = new ProcessStartInfo("unshare") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string arg in new[] { "--mount", "--propagation", "private", "sh", "-c", NamespaceSetup, "setup", _work })
            info.ArgumentList.Add(arg);
        _namespace = Process.Start(info)!;
        Assert.Equal("ready", await _namespace.StandardOutput.ReadLineAsync().WaitAsync(Limit));
        WriteConfig("a", $"listen = 127.0.0.1:{_portA}\npatroni-url = {_primary.Url}\n");
        WriteConfig("b", $"listen = 127.0.0.1:{_portB}\npatroni-url = {_replica.Url}\n");
    }

    public async Task DisposeAsync()
    {
        if (_namespace is { HasExited: false })
        {
            _namespace.Kill();
            await _namespace.WaitForExitAsync();
        }
        _namespace?.Dispose();
        await _primary.DisposeAsync();
        await _replica.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    private string[] Enter => ["nsenter", "--target", _namespace!.Id.ToString(), "--mount", "--"];

    /// <summary>Writes /etc/patroni-agent/NAME.conf as the namespace sees it.</summary>
    private void WriteConfig(string instance, string text) =>
        File.WriteAllText(Path.Combine(_work, "etc", "patroni-agent", instance + ".conf"), text);

    private PublishedAgent.Result Run(params string[] args) =>
        PublishedAgent.Run(Enter[0], [.. Enter[1..], PublishedAgent.Path, .. args], Limit);

    /// <summary>Runs a command inside the namespace that must succeed, e.g. to read a file there.</summary>
    private string Shell(string command)
    {
        var result = PublishedAgent.Run(Enter[0], [.. Enter[1..], "sh", "-c", command], Limit);
        Assert.True(result.ExitCode == 0, $"{command}: {result.Error}");
        return result.Output;
    }

    private Task WaitForSocketAsync(string instance) =>
        Eventually.WaitFor(
            () => PublishedAgent.Run(Enter[0], [.. Enter[1..], "test", "-S", $"/run/patroni-agent/{instance}/control.sock"], Limit).ExitCode == 0,
            Limit, () => $"the control socket of instance {instance} did not appear", TimeSpan.FromMilliseconds(50));

    [Fact]
    public async Task Two_instances_run_side_by_side_and_each_command_reaches_the_instance_it_names()
    {
        var a = new IPEndPoint(IPAddress.Loopback, _portA);
        var b = new IPEndPoint(IPAddress.Loopback, _portB);
        using var agentA = new AgentProcess(Enter, new Dictionary<string, string>(), "--instance", "a");
        using var agentB = new AgentProcess(Enter, new Dictionary<string, string>(), "--instance", "b");
        await AgentClient.EventuallyAsync(a, "primary\n", "up ready 100% #primary, timeline 1\n");
        await WaitForSocketAsync("a");
        await WaitForSocketAsync("b");
        Assert.StartsWith("up maint #replica", await AgentClient.CheckAsync(b, "primary\n"));
        Assert.Equal("drwxr-xr-x /run/patroni-agent/a\nsrw-rw---- /run/patroni-agent/a/control.sock\nsrw-rw---- /run/patroni-agent/b/control.sock\n",
            Shell("stat -c '%A %n' /run/patroni-agent/a /run/patroni-agent/a/control.sock /run/patroni-agent/b/control.sock"));

        var drain = Run("drain", "--instance", "a", "--reason", "kernel update");
        Assert.True(drain.ExitCode == 0, drain.Error);
        Assert.Equal("patroni-agent: override drain set, answers say \"#operator: kernel update\"; the running agent answers it now\n", drain.Output);
        await AgentClient.EventuallyAsync(a, "primary\n", "up drain #operator: kernel update\n");
        Assert.StartsWith("up maint #replica", await AgentClient.CheckAsync(b, "primary\n"));
        Assert.Equal("drain kernel update\n", Shell("cat /var/lib/patroni-agent/a/override"));
        Assert.Equal("0\n", Shell("ls /var/lib/patroni-agent/b 2>/dev/null | wc -l"));

        var checkA = Run("check", "--instance", "a");
        var checkB = Run("check", "--instance", "b");
        Assert.Contains($"patroni {_primary.Url}", checkA.Output);
        Assert.Contains("override: drain, answers say \"#operator: kernel update\" where they would be ready (/var/lib/patroni-agent/a/override)", checkA.Output);
        Assert.Contains($"patroni {_replica.Url}", checkB.Output);
        Assert.Contains("override: none", checkB.Output);

        int before = _replica.Requests;
        var notify = Run("notify", "--instance", "b", "on_role_change", "replica", "batman");
        Assert.Equal((0, ""), (notify.ExitCode, notify.Error));
        await agentB.EventuallyLoggedAsync("role change notified through the control socket");
        Assert.True(_replica.Requests > before);
        Assert.DoesNotContain("role change notified", agentA.Log);

        Assert.Contains($"on_role_change: {PublishedAgent.Path} notify --instance b\n", Run("callbacks", "--instance", "b").Output);

        var ready = Run("ready", "--instance", "a");
        Assert.True(ready.ExitCode == 0, ready.Error);
        await AgentClient.EventuallyAsync(a, "primary\n", "up ready 100% #primary, timeline 1\n");
    }

    [Fact]
    public void An_instance_without_its_config_file_does_not_start_and_says_which_file()
    {
        var result = Run("--instance", "missing");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("patroni-agent: --instance missing: cannot read config file /etc/patroni-agent/missing.conf: no such file\n", result.Error);
    }

    [Fact]
    public async Task Without_an_instance_every_command_reads_the_default_config_file()
    {
        int port = PublishedAgent.FreePort();
        WriteConfig("patroni-agent", $"listen = 127.0.0.1:{port}\npatroni-url = {_primary.Url}\ncontrol-socket = /run/by-hand/control.sock\n");
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        using var agent = new AgentProcess(Enter, new Dictionary<string, string>());
        await AgentClient.EventuallyAsync(endPoint, "primary\n", "up ready 100% #primary, timeline 1\n");

        Assert.Contains($"patroni {_primary.Url}", Run("check").Output);
        var maint = Run("maint", "--reason", "by hand");
        Assert.True(maint.ExitCode == 0, maint.Error);
        Assert.Contains("the running agent answers it now", maint.Output);
        await AgentClient.EventuallyAsync(endPoint, "primary\n", "up maint #operator: by hand\n");
        Assert.Equal("maint by hand\n", Shell("cat /var/lib/patroni-agent/override"));
    }
}
