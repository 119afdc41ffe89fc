using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Metrics;
using PatroniAgent.Patroni;
using PatroniAgent.Policy;
using PatroniAgent.Server;
using PatroniAgent.Watcher;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Metrics;

/// <summary>
/// <see cref="AgentMetrics"/> and <see cref="MetricsServer"/> over a real <see cref="AgentServer"/> on
/// loopback: the exposition format parsed back, each metric moving with checks and polls, the status
/// page, and the endpoint's answers to bad requests.
/// </summary>
public sealed class MetricsEndpointTests : IDisposable
{
    private static readonly string[] Families =
    [
        "patroni_agent_build_info", "patroni_agent_checks_total", "patroni_agent_answer", "patroni_agent_answer_transitions_total",
        "patroni_agent_poll_duration_seconds", "patroni_agent_poll_errors_total", "patroni_agent_last_good_poll_timestamp_seconds",
        "patroni_agent_lag_polls_total", "patroni_agent_checkers_recent", "patroni_agent_checkers", "patroni_agent_open_connections", "patroni_agent_evicted_connections_total", "patroni_agent_refused_connections_total",
        "process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes", "process_start_time_seconds",
        "process_open_fds", "process_max_fds",
    ];

    private static double NowUnix => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    private readonly ManualTime _time = new();
    private readonly ScriptedPoller _poller;
    private readonly TestServer _server;
    private readonly RoleWatcher _watcher;
    private readonly MetricsServer _endpoint;

    public MetricsEndpointTests()
    {
        _poller = new ScriptedPoller(_time);
        _server = new TestServer([Mode.Primary], sendWait: TimeSpan.FromSeconds(5), httpListeners: 1, time: _time,
            allow: [IPNetwork.Parse("127.0.0.1/32")]);
        _watcher = new RoleWatcher(_poller, _server.Board, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(3), NullLogger.Instance, _time);
        _endpoint = new MetricsServer([new IPEndPoint(IPAddress.Loopback, 0)], new AgentMetrics(_server.Board, _watcher, _server.Server, "1.2.3"), NullLogger.Instance);
        _endpoint.Start();
    }

    private IPEndPoint Endpoint => _endpoint.EndPoints[0];

    public void Dispose()
    {
        _endpoint.Dispose();
        _server.Dispose();
    }

