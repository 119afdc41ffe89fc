using System.Net;
using Microsoft.Extensions.Logging;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Configuration;
using PatroniAgent.Patroni;
using PatroniAgent.Tests.Support;
using PatroniAgent.Commands;

namespace PatroniAgent.Tests.Configuration;

public class ConfigLoaderTests
{
    private const string ConfPath = "/etc/patroni-agent.conf";

    private static readonly ArgumentRules RunRules = CommandTable.All[0].Rules!;

    /// <summary>Parses a command line as the command it names would: with that command's rules.</summary>
    private static CommandLine Parse(string[] args, Dictionary<string, string>? env = null, string? file = null)
    {
        var (command, arguments) = CommandTable.Find(args);
        Assert.NotNull(command?.Rules);
        return ConfigLoader.Parse(arguments, command.Rules, env ?? [], path =>
            path == ConfPath && file is not null ? file : throw new FileNotFoundException("not found", path));
    }

    private static AgentOptions Options(string[] args, Dictionary<string, string>? env = null, string? file = null) =>
        Parse(args, env, file).Options;

    private static AgentOptions FromFile(string file) => Options(["--config", ConfPath], file: file);

    private static string Error(string[] args, Dictionary<string, string>? env = null, string? file = null) =>
        Assert.Throws<ConfigException>(() => Parse(args, env, file)).Message;

    private static string FileError(string file) => Error(["--config", ConfPath], file: file);

    private static ListenerConfig Listener(string address, int port, Mode mode) =>
        new(EndPoint(address, port), mode);

    private static IPEndPoint EndPoint(string address, int port) => new(IPAddress.Parse(address), port);

    [Fact]
    public void No_arguments_run_with_the_defaults()
    {
        AgentOptions o = Parse([]).Options;
        Assert.Equal([Listener("::", 5555, Mode.Primary)], o.Listeners);
        Assert.Empty(o.HttpListeners);
        Assert.Empty(o.MetricsListeners);
        Assert.Equal(new Uri("http://127.0.0.1:8008"), o.PatroniUrl);
        Assert.Equal(TimeSpan.FromSeconds(1), o.PollInterval);
        Assert.Equal(TimeSpan.FromSeconds(10), o.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(3), o.StaleAfter);
        Assert.Equal(TimeSpan.FromMilliseconds(20), o.SendWait);
        Assert.Equal("down", o.UnknownAnswer);
        Assert.Equal(4096, o.Backlog);
        Assert.Equal(1, o.Workers);
        Assert.Equal(20000, o.MaxConnections);
        Assert.Equal(LogLevel.Information, o.LogLevel);
    }

    [Fact]
    public void Unrelated_environment_variables_are_ignored()
    {
        AgentOptions o = Options([], new() { ["PATH"] = "/bin", ["PATRONI_AGENTX"] = "1", ["patroni_agent_timeout"] = "x" });

        Assert.Equal(new AgentOptions().Timeout, o.Timeout);
    }

    [Theory]
    [InlineData(new[] { "notify" }, "")]
    [InlineData(new[] { "notify", "on_role_change", "master", "batman" }, "")]
    [InlineData(new[] { "notify", "--config", ConfPath, "on_role_change", "replica", "batman" }, "")]
    [InlineData(new[] { "drain" }, "")]
    [InlineData(new[] { "maint", "--reason", "disk replacement" }, "disk replacement")]
    [InlineData(new[] { "drain", "--reason=kernel update" }, "kernel update")]
    [InlineData(new[] { "ready" }, "")]
    public void Control_commands_and_their_arguments(string[] args, string reason)
    {
        Assert.Equal(reason, Parse(args, file: "").Reason);
    }

    [Theory]
    [InlineData(new[] { "drain" }, -1)]
    [InlineData(new[] { "drain", "--wait" }, 30_000)]
    [InlineData(new[] { "maint", "--reason", "x", "--wait", "--timeout", "90s" }, 90_000)]
    [InlineData(new[] { "ready", "--timeout=500ms", "--wait" }, 500)]
    public void Wait_and_its_timeout_on_the_override_commands(string[] args, int milliseconds)
    {
        var line = Parse(args, file: "");
        Assert.Equal(milliseconds < 0 ? null : TimeSpan.FromMilliseconds(milliseconds), line.Wait);
        Assert.Equal(new AgentOptions().Timeout, line.Options.Timeout);
    }

    [Theory]
    [InlineData(new[] { "drain", "--timeout", "5s" }, "--timeout is how long --wait waits: give --wait too")]
    [InlineData(new[] { "drain", "--wait=yes" }, "--wait takes no value")]
    [InlineData(new[] { "drain", "--wait", "--wait" }, "--wait: given more than once")]
    [InlineData(new[] { "ready", "--wait", "--timeout", "2h" }, "--timeout: \"2h\" has an unknown unit \"h\"; use (ms, s or m), e.g. 500ms")]
    [InlineData(new[] { "ready", "--wait", "--timeout", "61m" }, "--timeout: \"61m\" is out of range (1ms..60m)")]
    [InlineData(new[] { "check", "--wait" }, "--wait is only for the drain, maint and ready commands (see --help)")]
    [InlineData(new[] { "notify", "--wait" }, "--wait is only for the drain, maint and ready commands (see --help)")]
    public void Bad_wait_arguments_are_errors(string[] args, string expected)
    {
        Assert.Equal(expected, Error(args));
    }

    [Fact]
    public void Metrics_checkers_is_yes_or_no_and_off_by_default()
    {
        Assert.False(Options([]).MetricsPerChecker);
        Assert.True(FromFile("metrics-checkers = yes").MetricsPerChecker);
        Assert.False(Options(["--metrics-checkers", "no"]).MetricsPerChecker);
        Assert.Equal("--metrics-checkers: \"on\" is not yes or no", Error(["--metrics-checkers", "on"]));
    }

    [Fact]
    public void Check_and_run_keep_timeout_as_the_poll_timeout()
    {
        Assert.Equal(TimeSpan.FromSeconds(3), Parse(["check", "--timeout", "3s"], file: "").Options.Timeout);
        Assert.Null(Parse(["check", "--timeout", "3s"], file: "").Wait);
    }

    [Theory]
    [InlineData(new[] { "maint", "--reason", "a # b" }, "--reason: the reason must not contain #: HAProxy would read the text after it as a second reason")]
    [InlineData(new[] { "maint", "--reason", "tab\there" }, "--reason: the reason must be printable ASCII text, without control characters or line breaks")]
    [InlineData(new[] { "drain", "--reason", "x", "--reason", "y" }, "--reason: given more than once")]
    [InlineData(new[] { "drain", "--reason" }, "--reason: missing value")]
    [InlineData(new[] { "ready", "--reason", "done" }, "--reason is only for the drain and maint commands (see --help)")]
    [InlineData(new[] { "check", "--reason", "done" }, "--reason is only for the drain and maint commands (see --help)")]
    [InlineData(new[] { "notify", "on_role_change", "master", "batman", "extra" }, "unexpected argument \"extra\" (see --help)")]
    [InlineData(new[] { "maint", "disk" }, "unexpected argument \"disk\" (see --help)")]
    public void Control_command_errors(string[] args, string expected)
    {
        Assert.Equal(expected, Error(args));
    }

    [Fact]
    public void Help_names_the_control_commands_and_their_keys()
    {
        string help = Unwrapped(AgentHelp.Text);
        Assert.Contains("patroni-agent notify [ACTION ROLE SCOPE] [OPTION...]", help);
        Assert.Contains("patroni-agent drain [--reason TEXT] [--wait [--timeout DURATION]] [OPTION...]", help);
        Assert.Contains("patroni-agent maint [--reason TEXT] [--wait [--timeout DURATION]] [OPTION...]", help);
        Assert.Contains("patroni-agent ready [--wait [--timeout DURATION]] [OPTION...]", help);
        Assert.Contains(" ready clear the operator override", System.Text.RegularExpressions.Regex.Replace(help, " +", " "));
        Assert.Contains("printable ASCII without #, at most 120 characters", help);
        Assert.Contains("(default: /run/patroni-agent/control.sock)", help);
        Assert.Contains("(default: /var/lib/patroni-agent/override)", help);
    }

    /// <summary>The help text with each run of spaces and line breaks made one space, as its wrapping does not matter.</summary>
    private static string Unwrapped(string help) => System.Text.RegularExpressions.Regex.Replace(help, @" *\n *", " ");

    [Theory]
    [InlineData("notify")]
    [InlineData("maint")]
    [InlineData("ready")]
    public void Control_commands_do_not_read_the_Patroni_TLS_files(string command)
    {
        string[] tls = ["--patroni-url", "https://127.0.0.1:8008", "--patroni-ca-file", "/nonexistent/ca.pem"];
        Assert.Equal("--patroni-ca-file: cannot read /nonexistent/ca.pem: no such file", Error(["check", .. tls]));
        Assert.Equal("/nonexistent/ca.pem", Options([command, .. tls]).PatroniCaFile);
    }

    [Fact]
    public void A_reason_longer_than_the_limit_is_refused()
    {
        Assert.Equal("--reason: the reason is 121 characters long, at most 120 are allowed", Error(["maint", "--reason", new string('x', 121)]));
    }

    [Fact]
    public void Control_socket_and_state_file_have_defaults_and_can_be_set()
    {
        Assert.Equal("/run/patroni-agent/control.sock", Options([]).ControlSocket);
        Assert.Equal("/var/lib/patroni-agent/override", Options([]).StateFile);
        var options = Options(["--control-socket", "/tmp/a.sock"], new() { ["PATRONI_AGENT_STATE_FILE"] = "/tmp/state" });
        Assert.Equal("/tmp/a.sock", options.ControlSocket);
        Assert.Equal("/tmp/state", options.StateFile);
        Assert.Equal("--control-socket: \"/" + new string('s', 107) + "\" is 108 bytes long; a unix socket path has at most 107",
            Error(["--control-socket", "/" + new string('s', 107)]));
    }

    private const string DefaultFile = "/etc/patroni-agent/patroni-agent.conf";

