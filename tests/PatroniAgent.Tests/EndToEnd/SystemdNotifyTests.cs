using System.Net;
using System.Net.Sockets;
using System.Text;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.EndToEnd;

/// <summary>
/// The published binary under a <c>Type=notify</c> unit, as systemd sees it: a unix datagram socket
/// named in NOTIFY_SOCKET receives READY=1 and STOPPING=1.
/// </summary>
public sealed class SystemdNotifyTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(15);

    private readonly string _directory = Directory.CreateTempSubdirectory("patroni-agent-notify-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Ready_arrives_once_the_listener_answers_and_stopping_on_sigterm()
    {
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        string socketPath = Path.Combine(_directory, "notify");
        using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        systemd.Bind(new UnixDomainSocketEndPoint(socketPath));
        int port = PublishedAgent.FreePort();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);

        using var agent = new AgentProcess(
            new Dictionary<string, string> { ["NOTIFY_SOCKET"] = socketPath },
            "--listen", $"127.0.0.1:{port}", "--patroni-url", patroni.Url.ToString(), "--send-wait", "1s");

        Assert.Equal("READY=1", await ReceiveAsync(systemd, agent));
        string answer = await AgentClient.CheckAsync(endPoint, "primary\n");
        Assert.EndsWith("\n", answer);
        Assert.Matches("^(up|down) ", answer);

        PublishedAgent.Terminate(agent.Process);
        Assert.Equal("STOPPING=1", await ReceiveAsync(systemd, agent));
        Assert.True(agent.Process.WaitForExit(10_000));
        Assert.Equal(0, agent.Process.ExitCode);
    }

    [Fact]
    public async Task A_notify_socket_nobody_listens_on_is_logged_and_the_agent_serves_on()
    {
        await using var patroni = new FakePatroni().Status(PatroniFixtures.Load("v4.1.4-primary"));
        int port = PublishedAgent.FreePort();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);

        using var agent = new AgentProcess(
            new Dictionary<string, string> { ["NOTIFY_SOCKET"] = Path.Combine(_directory, "missing", "notify") },
            "--listen", $"127.0.0.1:{port}", "--patroni-url", patroni.Url.ToString(), "--send-wait", "1s");

        await AgentClient.EventuallyAsync(endPoint, "primary\n", "up ready 100% #primary, timeline 1\n");

        PublishedAgent.Terminate(agent.Process);
        Assert.True(agent.Process.WaitForExit(10_000));
        agent.Process.WaitForExit();
        Assert.Equal(0, agent.Process.ExitCode);
        string log = agent.Log;
        Assert.True(log.Contains("cannot tell systemd READY=1 through NOTIFY_SOCKET"), log);
        Assert.True(log.Contains("cannot tell systemd STOPPING=1 through NOTIFY_SOCKET"), log);
    }

    /// <summary>The next datagram on the notification socket, or a failure naming the agent's log.</summary>
    private static async Task<string> ReceiveAsync(Socket socket, AgentProcess agent)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(Limit);
        try
        {
            int length = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            return Encoding.UTF8.GetString(buffer, 0, length);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no notification within {Limit}; agent log:\n{agent.Log}");
        }
    }
}
