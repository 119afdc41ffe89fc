using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.EndToEnd;

/// <summary>The published native binary's metrics endpoint, against a stand-in Patroni.</summary>
public class MetricsBinaryTests
{
    [Fact]
    public async Task Metrics_and_status_follow_checks_and_polls_of_the_running_binary()
    {
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        int port = PublishedAgent.FreePort();
        int metricsPort = PublishedAgent.FreePort();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        var metrics = new IPEndPoint(IPAddress.Loopback, metricsPort);
        using var agent = new AgentProcess(
            "--listen", $"127.0.0.1:{port}=primary", "--metrics-listen", $"127.0.0.1:{metricsPort}",
            "--patroni-url", patroni.Url.ToString(), "--poll-interval", "50ms", "--stale-after", "5s");

        await AgentClient.EventuallyAsync(endPoint, "primary\n", "up ready 100% #primary, timeline 1\n");
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal("up maint #primary, timeline 1\n", await AgentClient.CheckAsync(endPoint, "replica\n"));
        }

        var text = await ScrapeAsync(metrics, "/metrics");
        var parsed = PrometheusText.Parse(text);
        Assert.Equal(3, parsed.Value("patroni_agent_checks_total", ("protocol", "agent"), ("mode", "replica"), ("answer", "maint")));
        Assert.True(parsed.Value("patroni_agent_checks_total", ("protocol", "agent"), ("mode", "primary"), ("answer", "ready")) >= 1);
        Assert.Equal(1, parsed.Value("patroni_agent_answer", ("scope", "demo4"), ("name", "pg1"), ("mode", "primary"), ("answer", "ready")));
        Assert.True(parsed.Value("patroni_agent_poll_duration_seconds_count") >= 1);
        double goodPoll = parsed.Value("patroni_agent_last_good_poll_timestamp_seconds");
        Assert.InRange(goodPoll, NowUnix() - 5, NowUnix());
        Assert.Equal(1, parsed.Value("patroni_agent_checkers_recent"));
        Assert.Equal(1, parsed.Value("patroni_agent_checkers", ("answer", "maint")));
        Assert.True(parsed.Value("process_resident_memory_bytes") > 1 << 20);
        Assert.True(parsed.Value("process_open_fds") >= 3);
        Assert.True(parsed.Value("process_max_fds") >= parsed.Value("process_open_fds"));
        Assert.InRange(parsed.Value("process_start_time_seconds"), NowUnix() - 60, NowUnix());
        Assert.True(parsed.Value("process_cpu_seconds_total") > 0);
        string version = PublishedAgent.Run(PublishedAgent.Path, ["--version"], TimeSpan.FromSeconds(30)).Output.Trim().Split(' ')[1];
        Assert.Equal(1, parsed.Value("patroni_agent_build_info", ("version", version)));

        using (var status = JsonDocument.Parse(await ScrapeAsync(metrics, "/status")))
        {
            Assert.Equal("up ready 100% #primary, timeline 1", status.RootElement.GetProperty("modes").GetProperty("primary").GetString());
            Assert.StartsWith("role primary, state running, HTTP 200", status.RootElement.GetProperty("summary").GetString());
        }

        await patroni.DisposeAsync();
        await AgentClient.EventuallyAsync(endPoint, "primary\n", "down #patroni refused the connection; was: primary, timeline 1\n");
        var down = PrometheusText.Parse(await ScrapeAsync(metrics, "/metrics"));
        Assert.True(down.Value("patroni_agent_poll_errors_total", ("kind", "refused")) >= 1);
        Assert.Equal(1, down.Value("patroni_agent_answer", ("scope", "demo4"), ("name", "pg1"), ("mode", "primary"), ("answer", "unknown")));
        Assert.True(down.Value("patroni_agent_answer_transitions_total", ("mode", "primary")) >= 2);
        // Stale-after runs on the monotonic clock and the timestamp on the wall clock, in milliseconds: 0.1 s for the two.
        Assert.True(NowUnix() - down.Value("patroni_agent_last_good_poll_timestamp_seconds") >= 4.9);
        await agent.EventuallyLoggedAsync($"serving metrics on http://127.0.0.1:{metricsPort}/metrics and /status");
    }

    [Fact]
    public void A_metrics_address_in_use_stops_the_start_with_a_message()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        int metricsPort = ((IPEndPoint)taken.LocalEndPoint!).Port;

        var result = PublishedAgent.Run(PublishedAgent.Path,
            ["--listen", $"127.0.0.1:{PublishedAgent.FreePort()}", "--metrics-listen", $"127.0.0.1:{metricsPort}"], TimeSpan.FromSeconds(30));

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"cannot listen for metrics on 127.0.0.1:{metricsPort}", result.Error);
    }

    [Fact]
    public async Task Out_of_descriptors_the_metrics_thread_pauses_instead_of_spinning_and_then_serves_the_scrape()
    {
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        int port = PublishedAgent.FreePort();
        int metricsPort = PublishedAgent.FreePort();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        using var agent = new AgentProcess(
            "--listen", $"127.0.0.1:{port}", "--metrics-listen", $"127.0.0.1:{metricsPort}", "--patroni-url", patroni.Url.ToString(),
            "--send-wait", "10s", "--log-level", "debug", "--poll-interval", "60s", "--stale-after", "120s");
        // One poll at the start and none during the test: a poll's socket, opened and closed, would free a
        // descriptor that the metrics thread could take for the scrape instead of running out.
        await AgentClient.EventuallyAsync(endPoint, "primary\n", "up ready 100% #primary, timeline 1\n");
        var limit = PublishedAgent.Run("prlimit", ["--pid", agent.Process.Id.ToString(), "--nofile=64:64"], TimeSpan.FromSeconds(10));
        Assert.Equal(0, limit.ExitCode);

        var held = new List<Socket>();
        try
        {
            for (int i = 0; i < 100; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                held.Add(socket);
                await socket.ConnectAsync(endPoint);
                await socket.SendAsync("prim"u8.ToArray());
            }
            using var scrape = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await scrape.ConnectAsync(new IPEndPoint(IPAddress.Loopback, metricsPort));
            await scrape.SendAsync("GET /metrics HTTP/1.1\r\n\r\n"u8.ToArray());
            // Counted over one second from the first failure logged: a line reaches the test through the
            // agent's log writer and the test's pipe reader, late on a busy machine.
            const string Failure = "metrics client connection failed: TooManyOpenSockets";
            await agent.EventuallyLoggedAsync(Failure);
            int before = agent.Log.Split('\n').Count(l => l.Contains(Failure));
            await Task.Delay(1000);
            int failures = agent.Log.Split('\n').Count(l => l.Contains(Failure)) - before + 1;

            foreach (var socket in held)
            {
                socket.Dispose();
            }
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            string reply = await AgentClient.ReadToEndAsync(scrape, cts.Token);

            Assert.InRange(failures, 1, 20);
            Assert.StartsWith("HTTP/1.1 200 OK\r\n", reply);
        }
        finally
        {
            foreach (var socket in held)
            {
                socket.Dispose();
            }
        }
    }

    private static double NowUnix() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    private static async Task<string> ScrapeAsync(IPEndPoint metrics, string path)
    {
        string reply = await AgentClient.CheckAsync(metrics, $"GET {path} HTTP/1.1\r\nHost: agent\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", reply);
        return reply[(reply.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
    }
}