    private static CommandLine ParseWithFiles(string[] args, Dictionary<string, string> files, Dictionary<string, string>? env = null)
    {
        var (command, arguments) = CommandTable.Find(args);
        Assert.NotNull(command?.Rules);
        return ConfigLoader.Parse(arguments, command.Rules, env ?? [], path => files.TryGetValue(path, out string? text) ? text : throw new FileNotFoundException("not found", path));
    }

    [Theory]
    [InlineData("run")]
    [InlineData("check")]
    [InlineData("notify")]
    [InlineData("callbacks")]
    [InlineData("drain")]
    [InlineData("maint")]
    [InlineData("ready")]
    public void Every_command_reads_the_default_config_file_when_it_exists(string command)
    {
        AgentOptions o = ParseWithFiles([command], new() { [DefaultFile] = "poll-interval = 2s\ncontrol-socket = /run/other.sock" }).Options;

        Assert.Equal(TimeSpan.FromSeconds(2), o.PollInterval);
        Assert.Equal("/run/other.sock", o.ControlSocket);
    }

    [Fact]
    public void A_named_config_file_is_read_instead_of_the_default_one()
    {
        Dictionary<string, string> files = new() { [DefaultFile] = "poll-interval = 2s", [ConfPath] = "timeout = 3s" };

        AgentOptions named = ParseWithFiles(["check", "--config", ConfPath], files).Options;
        AgentOptions fromEnvironment = ParseWithFiles(["check"], files, new() { ["PATRONI_AGENT_CONFIG"] = ConfPath }).Options;

        foreach (AgentOptions o in new[] { named, fromEnvironment })
        {
            Assert.Equal(new AgentOptions().PollInterval, o.PollInterval);
            Assert.Equal(TimeSpan.FromSeconds(3), o.Timeout);
        }
    }

    [Fact]
    public void A_default_config_file_that_cannot_be_read_is_an_error_that_names_it()
    {
        string message = Assert.Throws<ConfigException>(() => ConfigLoader.Parse([], CommandTable.Find(["check"]).Command!.Rules!, new Dictionary<string, string>(),
            _ => throw new UnauthorizedAccessException())).Message;

        Assert.Equal("the default config file (--config names another): cannot read config file /etc/patroni-agent/patroni-agent.conf: access denied (no permission, or not a file)", message);
    }

    [Fact]
    public void An_instance_has_its_own_config_file_control_socket_and_state_file()
    {
        Dictionary<string, string> files = new() { [DefaultFile] = "timeout = 3s", ["/etc/patroni-agent/15-main.conf"] = "poll-interval = 2s" };

        AgentOptions fromFlag = ParseWithFiles(["drain", "--instance", "15-main"], files).Options;
        AgentOptions fromEnvironment = ParseWithFiles(["check"], files, new() { ["PATRONI_AGENT_INSTANCE"] = "15-main" }).Options;

        foreach (AgentOptions o in new[] { fromFlag, fromEnvironment })
        {
            Assert.Equal("15-main", o.Instance);
            Assert.Equal(TimeSpan.FromSeconds(2), o.PollInterval);
            Assert.Equal(new AgentOptions().Timeout, o.Timeout);
            Assert.Equal("/run/patroni-agent/15-main/control.sock", o.ControlSocket);
            Assert.Equal("/var/lib/patroni-agent/15-main/override", o.StateFile);
        }
        Assert.Null(ParseWithFiles([], files).Options.Instance);
    }

    [Fact]
    public void An_instance_takes_the_named_config_file_and_its_file_may_move_its_paths()
    {
        Dictionary<string, string> files = new()
        {
            [ConfPath] = "poll-interval = 2s",
            ["/etc/patroni-agent/b.conf"] = "control-socket = /run/b.sock\nstate-file = /var/lib/b/override",
        };

        AgentOptions named = ParseWithFiles(["--instance", "a", "--config", ConfPath], files).Options;
        Assert.Equal(TimeSpan.FromSeconds(2), named.PollInterval);
        Assert.Equal("/run/patroni-agent/a/control.sock", named.ControlSocket);

        AgentOptions moved = ParseWithFiles(["ready", "--instance", "b"], files).Options;
        Assert.Equal("/run/b.sock", moved.ControlSocket);
        Assert.Equal("/var/lib/b/override", moved.StateFile);
    }

    [Fact]
    public void An_instance_without_its_config_file_is_an_error()
    {
        Assert.Equal("--instance main: cannot read config file /etc/patroni-agent/main.conf: no such file",
            Error(["check", "--instance", "main"]));
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData(".hidden")]
    [InlineData("a/b")]
    [InlineData("two words")]
    [InlineData("-main")]
    [InlineData("x12345678901234567890123456789012345678901234567890123456789012345")]
    public void An_instance_name_that_could_leave_its_directories_is_refused(string name)
    {
        string expected = $"\"{name}\" is not an instance name: letters, digits, '-', '_' and '.', starting with a letter or a digit, at most 64 characters, e.g. main or 15-main";

        Assert.Equal("--instance: " + expected, Error([$"--instance={name}"]));
        Assert.Equal("PATRONI_AGENT_INSTANCE: " + expected, Error([], new() { ["PATRONI_AGENT_INSTANCE"] = name }));
    }

    [Theory]
    [InlineData("return-lag = 75%\nlag-hold = 30s", 75, 30)]
    [InlineData("return-lag = 0%\nlag-hold = 0ms", 0, 0)]
    [InlineData("return-lag = 100%", 100, 10)]
    [InlineData("", 50, 10)]
    public void The_return_limit_and_hold_of_lagging_replicas_are_settings(string file, int percent, int holdSeconds)
    {
        AgentOptions o = FromFile(file);
        Assert.Equal((percent, TimeSpan.FromSeconds(holdSeconds)), (o.ReturnLagPercent, o.LagHold));
    }

    [Theory]
    [InlineData("return-lag = 50", "/etc/patroni-agent.conf line 1: return-lag: \"50\" is not a percentage 0%..100%, e.g. 50%")]
    [InlineData("return-lag = 101%", "/etc/patroni-agent.conf line 1: return-lag: \"101%\" is not a percentage 0%..100%, e.g. 50%")]
    [InlineData("lag-hold = 11m", "/etc/patroni-agent.conf line 1: lag-hold: \"11m\" is out of range (0ms..10m)")]
    public void A_return_limit_or_hold_out_of_range_is_an_error(string file, string expected)
    {
        Assert.Equal(expected, FileError(file));
    }

    [Fact]
    public void The_instance_cannot_be_set_in_a_config_file_nor_given_twice()
    {
        Assert.Equal($"{ConfPath} line 1: \"instance\" cannot be set in the config file; use --instance or PATRONI_AGENT_INSTANCE", FileError("instance = main"));
        Assert.Equal("--instance: given more than once", Error(["--instance", "a", "--instance", "b"]));
    }

    [Fact]
    public void Help_text_lists_commands_and_every_option_with_its_default()
    {
        string help = AgentHelp.Text;
        Assert.All(help.Split('\n'), line => Assert.True(line.Length <= 100, $"longer than 100 characters: {line}"));

        Assert.StartsWith("Usage: patroni-agent [run] [OPTION...]\n       patroni-agent check [OPTION...]\n", help);
        help = Unwrapped(help);
        foreach (string expected in new[]
        {
            "run ", "check ", "--config FILE", "--version", "-h, --help",
            "--listen ADDR:PORT[=MODE [PARAM...]]", "(default: *:5555=primary)",
            "--instance NAME", "/etc/patroni-agent/NAME.conf", "/run/patroni-agent/NAME/control.sock",
            "PATRONI_AGENT_INSTANCE", "/etc/patroni-agent/patroni-agent.conf when it exists",
            "--http-listen ADDR:PORT", "repeatable (default: none)",
            "--metrics-listen ADDR:PORT", "Prometheus /metrics and JSON /status endpoint, repeatable (default: none)",
            "--allow CIDR", "source addresses allowed to connect, repeatable (default: any address)",
            "CIDR      an IPv4 or IPv6 address, or a prefix",
            "--patroni-url URL", "(default: http://127.0.0.1:8008/)",
            "--patroni-ca-file FILE", "(default: the system store)",
            "--patroni-cert-file FILE", "--patroni-key-file FILE", "(default: in patroni-cert-file)",
            "--patroni-auth-file FILE", "username:password",
            "--poll-interval DURATION", "10ms..60s (default: 1s)",
            "--timeout DURATION", "10ms..60s (default: 10s)",
            "callbacks", "print the lines of patroni.yml",
            "--stale-after DURATION", "100ms..10m (default: 3s)",
            "--send-wait DURATION", "0ms..10s (default: 20ms)",
            "--unknown-answer WORDS", "(default: down)",
            "--backlog N", "1..65535 (default: 4096)",
            "--workers N", "1..64 (default: 1)",
            "--max-connections N", "1..1000000 (default: 20000)",
            "--log-level LEVEL", "(default: information)",
            "PATRONI_AGENT_CONFIG", "PATRONI_AGENT_POLL_INTERVAL", ModeNames.Accepted,
        })
        {
            Assert.Contains(expected, help);
        }
    }

    [Fact]
    public void Every_key_from_flags()
    {
        AgentOptions o = Options(
        [
            "check",
            "--listen", "127.0.0.1:6000=replica", "--listen", "[::1]:6001=ro",
            "--http-listen", "127.0.0.1:8009", "--http-listen", "[::1]:8010",
            "--patroni-url", "https://db1.example.com:8008/patroni",
            "--poll-interval", "250ms", "--timeout", "1.5s", "--stale-after", "1m", "--send-wait", "0ms",
            "--unknown-answer", "MAINT 0%",
            "--backlog", "128", "--workers", "4", "--max-connections", "1000000",
            "--log-level", "Warn",
        ]);

        AssertEveryKeySet(o);
    }

    [Fact]
    public void Every_key_from_flags_with_equals()
    {
        AgentOptions o = Options(
        [
            "--listen=127.0.0.1:6000=replica", "--listen=[::1]:6001=ro",
            "--http-listen=127.0.0.1:8009", "--http-listen=[::1]:8010",
            "--patroni-url=https://db1.example.com:8008/patroni",
            "--poll-interval=250ms", "--timeout=1.5s", "--stale-after=1m", "--send-wait=0ms",
            "--unknown-answer=MAINT 0%",
            "--backlog=128", "--workers=4", "--max-connections=1000000",
            "--log-level=Warn",
        ]);

        AssertEveryKeySet(o);
    }