    [Fact]
    public async Task Metrics_are_valid_exposition_text_with_every_family_and_its_type()
    {
        var (head, body) = await GetAsync("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", head);
        Assert.Contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n", head);
        Assert.Contains($"\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n", head);
        var metrics = PrometheusText.Parse(body);
        Assert.Equal(Families.Order(), metrics.Families.Order());
        Assert.Equal("histogram", metrics.TypeOf("patroni_agent_poll_duration_seconds"));
        Assert.All(Families.Where(f => f.EndsWith("_total", StringComparison.Ordinal)), f => Assert.Equal("counter", metrics.TypeOf(f)));
        Assert.Equal("gauge", metrics.TypeOf("patroni_agent_answer"));
        Assert.Equal(1, metrics.Value("patroni_agent_build_info", ("version", "1.2.3")));
        Assert.Equal(
            PollMetrics.BucketBounds.Select(b => b.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append("+Inf"),
            metrics.Samples("patroni_agent_poll_duration_seconds_bucket").Select(s => s.Labels["le"]));
        Assert.Equal(["timeout", "refused", "http", "json", "tls", "dns", "other"],
            metrics.Samples("patroni_agent_poll_errors_total").Select(s => s.Labels["kind"]));
        foreach (var mode in ModeNames.All)
        {
            var answers = metrics.Samples("patroni_agent_answer", ("mode", ModeNames.Name(mode))).ToList();
            Assert.Equal(["ready", "drain", "maint", "down", "unknown"], answers.Select(a => a.Labels["answer"]));
            Assert.Equal(1, answers.Sum(a => a.Value));
        }
    }

    [Fact]
    public async Task Check_counters_and_the_current_answer_move_with_checks_and_polls()
    {
        var before = await ScrapeAsync();
        Assert.Equal(1, before.Value("patroni_agent_answer", ("mode", "primary"), ("answer", "unknown")));

        _poller.Then(new PollResult(Statuses.LeaderPrimary, null), TimeSpan.FromMilliseconds(4));
        _watcher.PollOnce(CancellationToken.None);
        Assert.Equal("up ready 100% #primary, timeline 1\n", await AgentClient.CheckAsync(_server.EndPoint, "primary\n"));
        Assert.Equal("up maint #primary, timeline 1\n", await AgentClient.CheckAsync(_server.EndPoint, "replica\n"));
        Assert.Equal("up maint #primary, timeline 1\n", await AgentClient.CheckAsync(_server.EndPoint, "replica\n"));
        Assert.StartsWith("down #unknown mode", await AgentClient.CheckAsync(_server.EndPoint, "bogus\n"));
        Assert.StartsWith("HTTP/1.1 200 OK", await AgentClient.CheckAsync(_server.HttpEndPoint, "GET /leader HTTP/1.0\r\n\r\n"));

        var after = await ScrapeAsync();
        Assert.Equal(1, after.Value("patroni_agent_checks_total", ("protocol", "agent"), ("mode", "primary"), ("answer", "ready")));
        Assert.Equal(2, after.Value("patroni_agent_checks_total", ("protocol", "agent"), ("mode", "replica"), ("answer", "maint")));
        Assert.Equal(1, after.Value("patroni_agent_checks_total", ("protocol", "agent"), ("mode", "none"), ("answer", "error")));
        Assert.Equal(1, after.Value("patroni_agent_checks_total", ("protocol", "http"), ("mode", "leader"), ("answer", "ready")));
        Assert.Equal(1, after.Value("patroni_agent_answer", ("mode", "primary"), ("answer", "ready")));
        Assert.Equal(0, after.Value("patroni_agent_answer", ("mode", "primary"), ("answer", "unknown")));
        Assert.Equal(1, after.Value("patroni_agent_answer", ("mode", "replica"), ("answer", "maint")));
        Assert.Equal(1, after.Value("patroni_agent_answer_transitions_total", ("mode", "primary")));
        Assert.Equal(1, after.Value("patroni_agent_poll_duration_seconds_count"));
        Assert.Equal(0.004, after.Value("patroni_agent_poll_duration_seconds_sum"), 9);
        Assert.Equal(1, after.Value("patroni_agent_poll_duration_seconds_bucket", ("le", "0.005")));
        Assert.Equal(0, after.Value("patroni_agent_poll_duration_seconds_bucket", ("le", "0.0025")));
        Assert.InRange(after.Value("patroni_agent_last_good_poll_timestamp_seconds"), NowUnix - 60, NowUnix);
    }

    [Fact]
    public async Task What_a_replica_lag_was_measured_against_and_how_old_that_was_show_in_the_metrics_and_the_status_page()
    {
        var before = await ScrapeAsync();
        Assert.Equal(0, before.Value("patroni_agent_lag_polls_total", ("source", "leader")));
        Assert.DoesNotContain("patroni_agent_lag_reference_timestamp_seconds", before.Families);

        var replica = Statuses.Running(PatroniRole.Replica, "replica");
        _poller.Then(new PollResult(replica, null) { LagSource = LagSource.Leader, LagAge = TimeSpan.FromMilliseconds(300) }, TimeSpan.FromMilliseconds(4));
        _poller.Then(new PollResult(replica, null) { LagSource = LagSource.Leader, LagAge = TimeSpan.FromMilliseconds(700) }, TimeSpan.FromMilliseconds(4));
        _poller.Then(new PollResult(replica, null) { LagSource = LagSource.Cluster, LagAge = TimeSpan.FromSeconds(4) }, TimeSpan.FromMilliseconds(4));
        _poller.Then(new PollResult(Statuses.LeaderPrimary, null), TimeSpan.FromMilliseconds(4));
        for (int i = 0; i < 3; i++)
        {
            _watcher.PollOnce(CancellationToken.None);
        }

        var metrics = await ScrapeAsync();
        Assert.Equal(["leader", "cluster"], metrics.Samples("patroni_agent_lag_polls_total").Select(s => s.Labels["source"]));
        Assert.Equal(2, metrics.Value("patroni_agent_lag_polls_total", ("source", "leader")));
        Assert.Equal(1, metrics.Value("patroni_agent_lag_polls_total", ("source", "cluster")));
        Assert.Equal("gauge", metrics.TypeOf("patroni_agent_lag_reference_timestamp_seconds"));
        Assert.InRange(metrics.Value("patroni_agent_lag_reference_timestamp_seconds"), NowUnix - 60, NowUnix - 4);

        _watcher.PollOnce(CancellationToken.None);
        var (_, body) = await GetAsync("GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
        using var status = JsonDocument.Parse(body);
        Assert.Equal(2, status.RootElement.GetProperty("lag_polls").GetProperty("leader").GetInt64());
        Assert.Equal(1, status.RootElement.GetProperty("lag_polls").GetProperty("cluster").GetInt64());
        var lagReference = status.RootElement.GetProperty("lag_reference_at").GetDateTimeOffset();
        Assert.InRange(DateTimeOffset.UtcNow - lagReference, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Poll_failures_staleness_and_the_last_good_poll_show_in_the_metrics()
    {
        _poller.Then(new PollResult(Statuses.LeaderPrimary, null), TimeSpan.FromMilliseconds(4));
        _watcher.PollOnce(CancellationToken.None);
        double good = (await ScrapeAsync()).Value("patroni_agent_last_good_poll_timestamp_seconds");
        _poller.Then(PollResult.Failed("no answer from patroni within 1000 ms", PollErrorKind.Timeout), TimeSpan.FromSeconds(1));
        _poller.Then(PollResult.Failed("TLS handshake with patroni failed", PollErrorKind.Tls), TimeSpan.FromSeconds(1));
        _poller.Then(PollResult.Failed("TLS handshake with patroni failed", PollErrorKind.Tls), TimeSpan.FromSeconds(2));
        for (int i = 0; i < 3; i++)
        {
            _watcher.PollOnce(CancellationToken.None);
        }

        var metrics = await ScrapeAsync();
        Assert.Equal(1, metrics.Value("patroni_agent_poll_errors_total", ("kind", "timeout")));
        Assert.Equal(2, metrics.Value("patroni_agent_poll_errors_total", ("kind", "tls")));
        Assert.Equal(0, metrics.Value("patroni_agent_poll_errors_total", ("kind", "refused")));
        Assert.Equal(good, metrics.Value("patroni_agent_last_good_poll_timestamp_seconds"));
        Assert.Equal(_watcher.Polls.LastGoodAt!.Value.ToUnixTimeMilliseconds() / 1000.0, good);
        Assert.Equal(1, metrics.Value("patroni_agent_answer", ("mode", "primary"), ("answer", "unknown")));
        Assert.Equal(2, metrics.Value("patroni_agent_answer_transitions_total", ("mode", "primary")));
        Assert.Equal(4, metrics.Value("patroni_agent_poll_duration_seconds_count"));
    }

    [Fact]
    public async Task Held_and_refused_connections_are_shown()
    {
        using var held = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await held.ConnectAsync(_server.EndPoint);
        await held.SendAsync("prim"u8.ToArray());
        var (reply, _) = await AgentClient.ReadUntilTheEndAsync(_server.EndPoint, "primary\n", IPAddress.Parse("127.0.0.2"));
        Assert.Equal("", reply);

        var metrics = await EventuallyAsync(m => m.Value("patroni_agent_open_connections") == 1 && m.Value("patroni_agent_refused_connections_total") == 1);
        Assert.Equal(0, metrics.Value("patroni_agent_evicted_connections_total"));
    }

    [Fact]
    public async Task The_status_page_is_json_with_the_summary_every_mode_the_last_poll_and_the_counters()
    {
        _poller.Then(new PollResult(Statuses.LeaderPrimary, null), TimeSpan.FromMilliseconds(4));
        _watcher.PollOnce(CancellationToken.None);
        _poller.Then(PollResult.Failed("patroni refused the connection", PollErrorKind.Refused), TimeSpan.FromMilliseconds(1));
        _watcher.PollOnce(CancellationToken.None);
        await AgentClient.CheckAsync(_server.EndPoint, "primary\n");

        var (head, body) = await GetAsync("GET /status HTTP/1.0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", head);
        Assert.Contains("\r\nContent-Type: application/json\r\n", head);
        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        Assert.Equal("1.2.3", root.GetProperty("version").GetString());
        Assert.Equal("role primary, state running, HTTP 200, timeline 1; ready for: primary read-only leader health read-only-sync read-only-quorum liveness readiness", root.GetProperty("summary").GetString());
        Assert.False(root.GetProperty("stale").GetBoolean());
        var modes = root.GetProperty("modes");
        Assert.Equal(ModeNames.All.Select(ModeNames.Name), modes.EnumerateObject().Select(p => p.Name));
        Assert.Equal("up ready 100% #primary, timeline 1", modes.GetProperty("primary").GetString());
        Assert.Equal("up maint #primary, timeline 1", modes.GetProperty("replica").GetString());
        Assert.True(root.GetProperty("last_good_poll").TryGetDateTimeOffset(out _));
        Assert.Equal(0.005, root.GetProperty("seconds_since_last_good_poll").GetDouble());
        Assert.Equal("patroni refused the connection", root.GetProperty("last_error").GetProperty("message").GetString());
        Assert.Equal("refused", root.GetProperty("last_error").GetProperty("kind").GetString());
        Assert.Equal(2, root.GetProperty("polls").GetInt64());
        Assert.Equal(1, root.GetProperty("poll_errors").GetProperty("refused").GetInt64());
        Assert.Equal(1, root.GetProperty("checks_answered").GetInt64());
        Assert.Equal(0, root.GetProperty("open_connections").GetInt32());
        Assert.Equal(0, root.GetProperty("refused_connections").GetInt64());
        Assert.Equal(1, root.GetProperty("transitions").GetProperty("primary").GetInt64());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("override").ValueKind);

        _watcher.SetOverride(new OperatorOverride(Admin.Maint, "disk replacement"));
        using var overridden = JsonDocument.Parse((await GetAsync("GET /status HTTP/1.0\r\n\r\n")).Body);
        Assert.Equal("maint disk replacement", overridden.RootElement.GetProperty("override").GetString());
    }

    [Fact]
    public async Task Before_the_first_poll_the_status_page_says_unknown_and_has_no_last_good_poll()
    {
        using var json = JsonDocument.Parse((await GetAsync("GET /status HTTP/1.1\r\n\r\n")).Body);

        Assert.Equal("unknown: waiting for the first answer from patroni", json.RootElement.GetProperty("summary").GetString());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("last_good_poll").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("last_error").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("lag_reference_at").ValueKind);
        Assert.Equal("down #waiting for the first answer from patroni", json.RootElement.GetProperty("modes").GetProperty("primary").GetString());
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n\r\n", "404 Not Found")]
    [InlineData("GET /metricsx HTTP/1.1\r\n\r\n", "404 Not Found")]
    [InlineData("GET /primary HTTP/1.1\r\n\r\n", "404 Not Found")]
    [InlineData("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "405 Method Not Allowed")]
    [InlineData("DELETE /status HTTP/1.1\r\n\r\n", "405 Method Not Allowed")]
    [InlineData("hello\r\n\r\n", "400 Bad Request")]
    [InlineData("GET /metrics\r\n\r\n", "400 Bad Request")]
    [InlineData("GET  /metrics HTTP/1.1\r\n\r\n", "400 Bad Request")]
    [InlineData("GET metrics HTTP/1.1\r\n\r\n", "400 Bad Request")]
    [InlineData("GET /metrics SPDY/3\r\n\r\n", "400 Bad Request")]
    public async Task Bad_requests_get_a_4xx_and_the_connection_is_closed(string request, string status)
    {
        var (head, _) = await GetAsync(request);

        Assert.StartsWith($"HTTP/1.1 {status}\r\n", head);
        Assert.Contains("\r\nConnection: close\r\n", head);
        Assert.Equal(status.StartsWith("405", StringComparison.Ordinal), head.Contains("\r\nAllow: GET, HEAD\r\n"));
    }

    [Fact]
    public async Task A_query_string_is_ignored_and_HEAD_gets_the_head_alone()
    {
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", (await GetAsync("GET /metrics?x=1 HTTP/1.1\r\n\r\n")).Head);
        var (head, body) = await GetAsync("HEAD /metrics HTTP/1.1\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", head);
        Assert.Equal("", body);
    }

    [Fact]
    public async Task A_request_larger_than_the_limit_gets_431()
    {
        var (head, _) = await GetAsync("GET /metrics HTTP/1.1\r\nX-Padding: " + new string('a', MetricsServer.MaxRequestBytes) + "\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n", head);
    }

    [Fact]
    public async Task A_client_that_never_finishes_its_request_gets_408_and_the_endpoint_serves_the_next()
    {
        var slow = AgentClient.CheckAsync(Endpoint, "GET /metrics HTTP/1.1\r\n", timeoutMs: 10_000);
        var next = GetAsync("GET /status HTTP/1.1\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 408 Request Timeout\r\n", await slow);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", (await next).Head);
    }

    [Fact]
    public async Task A_client_that_closes_at_once_changes_nothing()
    {
        await AgentClient.ResetAsync(Endpoint);
        await AgentClient.ResetAsync(Endpoint, "GET /met");
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await socket.ConnectAsync(Endpoint);
        }

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", (await GetAsync("GET /metrics HTTP/1.1\r\n\r\n")).Head);
    }

    private async Task<PrometheusText> ScrapeAsync() => PrometheusText.Parse((await GetAsync("GET /metrics HTTP/1.1\r\n\r\n")).Body);

    private async Task<PrometheusText> EventuallyAsync(Func<PrometheusText, bool> condition)
    {
        PrometheusText? metrics = null;
        await Eventually.WaitFor(async () => condition(metrics = await ScrapeAsync()), TimeSpan.FromSeconds(10),
            () => "the metrics never reached the expected values", TimeSpan.FromMilliseconds(20));
        return metrics!;
    }

    private async Task<(string Head, string Body)> GetAsync(string request)
    {
        string reply = await AgentClient.CheckAsync(Endpoint, request);
        int end = reply.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(end > 0, $"no HTTP reply: {reply}");
        return (reply[..(end + 4)], reply[(end + 4)..]);
    }
}
