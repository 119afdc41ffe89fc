using System.Net;
using System.Net.Sockets;
using System.Text;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.HttpCheck;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Server;

/// <summary>The agent-check server over real loopback TCP.</summary>
public class AgentServerTests
{
    private const string ReplicaReady = "up ready 100% #replica, lag 0 B\n";
    private const string ReplicaInPrimaryMode = "up maint #replica, lag 0 B\n";

    [Theory]
    [InlineData("replica\n", ReplicaReady)]
    [InlineData("REPLICA\r\n", ReplicaReady)]
    [InlineData("primary\n", ReplicaInPrimaryMode)]
    [InlineData("master\n", ReplicaInPrimaryMode)]
    [InlineData("read-only\n", ReplicaReady)]
    [InlineData("async\n", "up ready 100% #async replica, lag 0 B\n")]
    [InlineData("sync\n", "up maint #async replica, lag 0 B\n")]
    [InlineData("replica max-lag=1MB\n", ReplicaReady)]
    [InlineData("\n", ReplicaInPrimaryMode)]
    [InlineData("bogus\n", "down #unknown mode in agent-send, expected one of: primary, replica, read-only, sync, async, standby-leader, leader, health, read-only-sync, quorum, read-only-quorum, liveness, readiness\n")]
    public async Task The_agent_send_line_selects_the_answer(string send, string expected)
    {
        using var server = new TestServer([Mode.Primary]).WithReplica();
        Assert.Equal(expected, await AgentClient.CheckAsync(server.EndPoint, send));
    }

    [Fact]
    public async Task Max_lag_is_checked_per_request()
    {
        using var server = new TestServer([Mode.Primary]).WithReplica(lag: 20L << 20);
        Assert.Equal("up ready 100% #replica, lag 20 MB\n", await AgentClient.CheckAsync(server.EndPoint, "replica max-lag=32MB\n"));
        Assert.Equal("up drain #replica, lag 20 MB over max-lag\n", await AgentClient.CheckAsync(server.EndPoint, "replica max-lag=16MB\n"));
        Assert.Equal("up ready 100% #replica, lag 20 MB\n", await AgentClient.CheckAsync(server.EndPoint, "replica\n"));
    }