    [Fact]
    public void Every_key_from_the_environment()
    {
        AgentOptions o = Options([], new()
        {
            ["PATRONI_AGENT_LISTEN"] = "127.0.0.1:6000=replica, [::1]:6001=ro",
            ["PATRONI_AGENT_HTTP_LISTEN"] = "127.0.0.1:8009, [::1]:8010",
            ["PATRONI_AGENT_PATRONI_URL"] = "https://db1.example.com:8008/patroni",
            ["PATRONI_AGENT_POLL_INTERVAL"] = "250ms",
            ["PATRONI_AGENT_TIMEOUT"] = "1.5s",
            ["PATRONI_AGENT_STALE_AFTER"] = "1m",
            ["PATRONI_AGENT_SEND_WAIT"] = "0ms",
            ["PATRONI_AGENT_UNKNOWN_ANSWER"] = "MAINT 0%",
            ["PATRONI_AGENT_BACKLOG"] = "128",
            ["PATRONI_AGENT_WORKERS"] = "4",
            ["PATRONI_AGENT_MAX_CONNECTIONS"] = "1000000",
            ["PATRONI_AGENT_LOG_LEVEL"] = "Warn",
        });

        AssertEveryKeySet(o);
    }

    [Fact]
    public void Every_key_from_the_file()
    {
        AgentOptions o = FromFile(
            """
            # patroni-agent configuration
            listen = 127.0.0.1:6000=replica
            listen = '[::1]:6001=ro'
            http-listen = 127.0.0.1:8009
            http_listen = [::1]:8010
            patroni-url = "https://db1.example.com:8008/patroni"
            poll_interval = 250ms
            TIMEOUT = 1.5s
            stale-after = 1m
            send-wait = 0ms
            unknown-answer = 'MAINT   0%'
            backlog = 128
            workers = 4
            max_connections = 1000000
            log-level = Warn
            """);

        AssertEveryKeySet(o);
    }

