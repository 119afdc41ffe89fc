using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Configuration;
using PatroniAgent.Hosting;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Hosting;

/// <summary>What <see cref="AgentHost"/> tells systemd, and when.</summary>
public class AgentHostNotifyTests
{
    private static AgentOptions Options(int patroniPort) => new()
    {
        Listeners = [new ListenerConfig(new IPEndPoint(IPAddress.Loopback, 0), Mode.Primary)],
        PatroniUrl = new Uri($"http://127.0.0.1:{patroniPort}"),
        SendWait = TimeSpan.FromSeconds(1),
    };

    /// <summary>Records each state, and whether the first listener took a connection at that moment.</summary>
    private sealed class RecordingNotifier : ISystemdNotifier
    {
        public List<(string State, bool ListenerAccepts)> Sent { get; } = [];

        public AgentHost? Host { get; set; }

        public bool IsEnabled => true;

        public void Notify(ServiceState state)
        {
            bool accepts;
            try
            {
                using var client = new TcpClient();
                client.Connect(Host!.Server.EndPoints[0]);
                accepts = true;
            }
            catch (SocketException)
            {
                accepts = false;
            }
            Sent.Add((state.ToString(), accepts));
        }
    }

    private sealed class BrokenNotifier : ISystemdNotifier
    {
        public bool IsEnabled => true;

        public void Notify(ServiceState state) => throw new SocketException((int)SocketError.ConnectionRefused);
    }

    [Fact]
    public async Task Ready_once_the_listeners_are_bound_and_stopping_once()
    {
        await using var patroni = new FakePatroni();
        var notifier = new RecordingNotifier();
        using (var host = new AgentHost(Options(patroni.Port), new ListLoggerFactory(new ListLogger()), notifier))
        {
            notifier.Host = host;
            host.Start();
            Assert.Equal([("READY=1", true)], notifier.Sent);
            host.Stop();
        }

        Assert.Equal(["READY=1", "STOPPING=1"], notifier.Sent.Select(s => s.State));
    }

    [Fact]
    public async Task A_failed_notification_is_a_warning_and_the_agent_runs_on()
    {
        await using var patroni = new FakePatroni();
        var log = new ListLogger();
        using var host = new AgentHost(Options(patroni.Port), new ListLoggerFactory(log), new BrokenNotifier());

        host.Start();
        var answer = await AgentClient.CheckAsync(host.Server.EndPoints[0], "primary\n");
        host.Stop();

        Assert.StartsWith("down #", answer);
        Assert.Contains(log.Lines, l => l.Level == LogLevel.Warning && l.Message.StartsWith("cannot tell systemd READY=1 through NOTIFY_SOCKET: "));
        Assert.Contains(log.Lines, l => l.Level == LogLevel.Warning && l.Message.StartsWith("cannot tell systemd STOPPING=1 through NOTIFY_SOCKET: "));
    }
}