    [Fact]
    public async Task Without_agent_send_each_listener_answers_its_own_mode()
    {
        using var server = new TestServer([Mode.Primary, Mode.Replica], sendWait: TimeSpan.FromMilliseconds(500)).WithReplica();
        var endPoints = server.Server.EndPoints;
        Assert.Equal(ReplicaInPrimaryMode, await AgentClient.CheckAsync(endPoints[0]));
        Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(endPoints[1]));
        Assert.Equal(ReplicaInPrimaryMode, await AgentClient.CheckAsync(endPoints[1], "primary\n"));
    }

    [Fact]
    public async Task A_client_that_closes_its_side_is_answered_at_once()
    {
        using var server = new TestServer([Mode.Replica], sendWait: TimeSpan.FromSeconds(30)).WithReplica();
        var check = AgentClient.CheckAsync(server.EndPoint, shutdownSend: true);
        Assert.Same(check, await Task.WhenAny(check, Task.Delay(10_000)));
        Assert.Equal(ReplicaReady, await check);
        Assert.Equal(ReplicaInPrimaryMode, await AgentClient.CheckAsync(server.EndPoint, "primary", shutdownSend: true));
    }

    [Fact]
    public async Task A_line_sent_in_pieces_is_put_together()
    {
        using var server = new TestServer([Mode.Primary], sendWait: TimeSpan.FromSeconds(30)).WithReplica();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(server.EndPoint);
        await socket.SendAsync("rep"u8.ToArray());
        await Task.Delay(50);
        await socket.SendAsync("lica ma"u8.ToArray());
        await Task.Delay(50);
        await socket.SendAsync("x-lag=1kB\n"u8.ToArray());
        Assert.Equal(ReplicaReady, await AgentClient.ReadToEndAsync(socket, new CancellationTokenSource(10_000).Token));
    }

    [Fact]
    public async Task A_silent_client_gets_the_listener_mode_after_send_wait_without_holding_up_others()
    {
        using var server = new TestServer([Mode.Replica], sendWait: TimeSpan.FromSeconds(2)).WithReplica();
        var silent = new List<Socket>();
        for (int i = 0; i < 50; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(server.EndPoint);
            silent.Add(socket);
        }
        Assert.Equal(ReplicaInPrimaryMode, await AgentClient.CheckAsync(server.EndPoint, "primary\n"));
        foreach (var socket in silent)
        {
            Assert.Equal(ReplicaReady, await AgentClient.ReadToEndAsync(socket, new CancellationTokenSource(10_000).Token));
            socket.Dispose();
        }
    }

    [Fact]
    public async Task Agent_connections_are_reset_after_the_answer_and_http_ones_closed()
    {
        using var server = new TestServer([Mode.Replica], httpListeners: 1).WithReplica();
        Assert.Equal((ReplicaReady, "reset"), await AgentClient.ReadUntilTheEndAsync(server.EndPoint, "replica\n"));
        var (http, end) = await AgentClient.ReadUntilTheEndAsync(server.HttpEndPoint, "GET /replica HTTP/1.1\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", http);
        Assert.Equal("closed", end);
    }

    [Fact]
    public async Task Resets_by_clients_are_survived()
    {
        using var server = new TestServer([Mode.Primary], sendWait: TimeSpan.FromSeconds(2)).WithReplica();
        for (int i = 0; i < 300; i++)
        {
            await AgentClient.ResetAsync(server.EndPoint, i % 2 == 0 ? null : "replica\n");
        }
        Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(server.EndPoint, "replica\n"));
    }

    [Fact]
    public async Task An_oversized_line_gets_an_error_answer()
    {
        using var server = new TestServer([Mode.Primary]).WithReplica();
        Assert.Equal("down #agent-send line longer than 255 bytes\n", await AgentClient.CheckAsync(server.EndPoint, new string('a', 300)));
    }

    [Fact]
    public async Task Megabytes_without_a_newline_are_cut_off()
    {
        using var server = new TestServer([Mode.Primary]).WithReplica();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.EndPoint);
        var junk = new byte[4 << 20];
        Array.Fill(junk, (byte)'x');
        _ = socket.SendAsync(junk);
        string reply;
        try
        {
            reply = await AgentClient.ReadToEndAsync(socket, new CancellationTokenSource(10_000).Token);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            reply = "reset";
        }
        Assert.Contains(reply, new[] { "down #agent-send line longer than 255 bytes\n", "reset" });
        Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(server.EndPoint, "replica\n"));
        Assert.Equal(2, server.Server.Answered);
    }

    [Fact]
    public async Task Binary_garbage_gets_an_error_answer()
    {
        using var server = new TestServer([Mode.Primary]).WithReplica();
        Assert.Equal("down #agent-send line is not printable text\n", await AgentClient.CheckAsync(server.EndPoint, "\u0016\u0003\u0001\0\u00ff\n"));
    }

    [Fact]
    public async Task Many_concurrent_checks_all_get_their_answer()
    {
        using var server = new TestServer([Mode.Primary]).WithReplica();
        var checks = Enumerable.Range(0, 400).Select(i => AgentClient.CheckAsync(server.EndPoint, i % 2 == 0 ? "replica\n" : "primary\n")).ToArray();
        var replies = await Task.WhenAll(checks);
        for (int i = 0; i < replies.Length; i++)
        {
            Assert.Equal(i % 2 == 0 ? ReplicaReady : ReplicaInPrimaryMode, replies[i]);
        }
        Assert.True(server.Server.Answered >= 400);
    }

    [Fact]
    public async Task With_every_slot_taken_the_longest_waiting_connection_is_answered_to_make_room()
    {
        using var server = new TestServer([Mode.Primary], sendWait: TimeSpan.FromSeconds(30), maxConnections: 3).WithReplica();
        var held = new List<Socket>();
        for (int i = 0; i < 3; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(server.EndPoint);
            held.Add(socket);
            await Eventually.WaitFor(() => server.Server.Evicted == 0 && server.Server.Answered == 0, TimeSpan.FromSeconds(10));
        }

        // A fourth connection that has sent nothing yet must wait: the first one held is answered for it.
        using var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await late.ConnectAsync(server.EndPoint);
        Assert.Equal(ReplicaInPrimaryMode, await AgentClient.ReadToEndAsync(held[0], new CancellationTokenSource(10_000).Token));
        Assert.Equal(1, server.Server.Evicted);
        await late.SendAsync("replica\n"u8.ToArray());
        Assert.Equal(ReplicaReady, await AgentClient.ReadToEndAsync(late, new CancellationTokenSource(10_000).Token));

        // The others were held all along.
        held[1].Shutdown(SocketShutdown.Send);
        Assert.Equal(ReplicaInPrimaryMode, await AgentClient.ReadToEndAsync(held[1], new CancellationTokenSource(10_000).Token));
        Assert.Equal(1, server.Server.Evicted);
        held.ForEach(s => s.Dispose());
    }

    [Fact]
    public async Task IPv6_listeners_work()
    {
        using var board = new TestServer([Mode.Primary]).WithReplica();
        using var server = new PatroniAgent.Server.AgentServer(
            [new PatroniAgent.Server.ListenerOptions(new IPEndPoint(IPAddress.IPv6Loopback, 0), board.Board.For(AgentRequest.For(Mode.Replica)), TimeSpan.FromMilliseconds(20))],
            new PatroniAgent.Server.AgentServerOptions(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        server.Start();
        Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(server.EndPoints[0], "\n"));
    }

    [Fact]
    public void A_port_in_use_is_a_clear_error()
    {
        using var first = new TestServer([Mode.Primary]);
        using var second = new PatroniAgent.Server.AgentServer(
            [new PatroniAgent.Server.ListenerOptions(first.EndPoint, first.Board.For(AgentRequest.For(Mode.Primary)), TimeSpan.FromMilliseconds(20))],
            new PatroniAgent.Server.AgentServerOptions(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var error = Assert.Throws<SocketException>(second.Start);
        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
        Assert.Contains($"cannot listen on {first.EndPoint}", error.Message);
    }

    [Fact]
    public async Task Stopped_server_releases_its_port_for_an_immediate_restart()
    {
        IPEndPoint endPoint;
        using (var first = new TestServer([Mode.Primary]).WithReplica())
        {
            endPoint = first.EndPoint;
            for (int i = 0; i < 20; i++)
            {
                Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(endPoint, "replica\n"));
            }
        }
        using var board = new TestServer([Mode.Primary]).WithReplica();
        using var again = new PatroniAgent.Server.AgentServer(
            [new PatroniAgent.Server.ListenerOptions(endPoint, board.Board.For(AgentRequest.For(Mode.Primary)), TimeSpan.FromMilliseconds(20))],
            new PatroniAgent.Server.AgentServerOptions(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        again.Start();
        Assert.Equal(ReplicaReady, await AgentClient.CheckAsync(endPoint, "replica\n"));
    }

}

public class AgentServerAllocationTests
{
    [Fact]
    public async Task Steady_state_checks_allocate_nothing()
    {
        using var server = new TestServer([Mode.Primary], sendWait: TimeSpan.FromMilliseconds(200)).WithReplica(lag: 20L << 20);
        Assert.Equal(5000, RunChecks(server.EndPoint, 5000));

        const int checks = 20000;
        long before = await LoopAllocatedBytesAsync(server);
        long answeredBefore = server.Server.Answered;
        long countedBefore = server.Board.Checks.Read(CheckProtocol.Agent, (int)Mode.Replica, AnswerKind.Drain);
        int correct = RunChecks(server.EndPoint, checks);
        long counted = server.Board.Checks.Read(CheckProtocol.Agent, (int)Mode.Replica, AnswerKind.Drain) - countedBefore;
        long allocated = await LoopAllocatedBytesAsync(server) - before;

        Assert.Equal(checks, correct);
        Assert.Equal(checks + 1, server.Server.Answered - answeredBefore);
        Assert.Equal(checks, counted);
        Assert.Equal(0, allocated);
    }

    /// <summary>Runs checks from this thread without allocating; returns how many got the expected answer.</summary>
    private static int RunChecks(IPEndPoint endPoint, int count)
    {
        Span<byte> reply = stackalloc byte[256];
        ReadOnlySpan<byte> expected = "up drain #replica, lag 20 MB over max-lag\n"u8;
        int correct = 0;
        for (int i = 0; i < count; i++)
        {
            int n = RawClient.Check(endPoint, "replica max-lag=16MB\n"u8, reply);
            if (reply[..n].SequenceEqual(expected))
            {
                correct++;
            }
        }
        return correct;
    }

    [Fact]
    public async Task With_an_allow_list_allowed_and_refused_connections_allocate_nothing()
    {
        using var server = new TestServer(
            [Mode.Primary], sendWait: TimeSpan.FromMilliseconds(200), httpListeners: 1,
            allow: [IPNetwork.Parse("127.0.0.1/32"), IPNetwork.Parse("fd00::/8")]).WithReplica(lag: 20L << 20);
        Assert.Equal((5000, 1000), RunAllowedAndRefused(server, 5000));

        const int checks = 20000;
        long before = await LoopAllocatedBytesAsync(server);
        long answeredBefore = server.Server.Answered;
        long refusedBefore = server.Server.Refused;
        var (correct, refused) = RunAllowedAndRefused(server, checks);
        long allocated = await LoopAllocatedBytesAsync(server) - before;

        Assert.Equal((checks, checks / 5), (correct, refused));
        Assert.Equal(checks + 1, server.Server.Answered - answeredBefore);
        Assert.Equal(checks / 5, server.Server.Refused - refusedBefore);
        Assert.Equal(0, allocated);
    }

    /// <summary>
    /// Runs checks from 127.0.0.1 and, after every fifth, a connection from 127.0.0.2, to the agent and the
    /// HTTP listener in turn, without allocating; returns how many checks got the expected answer and how
    /// many of the other connections were reset unanswered.
    /// </summary>
    private static (int Correct, int Refused) RunAllowedAndRefused(TestServer server, int count)
    {
        var outside = IPAddress.Parse("127.0.0.2");
        Span<byte> reply = stackalloc byte[256];
        ReadOnlySpan<byte> expected = "up drain #replica, lag 20 MB over max-lag\n"u8;
        int correct = 0, refused = 0;
        for (int i = 0; i < count; i++)
        {
            int n = RawClient.Check(server.EndPoint, "replica max-lag=16MB\n"u8, reply);
            if (reply[..n].SequenceEqual(expected))
            {
                correct++;
            }
            if (i % 5 == 4 && (i % 10 == 4
                    ? RawClient.IsResetUnanswered(server.EndPoint, "replica\n"u8, outside)
                    : RawClient.IsResetUnanswered(server.HttpEndPoint, "GET /replica HTTP/1.1\r\n\r\n"u8, outside)))
            {
                refused++;
            }
        }
        return (correct, refused);
    }

    [Fact]
    public async Task Steady_state_HTTP_checks_allocate_nothing()
    {
        using var server = new TestServer([Mode.Primary], httpListeners: 1).WithReplica(lag: 20L << 20);
        const string Over = "up drain #replica, lag 20 MB over max-lag\n";
        (byte[] Request, byte[] Reply)[] exchanges =
        [
            (Bytes("GET /replica?lag=16MB HTTP/1.1\r\nHost: db1:8009\r\nUser-Agent: test\r\n\r\n"),
                Bytes($"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {Over.Length}\r\nConnection: close\r\n\r\n{Over}")),
            (Bytes("OPTIONS /replica HTTP/1.0\r\n\r\n"),
                Bytes("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 34\r\nConnection: close\r\n\r\nup ready 100% #replica, lag 20 MB\n")),
            (Bytes("HEAD /primary HTTP/1.1\r\n\r\n"),
                Bytes("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 29\r\nConnection: close\r\n\r\n")),
            (Bytes("GET / HTTP/1.1\r\n\r\n"),
                Bytes("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 29\r\nConnection: close\r\n\r\nup maint #replica, lag 20 MB\n")),
            (Bytes("GET /nowhere HTTP/1.1\r\n\r\n"),
                Bytes($"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {HttpCheckParser.ErrorReason(HttpCheckError.UnknownPath).Length + 7}\r\nConnection: close\r\n\r\ndown #{HttpCheckParser.ErrorReason(HttpCheckError.UnknownPath)}\n")),
        ];
        Assert.Equal(5000, RunHttpChecks(server.HttpEndPoint, exchanges, 5000));

        const int checks = 20000;
        long before = await LoopAllocatedBytesAsync(server);
        long answeredBefore = server.Server.Answered;
        int correct = RunHttpChecks(server.HttpEndPoint, exchanges, checks);
        long allocated = await LoopAllocatedBytesAsync(server) - before;

        Assert.Equal(checks, correct);
        Assert.Equal(checks + 1, server.Server.Answered - answeredBefore);
        Assert.Equal(0, allocated);
    }

    /// <summary>Runs HTTP checks from this thread without allocating, taking turns over the exchanges; returns how many got their reply.</summary>
    private static int RunHttpChecks(IPEndPoint endPoint, (byte[] Request, byte[] Reply)[] exchanges, int count)
    {
        Span<byte> reply = stackalloc byte[1024];
        int correct = 0;
        for (int i = 0; i < count; i++)
        {
            var (request, expected) = exchanges[i % exchanges.Length];
            int n = RawClient.Check(endPoint, request, reply);
            if (reply[..n].SequenceEqual(expected))
            {
                correct++;
            }
        }
        return correct;
    }

    private static byte[] Bytes(string text) => Encoding.ASCII.GetBytes(text);

    /// <summary>The event loop's count once it has finished its turn (a check wakes it for one more).</summary>
    private static async Task<long> LoopAllocatedBytesAsync(TestServer server)
    {
        await AgentClient.CheckAsync(server.EndPoint, "replica\n");
        await Task.Delay(50);
        return server.Server.AllocatedBytes;
    }
}