    private static void AssertEveryKeySet(AgentOptions o)
    {
        Assert.Equal([Listener("127.0.0.1", 6000, Mode.Replica), Listener("::1", 6001, Mode.ReadOnly)], o.Listeners);
        Assert.Equal([EndPoint("127.0.0.1", 8009), EndPoint("::1", 8010)], o.HttpListeners);
        Assert.Equal(new Uri("https://db1.example.com:8008/patroni"), o.PatroniUrl);
        Assert.Equal(TimeSpan.FromMilliseconds(250), o.PollInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), o.Timeout);
        Assert.Equal(TimeSpan.FromMinutes(1), o.StaleAfter);
        Assert.Equal(TimeSpan.Zero, o.SendWait);
        Assert.Equal("maint 0%", o.UnknownAnswer);
        Assert.Equal(128, o.Backlog);
        Assert.Equal(4, o.Workers);
        Assert.Equal(1_000_000, o.MaxConnections);
        Assert.Equal(LogLevel.Warning, o.LogLevel);
    }

    [Fact]
    public void Config_file_can_come_from_the_environment()
    {
        AgentOptions o = Options([], new() { ["PATRONI_AGENT_CONFIG"] = ConfPath }, "workers = 3");

        Assert.Equal(3, o.Workers);
    }

    [Fact]
    public void Config_flag_overrides_config_environment_variable()
    {
        string? read = null;
        ConfigLoader.Parse(["--config=/flag.conf"], RunRules, new Dictionary<string, string> { ["PATRONI_AGENT_CONFIG"] = "/env.conf" },
            path => { read = path; return ""; });

        Assert.Equal("/flag.conf", read);
    }

    [Fact]
    public void Later_sources_override_earlier_ones()
    {
        const string file = "poll-interval = 150ms\ntimeout = 500ms\nworkers = 2\nlisten = 127.0.0.1:7000";
        Dictionary<string, string> env = new() { ["PATRONI_AGENT_TIMEOUT"] = "600ms", ["PATRONI_AGENT_WORKERS"] = "3" };

        AgentOptions o = Options(["--config", ConfPath, "--workers", "4"], env, file);

        Assert.Equal(TimeSpan.FromMilliseconds(150), o.PollInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(600), o.Timeout);
        Assert.Equal(4, o.Workers);
        Assert.Equal([Listener("127.0.0.1", 7000, Mode.Primary)], o.Listeners);
    }

    [Fact]
    public void Each_source_that_sets_listen_replaces_the_listeners_before_it()
    {
        const string file = "listen = 127.0.0.1:7000\nlisten = 127.0.0.1:7001=replica";
        Dictionary<string, string> env = new() { ["PATRONI_AGENT_LISTEN"] = "127.0.0.1:7000=sync,127.0.0.1:7002" };

        Assert.Equal(
            [Listener("127.0.0.1", 7000, Mode.Primary), Listener("127.0.0.1", 7001, Mode.Replica)],
            FromFile(file).Listeners);
        Assert.Equal(
            [Listener("127.0.0.1", 7000, Mode.Sync), Listener("127.0.0.1", 7002, Mode.Primary)],
            Options(["--config", ConfPath], env, file).Listeners);
        Assert.Equal(
            [Listener("10.0.0.1", 7003, Mode.Health)],
            Options(["--config", ConfPath, "--listen", "10.0.0.1:7003=health"], env, file).Listeners);
    }

    [Theory]
    [InlineData("*:5555", "::", 5555, Mode.Primary)]
    [InlineData("0.0.0.0:5555", "0.0.0.0", 5555, Mode.Primary)]
    [InlineData("localhost:5555=replica", "127.0.0.1", 5555, Mode.Replica)]
    [InlineData("LOCALHOST:5555", "127.0.0.1", 5555, Mode.Primary)]
    [InlineData("[::1]:5555=replica", "::1", 5555, Mode.Replica)]
    [InlineData("[::]:5556=standby-leader", "::", 5556, Mode.StandbyLeader)]
    [InlineData("[fd00::10]:65535=Health", "fd00::10", 65535, Mode.Health)]
    [InlineData("192.168.1.10:0=master", "192.168.1.10", 0, Mode.Primary)]
    [InlineData("10.0.0.1:5555=rw", "10.0.0.1", 5555, Mode.Primary)]
    [InlineData("10.0.0.1:5555=read-only", "10.0.0.1", 5555, Mode.ReadOnly)]
    [InlineData("10.0.0.1:5555=async", "10.0.0.1", 5555, Mode.Async)]
    [InlineData("10.0.0.1:5555=leader", "10.0.0.1", 5555, Mode.Leader)]
    public void Listen_accepts_addresses_ports_and_modes(string value, string address, int port, Mode mode)
    {
        Assert.Equal([Listener(address, port, mode)], Options(["--listen", value]).Listeners);
    }

    [Fact]
    public void Listen_takes_lag_parameters_as_an_agent_send_line_gives_them()
    {
        var fromFlag = Assert.Single(Options(["--listen", "127.0.0.1:5556=replica  max-lag=16MB\treturn-lag=4MB hold=30s weighted=yes mode=write"]).Listeners);
        var fromFile = Assert.Single(FromFile("listen = 127.0.0.1:5556=read-only lag=1MB").Listeners);
        var fromEnv = Options([], new() { ["PATRONI_AGENT_LISTEN"] = "127.0.0.1:5555=primary, 127.0.0.1:5556=replica max-lag=8MB" }).Listeners;

        Assert.Equal(Listener("127.0.0.1", 5556, Mode.Replica) with { Parameters = "max-lag=16MB return-lag=4MB hold=30s weighted=yes mode=write" }, fromFlag);
        Assert.Equal(new AgentRequest(Mode.Replica, 16L << 20, AgentRequestError.None) { ReturnLag = 4L << 20, HoldMilliseconds = 30_000, Weighted = true, ByReceived = true }, fromFlag.Defaults);
        Assert.Equal("127.0.0.1:5556=replica max-lag=16MB return-lag=4MB hold=30s weighted=yes mode=write", fromFlag.ToString());
        Assert.Equal(AgentRequest.For(Mode.ReadOnly) with { MaxLag = 1L << 20 }, fromFile.Defaults);
        Assert.Equal([Listener("127.0.0.1", 5555, Mode.Primary), Listener("127.0.0.1", 5556, Mode.Replica) with { Parameters = "max-lag=8MB" }], fromEnv);
        Assert.Equal(AgentRequest.For(Mode.Primary), fromEnv[0].Defaults);
    }

    [Theory]
    [InlineData("127.0.0.1:5556=replica max-lag=lots",
        "--listen: \"127.0.0.1:5556=replica max-lag=lots\": the check after \"=\" is read as an agent-send line: invalid max-lag in agent-send, expected a size such as 16MB")]
    [InlineData("127.0.0.1:5556=replica hold=soon",
        "--listen: \"127.0.0.1:5556=replica hold=soon\": the check after \"=\" is read as an agent-send line: invalid value in agent-send: return-lag takes a size such as 8MB, hold a duration such as 10s, weighted yes or no")]
    [InlineData("127.0.0.1:5556=replica lag",
        "--listen: \"127.0.0.1:5556=replica lag\": the check after \"=\" is read as an agent-send line: unknown parameter in agent-send, expected max-lag, return-lag, hold, weighted, mode, replication_state or tag_KEY")]
    [InlineData("127.0.0.1:5556=replica tag_zone=a",
        "--listen: \"127.0.0.1:5556=replica tag_zone=a\": replication_state= and tag_KEY= filters belong in the check's agent-send line, not in listen")]
    [InlineData("127.0.0.1:5556=replica replication_state=streaming",
        "--listen: \"127.0.0.1:5556=replica replication_state=streaming\": replication_state= and tag_KEY= filters belong in the check's agent-send line, not in listen")]
    public void Invalid_listen_parameters_are_an_error(string value, string expected)
    {
        Assert.Equal(expected, Error(["--listen", value]));
    }

    [Fact]
    public void Several_listeners_on_port_zero_are_not_duplicates()
    {
        AgentOptions o = Options(["--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0=replica"]);

        Assert.Equal([Listener("127.0.0.1", 0, Mode.Primary), Listener("127.0.0.1", 0, Mode.Replica)], o.Listeners);
    }

    [Theory]
    [InlineData("127.0.0.1:5555=bogus",
        "--listen: unknown mode \"bogus\" in \"127.0.0.1:5555=bogus\"; the modes are primary (master, read-write, rw), replica, read-only (ro), sync (synchronous), async (asynchronous), standby-leader (standby_leader), leader, health, read-only-sync (read-only-synchronous), quorum, read-only-quorum, liveness, readiness")]
    [InlineData("127.0.0.1:5555=", "--listen: unknown mode \"\" in \"127.0.0.1:5555=\"; the modes are primary (master, read-write, rw), replica, read-only (ro), sync (synchronous), async (asynchronous), standby-leader (standby_leader), leader, health, read-only-sync (read-only-synchronous), quorum, read-only-quorum, liveness, readiness")]
    [InlineData("127.0.0.1", "--listen: \"127.0.0.1\" needs ADDR:PORT, e.g. 127.0.0.1:5555 or *:5555=replica")]
    [InlineData("127.0.0.1:65536", "--listen: port \"65536\" in \"127.0.0.1:65536\" is not a number 0..65535")]
    [InlineData("127.0.0.1:-1", "--listen: port \"-1\" in \"127.0.0.1:-1\" is not a number 0..65535")]
    [InlineData("127.0.0.1:", "--listen: port \"\" in \"127.0.0.1:\" is not a number 0..65535")]
    [InlineData("::1:5555", "--listen: \"::1:5555\": write an IPv6 address in brackets, e.g. [::1]:5555")]
    [InlineData("db1:5555", "--listen: \"db1\" in \"db1:5555\" is not an IPv4 address, a bracketed IPv6 address, * or localhost")]
    [InlineData("127.1:5555", "--listen: \"127.1\" in \"127.1:5555\" is not an IPv4 address, a bracketed IPv6 address, * or localhost")]
    [InlineData("[10.0.0.1]:5555", "--listen: \"[10.0.0.1]\" in \"[10.0.0.1]:5555\" is not an IPv4 address, a bracketed IPv6 address, * or localhost")]
    [InlineData(":5555", "--listen: \"\" in \":5555\" is not an IPv4 address, a bracketed IPv6 address, * or localhost")]
    public void Invalid_listen_is_an_error(string value, string expected)
    {
        Assert.Equal(expected, Error(["--listen", value]));
    }

    [Fact]
    public void Duplicate_listener_is_an_error()
    {
        Assert.Equal("--listen: 127.0.0.1:5555 is listed more than once",
            Error(["--listen", "127.0.0.1:5555", "--listen", "localhost:5555=replica"]));
        Assert.Equal("PATRONI_AGENT_LISTEN: [::1]:5555 is listed more than once",
            Error([], new() { ["PATRONI_AGENT_LISTEN"] = "[::1]:5555,[0:0::1]:5555" }));
        Assert.Equal("/etc/patroni-agent.conf line 2: listen: 0.0.0.0:5555 is listed more than once",
            FileError("listen = 0.0.0.0:5555\nlisten = 0.0.0.0:5555=replica"));
        Assert.Equal("/etc/patroni-agent.conf line 2: listen: *:5555 is listed more than once",
            FileError("listen = *:5555\nlisten = [::]:5555=replica"));
    }

    [Theory]
    [InlineData("*:8009", "::", 8009)]
    [InlineData("0.0.0.0:8009", "0.0.0.0", 8009)]
    [InlineData("localhost:8009", "127.0.0.1", 8009)]
    [InlineData("[::1]:8009", "::1", 8009)]
    [InlineData("[::]:0", "::", 0)]
    [InlineData("10.0.0.1:65535", "10.0.0.1", 65535)]
    public void HTTP_listen_accepts_the_addresses_of_listen(string value, string address, int port)
    {
        Assert.Equal([EndPoint(address, port)], Options(["--http-listen", value]).HttpListeners);
    }

    [Theory]
    [InlineData("127.0.0.1:8009=primary", "--http-listen: \"127.0.0.1:8009=primary\" needs ADDR:PORT without a mode; the path of each HTTP check names its mode")]
    [InlineData("127.0.0.1", "--http-listen: \"127.0.0.1\" needs ADDR:PORT, e.g. 127.0.0.1:8009 or *:8009")]
    [InlineData("127.0.0.1:http", "--http-listen: port \"http\" in \"127.0.0.1:http\" is not a number 0..65535")]
    [InlineData("::1:8009", "--http-listen: \"::1:8009\": write an IPv6 address in brackets, e.g. [::1]:5555")]
    [InlineData("db1:8009", "--http-listen: \"db1\" in \"db1:8009\" is not an IPv4 address, a bracketed IPv6 address, * or localhost")]
    public void Invalid_HTTP_listen_is_an_error(string value, string expected)
    {
        Assert.Equal(expected, Error(["--http-listen", value]));
    }

    [Fact]
    public void Each_source_that_sets_HTTP_listen_replaces_the_HTTP_listeners_before_it()
    {
        const string file = "http-listen = 127.0.0.1:8009\nhttp-listen = 127.0.0.1:8010";
        Dictionary<string, string> env = new() { ["PATRONI_AGENT_HTTP_LISTEN"] = "127.0.0.1:8011" };

        Assert.Equal([EndPoint("127.0.0.1", 8009), EndPoint("127.0.0.1", 8010)], FromFile(file).HttpListeners);
        Assert.Equal([EndPoint("127.0.0.1", 8011)], Options(["--config", ConfPath], env, file).HttpListeners);
        Assert.Equal(
            [EndPoint("127.0.0.1", 8012), EndPoint("127.0.0.1", 8013)],
            Options(["--config", ConfPath, "--http-listen", "127.0.0.1:8012", "--http-listen=127.0.0.1:8013"], env, file).HttpListeners);
        Assert.Equal([Listener("::", 5555, Mode.Primary)], Options(["--config", ConfPath], env, file).Listeners);
    }

    [Theory]
    [InlineData(new[] { "--listen", "*:5555", "--listen", "127.0.0.1:5555" },
        "--listen: 127.0.0.1:5555 overlaps *:5555 (* covers every address and 0.0.0.0 every IPv4 address); list one of them")]
    [InlineData(new[] { "--listen", "[::1]:5555", "--listen", "*:5555=replica" },
        "--listen: *:5555 overlaps [::1]:5555 (* covers every address and 0.0.0.0 every IPv4 address); list one of them")]
    [InlineData(new[] { "--listen", "0.0.0.0:5555", "--listen", "10.0.0.1:5555" },
        "--listen: 10.0.0.1:5555 overlaps 0.0.0.0:5555 (* covers every address and 0.0.0.0 every IPv4 address); list one of them")]
    [InlineData(new[] { "--listen", "0.0.0.0:5555", "--http-listen", "*:5555" },
        "--http-listen: *:5555 overlaps the listen address 0.0.0.0:5555 (* covers every address and 0.0.0.0 every IPv4 address); an address serves agent checks or HTTP checks, not both")]
    [InlineData(new[] { "--http-listen", "*:8009", "--metrics-listen", "127.0.0.1:8009" },
        "--metrics-listen: 127.0.0.1:8009 is listed more than once, or overlaps a check listener (* covers every address); the metrics endpoint needs an address of its own")]
    public void Addresses_that_overlap_on_a_port_are_refused(string[] args, string expected)
    {
        Assert.Equal(expected, Error(args));
    }

    [Fact]
    public void An_IPv4_wildcard_and_an_IPv6_address_on_one_port_do_not_overlap()
    {
        AgentOptions o = Options(["--listen", "0.0.0.0:5555", "--listen", "[::1]:5555=replica", "--listen", "*:5556"]);

        Assert.Equal([Listener("0.0.0.0", 5555, Mode.Primary), Listener("::1", 5555, Mode.Replica), Listener("::", 5556, Mode.Primary)], o.Listeners);
    }

    [Fact]
    public void Metrics_listen_is_a_repeatable_list_key_in_every_source()
    {
        Assert.Equal([EndPoint("127.0.0.1", 8010), EndPoint("::1", 8011)],
            Options(["--metrics-listen", "127.0.0.1:8010", "--metrics-listen=[::1]:8011"]).MetricsListeners);
        Assert.Equal([EndPoint("::", 9187)], FromFile("metrics-listen = *:9187").MetricsListeners);
        Dictionary<string, string> env = new() { ["PATRONI_AGENT_METRICS_LISTEN"] = "127.0.0.1:9187,127.0.0.2:9187" };
        Assert.Equal([EndPoint("127.0.0.1", 9187), EndPoint("127.0.0.2", 9187)], Options([], env).MetricsListeners);
        Assert.Equal([EndPoint("127.0.0.3", 9187)], Options(["--metrics-listen", "127.0.0.3:9187"], env).MetricsListeners);
    }

    [Theory]
    [InlineData(new[] { "--metrics-listen", "127.0.0.1" }, "--metrics-listen: \"127.0.0.1\" needs ADDR:PORT, e.g. 127.0.0.1:8010 or *:8010")]
    [InlineData(new[] { "--metrics-listen", "db1:9187" }, "--metrics-listen: \"db1\" in \"db1:9187\" is not an IPv4 address, a bracketed IPv6 address, * or localhost")]
    [InlineData(new[] { "--metrics-listen", "127.0.0.1:9187", "--metrics-listen", "localhost:9187" },
        "--metrics-listen: 127.0.0.1:9187 is listed more than once, or overlaps a check listener (* covers every address); the metrics endpoint needs an address of its own")]
    [InlineData(new[] { "--listen", "127.0.0.1:5555", "--metrics-listen", "127.0.0.1:5555" },
        "--metrics-listen: 127.0.0.1:5555 is listed more than once, or overlaps a check listener (* covers every address); the metrics endpoint needs an address of its own")]
    [InlineData(new[] { "--http-listen", "127.0.0.1:8009", "--metrics-listen", "127.0.0.1:8009" },
        "--metrics-listen: 127.0.0.1:8009 is listed more than once, or overlaps a check listener (* covers every address); the metrics endpoint needs an address of its own")]
    public void A_bad_or_shared_metrics_listen_address_is_an_error(string[] args, string expected)
    {
        Assert.Equal(expected, Error(args));
    }

    [Fact]
    public void Duplicate_HTTP_listener_is_an_error()
    {
        Assert.Equal("--http-listen: 127.0.0.1:8009 is listed more than once",
            Error(["--http-listen", "127.0.0.1:8009", "--http-listen", "localhost:8009"]));
        Assert.Equal("PATRONI_AGENT_HTTP_LISTEN: 0.0.0.0:8009 is listed more than once",
            Error([], new() { ["PATRONI_AGENT_HTTP_LISTEN"] = "0.0.0.0:8009,0.0.0.0:8009" }));
        Assert.Equal([EndPoint("127.0.0.1", 0), EndPoint("127.0.0.1", 0)],
            Options(["--http-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"]).HttpListeners);
    }

    [Fact]
    public void Listen_and_HTTP_listen_may_not_share_an_address()
    {
        const string both = "; an address serves agent checks or HTTP checks, not both";
        Assert.Equal("--http-listen: *:5555 is also a listen address" + both,
            Error(["--http-listen", "*:5555"]));
        Assert.Equal("--listen: 127.0.0.1:8009 is also an http-listen address" + both,
            Error(["--http-listen", "127.0.0.1:8009", "--listen", "127.0.0.1:8009=replica"]));
        Assert.Equal($"{ConfPath} line 2: listen: 127.0.0.1:8009 is also an http-listen address" + both,
            FileError("http-listen = 127.0.0.1:8009\nlisten = 127.0.0.1:8009"));
        Assert.Equal("--listen: 127.0.0.1:8009 is also an http-listen address" + both,
            Error(["--config", ConfPath, "--listen", "127.0.0.1:8009"], file: "http-listen = 127.0.0.1:8009"));
        Assert.Equal("PATRONI_AGENT_HTTP_LISTEN: 127.0.0.1:6000 is also a listen address" + both,
            Error(["--config", ConfPath], new() { ["PATRONI_AGENT_HTTP_LISTEN"] = "127.0.0.1:6000" }, "listen = 127.0.0.1:6000"));
        Assert.Equal([EndPoint("127.0.0.1", 0)], Options(["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"]).HttpListeners);
    }

    [Fact]
    public void A_source_that_moves_the_listeners_may_reuse_the_addresses_it_replaces()
    {
        AgentOptions o = Options(["--config", ConfPath, "--http-listen", "*:5555"], file: "listen = *:5556\nhttp-listen = *:5557");
        Assert.Equal([Listener("::", 5556, Mode.Primary)], o.Listeners);
        Assert.Equal([EndPoint("::", 5555)], o.HttpListeners);

        AgentOptions swapped = Options(["--config", ConfPath, "--http-listen", "*:5556", "--listen", "*:5557"],
            file: "listen = *:5556\nhttp-listen = *:5557");
        Assert.Equal([Listener("::", 5557, Mode.Primary)], swapped.Listeners);
        Assert.Equal([EndPoint("::", 5556)], swapped.HttpListeners);
    }

    [Theory]
    [InlineData("127.0.0.1:5555,", "PATRONI_AGENT_LISTEN: empty entry in \"127.0.0.1:5555,\"; separate listeners with single commas")]
    [InlineData("127.0.0.1:5555,,127.0.0.1:5556", "PATRONI_AGENT_LISTEN: empty entry in \"127.0.0.1:5555,,127.0.0.1:5556\"; separate listeners with single commas")]
    [InlineData("127.0.0.1:5555=nope", "PATRONI_AGENT_LISTEN: unknown mode \"nope\" in \"127.0.0.1:5555=nope\"; the modes are primary (master, read-write, rw), replica, read-only (ro), sync (synchronous), async (asynchronous), standby-leader (standby_leader), leader, health, read-only-sync (read-only-synchronous), quorum, read-only-quorum, liveness, readiness")]
    public void Invalid_listen_in_the_environment_is_an_error(string value, string expected)
    {
        Assert.Equal(expected, Error([], new() { ["PATRONI_AGENT_LISTEN"] = value }));
    }

    [Theory]
    [InlineData("http://127.0.0.1:8008")]
    [InlineData("https://db1.example.com:8443/")]
    [InlineData("http://[::1]:8008/patroni/")]
    [InlineData("HTTP://db1:8008")]
    public void Patroni_URL_accepts_absolute_HTTP_and_HTTPS_URLs(string value)
    {
        Assert.Equal(new Uri(value), Options(["--patroni-url", value]).PatroniUrl);
    }

    [Theory]
    [InlineData("127.0.0.1:8008", "\"127.0.0.1:8008\" is not an absolute http or https URL, e.g. http://127.0.0.1:8008")]
    [InlineData("/patroni", "\"/patroni\" is not an absolute http or https URL, e.g. http://127.0.0.1:8008")]
    [InlineData("ftp://db1:8008", "\"ftp://db1:8008\" is not an absolute http or https URL, e.g. http://127.0.0.1:8008")]
    [InlineData("http://db1:8008/?x=1", "\"http://db1:8008/?x=1\" must not have a query or a fragment")]
    [InlineData("http://db1:8008/#top", "\"http://db1:8008/#top\" must not have a query or a fragment")]
    [InlineData("http://admin:secret@db1:8008", "must not contain a user name or password")]
    public void Invalid_Patroni_URL_is_an_error(string value, string problem)
    {
        Assert.Equal($"PATRONI_AGENT_PATRONI_URL: {problem}", Error([], new() { ["PATRONI_AGENT_PATRONI_URL"] = value }));
    }

    [Theory]
    [InlineData("poll-interval", "10ms", 10)]
    [InlineData("poll-interval", "60s", 60_000)]
    [InlineData("poll-interval", "1m", 60_000)]
    [InlineData("poll-interval", "0.5s", 500)]
    [InlineData("timeout", "10ms", 10)]
    [InlineData("timeout", "2.5s", 2500)]
    [InlineData("stale-after", "100ms", 100)]
    [InlineData("stale-after", "10m", 600_000)]
    [InlineData("stale-after", "1.5m", 90_000)]
    [InlineData("send-wait", "0ms", 0)]
    [InlineData("send-wait", "0s", 0)]
    [InlineData("send-wait", "10s", 10_000)]
    [InlineData("send-wait", "0.25ms", 0.25)]
    public void Durations_with_their_units(string key, string value, double milliseconds)
    {
        Dictionary<string, string> roomy = new()
        {
            ["PATRONI_AGENT_POLL_INTERVAL"] = "10ms",
            ["PATRONI_AGENT_TIMEOUT"] = "10ms",
            ["PATRONI_AGENT_STALE_AFTER"] = "10m",
        };

        AgentOptions o = Options([$"--{key}", value], roomy);

        TimeSpan actual = key switch
        {
            "poll-interval" => o.PollInterval,
            "timeout" => o.Timeout,
            "stale-after" => o.StaleAfter,
            _ => o.SendWait,
        };
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), actual);
    }

    [Theory]
    [InlineData("poll-interval", "5", "\"5\" needs a unit (ms, s or m), e.g. 500ms")]
    [InlineData("timeout", "1.5", "\"1.5\" needs a unit (ms, s or m), e.g. 500ms")]
    [InlineData("stale-after", "3h", "\"3h\" has an unknown unit \"h\"; use (ms, s or m), e.g. 500ms")]
    [InlineData("send-wait", "20MS", "\"20MS\" has an unknown unit \"MS\"; use (ms, s or m), e.g. 500ms")]
    [InlineData("poll-interval", "ms", "\"ms\" is not a duration; write a number and a unit (ms, s or m), e.g. 500ms")]
    [InlineData("poll-interval", "-5ms", "\"-5ms\" is not a duration; write a number and a unit (ms, s or m), e.g. 500ms")]
    [InlineData("poll-interval", "5 ms", "\"5 ms\" is not a duration; write a number and a unit (ms, s or m), e.g. 500ms")]
    [InlineData("poll-interval", "1,5s", "\"1,5s\" is not a duration; write a number and a unit (ms, s or m), e.g. 500ms")]
    [InlineData("poll-interval", "9ms", "\"9ms\" is out of range (10ms..60s)")]
    [InlineData("poll-interval", "60.001s", "\"60.001s\" is out of range (10ms..60s)")]
    [InlineData("timeout", "99s", "\"99s\" is out of range (10ms..60s)")]
    [InlineData("timeout", "0.009s", "\"0.009s\" is out of range (10ms..60s)")]
    [InlineData("stale-after", "99ms", "\"99ms\" is out of range (100ms..10m)")]
    [InlineData("stale-after", "11m", "\"11m\" is out of range (100ms..10m)")]
    [InlineData("send-wait", "10.5s", "\"10.5s\" is out of range (0ms..10s)")]
    [InlineData("send-wait", "99999999999999999999999999m", "\"99999999999999999999999999m\" is out of range (0ms..10s)")]
    public void Invalid_duration_is_an_error(string key, string value, string problem)
    {
        string env = "PATRONI_AGENT_" + key.Replace('-', '_').ToUpperInvariant();

        Assert.Equal($"--{key}: {problem}", Error([$"--{key}={value}"]));
        Assert.Equal($"{env}: {problem}", Error([], new() { [env] = value }));
        Assert.Equal($"{ConfPath} line 2: {key}: {problem}", FileError($"# durations\n{key} = {value}"));
    }

    [Fact]
    public void Stale_after_must_be_greater_than_poll_interval()
    {
        Assert.Equal("stale-after 3s (default) must be greater than poll-interval 3s (--poll-interval)",
            Error(["--poll-interval", "3s"]));
        Assert.Equal($"stale-after 1s ({ConfPath} line 1) must be greater than poll-interval 2s (PATRONI_AGENT_POLL_INTERVAL)",
            Error(["--config", ConfPath, "--timeout", "1s"], new() { ["PATRONI_AGENT_POLL_INTERVAL"] = "2s" }, "stale-after = 1s"));
    }

    [Fact]
    public void Timeout_may_outlast_stale_after()
    {
        // A poll that waits past stale-after leaves the answers stale meanwhile (freshness counts from
        // the poll's start); waiting spares a slow Patroni a dropped request.
        Assert.Equal(TimeSpan.FromSeconds(10), Options([]).Timeout);
        Assert.Equal(TimeSpan.FromSeconds(30), Options(["--timeout", "30s", "--stale-after", "2s"]).Timeout);
    }

    [Theory]
    [InlineData("down", "down")]
    [InlineData("DOWN", "down")]
    [InlineData("fail", "fail")]
    [InlineData("stopped", "stopped")]
    [InlineData("maint", "maint")]
    [InlineData("up maint", "up maint")]
    [InlineData("  Down \t Drain  0% ", "down drain 0%")]
    [InlineData("stopped 256%", "stopped 256%")]
    public void Unknown_answer_is_normalized(string value, string expected)
    {
        Assert.Equal(expected, Options(["--unknown-answer", value]).UnknownAnswer);
    }

    [Theory]
    [InlineData("ready", "\"ready\" must not contain ready: while Patroni's state is unknown the server must never be made ready, it could route writes to a node that is not the primary")]
    [InlineData("down READY", "\"down READY\" must not contain ready: while Patroni's state is unknown the server must never be made ready, it could route writes to a node that is not the primary")]
    [InlineData("up", "\"up\" would let the server take traffic while Patroni's state is unknown; include down, fail, stopped or maint")]
    [InlineData("drain 50%", "\"drain 50%\" would let the server take traffic while Patroni's state is unknown; include down, fail, stopped or maint")]
    [InlineData("down #patroni unknown", "\"down #patroni unknown\" must not contain #: the agent appends the reason itself")]
    [InlineData("down offline", "unknown word \"offline\" in \"down offline\"; use up, down, fail, stopped, maint, drain or a weight N% (0..256)")]
    [InlineData("down 257%", "unknown word \"257%\" in \"down 257%\"; use up, down, fail, stopped, maint, drain or a weight N% (0..256)")]
    [InlineData("down %", "unknown word \"%\" in \"down %\"; use up, down, fail, stopped, maint, drain or a weight N% (0..256)")]
    [InlineData("down -1%", "unknown word \"-1%\" in \"down -1%\"; use up, down, fail, stopped, maint, drain or a weight N% (0..256)")]
    [InlineData("up down", "\"up down\" has both up and down; give at most one up, down, fail or stopped")]
    [InlineData("maint drain", "\"maint drain\" has both maint and drain; give at most one maint or drain")]
    [InlineData("down 0% 10%", "\"down 0% 10%\" has both 0% and 10%; give at most one weight")]
    [InlineData("   ", "needs at least one word, e.g. down")]
    public void Invalid_unknown_answer_is_an_error(string value, string problem)
    {
        Assert.Equal($"--unknown-answer: {problem}", Error(["--unknown-answer", value]));
    }

    [Fact]
    public void Unknown_answer_with_hash_must_be_quoted_in_the_file_to_reach_the_check()
    {
        Assert.Equal("down", FromFile("unknown-answer = down # the agent appends the reason").UnknownAnswer);
        Assert.Equal($"{ConfPath} line 1: unknown-answer: \"down #x\" must not contain #: the agent appends the reason itself",
            FileError("unknown-answer = 'down #x'"));
    }

    [Theory]
    [InlineData("backlog", "1", 1)]
    [InlineData("backlog", "65535", 65535)]
    [InlineData("workers", "64", 64)]
    [InlineData("max-connections", "1", 1)]
    public void Integers_at_their_bounds(string key, string value, int expected)
    {
        AgentOptions o = Options([$"--{key}", value]);

        Assert.Equal(expected, key switch { "backlog" => o.Backlog, "workers" => o.Workers, _ => o.MaxConnections });
    }

    [Theory]
    [InlineData("backlog", "0", "\"0\" is out of range (1..65535)")]
    [InlineData("backlog", "65536", "\"65536\" is out of range (1..65535)")]
    [InlineData("workers", "0", "\"0\" is out of range (1..64)")]
    [InlineData("workers", "65", "\"65\" is out of range (1..64)")]
    [InlineData("max-connections", "1000001", "\"1000001\" is out of range (1..1000000)")]
    [InlineData("max-connections", "99999999999999999999", "\"99999999999999999999\" is out of range (1..1000000)")]
    [InlineData("workers", "two", "\"two\" is not a whole number")]
    [InlineData("workers", "+2", "\"+2\" is not a whole number")]
    [InlineData("backlog", "1.5", "\"1.5\" is not a whole number")]
    [InlineData("backlog", "1e3", "\"1e3\" is not a whole number")]
    public void Invalid_integer_is_an_error(string key, string value, string problem)
    {
        string env = "PATRONI_AGENT_" + key.Replace('-', '_').ToUpperInvariant();

        Assert.Equal($"--{key}: {problem}", Error([$"--{key}={value}"]));
        Assert.Equal($"{env}: {problem}", Error([], new() { [env] = value }));
        Assert.Equal($"{ConfPath} line 1: {key}: {problem}", FileError($"{key} = {value}"));
    }

    [Theory]
    [InlineData("trace", LogLevel.Trace)]
    [InlineData("DEBUG", LogLevel.Debug)]
    [InlineData("information", LogLevel.Information)]
    [InlineData("info", LogLevel.Information)]
    [InlineData("warning", LogLevel.Warning)]
    [InlineData("warn", LogLevel.Warning)]
    [InlineData("error", LogLevel.Error)]
    [InlineData("Critical", LogLevel.Critical)]
    [InlineData("none", LogLevel.None)]
    public void Log_levels(string value, LogLevel expected)
    {
        Assert.Equal(expected, Options(["--log-level", value]).LogLevel);
    }

    [Fact]
    public void Unknown_log_level_is_an_error()
    {
        Assert.Equal("PATRONI_AGENT_LOG_LEVEL: unknown log level \"verbose\"; use trace, debug, information, warning, error, critical or none",
            Error([], new() { ["PATRONI_AGENT_LOG_LEVEL"] = "verbose" }));
    }

    [Theory]
    [InlineData(new[] { "--pol-interval", "1s" }, "unknown option \"--pol-interval\" (see --help)")]
    [InlineData(new[] { "--pol-interval=1s" }, "unknown option \"--pol-interval\" (see --help)")]
    [InlineData(new[] { "-v" }, "unknown option \"-v\" (see --help)")]
    [InlineData(new[] { "--" }, "unknown option \"--\" (see --help)")]
    [InlineData(new[] { "--timeout" }, "--timeout: missing value")]
    [InlineData(new[] { "--timeout=" }, "--timeout: missing value")]
    [InlineData(new[] { "--listen", "--timeout", "1s" }, "--listen: missing value")]
    [InlineData(new[] { "check", "--config" }, "--config: missing value")]
    [InlineData(new[] { "--timeout", "1s", "--timeout=2s" }, "--timeout: given more than once")]
    [InlineData(new[] { "--config", "/a", "--config", "/b" }, "--config: given more than once")]
    [InlineData(new[] { "run", "check" }, "unexpected argument \"check\" (see --help)")]
    [InlineData(new[] { "check", "--workers", "2", "3" }, "unexpected argument \"3\" (see --help)")]
    [InlineData(new[] { "--workers", "2", "run" }, "unexpected argument \"run\" (see --help)")]
    public void Invalid_command_line_is_an_error(string[] args, string expected)
    {
        Assert.Equal(expected, Error(args));
    }

    [Fact]
    public void Kubernetes_service_link_variables_are_no_settings()
    {
        Dictionary<string, string> links = new()
        {
            ["PATRONI_AGENT_SERVICE_HOST"] = "10.96.0.11",
            ["PATRONI_AGENT_SERVICE_PORT"] = "5555",
            ["PATRONI_AGENT_SERVICE_PORT_AGENT"] = "5555",
            ["PATRONI_AGENT_PORT"] = "tcp://10.96.0.11:5555",
            ["PATRONI_AGENT_PORT_5555_TCP"] = "tcp://10.96.0.11:5555",
            ["PATRONI_AGENT_PORT_5555_TCP_PROTO"] = "tcp",
            ["PATRONI_AGENT_PORT_5555_TCP_PORT"] = "5555",
            ["PATRONI_AGENT_PORT_5555_TCP_ADDR"] = "10.96.0.11",
            ["PATRONI_AGENT_POLL_INTERVAL"] = "2s",
        };
        AgentOptions o = Options([], links);
        Assert.Equal(TimeSpan.FromSeconds(2), o.PollInterval);
        Assert.Equal([Listener("::", 5555, Mode.Primary)], o.Listeners);

        Assert.StartsWith("PATRONI_AGENT_PORT: unknown environment variable; the known ones are ",
            Error([], new() { ["PATRONI_AGENT_PORT"] = "5555" }));
        Assert.StartsWith("PATRONI_AGENT_PORT_5555: unknown environment variable; the known ones are ",
            Error([], new() { ["PATRONI_AGENT_PORT_5555"] = "tcp://10.96.0.11:5555" }));
    }

    [Fact]
    public void Unknown_environment_variable_is_an_error()
    {
        string message = Error([], new() { ["PATRONI_AGENT_POL_INTERVAL"] = "1s" });

        Assert.StartsWith("PATRONI_AGENT_POL_INTERVAL: unknown environment variable; the known ones are PATRONI_AGENT_CONFIG, PATRONI_AGENT_INSTANCE, PATRONI_AGENT_LISTEN, ", message);
        Assert.EndsWith(", PATRONI_AGENT_LOG_LEVEL, PATRONI_AGENT_LOG_FORMAT, PATRONI_AGENT_CONTROL_SOCKET, PATRONI_AGENT_STATE_FILE", message);
        Assert.Equal("PATRONI_AGENT_: unknown environment variable", Error([], new() { ["PATRONI_AGENT_"] = "" }).Split(';')[0]);
    }

    [Fact]
    public void Empty_environment_variable_counts_as_unset()
    {
        AgentOptions o = Options([], new() { ["PATRONI_AGENT_TIMEOUT"] = " ", ["PATRONI_AGENT_LISTEN"] = "", ["PATRONI_AGENT_CONFIG"] = "" });

        Assert.Equal(new AgentOptions().Timeout, o.Timeout);
        Assert.Equal(new AgentOptions().Listeners, o.Listeners);
    }

    [Fact]
    public void Environment_values_are_trimmed()
    {
        Assert.Equal(TimeSpan.FromSeconds(2), Options([], new() { ["PATRONI_AGENT_TIMEOUT"] = " 2s\n" }).Timeout);
    }

    [Fact]
    public void File_with_comments_quotes_and_blank_lines()
    {
        AgentOptions o = FromFile(
            "\uFEFF# comment at the start\r\n" +
            "\r\n" +
            "   # indented comment\n" +
            "poll-interval=300ms# no spaces\n" +
            "  timeout   =   \"2s\"   # double quotes\n" +
            "unknown-answer = 'maint 0%' # single quotes\n" +
            "patroni-url = 'http://db1:8008/'\n" +
            "log_level = \"debug\"\n" +
            "\t\n");

        Assert.Equal(TimeSpan.FromMilliseconds(300), o.PollInterval);
        Assert.Equal(TimeSpan.FromSeconds(2), o.Timeout);
        Assert.Equal("maint 0%", o.UnknownAnswer);
        Assert.Equal(new Uri("http://db1:8008/"), o.PatroniUrl);
        Assert.Equal(LogLevel.Debug, o.LogLevel);
    }

    [Fact]
    public void Hash_inside_quotes_is_part_of_the_value()
    {
        Assert.Equal($"{ConfPath} line 1: patroni-url: \"http://db1:8008/#x\" must not have a query or a fragment",
            FileError("patroni-url = \"http://db1:8008/#x\" # comment"));
    }

    [Fact]
    public void Without_allow_any_address_may_connect()
    {
        Assert.Empty(Options([]).Allow);
    }

    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.0/8")]
    [InlineData("192.0.2.7", "192.0.2.7/32")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0")]
    [InlineData("::1/128", "::1/128")]
    [InlineData("::1", "::1/128")]
    [InlineData("fd00::/8", "fd00::/8")]
    [InlineData("FD00:0::/16", "fd00::/16")]
    [InlineData("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104")]
    public void Allow_takes_IPv4_and_IPv6_prefixes_and_single_addresses(string value, string expected)
    {
        Assert.Equal([IPNetwork.Parse(expected)], Options(["--allow", value]).Allow);
    }

    [Theory]
    [InlineData("10.0.0.1/8", "--allow: \"10.0.0.1/8\" has bits set past its prefix length /8; write the network, 10.0.0.0/8, or the host alone, 10.0.0.1")]
    [InlineData("fd00::1/8", "--allow: \"fd00::1/8\" has bits set past its prefix length /8; write the network, fd00::/8, or the host alone, fd00::1")]
    [InlineData("10.0.0.0/33", "--allow: prefix length \"33\" in \"10.0.0.0/33\" is not a number 0..32")]
    [InlineData("::/129", "--allow: prefix length \"129\" in \"::/129\" is not a number 0..128")]
    [InlineData("10.0.0.0/", "--allow: prefix length \"\" in \"10.0.0.0/\" is not a number 0..32")]
    [InlineData("10.0.0.0/+8", "--allow: prefix length \"+8\" in \"10.0.0.0/+8\" is not a number 0..32")]
    [InlineData("10.0.0.0/8/8", "--allow: prefix length \"8/8\" in \"10.0.0.0/8/8\" is not a number 0..32")]
    [InlineData("10/8", "--allow: \"10\" in \"10/8\" is not an IPv4 or IPv6 address; write an address or a prefix, e.g. 10.0.0.0/8, 192.0.2.7, ::1/128 or fd00::/8")]
    [InlineData("db1.example.com", "--allow: \"db1.example.com\" in \"db1.example.com\" is not an IPv4 or IPv6 address; write an address or a prefix, e.g. 10.0.0.0/8, 192.0.2.7, ::1/128 or fd00::/8")]
    [InlineData("*", "--allow: \"*\" in \"*\" is not an IPv4 or IPv6 address; write an address or a prefix, e.g. 10.0.0.0/8, 192.0.2.7, ::1/128 or fd00::/8")]
    [InlineData("fe80::1%2/128", "--allow: \"fe80::1%2\" in \"fe80::1%2/128\" is not an IPv4 or IPv6 address; write an address or a prefix, e.g. 10.0.0.0/8, 192.0.2.7, ::1/128 or fd00::/8")]
    public void Invalid_allow_is_an_error(string value, string expected)
    {
        Assert.Equal(expected, Error(["--allow", value]));
    }

    [Fact]
    public void Invalid_allow_names_its_source()
    {
        Assert.Equal($"{ConfPath} line 2: allow: \"10.0.0.1/8\" has bits set past its prefix length /8; write the network, 10.0.0.0/8, or the host alone, 10.0.0.1",
            FileError("allow = 127.0.0.1\nallow = 10.0.0.1/8"));
        Assert.Equal("PATRONI_AGENT_ALLOW: prefix length \"99x\" in \"::1/99x\" is not a number 0..128",
            Error([], new() { ["PATRONI_AGENT_ALLOW"] = "10.0.0.0/8, ::1/99x" }));
    }

    [Fact]
    public void Each_source_that_sets_allow_replaces_the_list_before_it()
    {
        const string file = "allow = 10.0.0.0/8\nallow = ::1";
        Dictionary<string, string> env = new() { ["PATRONI_AGENT_ALLOW"] = "192.0.2.0/24, fd00::/8" };

        Assert.Equal([IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("::1/128")], FromFile(file).Allow);
        Assert.Equal([IPNetwork.Parse("192.0.2.0/24"), IPNetwork.Parse("fd00::/8")], Options(["--config", ConfPath], env, file).Allow);
        Assert.Equal([IPNetwork.Parse("127.0.0.1/32"), IPNetwork.Parse("127.0.0.2/32")],
            Options(["--config", ConfPath, "--allow", "127.0.0.1", "--allow=127.0.0.2"], env, file).Allow);
    }

    [Fact]
    public void Empty_file_keeps_the_defaults()
    {
        Assert.Equal(new AgentOptions().Listeners, FromFile("").Listeners);
        Assert.Equal(new AgentOptions().Timeout, FromFile("# nothing\n\n").Timeout);
    }

    [Theory]
    [InlineData("workers = 2\npol-interval = 1s", "/etc/patroni-agent.conf line 2: unknown key \"pol-interval\"; the known keys are listen, http-listen, metrics-listen, metrics-checkers, allow, patroni-url, patroni-ca-file, patroni-cert-file, patroni-key-file, patroni-auth-file, poll-interval, timeout, stale-after, send-wait, return-lag, lag-hold, unknown-answer, backlog, workers, max-connections, log-level, log-format, control-socket, state-file")]
    [InlineData("\n\n\nconfig = /other.conf", "/etc/patroni-agent.conf line 4: \"config\" cannot be set in the config file; use --config or PATRONI_AGENT_CONFIG")]
    [InlineData("workers = 2\n# again\nWorkers = 3", "/etc/patroni-agent.conf line 3: workers is already set on line 1")]
    [InlineData("poll_interval = 1s\npoll-interval = 1s", "/etc/patroni-agent.conf line 2: poll-interval is already set on line 1")]
    [InlineData("workers 2", "/etc/patroni-agent.conf line 1: expected \"key = value\"")]
    [InlineData("workers # = 2", "/etc/patroni-agent.conf line 1: expected \"key = value\"")]
    [InlineData("= 2", "/etc/patroni-agent.conf line 1: expected \"key = value\"")]
    [InlineData("workers =", "/etc/patroni-agent.conf line 1: workers: missing value")]
    [InlineData("workers = # two", "/etc/patroni-agent.conf line 1: workers: missing value")]
    [InlineData("workers = '2", "/etc/patroni-agent.conf line 1: workers: missing closing '")]
    [InlineData("workers = \"2\" 3", "/etc/patroni-agent.conf line 1: workers: unexpected text after the closing \"")]
    [InlineData("workers = ''", "/etc/patroni-agent.conf line 1: workers: \"\" is not a whole number")]
    [InlineData("listen = 127.0.0.1:5555=nope", "/etc/patroni-agent.conf line 1: listen: unknown mode \"nope\" in \"127.0.0.1:5555=nope\"; the modes are primary (master, read-write, rw), replica, read-only (ro), sync (synchronous), async (asynchronous), standby-leader (standby_leader), leader, health, read-only-sync (read-only-synchronous), quorum, read-only-quorum, liveness, readiness")]
    public void Invalid_file_is_an_error(string file, string expected)
    {
        Assert.Equal(expected, FileError(file));
    }

    [Theory]
    [InlineData(typeof(FileNotFoundException), "no such file")]
    [InlineData(typeof(DirectoryNotFoundException), "no such file")]
    [InlineData(typeof(UnauthorizedAccessException), "access denied (no permission, or not a file)")]
    public void Unreadable_file_is_an_error_naming_the_file(Type exception, string reason)
    {
        Exception thrown = (Exception)Activator.CreateInstance(exception)!;

        ConfigException flag = Assert.Throws<ConfigException>(() =>
            ConfigLoader.Parse(["--config", "/etc/missing.conf"], RunRules, new Dictionary<string, string>(), _ => throw thrown));
        ConfigException env = Assert.Throws<ConfigException>(() =>
            ConfigLoader.Parse([], RunRules, new Dictionary<string, string> { ["PATRONI_AGENT_CONFIG"] = "/etc/missing.conf" }, _ => throw thrown));

        Assert.Equal($"--config: cannot read config file /etc/missing.conf: {reason}", flag.Message);
        Assert.Equal($"PATRONI_AGENT_CONFIG: cannot read config file /etc/missing.conf: {reason}", env.Message);
    }

    [Fact]
    public void Other_read_errors_are_reported_with_their_message()
    {
        Assert.Equal("--config: cannot read config file /etc/x.conf: Is a directory",
            Assert.Throws<ConfigException>(() => ConfigLoader.Parse(["--config", "/etc/x.conf"], RunRules,
                new Dictionary<string, string>(), _ => throw new IOException("Is a directory"))).Message);
    }

    [Fact]
    public void File_errors_come_before_environment_and_flag_errors()
    {
        Assert.StartsWith($"{ConfPath} line 1: workers:",
            Error(["--config", ConfPath, "--workers", "0"], new() { ["PATRONI_AGENT_WORKERS"] = "0" }, "workers = 0"));
    }

    private const string Https = "https://127.0.0.1:8008";

    [Fact]
    public void Without_TLS_or_auth_keys_Patroni_is_reached_plainly()
    {
        Assert.Same(PatroniAccess.None, Options([]).PatroniAccess);
        Assert.Same(PatroniAccess.None, Options(["--patroni-url", Https]).PatroniAccess);
    }

    [Fact]
        public void TLS_and_auth_files_are_read_from_every_source()
    {
        using var files = new TestCertificates();
        var ca = TestCertificates.CreateCa("test CA");
        var client = TestCertificates.CreateClient(ca, "agent");
        string caFile = files.WriteCertificate("ca.pem", ca);
        string certFile = files.WriteCertificate("client.pem", client);
        string keyFile = files.WriteKey("client-key.pem", client);
        string authFile = files.Write("auth", "\uFEFFagent:pa ss\r\n");

        AgentOptions o = Options(
            ["--config", ConfPath, "--patroni-auth-file", authFile],
            new() { ["PATRONI_AGENT_PATRONI_CERT_FILE"] = certFile },
            $"patroni-url = {Https}\npatroni-ca-file = {caFile}\npatroni-key-file = {keyFile}\n");

        Assert.Equal((caFile, certFile, keyFile, authFile), (o.PatroniCaFile, o.PatroniCertFile, o.PatroniKeyFile, o.PatroniAuthFile));
        Assert.Equal(ca.Thumbprint, Assert.Single(o.PatroniAccess.TrustedRoots!).Thumbprint);
        Assert.Equal("CN=agent", o.PatroniAccess.ClientCertificate!.TargetCertificate.Subject);
        Assert.True(o.PatroniAccess.ClientCertificate.TargetCertificate.HasPrivateKey);
        Assert.Equal("Basic", o.PatroniAccess.Authorization!.Scheme);
        Assert.Equal(Convert.ToBase64String("agent:pa ss"u8.ToArray()), o.PatroniAccess.Authorization.Parameter);
    }

    [Fact]
    public void A_missing_TLS_file_is_an_error_naming_its_source()
    {
        const string missing = "/nonexistent/ca.pem";
        Assert.Equal($"--patroni-ca-file: cannot read {missing}: no such file",
            Error(["--patroni-url", Https, "--patroni-ca-file", missing]));
        Assert.Equal($"PATRONI_AGENT_PATRONI_CA_FILE: cannot read {missing}: no such file",
            Error(["--patroni-url", Https], new() { ["PATRONI_AGENT_PATRONI_CA_FILE"] = missing }));
        Assert.Equal($"{ConfPath} line 2: patroni-ca-file: cannot read {missing}: no such file",
            FileError($"patroni-url = {Https}\npatroni-ca-file = {missing}"));
        Assert.Equal($"--patroni-auth-file: cannot read /nonexistent/auth: no such file",
            Error(["--patroni-auth-file", "/nonexistent/auth"]));
    }

    [Fact]
    public void A_bad_TLS_file_that_a_later_source_replaces_is_not_read()
    {
        using var files = new TestCertificates();
        string caFile = files.WriteCertificate("ca.pem", TestCertificates.CreateCa("test CA"));

        AgentOptions o = Options(["--config", ConfPath, "--patroni-ca-file", caFile], file: $"patroni-url = {Https}\npatroni-ca-file = /nonexistent/ca.pem");

        Assert.Single(o.PatroniAccess.TrustedRoots!);
    }

    [Fact]
    public void A_directory_or_an_endless_file_is_not_a_PEM_file()
    {
        Assert.Equal("--patroni-ca-file: cannot read /tmp: access denied (no permission, or not a file)",
            Error(["--patroni-url", Https, "--patroni-ca-file", "/tmp"]));
        Assert.Equal("--patroni-ca-file: /dev/zero is larger than 1024 kB",
            Error(["--patroni-url", Https, "--patroni-ca-file", "/dev/zero"]));
    }

    [Fact]
        public void A_CA_file_without_a_good_certificate_is_an_error()
    {
        using var files = new TestCertificates();
        string text = files.Write("text.pem", "not a certificate\n", TestCertificates.Public);
        string damaged = files.Write("damaged.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", TestCertificates.Public);

        Assert.Equal($"--patroni-ca-file: {text} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            Error(["--patroni-url", Https, "--patroni-ca-file", text]));
        Assert.Equal($"--patroni-ca-file: a certificate in {damaged} cannot be read (damaged PEM)",
            Error(["--patroni-url", Https, "--patroni-ca-file", damaged]));
    }

    [Fact]
        public void A_client_certificate_needs_its_own_private_key()
    {
        using var files = new TestCertificates();
        var ca = TestCertificates.CreateCa("test CA");
        var client = TestCertificates.CreateClient(ca);
        string cert = files.WriteCertificate("client.pem", client);
        string otherKey = files.WriteKey("other-key.pem", TestCertificates.CreateClient(ca));
        string noKey = files.Write("no-key.pem", "nothing here\n");
        string keyAsCert = files.Write("key-as-cert.pem", TestCertificates.PrivateKeyPem(client));
        string encrypted = files.Write("encrypted.pem", System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions.GetECDsaPrivateKey(client)!.ExportEncryptedPkcs8PrivateKeyPem("secret",
            new System.Security.Cryptography.PbeParameters(System.Security.Cryptography.PbeEncryptionAlgorithm.Aes256Cbc,
                System.Security.Cryptography.HashAlgorithmName.SHA256, 1000)));

        Assert.Equal($"--patroni-cert-file: {cert} holds no private key; put it in the file or give patroni-key-file",
            Error(["--patroni-url", Https, "--patroni-cert-file", cert]));
        Assert.Equal($"--patroni-key-file: the private key in {otherKey} does not match the certificate in {cert} (--patroni-cert-file)",
            Error(["--patroni-url", Https, "--patroni-cert-file", cert, "--patroni-key-file", otherKey]));
        string certWithOtherKey = files.Write("client-and-other-key.pem", client.ExportCertificatePem() + "\n" + File.ReadAllText(otherKey));
        Assert.Equal($"--patroni-cert-file: the private key in {certWithOtherKey} does not match its certificate",
            Error(["--patroni-url", Https, "--patroni-cert-file", certWithOtherKey]));
        Assert.Equal($"--patroni-key-file: {noKey} holds no PEM private key (-----BEGIN PRIVATE KEY-----)",
            Error(["--patroni-url", Https, "--patroni-cert-file", cert, "--patroni-key-file", noKey]));
        Assert.Equal($"--patroni-cert-file: {keyAsCert} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            Error(["--patroni-url", Https, "--patroni-cert-file", keyAsCert]));
        Assert.Equal($"--patroni-key-file: the private key in {encrypted} is encrypted; the agent needs it unencrypted (openssl pkey -in {encrypted} -out NEW)",
            Error(["--patroni-url", Https, "--patroni-cert-file", cert, "--patroni-key-file", encrypted]));
        Assert.Equal("--patroni-key-file: needs patroni-cert-file, the certificate of this key",
            Error(["--patroni-url", Https, "--patroni-key-file", otherKey]));
    }

    [Fact]
        public void Secrets_readable_by_every_user_are_refused()
    {
        using var files = new TestCertificates();
        var client = TestCertificates.CreateClient(TestCertificates.CreateCa("test CA"));
        string cert = files.WriteCertificate("client.pem", client);
        string key = files.Write("client-key.pem", TestCertificates.PrivateKeyPem(client), TestCertificates.Public);
        string auth = files.Write("auth", "agent:secret", TestCertificates.Public);

        Assert.Equal($"--patroni-key-file: {key} holds a private key and is readable by every user (mode 0644); run chmod o-rwx {key}",
            Error(["--patroni-url", Https, "--patroni-cert-file", cert, "--patroni-key-file", key]));
        Assert.Equal($"PATRONI_AGENT_PATRONI_AUTH_FILE: {auth} holds a password and is readable by every user (mode 0644); run chmod o-rwx {auth}",
            Error([], new() { ["PATRONI_AGENT_PATRONI_AUTH_FILE"] = auth }));

        string groupReadable = files.Write("group-auth", "agent:secret", UnixFileMode.UserRead | UnixFileMode.GroupRead);
        Assert.NotNull(Options(["--patroni-auth-file", groupReadable]).PatroniAccess.Authorization);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\nagent:secret")]
    [InlineData("agent")]
    [InlineData(":secret")]
    [InlineData("agent:")]
    [InlineData("agent:sec\tret")]
        public void An_auth_file_whose_first_line_is_not_username_colon_password_is_an_error(string text)
    {
        using var files = new TestCertificates();
        string auth = files.Write("auth", text);

        Assert.Equal($"--patroni-auth-file: the first line of {auth} must be username:password (both not empty, no control characters)",
            Error(["--patroni-auth-file", auth]));
    }

    [Fact]
        public void TLS_keys_need_an_HTTPS_URL_but_basic_auth_does_not()
    {
        using var files = new TestCertificates();
        string ca = files.WriteCertificate("ca.pem", TestCertificates.CreateCa("test CA"));
        string auth = files.Write("auth", "agent:secret");

        Assert.Equal("--patroni-ca-file: needs an https patroni-url, not http://127.0.0.1:8008/ (default)",
            Error(["--patroni-ca-file", ca]));
        Assert.Equal("PATRONI_AGENT_PATRONI_CERT_FILE: needs an https patroni-url, not http://db1:8008/ (--patroni-url)",
            Error(["--patroni-url", "http://db1:8008"], new() { ["PATRONI_AGENT_PATRONI_CERT_FILE"] = ca }));
        Assert.NotNull(Options(["--patroni-auth-file", auth]).PatroniAccess.Authorization);
    }
}
