using System.Net;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.EndToEnd;

/// <summary>The published native binary against a stand-in Patroni replaying recorded answers.</summary>
public class PublishedBinaryTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public void Version_and_help()
    {
        var version = PublishedAgent.Run(PublishedAgent.Path, ["--version"], Limit);
        Assert.Equal(0, version.ExitCode);
        Assert.Matches(@"^patroni-agent \d+\.\d+\.\d+\n$", version.Output);

        var help = PublishedAgent.Run(PublishedAgent.Path, ["--help"], Limit);
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--listen", help.Output);
        Assert.Contains("--patroni-url", help.Output);
    }

    [Fact]
    public void Manpage_and_completion_print_what_the_packages_install()
    {
        var version = PublishedAgent.Run(PublishedAgent.Path, ["--version"], Limit).Output.Trim().Split(' ')[1];
        var manpage = PublishedAgent.Run(PublishedAgent.Path, ["manpage"], Limit);
        Assert.Equal(0, manpage.ExitCode);
        Assert.Equal(PatroniAgent.Commands.ManPage.Render(version), manpage.Output);

        var completion = PublishedAgent.Run(PublishedAgent.Path, ["completion", "bash"], Limit);
        Assert.Equal(0, completion.ExitCode);
        Assert.Equal(PatroniAgent.Commands.BashCompletion.Render(), completion.Output);
    }

    [Theory]
    [InlineData(new[] { "completion" }, "patroni-agent: usage: patroni-agent completion bash\n")]
    [InlineData(new[] { "completion", "zsh" }, "patroni-agent: usage: patroni-agent completion bash\n")]
    [InlineData(new[] { "manpage", "--help" }, "patroni-agent: usage: patroni-agent manpage\n")]
    public void Manpage_and_completion_refuse_other_arguments(string[] args, string error)
    {
        var result = PublishedAgent.Run(PublishedAgent.Path, args, Limit);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(error, result.Error);
        Assert.Equal("", result.Output);
    }

    [Fact]
    public async Task Under_systemd_each_log_line_starts_with_its_syslog_priority()
    {
        int port = PublishedAgent.FreePort();
        using var agent = new AgentProcess(new Dictionary<string, string> { ["JOURNAL_STREAM"] = "8:12345" },
            "--listen", $"127.0.0.1:{port}=primary", "--patroni-url", "http://127.0.0.1:1", "--control-socket", ControlSocket());

        await agent.EventuallyLoggedAsync("<4>patroni-agent.watcher[2] patroni poll failed: patroni refused the connection");
        Assert.Contains($"<6>patroni-agent[202] listening for agent checks on 127.0.0.1:{port}, default mode primary\n", agent.Log);
        Assert.All(agent.Log.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.Matches(@"^<[2-7]>patroni-agent(\.[a-z]+)?\[\d+\] ", line));
    }

    [Fact]
    public async Task With_log_format_json_each_log_line_is_a_json_object_with_time_level_category_event_and_message()
    {
        int port = PublishedAgent.FreePort();
        using var agent = new AgentProcess(
            "--listen", $"127.0.0.1:{port}=primary", "--patroni-url", "http://127.0.0.1:1", "--control-socket", ControlSocket(), "--log-format", "json");

        await agent.EventuallyLoggedAsync("patroni poll failed: patroni refused the connection");
        string[] lines = agent.Log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 4, agent.Log);
        foreach (string line in lines)
        {
            using var json = System.Text.Json.JsonDocument.Parse(line);
            var root = json.RootElement;
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", root.GetProperty("Timestamp").GetString());
            Assert.StartsWith("patroni-agent", root.GetProperty("Category").GetString());
            Assert.True(root.GetProperty("EventId").GetInt32() > 0, line);
            Assert.Contains(root.GetProperty("LogLevel").GetString(), new[] { "Information", "Warning", "Error", "Critical" });
        }
        var failed = lines.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).Single(e => e.GetProperty("EventId").GetInt32() == 2);
        Assert.Equal("Warning", failed.GetProperty("LogLevel").GetString());
        Assert.Equal("patroni-agent.watcher", failed.GetProperty("Category").GetString());
        Assert.Equal("patroni refused the connection", failed.GetProperty("State").GetProperty("Error").GetString());
    }

    /// <summary>A control socket of the test's own, so that agents started side by side do not share one.</summary>
    private static string ControlSocket() => Path.Combine(Directory.CreateTempSubdirectory("patroni-agent-log-").FullName, "control.sock");

    [Fact]
    public void Invalid_configuration_stops_the_start_with_a_message()
    {
        var result = PublishedAgent.Run(PublishedAgent.Path, ["--poll-interval", "5"], Limit);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--poll-interval", result.Error);
        Assert.Equal("", result.Output);

        var unknownEnv = PublishedAgent.Run(PublishedAgent.Path, [], Limit, new Dictionary<string, string> { ["PATRONI_AGENT_POL_INTERVAL"] = "1s" });
        Assert.Equal(2, unknownEnv.ExitCode);
        Assert.Contains("PATRONI_AGENT_POL_INTERVAL", unknownEnv.Error);
    }

    [Fact]
    public async Task Check_prints_every_mode_for_a_patroni_4_primary()
    {
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        var result = PublishedAgent.Run(PublishedAgent.Path, ["check", "--patroni-url", patroni.Url.ToString()], Limit);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("primary         up ready 100% #primary, timeline 1\n", result.Output);
        Assert.Contains("replica         up maint #primary, timeline 1\n", result.Output);
        Assert.Contains("read-only       up ready 100% #primary, timeline 1\n", result.Output);
        Assert.Contains("health          up ready 100% #primary, timeline 1\n", result.Output);
    }

    [Fact]
    public void Check_says_when_patroni_is_unreachable()
    {
        var result = PublishedAgent.Run(PublishedAgent.Path, ["check", "--patroni-url", $"http://127.0.0.1:{PublishedAgent.FreePort()}"], Limit);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("primary         down #patroni refused the connection\n", result.Output);
    }

    [Fact]
    public async Task Check_over_https_shows_the_client_certificate_and_sends_basic_auth()
    {
        using var files = new TestCertificates();
        var ca = TestCertificates.CreateCa("patroni test CA");
        var client = TestCertificates.CreateClient(ca, "agent");
        await using var patroni = new FakePatroni(tls: new FakeTls(TestCertificates.CreateServer(ca, ["127.0.0.1"]), ca))
            .Status(PatroniFixtures.Load("v3.0.2-primary"));
        string[] tls =
        [
            "--patroni-url", patroni.Url.ToString(),
            "--patroni-ca-file", files.WriteCertificate("ca.pem", ca),
        ];

        var result = PublishedAgent.Run(PublishedAgent.Path,
        [
            "check", .. tls,
            "--patroni-cert-file", files.WriteCertificate("client.pem", client),
            "--patroni-key-file", files.WriteKey("client-key.pem", client),
            "--patroni-auth-file", files.Write("auth", "agent:secret"),
        ], Limit);
        var withoutCertificate = PublishedAgent.Run(PublishedAgent.Path, ["check", .. tls], Limit);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("primary         up ready 100% #primary, timeline ", result.Output);
        Assert.Equal("CN=agent", patroni.LastClientSubject);
        Assert.Equal("Basic YWdlbnQ6c2VjcmV0", patroni.LastAuthorization);
        Assert.Equal(1, withoutCertificate.ExitCode);
        Assert.Contains("primary         down #patroni demands a client certificate\n", withoutCertificate.Output);
        Assert.DoesNotContain("ready", withoutCertificate.Output.Split("\n\n")[1]);
    }

    [Fact]
    public void A_bad_tls_file_stops_the_start_naming_the_key()
    {
        var result = PublishedAgent.Run(PublishedAgent.Path,
            ["check", "--patroni-url", "https://127.0.0.1:8008", "--patroni-ca-file", "/nonexistent/ca.pem"], Limit);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("patroni-agent: --patroni-ca-file: cannot read /nonexistent/ca.pem: no such file", result.Error);
        Assert.Equal("", result.Output);
    }

    [Fact]
    public async Task A_listener_with_lag_parameters_answers_checks_that_send_nothing_with_them()
    {
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v3.0.2-replica"));
        var plain = new IPEndPoint(IPAddress.Loopback, PublishedAgent.FreePort());
        var limited = new IPEndPoint(IPAddress.Loopback, PublishedAgent.FreePort());
        using var agent = new AgentProcess(
            "--listen", $"127.0.0.1:{plain.Port}=replica", "--listen", $"127.0.0.1:{limited.Port}=replica max-lag=16MB hold=1m",
            "--patroni-url", patroni.Url.ToString(), "--poll-interval", "50ms");

        await agent.EventuallyLoggedAsync($"listening for agent checks on 127.0.0.1:{limited.Port}, default mode replica max-lag=16MB hold=1m");
        await AgentClient.EventuallyAsync(plain, "", "up ready 100% #replica, lag unknown\n");
        Assert.Equal("up drain #replica, lag unknown over max-lag\n", await AgentClient.CheckAsync(limited));
        Assert.Equal("up drain #replica, lag unknown over max-lag\n", await AgentClient.CheckAsync(limited, "read-only\n"));
        Assert.Equal("up ready 100% #replica, lag unknown\n", await AgentClient.CheckAsync(plain, "read-only\n"));
    }

    [Fact]
    public async Task The_daemon_follows_patroni_through_its_states()
    {
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        patroni.Set("/cluster", FakeReply.From(PatroniFixtures.Load("v3.0.2-cluster")));
        int port = PublishedAgent.FreePort();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        using var agent = new AgentProcess(
            "--listen", $"127.0.0.1:{port}=primary", "--patroni-url", patroni.Url.ToString(),
            "--poll-interval", "50ms", "--timeout", "500ms", "--stale-after", "1s");

        await AgentClient.EventuallyAsync(endPoint, "primary\n", "up ready 100% #primary, timeline 1\n");
        Assert.Equal("up maint #primary, timeline 1\n", await AgentClient.CheckAsync(endPoint, "replica\n"));
        Assert.Equal("up ready 100% #primary, timeline 1\n", await AgentClient.CheckAsync(endPoint));

        patroni.Status(PatroniFixtures.Load("v3.0.2-replica"));
        await AgentClient.EventuallyAsync(endPoint, "primary\n", "up maint #replica, lag unknown\n");
        Assert.Equal("up ready 100% #replica, lag unknown\n", await AgentClient.CheckAsync(endPoint, "replica\n"));
        Assert.Equal("up drain #replica, lag unknown over max-lag\n", await AgentClient.CheckAsync(endPoint, "replica max-lag=16MB\n"));

        patroni.Status(PatroniFixtures.Load("v4.1.4-primary-postgres-killed"));
        await AgentClient.EventuallyAsync(endPoint, "primary\n", "down #postgres unknown, primary\n");

        await patroni.DisposeAsync();
        await AgentClient.EventuallyAsync(endPoint, "primary\n", "down #patroni refused the connection; was: postgres unknown, primary\n");
        Assert.Equal("down #patroni refused the connection; was: postgres unknown, primary\n", await AgentClient.CheckAsync(endPoint, "replica\n"));

        await agent.EventuallyLoggedAsync("patroni state unknown");
        var statusLines = agent.Log.Split('\n').Count(l => l.Contains("patroni status:"));
        Assert.Equal(3, statusLines);
        Assert.Single(agent.Log.Split('\n'), l => l.Contains("patroni state unknown"));
    }

    [Fact]
    public async Task Http_listen_answers_patroni_style_health_checks()
    {
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        int port = PublishedAgent.FreePort();
        int httpPort = PublishedAgent.FreePort();
        var http = new IPEndPoint(IPAddress.Loopback, httpPort);
        using var agent = new AgentProcess(
            "--listen", $"127.0.0.1:{port}", "--http-listen", $"127.0.0.1:{httpPort}",
            "--patroni-url", patroni.Url.ToString(), "--poll-interval", "50ms");

        const string ready = "up ready 100% #primary, timeline 1\n";
        await AgentClient.EventuallyAsync(http, "GET /primary HTTP/1.1\r\nHost: db1\r\n\r\n",
            $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {ready.Length}\r\nConnection: close\r\n\r\n{ready}");
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", await AgentClient.CheckAsync(http, "OPTIONS /primary HTTP/1.0\r\n\r\n"));
        const string maint = "up maint #primary, timeline 1\n";
        Assert.Equal(
            $"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {maint.Length}\r\nConnection: close\r\n\r\n{maint}",
            await AgentClient.CheckAsync(http, "GET /replica HTTP/1.1\r\nHost: db1\r\n\r\n"));
        Assert.Equal(ready, await AgentClient.CheckAsync(new IPEndPoint(IPAddress.Loopback, port), "primary\n"));
        await agent.EventuallyLoggedAsync($"listening for HTTP health checks on 127.0.0.1:{httpPort}");
        await agent.EventuallyLoggedAsync($"listening for agent checks on 127.0.0.1:{port}");
    }

    [Fact]
    public async Task Sigterm_stops_it_cleanly_and_a_restart_binds_at_once()
    {
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v3.0.2-primary"));
        int port = PublishedAgent.FreePort();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        string[] args = ["--listen", $"127.0.0.1:{port}", "--patroni-url", patroni.Url.ToString(), "--poll-interval", "50ms"];
        using (var first = new AgentProcess(args))
        {
            await AgentClient.EventuallyAsync(endPoint, "\n", "up ready 100% #primary, timeline 4\n");
            for (int i = 0; i < 50; i++)
            {
                await AgentClient.CheckAsync(endPoint, "primary\n");
            }
            PublishedAgent.Terminate(first.Process);
            Assert.True(first.Process.WaitForExit(10_000));
            first.Process.WaitForExit(); // after the timed wait, this one waits for the log to be read to its end
            Assert.Equal(0, first.Process.ExitCode);
            Assert.Contains("patroni-agent stopping", first.Log);
        }
        using var second = new AgentProcess(args);
        await AgentClient.EventuallyAsync(endPoint, "\n", "up ready 100% #primary, timeline 4\n");
        Assert.DoesNotContain("already in use", second.Log);
    }

    [Fact]
    public async Task The_start_up_log_names_the_allow_list_or_says_there_is_none()
    {
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        const string ready = "up ready 100% #primary, timeline 1\n";
        int open = PublishedAgent.FreePort();
        using (var anyone = new AgentProcess("--listen", $"127.0.0.1:{open}", "--patroni-url", patroni.Url.ToString()))
        {
            await AgentClient.EventuallyAsync(new IPEndPoint(IPAddress.Loopback, open), "primary\n", ready);
            await anyone.EventuallyLoggedAsync("no allow list: checks accepted from any address");
            Assert.Single(anyone.Log.Split('\n'), l => l.EndsWith("no allow list: checks accepted from any address", StringComparison.Ordinal));
        }

        int port = PublishedAgent.FreePort();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        using var listed = new AgentProcess(
            "--listen", $"127.0.0.1:{port}", "--patroni-url", patroni.Url.ToString(), "--allow", "127.0.0.1", "--allow", "fd00::/8");
        await AgentClient.EventuallyAsync(endPoint, "primary\n", ready);
        await listed.EventuallyLoggedAsync("allow list: checks accepted only from 127.0.0.1/32, fd00::/8");
        Assert.Single(listed.Log.Split('\n'), l => l.EndsWith("allow list: checks accepted only from 127.0.0.1/32, fd00::/8", StringComparison.Ordinal));
        Assert.Equal(("", "reset"), await AgentClient.ReadUntilTheEndAsync(endPoint, "primary\n", IPAddress.Parse("127.0.0.2")));
    }

    [Fact]
    public async Task Star_listens_on_ipv4_and_ipv6_and_the_allow_list_sees_ipv4_clients_as_ipv4()
    {
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        const string ready = "up ready 100% #primary, timeline 1\n";
        int port = PublishedAgent.FreePort();
        using var agent = new AgentProcess("--listen", $"*:{port}", "--patroni-url", patroni.Url.ToString(), "--allow", "127.0.0.1", "--allow", "::1");

        await AgentClient.EventuallyAsync(new IPEndPoint(IPAddress.Loopback, port), "primary\n", ready);
        Assert.Equal(ready, await AgentClient.CheckAsync(new IPEndPoint(IPAddress.IPv6Loopback, port), "primary\n"));
        Assert.Equal(("", "reset"), await AgentClient.ReadUntilTheEndAsync(new IPEndPoint(IPAddress.Loopback, port), "primary\n", IPAddress.Parse("127.0.0.2")));
        await agent.EventuallyLoggedAsync($"listening for agent checks on *:{port}, default mode primary");
    }

    /// <summary>
    /// Runs the command after it with socket(AF_INET6, ...) failing as on a host booted with ipv6.disable=1
    /// (EAFNOSUPPORT), through a seccomp filter that execve keeps.
    /// </summary>
    private const string WithoutIPv6 = """
        import errno, os, socket, sys
        import seccomp
        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        rules.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.EQ, socket.AF_INET6))
        rules.load()
        os.execv(sys.argv[1], sys.argv[1:])
        """;

    [Fact]
    public async Task On_a_host_without_ipv6_star_listens_on_ipv4_and_says_so()
    {
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        int port = PublishedAgent.FreePort();
        using var agent = new AgentProcess(["/usr/bin/python3", "-c", WithoutIPv6], new Dictionary<string, string>(),
            "--listen", $"*:{port}", "--patroni-url", patroni.Url.ToString());

        await AgentClient.EventuallyAsync(new IPEndPoint(IPAddress.Loopback, port), "primary\n", "up ready 100% #primary, timeline 1\n");
        await agent.EventuallyLoggedAsync($"listening for agent checks on 0.0.0.0:{port} (IPv4 only: this host has no IPv6), default mode primary");
    }

    [Fact]
    public async Task Sighup_reloads_the_config_file_and_a_bad_file_is_refused_while_checks_go_on()
    {
        await using var primary = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        await using var replica = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-replica"));
        int port = PublishedAgent.FreePort();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        string directory = Directory.CreateTempSubdirectory("patroni-agent-reload-").FullName;
        string config = Path.Combine(directory, "agent.conf");
        try
        {
            File.WriteAllText(config, $"listen = 127.0.0.1:{port}\npatroni-url = {primary.Url}\n");
            using var agent = new AgentProcess("--config", config);
            await AgentClient.EventuallyAsync(endPoint, "primary\n", "up ready 100% #primary, timeline 1\n");

            File.WriteAllText(config, $"listen = 127.0.0.1:{port}\npatroni-url = {replica.Url}\n");
            PublishedAgent.HangUp(agent.Process);
            await AgentClient.EventuallyAsync(endPoint, "primary\n", "up maint #replica, lag unknown\n");
            await agent.EventuallyLoggedAsync($"reload: patroni-url {primary.Url} -> {replica.Url}");

            File.WriteAllText(config, "poll-interval = fast\n");
            PublishedAgent.HangUp(agent.Process);
            await agent.EventuallyLoggedAsync($"reload refused, the running settings stay: {config} line 1: poll-interval: \"fast\" is not a duration");
            Assert.Equal("up maint #replica, lag unknown\n", await AgentClient.CheckAsync(endPoint, "primary\n"));
            Assert.False(agent.Process.HasExited);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void A_bad_allow_prefix_stops_the_start()
    {
        var result = PublishedAgent.Run(PublishedAgent.Path, ["--allow", "10.0.0.1/8"], Limit);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--allow: \"10.0.0.1/8\" has bits set past its prefix length /8", result.Error);
        Assert.Equal("", result.Output);
    }

    [Fact]
    public async Task A_taken_port_is_a_clear_error()
    {
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var result = await Task.Run(() => PublishedAgent.Run(PublishedAgent.Path, ["--listen", $"127.0.0.1:{port}"], Limit));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"cannot listen on 127.0.0.1:{port}", result.Error);
    }
}
