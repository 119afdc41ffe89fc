using System.Net;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Configuration;
using PatroniAgent.Hosting;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Hosting;

/// <summary>
/// <see cref="AgentHost.Reload"/>, as SIGHUP runs it: what it applies while running, what it leaves to a
/// restart, what it refuses, and what it logs and tells systemd.
/// </summary>
public sealed class AgentHostReloadTests : IAsyncLifetime
{
    private readonly FakePatroni _primary = new();
    private readonly FakePatroni _replica = new();
    private readonly ListLogger _log = new();
    private readonly LogLevelSwitch _logLevel = new(LogLevel.Information);
    private readonly RecordingNotifier _systemd = new();
    private Func<AgentOptions> _next = () => throw new InvalidOperationException("no configuration given");
    private AgentHost? _host;

    private sealed class RecordingNotifier : ISystemdNotifier
    {
        public List<string> Sent { get; } = [];

        public bool IsEnabled => true;

        public void Notify(ServiceState state)
        {
            lock (Sent)
            {
                Sent.Add(state.ToString());
            }
        }
    }

    private AgentOptions Running { get; set; } = new();

    private AgentHost Host => _host!;

    private IPEndPoint EndPoint => Host.Server.EndPoints[0];

    public Task InitializeAsync()
    {
        _primary.Status(PatroniFixtures.Load("v4.1.4-primary"));
        _replica.Status(PatroniFixtures.Load("v4.1.4-replica"));
        Running = new AgentOptions
        {
            Listeners = [new ListenerConfig(new IPEndPoint(IPAddress.Loopback, 0), Mode.Primary)],
            PatroniUrl = _primary.Url,
            SendWait = TimeSpan.FromSeconds(1),
        };
        _host = new AgentHost(Running, new ListLoggerFactory(_log), _systemd, () => _next(), _logLevel);
        _host.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _host?.Dispose();
        await _primary.DisposeAsync();
        await _replica.DisposeAsync();
    }

    private string[] Logged(LogLevel level) => _log.Lines.Where(l => l.Level == level).Select(l => l.Message).ToArray();

    [Fact]
    public async Task The_patroni_url_poll_interval_and_log_level_change_at_once_each_logged_with_its_values()
    {
        await AgentClient.EventuallyAsync(EndPoint, "primary\n", "up ready 100% #primary, timeline 1\n");
        _next = () => Running with { PatroniUrl = _replica.Url, PollInterval = TimeSpan.FromSeconds(2), LogLevel = LogLevel.Warning };

        Host.Reload();

        await AgentClient.EventuallyAsync(EndPoint, "primary\n", "up maint #replica, lag unknown\n");
        Assert.Equal(LogLevel.Warning, _logLevel.Level);
        Assert.Equal(
        [
            $"reload: patroni-url {_primary.Url} -> {_replica.Url}",
            "reload: poll-interval 1s -> 2s",
            "reload: log-level information -> warning",
        ], Logged(LogLevel.Information).Where(l => l.StartsWith("reload", StringComparison.Ordinal)));
        Assert.Empty(Logged(LogLevel.Warning));
        lock (_systemd.Sent)
        {
            Assert.Equal(3, _systemd.Sent.Count);
            Assert.Equal("READY=1", _systemd.Sent[0]);
            Assert.Matches(@"^RELOADING=1\nMONOTONIC_USEC=\d+$", _systemd.Sent[1]);
            Assert.Equal("READY=1", _systemd.Sent[2]);
        }
    }

    [Fact]
    public async Task An_allow_list_given_by_a_reload_refuses_the_sources_it_leaves_out()
    {
        const string Ready = "up ready 100% #primary, timeline 1\n";
        await AgentClient.EventuallyAsync(EndPoint, "primary\n", Ready);
        Assert.Equal((Ready, "reset"), await AgentClient.ReadUntilTheEndAsync(EndPoint, "primary\n", IPAddress.Parse("127.0.0.2")));

        _next = () => Running with { Allow = [IPNetwork.Parse("127.0.0.1/32")] };
        Host.Reload();

        Assert.Equal(("", "reset"), await AgentClient.ReadUntilTheEndAsync(EndPoint, "primary\n", IPAddress.Parse("127.0.0.2")));
        Assert.Equal(Ready, await AgentClient.CheckAsync(EndPoint, "primary\n"));
        Assert.Contains("reload: allow any address -> 127.0.0.1/32", Logged(LogLevel.Information));
    }

    [Fact]
    public async Task New_unknown_answer_words_and_stale_after_reach_the_answers_of_a_silent_patroni()
    {
        await AgentClient.EventuallyAsync(EndPoint, "primary\n", "up ready 100% #primary, timeline 1\n");
        _primary.Status(new FakeReply.Silence());
        _next = () => Running with { UnknownAnswer = "stopped", StaleAfter = TimeSpan.FromMilliseconds(1500), Timeout = TimeSpan.FromMilliseconds(200) };

        Host.Reload();

        await AgentClient.EventuallyAsync(EndPoint, "primary\n", "stopped #no answer from patroni within 200 ms; was: primary, timeline 1\n");
        Assert.Equal("up maint #no answer from patroni within 200 ms; was: primary, timeline 1\n", await AgentClient.CheckAsync(EndPoint, "replica\n"));
        Assert.Equal(new("stopped", "no answer from patroni for 1.5s"), Host.Board.Unknown);
    }

    [Fact]
    public async Task Settings_that_need_a_restart_are_named_and_keep_their_running_values()
    {
        await AgentClient.EventuallyAsync(EndPoint, "primary\n", "up ready 100% #primary, timeline 1\n");
        _next = () => Running with { Listeners = [new ListenerConfig(new IPEndPoint(IPAddress.Loopback, 6000), Mode.Replica)], Workers = 2 };

        Host.Reload();
        Host.Reload();

        Assert.Equal("up ready 100% #primary, timeline 1\n", await AgentClient.CheckAsync(EndPoint));
        string[] expected =
        [
            "reload: listen 127.0.0.1:0=primary -> 127.0.0.1:6000=replica needs a restart; running with 127.0.0.1:0=primary until then",
            "reload: workers 1 -> 2 needs a restart; running with 1 until then",
        ];
        Assert.Equal([.. expected, .. expected], Logged(LogLevel.Warning));
    }

    [Fact]
    public async Task An_invalid_configuration_is_refused_and_the_running_settings_stay()
    {
        await AgentClient.EventuallyAsync(EndPoint, "primary\n", "up ready 100% #primary, timeline 1\n");
        _next = () => throw new ConfigException("/etc/patroni-agent/patroni-agent.conf line 3: poll-interval: \"fast\" is not a duration");

        Host.Reload();

        Assert.Equal(["reload refused, the running settings stay: /etc/patroni-agent/patroni-agent.conf line 3: poll-interval: \"fast\" is not a duration"],
            Logged(LogLevel.Error));
        Assert.Equal("up ready 100% #primary, timeline 1\n", await AgentClient.CheckAsync(EndPoint, "primary\n"));
        lock (_systemd.Sent)
        {
            Assert.Equal("READY=1", _systemd.Sent[^1]);
        }

        _next = () => Running;
        Host.Reload();
        Assert.Contains("reload: the configuration is unchanged", Logged(LogLevel.Information));
    }
}
