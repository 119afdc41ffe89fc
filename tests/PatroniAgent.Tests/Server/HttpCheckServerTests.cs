using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PatroniAgent.AgentProtocol;
using PatroniAgent.HttpCheck;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Server;

/// <summary>HTTP health checks served by the agent server over real loopback TCP.</summary>
public class HttpCheckServerTests
{
    private const string PrimaryReady = "up ready 100% #primary, timeline 1\n";
    private const string PrimaryMaint = "up maint #primary, timeline 1\n";
    private const string ReplicaReady = "up ready 100% #replica, lag 0 B\n";
    private const string ReplicaMaint = "up maint #replica, lag 0 B\n";

    /// <summary>A reply split into its status, its head (status line and headers) and its body.</summary>
    private sealed record Reply(int Status, string Head, string Body)
    {
        public static Reply From(string text)
        {
            int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            Assert.True(end > 0, $"no end of head in \"{text}\"");
            return new Reply(int.Parse(text.AsSpan(9, 3)), text[..(end + 4)], text[(end + 4)..]);
        }

        public string? Header(string name) =>
            Head.Split("\r\n").Where(l => l.StartsWith(name + ": ", StringComparison.Ordinal)).Select(l => l[(name.Length + 2)..]).SingleOrDefault();
    }

    private static async Task<Reply> CheckAsync(IPEndPoint endPoint, string request) =>
        Reply.From(await AgentClient.CheckAsync(endPoint, request));

    private static Task<Reply> GetAsync(IPEndPoint endPoint, string target) =>
        CheckAsync(endPoint, $"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n");

    [Theory]
    [InlineData("/", 200, PrimaryReady)]
    [InlineData("/primary", 200, PrimaryReady)]
    [InlineData("/master", 200, PrimaryReady)]
    [InlineData("/read-write", 200, PrimaryReady)]
    [InlineData("/leader", 200, PrimaryReady)]
    [InlineData("/read-only", 200, PrimaryReady)]
    [InlineData("/health", 200, PrimaryReady)]
    [InlineData("/read-only-sync", 200, PrimaryReady)]
    [InlineData("/read-only-quorum", 200, PrimaryReady)]
    [InlineData("/readiness", 200, PrimaryReady)]
    [InlineData("/liveness", 200, "up ready 100% #patroni answers, postgres running, primary\n")]
    [InlineData("/quorum", 503, PrimaryMaint)]
    [InlineData("/replica", 503, PrimaryMaint)]
    [InlineData("/sync", 503, PrimaryMaint)]
    [InlineData("/synchronous", 503, PrimaryMaint)]
    [InlineData("/async", 503, PrimaryMaint)]
    [InlineData("/asynchronous", 503, PrimaryMaint)]
    [InlineData("/standby-leader", 503, PrimaryMaint)]
    [InlineData("/standby_leader", 503, PrimaryMaint)]
    public async Task A_primary_answers_each_path(string path, int status, string body)
    {
        using var server = new TestServer([Mode.Replica], httpListeners: 1).WithPrimary();
        var reply = await GetAsync(server.HttpEndPoint, path);
        Assert.Equal(status, reply.Status);
        Assert.Equal(body, reply.Body);
    }

