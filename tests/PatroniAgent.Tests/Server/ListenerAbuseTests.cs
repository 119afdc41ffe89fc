using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Server;
using PatroniAgent.Server.Internal;
using PatroniAgent.Tests.EndToEnd;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Server;

/// <summary>
/// Tests that open thousands of connections: they run alone, after the others, so that neither their
/// load nor their descriptors disturb the timing of other tests on a 2-core machine.
/// </summary>
[CollectionDefinition(nameof(ListenerAbuseCollection), DisableParallelization = true)]
public sealed class ListenerAbuseCollection;

/// <summary>
/// Hostile and broken clients over real loopback sockets: refused sources, floods of idle connections,
/// slow senders, resets and garbage. Every loop is bounded in count and time; in each test, checks made
/// during the abuse get their correct answer and the server answers afterwards.
/// </summary>
[Collection(nameof(ListenerAbuseCollection))]
public partial class ListenerAbuseTests
{
    private const string ReplicaReady = "up ready 100% #replica, lag 0 B\n";
    private const string ReplicaInPrimaryMode = "up maint #replica, lag 0 B\n";
    private static readonly IPAddress Outside = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task A_refused_source_gets_a_reset_without_a_line_and_an_allowed_one_its_answer()
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1, allow: [IPNetwork.Parse("127.0.0.1/32")]).WithReplica();

        Assert.Equal(("", "reset"), await AgentClient.ReadUntilTheEndAsync(server.EndPoint, "replica\n", Outside));
        Assert.Equal(("", "reset"), await AgentClient.ReadUntilTheEndAsync(server.HttpEndPoint, "GET /replica HTTP/1.1\r\n\r\n", Outside));
        Assert.Equal((ReplicaReady, "reset"), await AgentClient.ReadUntilTheEndAsync(server.EndPoint, "replica\n", IPAddress.Loopback));
        var (http, end) = await AgentClient.ReadUntilTheEndAsync(server.HttpEndPoint, "GET /replica HTTP/1.1\r\n\r\n", IPAddress.Loopback);
        Assert.StartsWith("HTTP/1.1 200 ", http);
        Assert.Equal("closed", end);

        Assert.Equal(2, server.Server.Refused);
        Assert.Equal(2, server.Server.Answered);
        Assert.Equal(0, server.Server.Evicted);
    }

    [Fact]
    public async Task Refused_connections_take_no_slot()
    {
        using var server = new TestServer([Mode.Primary], maxConnections: 1, allow: [IPNetwork.Parse("127.0.0.1/32")]).WithReplica();
        using var held = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await held.ConnectAsync(server.EndPoint);
        Assert.Equal(("", "reset"), await AgentClient.ReadUntilTheEndAsync(server.EndPoint, "replica\n", Outside));
        Assert.Equal((1L, 0L), (server.Server.Refused, server.Server.Evicted));
        held.Shutdown(SocketShutdown.Send);
        Assert.Equal(ReplicaInPrimaryMode, await AgentClient.ReadToEndAsync(held, new CancellationTokenSource(10_000).Token));
        Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(server.EndPoint, "replica\n"));
    }

    [Fact]
    public async Task Without_an_allow_list_every_source_is_answered()
    {
        using var server = new TestServer([Mode.Primary]).WithReplica();
        Assert.Equal((ReplicaReady, "reset"), await AgentClient.ReadUntilTheEndAsync(server.EndPoint, "replica\n", Outside));
        Assert.Equal(0, server.Server.Refused);
    }

    [Fact]
    public async Task IPv6_listeners_match_IPv6_peers_against_the_IPv6_prefixes()
    {
        using var board = new TestServer([Mode.Primary]).WithReplica();
        using var onlyIPv4 = Start(board, IPAddress.IPv6Loopback, "127.0.0.1/32", "fd00::/8");
        Assert.Equal(("", "reset"), await AgentClient.ReadUntilTheEndAsync(onlyIPv4.EndPoints[0], "replica\n"));
        Assert.Equal(1, onlyIPv4.Refused);
        using var withIPv6 = Start(board, IPAddress.IPv6Loopback, "127.0.0.1/32", "::1/128");
        Assert.Equal((ReplicaReady, "reset"), await AgentClient.ReadUntilTheEndAsync(withIPv6.EndPoints[0], "replica\n"));
        Assert.Equal(0, withIPv6.Refused);
    }

    private static AgentServer Start(TestServer board, IPAddress address, params string[] allow)
    {
        var server = new AgentServer(
            [new ListenerOptions(new IPEndPoint(address, 0), board.Board.For(AgentRequest.For(Mode.Primary)), TimeSpan.FromSeconds(5)) { ResetAfterReply = true }],
            new AgentServerOptions { Allow = allow.Select(IPNetwork.Parse).ToList() }, NullLogger.Instance);
        server.Start();
        return server;
    }

    /// <summary>
    /// The server binds IPv6 listeners IPv6-only, so this test hands the event loop a dual-stack socket of
    /// its own, on the IPv4-mapped loopback address: IPv4 clients reach it as ::ffff:127.0.0.x. The listener
    /// does not reset on close, so an answered check ends with a FIN and a refused one with the loop's reset.
    /// </summary>
    [Fact]
    public async Task A_dual_stack_listener_matches_IPv4_mapped_peers_against_the_IPv4_prefixes()
    {
        using var board = new TestServer([Mode.Primary]).WithReplica();
        using var listener = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
        listener.Bind(new IPEndPoint(IPAddress.Parse("::ffff:127.0.0.1"), 0));
        listener.Listen(64);
        listener.Blocking = false;
        var refusals = new RefusalLog(TimeSpan.FromMinutes(1), NullLogger.Instance);
        using var loop = new EventLoop(
            0, [new BoundListener((int)listener.SafeHandle.DangerousGetHandle(), board.Board.For(AgentRequest.For(Mode.Primary)), TimeSpan.FromSeconds(5), ResetsOnClose: false)],
            100, new AllowList([IPNetwork.Parse("127.0.0.1/32"), IPNetwork.Parse("::/0")]), refusals, NullLogger.Instance);
        loop.Start();
        try
        {
            var endPoint = new IPEndPoint(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndPoint!).Port);
            Assert.Equal((ReplicaReady, "closed"), await AgentClient.ReadUntilTheEndAsync(endPoint, "replica\n", IPAddress.Loopback));
            Assert.Equal(("", "reset"), await AgentClient.ReadUntilTheEndAsync(endPoint, "replica\n", Outside));
            Assert.Equal((1, 1L), (loop.Answered, refusals.Count));
        }
        finally
        {
            loop.Stop();
        }
    }

    [Fact]
    public async Task Refusals_are_logged_at_once_then_as_one_count_per_interval()
    {
        var log = new ListLogger();
        var interval = TimeSpan.FromSeconds(1);
        using var server = new TestServer([Mode.Primary], allow: [IPNetwork.Parse("127.0.0.1/32")], logger: log, refusalLogInterval: interval).WithReplica();

        const int refusals = 300;
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < refusals; i++)
        {
            Assert.True(RawClient.IsResetUnanswered(server.EndPoint, "replica\n"u8, Outside));
        }
        var elapsed = watch.Elapsed;
        await Eventually.WaitFor(() => RefusalCounts(log).Sum() == refusals, TimeSpan.FromSeconds(10));

        var lines = log.Lines.Where(l => l.Message.Contains("allow list")).ToList();
        var counts = RefusalCounts(log);
        Assert.Equal(refusals, counts.Sum());
        Assert.Equal(1, counts[0]);
        Assert.Contains("the latest from 127.0.0.2", lines[0].Message);
        Assert.All(lines, l => Assert.Equal(LogLevel.Warning, l.Level));
        Assert.InRange(counts.Count, 2, 2 + (int)(elapsed / interval));

        await Task.Delay(interval * 2);
        Assert.Equal(counts.Count, RefusalCounts(log).Count);
        Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(server.EndPoint, "replica\n"));
    }

    private static List<long> RefusalCounts(ListLogger log) =>
        log.Lines.Select(l => RefusalLine().Match(l.Message)).Where(m => m.Success).Select(m => long.Parse(m.Groups[1].Value)).ToList();

    [GeneratedRegex(@"^agent listener: refused (\d+) connection\(s\) from outside the allow list")]
    private static partial Regex RefusalLine();

    [Fact]
    public async Task Ten_thousand_idle_connections_are_held_while_checks_are_answered()
    {
        const int idle = 10_000;
        FileLimit.RaiseTo(idle + 2_000);
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        int port = PublishedAgent.FreePort();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        using var agent = new AgentProcess(
            "--listen", $"127.0.0.1:{port}=primary", "--patroni-url", patroni.Url.ToString(),
            "--send-wait", "10s", "--max-connections", "20000");
        await AgentClient.EventuallyAsync(endPoint, "primary\n", "up ready 100% #primary, timeline 1\n");

        var sockets = await OpenIdle(endPoint, idle);
        try
        {
            Assert.Equal(idle, sockets.Count);
            for (int i = 0; i < 50; i++)
            {
                Assert.Equal(i % 2 == 0 ? "up ready 100% #primary, timeline 1\n" : "up maint #primary, timeline 1\n",
                    await AgentClient.CheckAsync(endPoint, i % 2 == 0 ? "primary\n" : "replica\n", timeoutMs: 10_000));
            }
            Assert.Equal(0, sockets.Count(s => s.Poll(0, SelectMode.SelectRead)));

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var replies = await Task.WhenAll(sockets.Select(s => AgentClient.ReadToEndAsync(s, timeout.Token)));
            Assert.All(replies, r => Assert.Equal("up ready 100% #primary, timeline 1\n", r));
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
        Assert.Equal("up maint #primary, timeline 1\n", await AgentClient.CheckAsync(endPoint, "replica\n"));
        Assert.False(agent.Process.HasExited);
    }

    [Fact]
    public async Task Idle_connections_beyond_max_connections_push_out_the_longest_waiting_and_checks_are_still_answered()
    {
        const int idle = 10_000, limit = 2_000;
        FileLimit.RaiseTo(idle + limit + 2_000);
        using var server = new TestServer([Mode.Primary], sendWait: TimeSpan.FromSeconds(60), maxConnections: limit).WithReplica();
        var sockets = await OpenIdle(server.EndPoint, idle);
        try
        {
            await Eventually.WaitFor(() => server.Server.Evicted == idle - limit, TimeSpan.FromSeconds(20));
            await Eventually.WaitFor(() => sockets.Count(s => !s.Poll(0, SelectMode.SelectRead)) == limit, TimeSpan.FromSeconds(10));
            var held = sockets.Where(s => !s.Poll(0, SelectMode.SelectRead)).ToList();
            Assert.Equal(limit, held.Count);

            // Every pushed-out connection got its answer; a new check gets its own while all slots are taken.
            foreach (var answered in sockets.Except(held).Take(100))
            {
                Assert.Equal(ReplicaInPrimaryMode, await AgentClient.ReadToEndAsync(answered, new CancellationTokenSource(10_000).Token));
            }
            for (int i = 0; i < 20; i++)
            {
                Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(server.EndPoint, "replica\n"));
            }
            Assert.InRange(server.Server.Evicted, idle - limit, idle - limit + 20);
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
        Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(server.EndPoint, "replica\n"));
    }

    /// <summary>
    /// Opens <paramref name="count"/> connections that send nothing, 200 connects at a time; returns those
    /// connected (a connection the server resets at once can fail its connect; it is closed and left out).
    /// </summary>
    private static async Task<List<Socket>> OpenIdle(IPEndPoint endPoint, int count)
    {
        var sockets = new List<Socket>(count);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        for (int opened = 0; opened < count;)
        {
            var batch = Enumerable.Range(0, Math.Min(200, count - opened))
                .Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)).ToList();
            opened += batch.Count;
            var connected = await Task.WhenAll(batch.Select(async s =>
            {
                try
                {
                    await s.ConnectAsync(endPoint, timeout.Token);
                    return s;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
                {
                    s.Dispose();
                    return null;
                }
            }));
            sockets.AddRange(connected.OfType<Socket>());
        }
        return sockets;
    }

    [Fact]
    public async Task Clients_trickling_a_byte_every_50_ms_are_cut_at_send_wait()
    {
        var wait = TimeSpan.FromMilliseconds(300);
        using var server = new TestServer([Mode.Primary], sendWait: wait, httpListeners: 1, httpWait: wait).WithReplica();
        var agentSlow = Enumerable.Range(0, 20).Select(_ => Trickle(server.EndPoint, "replica max-lag=16MB")).ToArray();
        var httpSlow = Enumerable.Range(0, 20).Select(_ => Trickle(server.HttpEndPoint, "GET /replica HTTP/1.1\r\nHost: db1\r\n")).ToArray();

        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(server.EndPoint, "replica\n"));
        }
        // Cut at send-wait, a trickled line is answered as far as it came: "replic" is down (unknown mode),
        // "replica" and "replica max-lag=16" are the replica's answers. One answer line, or a reset.
        foreach (var (sent, reply) in await Task.WhenAll(agentSlow))
        {
            Assert.InRange(sent, 1, 40);
            Assert.True(reply.Length == 0 || (reply.IndexOf('\n') == reply.Length - 1 && (reply.StartsWith("down #", StringComparison.Ordinal) || reply.StartsWith("up ", StringComparison.Ordinal))), reply);
        }
        foreach (var (sent, reply) in await Task.WhenAll(httpSlow))
        {
            Assert.InRange(sent, 1, 40);
            Assert.True(reply.Length == 0 || reply.StartsWith("HTTP/1.1 400 ", StringComparison.Ordinal), reply);
        }
        Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(server.EndPoint, "replica\n"));
    }

    /// <summary>
    /// Sends <paramref name="text"/> one byte every 50 ms, never a line end, for at most 100 bytes (5 s),
    /// until the server ends the connection; returns the bytes sent and what the server answered. On a
    /// thread of its own: a thread-pool task can be held past the send-wait on a busy test host, between
    /// the connect and its first byte, and would then trickle nothing (CI of 2026-12-07: 0 bytes sent).
    /// </summary>
    private static Task<(int Sent, string Reply)> Trickle(IPEndPoint endPoint, string text) =>
        Task.Factory.StartNew(() => TrickleOnThisThread(endPoint, text), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static (int Sent, string Reply) TrickleOnThisThread(IPEndPoint endPoint, string text)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 10_000 };
        socket.Connect(endPoint);
        byte[] bytes = Encoding.ASCII.GetBytes(text.PadRight(100, 'x'));
        int sent = 0;
        while (sent < bytes.Length)
        {
            try
            {
                socket.Send(bytes, sent, 1, SocketFlags.None);
            }
            catch (SocketException)
            {
                break;
            }
            sent++;
            if (socket.Poll(50_000, SelectMode.SelectRead))
            {
                break;
            }
        }
        var reply = new StringBuilder();
        var buffer = new byte[1024];
        try
        {
            for (int n; (n = socket.Receive(buffer)) > 0;)
            {
                reply.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
        return (sent, reply.ToString());
    }

    [Fact]
    public async Task A_storm_of_resets_leaves_the_server_answering()
    {
        using var server = new TestServer([Mode.Primary], sendWait: TimeSpan.FromSeconds(5), httpListeners: 1).WithReplica();
        using var storming = new CancellationTokenSource();
        var checks = ChecksUntil(server.EndPoint, storming.Token);

        string?[] agentSends = [null, "repl", "replica max-", "replica\n"];
        string?[] httpSends = [null, "GET /rep", "GET /replica HTTP/1.1\r\nHost:"];
        for (int batch = 0; batch < 30; batch++)
        {
            await Task.WhenAll(Enumerable.Range(0, 100).Select(i => i % 4 == 3
                ? AgentClient.ResetAsync(server.HttpEndPoint, httpSends[i % httpSends.Length])
                : AgentClient.ResetAsync(server.EndPoint, agentSends[i % agentSends.Length])));
        }
        storming.Cancel();
        Assert.True(await checks > 0);
        Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(server.EndPoint, "replica\n"));
        Assert.StartsWith("HTTP/1.1 200 ", await AgentClient.CheckAsync(server.HttpEndPoint, "GET /replica HTTP/1.1\r\n\r\n"));
    }

    [Fact]
    public async Task Megabytes_and_binary_garbage_from_many_clients_at_once_never_get_ready()
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1).WithReplica();
        var endless = new byte[2 << 20];
        Array.Fill(endless, (byte)'x');
        var garbage = new byte[1 << 20];
        new Random(4).NextBytes(garbage);
        using var flooding = new CancellationTokenSource();
        var checks = ChecksUntil(server.EndPoint, flooding.Token);

        var agentFloods = Enumerable.Range(0, 24).Select(i => Flood(server.EndPoint, i % 2 == 0 ? endless : garbage)).ToArray();
        var httpFloods = Enumerable.Range(0, 12).Select(i => Flood(server.HttpEndPoint, i % 2 == 0 ? endless : garbage)).ToArray();
        foreach (string reply in await Task.WhenAll(agentFloods))
        {
            Assert.True(reply.Length == 0 || reply.StartsWith("down #", StringComparison.Ordinal), reply);
        }
        foreach (string reply in await Task.WhenAll(httpFloods))
        {
            Assert.True(reply.Length == 0 || reply.StartsWith("HTTP/1.1 400 ", StringComparison.Ordinal), reply);
        }
        flooding.Cancel();
        Assert.True(await checks > 0);
        Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(server.EndPoint, "replica\n"));
    }

    /// <summary>Sends <paramref name="junk"/> without waiting for the send to finish and returns what the server answered.</summary>
    private static async Task<string> Flood(IPEndPoint endPoint, byte[] junk)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        var sending = socket.SendAsync(junk);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        string reply = await ReadOrReset(socket, timeout.Token);
        socket.Close(0);
        await sending.ContinueWith(_ => { }, TaskScheduler.Default);
        return reply;
    }

    /// <summary>What the server sent before it closed or reset the connection.</summary>
    private static async Task<string> ReadOrReset(Socket socket, CancellationToken cancellationToken)
    {
        try
        {
            return await AgentClient.ReadToEndAsync(socket, cancellationToken);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return "";
        }
    }

    /// <summary>Runs replica checks one after another until <paramref name="stop"/>, asserting each answer; returns how many ran.</summary>
    private static async Task<int> ChecksUntil(IPEndPoint endPoint, CancellationToken stop)
    {
        int count = 0;
        while (!stop.IsCancellationRequested && count < 10_000)
        {
            Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(endPoint, "replica\n", timeoutMs: 10_000));
            count++;
        }
        return count;
    }

}