    [Theory]
    [InlineData("/replica", 200, ReplicaReady)]
    [InlineData("/read-only", 200, ReplicaReady)]
    [InlineData("/async", 200, "up ready 100% #async replica, lag 0 B\n")]
    [InlineData("/health", 200, ReplicaReady)]
    [InlineData("/primary", 503, ReplicaMaint)]
    [InlineData("/master", 503, ReplicaMaint)]
    [InlineData("/leader", 503, ReplicaMaint)]
    [InlineData("/sync", 503, "up maint #async replica, lag 0 B\n")]
    [InlineData("/standby-leader", 503, ReplicaMaint)]
    public async Task A_replica_answers_each_path(string path, int status, string body)
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1).WithReplica();
        var reply = await GetAsync(server.HttpEndPoint, path);
        Assert.Equal(status, reply.Status);
        Assert.Equal(body, reply.Body);
    }

    [Fact]
    public async Task The_reply_is_a_complete_HTTP_1_1_response_that_closes_the_connection()
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1).WithPrimary();
        Assert.Equal(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 35\r\nConnection: close\r\n\r\n" + PrimaryReady,
            await AgentClient.CheckAsync(server.HttpEndPoint, "GET /primary HTTP/1.1\r\nHost: db1\r\n\r\n"));
        Assert.Equal(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 30\r\nConnection: close\r\n\r\n" + PrimaryMaint,
            await AgentClient.CheckAsync(server.HttpEndPoint, "GET /replica HTTP/1.1\r\nHost: db1\r\n\r\n"));
    }

    [Fact]
    public async Task Patroni_templates_bare_OPTIONS_slash_is_a_primary_check_as_on_patronis_port()
    {
        using var primary = new TestServer([Mode.Primary], httpListeners: 1).WithPrimary();
        Assert.Equal(200, (await CheckAsync(primary.HttpEndPoint, "OPTIONS / HTTP/1.0\r\n\r\n")).Status);
        using var replica = new TestServer([Mode.Primary], httpListeners: 1).WithReplica();
        Assert.Equal(503, (await CheckAsync(replica.HttpEndPoint, "OPTIONS / HTTP/1.0\r\n\r\n")).Status);
    }

    [Fact]
    public async Task HAProxy_OPTIONS_check_without_headers_gets_the_status()
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1).WithPrimary();
        var primary = await CheckAsync(server.HttpEndPoint, "OPTIONS /primary HTTP/1.0\r\n\r\n");
        Assert.Equal(200, primary.Status);
        Assert.Equal(PrimaryReady, primary.Body);
        var replica = await CheckAsync(server.HttpEndPoint, "OPTIONS /replica HTTP/1.0\r\n\r\n");
        Assert.Equal(503, replica.Status);
        Assert.Equal(PrimaryMaint, replica.Body);
    }

    [Theory]
    [InlineData("/primary", 200)]
    [InlineData("/replica", 503)]
    [InlineData("/nowhere", 503)]
    public async Task HEAD_gets_the_head_of_the_GET_reply_without_its_body(string path, int status)
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1).WithPrimary();
        var get = await GetAsync(server.HttpEndPoint, path);
        string head = await AgentClient.CheckAsync(server.HttpEndPoint, $"HEAD {path} HTTP/1.1\r\nHost: db1\r\n\r\n");
        Assert.Equal(get.Head, head);
        Assert.Equal(status, get.Status);
        Assert.Equal(get.Body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), get.Header("Content-Length"));
    }

    [Theory]
    [InlineData("//")]
    [InlineData("/Primary")]
    [InlineData("/read_only")]
    [InlineData("/cluster")]
    public async Task Other_paths_get_503_as_from_Patroni_with_the_reason(string path)
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1).WithPrimary();
        var reply = await GetAsync(server.HttpEndPoint, path);
        Assert.Equal(503, reply.Status);
        Assert.StartsWith("HTTP/1.1 503 Service Unavailable\r\n", reply.Head);
        Assert.Equal($"down #unknown path, expected one of: {HttpCheckParser.AcceptedPaths}\n", reply.Body);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    public async Task Other_methods_are_not_allowed(string method)
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1).WithPrimary();
        var reply = await CheckAsync(server.HttpEndPoint, $"{method} /primary HTTP/1.1\r\nHost: db1\r\nContent-Length: 0\r\n\r\n");
        Assert.Equal(405, reply.Status);
        Assert.StartsWith("HTTP/1.1 405 Method Not Allowed\r\n", reply.Head);
        Assert.Equal("GET, HEAD, OPTIONS", reply.Header("Allow"));
        Assert.Equal("down #method not allowed, expected GET, HEAD or OPTIONS\n", reply.Body);
    }

    [Theory]
    [InlineData("GET /primary\r\n\r\n", "down #not an HTTP/1.0 or HTTP/1.1 request line\n")]
    [InlineData("GET /primary HTTP/2.0\r\n\r\n", "down #not an HTTP/1.0 or HTTP/1.1 request line\n")]
    [InlineData("\u0016\u0003\u0001\u0000\u00ff\n\n", "down #not an HTTP/1.0 or HTTP/1.1 request line\n")]
    [InlineData("GET /replica?lag=lots HTTP/1.1\r\n\r\n", "down #invalid lag, return-lag or hold in the query, expected a size such as 16MB or a duration such as 10s\n")]
    public async Task Unusable_requests_are_bad_requests(string request, string body)
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1).WithPrimary();
        var reply = await CheckAsync(server.HttpEndPoint, request);
        Assert.Equal(400, reply.Status);
        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", reply.Head);
        Assert.Equal(body, reply.Body);
    }

    [Fact]
    public async Task A_request_cut_short_is_a_bad_request_when_the_client_stops_sending()
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1).WithPrimary();
        var reply = Reply.From(await AgentClient.CheckAsync(server.HttpEndPoint, "GET /primary HTTP/1.1\r\nHost: db1\r\n", shutdownSend: true));
        Assert.Equal(400, reply.Status);
        Assert.Equal("down #request headers cut short\n", reply.Body);
    }

    [Fact]
    public async Task A_request_still_incomplete_after_the_wait_is_a_bad_request()
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1).WithPrimary();
        var clock = Stopwatch.StartNew();
        var reply = Reply.From(await AgentClient.CheckAsync(server.HttpEndPoint, "GET /primary HTTP/1.1\r\n", timeoutMs: 10_000));
        Assert.True(clock.Elapsed >= HttpCheckParser.RequestWait - TimeSpan.FromMilliseconds(50), $"answered after {clock.Elapsed}");
        Assert.Equal(400, reply.Status);
        Assert.Equal("down #request headers cut short\n", reply.Body);
    }

    [Fact]
    public async Task A_head_over_the_limit_is_a_bad_request()
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1).WithPrimary();
        var request = "GET /primary HTTP/1.1\r\nX-Padding: " + new string('a', 3000) + "\r\n\r\n";
        var reply = await CheckAsync(server.HttpEndPoint, request);
        Assert.Equal(400, reply.Status);
        Assert.Equal("down #request headers longer than 2048 bytes\n", reply.Body);
        Assert.Equal(200, (await GetAsync(server.HttpEndPoint, "/primary")).Status);
    }

    [Fact]
    public async Task A_request_sent_in_pieces_is_put_together()
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1, httpWait: TimeSpan.FromSeconds(30)).WithPrimary();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(server.HttpEndPoint);
        foreach (var piece in new[] { "GET /prim", "ary HTTP/1.1\r\nHost: db1\r", "\n\r", "\n" })
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes(piece));
            await Task.Delay(50);
        }
        var reply = Reply.From(await AgentClient.ReadToEndAsync(socket, new CancellationTokenSource(10_000).Token));
        Assert.Equal(200, reply.Status);
        Assert.Equal(PrimaryReady, reply.Body);
    }

    [Fact]
    public async Task Lag_in_the_query_is_checked_per_request()
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1).WithReplica(lag: 20L << 20);
        var under = await GetAsync(server.HttpEndPoint, "/replica?lag=32MB");
        Assert.Equal(200, under.Status);
        Assert.Equal("up ready 100% #replica, lag 20 MB\n", under.Body);
        var over = await GetAsync(server.HttpEndPoint, "/replica?lag=16MB");
        Assert.Equal(503, over.Status);
        Assert.Equal("up drain #replica, lag 20 MB over max-lag\n", over.Body);
        Assert.Equal(503, (await GetAsync(server.HttpEndPoint, "/read-only?max-lag=1048576")).Status);
        Assert.Equal(503, (await GetAsync(server.HttpEndPoint, "/async?lag=16MB&replication_state=streaming")).Status);
        Assert.Equal(200, (await GetAsync(server.HttpEndPoint, "/async?lag=20MB")).Status);
        Assert.Equal(200, (await GetAsync(server.HttpEndPoint, "/health?lag=0")).Status);
        Assert.Equal(200, (await GetAsync(server.HttpEndPoint, "/replica")).Status);
    }

    [Fact]
    public async Task Unknown_and_stale_states_are_503_with_the_unknown_answer()
    {
        var time = new ManualTime();
        using var server = new TestServer([Mode.Primary], httpListeners: 1, time: time);
        var waiting = await GetAsync(server.HttpEndPoint, "/health");
        Assert.Equal(503, waiting.Status);
        Assert.Equal("down #waiting for the first answer from patroni\n", waiting.Body);

        server.WithPrimary();
        Assert.Equal(200, (await GetAsync(server.HttpEndPoint, "/primary")).Status);

        time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
        foreach (var (path, words) in new[] { ("/primary", "down"), ("/health", "down"), ("/replica", "up maint") })
        {
            var stale = await GetAsync(server.HttpEndPoint, path);
            Assert.Equal(503, stale.Status);
            Assert.Equal($"{words} #no answer from patroni for 300s; was: primary, timeline 1\n", stale.Body);
        }
        Assert.Equal("down #no answer from patroni for 300s; was: primary, timeline 1\n", await AgentClient.CheckAsync(server.EndPoint, "primary\n"));
        var head = await AgentClient.CheckAsync(server.HttpEndPoint, "HEAD /primary HTTP/1.1\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 503 Service Unavailable\r\n", head);
        Assert.EndsWith("\r\n\r\n", head);
    }

    [Fact]
    public async Task Agent_and_HTTP_listeners_answer_side_by_side()
    {
        using var server = new TestServer([Mode.Primary, Mode.Replica], httpListeners: 2).WithReplica();
        var endPoints = server.Server.EndPoints;
        Assert.Equal(4, endPoints.Count);
        Assert.Equal(ReplicaMaint, await AgentClient.CheckAsync(endPoints[0], "\n"));
        Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(endPoints[1], "\n"));
        Assert.Equal(200, (await GetAsync(endPoints[2], "/replica")).Status);
        Assert.Equal(503, (await GetAsync(endPoints[3], "/primary")).Status);
    }

    [Fact]
    public async Task A_short_agent_wait_is_not_held_up_by_a_long_HTTP_wait()
    {
        using var server = new TestServer([Mode.Replica], sendWait: TimeSpan.FromMilliseconds(300), httpListeners: 1, httpWait: TimeSpan.FromSeconds(60)).WithReplica();
        using var silentHttp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await silentHttp.ConnectAsync(server.HttpEndPoint);
        await silentHttp.SendAsync("GET /replica HTTP/1.1\r\n"u8.ToArray());
        await Task.Delay(100);
        using var silentAgent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await silentAgent.ConnectAsync(server.EndPoint);
        Assert.Equal(ReplicaReady, await AgentClient.ReadToEndAsync(silentAgent, new CancellationTokenSource(20_000).Token));

        silentHttp.Shutdown(SocketShutdown.Send);
        Assert.Equal(400, Reply.From(await AgentClient.ReadToEndAsync(silentHttp, new CancellationTokenSource(10_000).Token)).Status);
    }

    [Fact]
    public async Task A_long_agent_wait_does_not_delay_the_HTTP_deadline()
    {
        using var server = new TestServer([Mode.Replica], sendWait: TimeSpan.FromSeconds(60), httpListeners: 1).WithReplica();
        using var silentAgent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await silentAgent.ConnectAsync(server.EndPoint);
        await Task.Delay(50);
        using var silentHttp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await silentHttp.ConnectAsync(server.HttpEndPoint);
        var reply = Reply.From(await AgentClient.ReadToEndAsync(silentHttp, new CancellationTokenSource(20_000).Token));
        Assert.Equal(400, reply.Status);

        silentAgent.Shutdown(SocketShutdown.Send);
        Assert.Equal(ReplicaReady, await AgentClient.ReadToEndAsync(silentAgent, new CancellationTokenSource(10_000).Token));
    }

    [Fact]
    public async Task An_HttpClient_reads_the_replies()
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1).WithReplica();
        using var client = new HttpClient { BaseAddress = new Uri($"http://{server.HttpEndPoint}") };
        using var replica = await client.GetAsync("/replica?lag=1MB");
        Assert.Equal(HttpStatusCode.OK, replica.StatusCode);
        Assert.Equal("text/plain", replica.Content.Headers.ContentType?.MediaType);
        Assert.Equal(ReplicaReady, await replica.Content.ReadAsStringAsync());

        using var primary = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/primary"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, primary.StatusCode);
        Assert.Equal(ReplicaMaint.Length, primary.Content.Headers.ContentLength);

        using var options = await client.SendAsync(new HttpRequestMessage(HttpMethod.Options, "/read-only"));
        Assert.Equal(HttpStatusCode.OK, options.StatusCode);
    }
}
