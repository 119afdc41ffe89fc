using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Patroni;
using PatroniAgent.Server;

namespace PatroniAgent.Configuration;

/// <summary>
/// One agent-check listener: where it listens, the mode it answers when the check names none and,
/// in agent-send words, its lag parameters (e.g. <c>max-lag=16MB hold=30s</c>), which a check's
/// own agent-send line keeps where it gives none of its own.
/// </summary>
public sealed record ListenerConfig(IPEndPoint EndPoint, Mode Mode)
{
    /// <summary>The lag parameters, as <c>listen</c> gave them; empty for none.</summary>
    public string Parameters { get; init; } = "";

    /// <summary>The check an empty agent-send line asks for on this listener, and the one a line naming a mode starts from.</summary>
    public AgentRequest Defaults => AgentSendParser.Parse(Encoding.ASCII.GetBytes(Check), AgentRequest.For(Mode));

    /// <summary>The listener's check as an agent-send line, e.g. <c>replica max-lag=16MB</c>.</summary>
    public string Check => Parameters.Length == 0 ? ModeNames.Name(Mode) : $"{ModeNames.Name(Mode)} {Parameters}";

    public override string ToString() => $"{ListenSocket.Show(EndPoint)}={Check}";
}

/// <summary>The whole configuration of the agent, after file, environment and command line were merged.</summary>
public sealed record AgentOptions
{
    /// <summary>The agent-check listeners; by default every IPv4 and IPv6 address (<c>*</c>), port 5555, primary.</summary>
    public IReadOnlyList<ListenerConfig> Listeners { get; init; } = [new(new IPEndPoint(IPAddress.IPv6Any, 5555), Mode.Primary)];
    public IReadOnlyList<IPEndPoint> HttpListeners { get; init; } = [];
    /// <summary>Where <c>GET /metrics</c> and <c>GET /status</c> are served; empty (the default) serves them nowhere.</summary>
    public IReadOnlyList<IPEndPoint> MetricsListeners { get; init; } = [];
    /// <summary>Whether the metrics have series per checker address (<c>metrics-checkers</c>).</summary>
    public bool MetricsPerChecker { get; init; }

    /// <summary>The source prefixes allowed to connect to every listener; empty allows any address.</summary>
    public IReadOnlyList<IPNetwork> Allow { get; init; } = [];
    public Uri PatroniUrl { get; init; } = new("http://127.0.0.1:8008");
    /// <summary>PEM CA certificates Patroni's server certificate must chain to; null for the system store.</summary>
    public string? PatroniCaFile { get; init; }
    /// <summary>PEM client certificate shown to Patroni; null for none.</summary>
    public string? PatroniCertFile { get; init; }
    /// <summary>PEM private key of <see cref="PatroniCertFile"/>; null when that file holds it.</summary>
    public string? PatroniKeyFile { get; init; }
    /// <summary>File whose first line is <c>username:password</c>, for basic authentication; null for none.</summary>
    public string? PatroniAuthFile { get; init; }
    /// <summary>What the four files above hold, read and checked at start by <see cref="ConfigLoader"/>.</summary>
    public PatroniAccess PatroniAccess { get; init; } = PatroniAccess.None;
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan StaleAfter { get; init; } = TimeSpan.FromSeconds(3);
    public TimeSpan SendWait { get; init; } = TimeSpan.FromMilliseconds(20);
    /// <summary>A replica held out by a check's max-lag returns at or below this percent of it, unless the check gives return-lag.</summary>
    public int ReturnLagPercent { get; init; } = 50;
    /// <summary>For how long its lag must stay there, unless the check gives hold.</summary>
    public TimeSpan LagHold { get; init; } = TimeSpan.FromSeconds(10);
    public string UnknownAnswer { get; init; } = "down";
    public int Backlog { get; init; } = 4096;
    public int Workers { get; init; } = 1;
    public int MaxConnections { get; init; } = 20000;
    public LogLevel LogLevel { get; init; } = LogLevel.Information;
    public LogFormat LogFormat { get; init; } = LogFormat.Text;
    /// <summary>The instance of several on one host (<c>--instance</c>); null for the host's only agent.</summary>
    public string? Instance { get; init; }
    /// <summary>The unix socket of the control channel (notify, drain, maint, ready).</summary>
    public string ControlSocket { get; init; } = RuntimeDirectory + "/control.sock";
    /// <summary>The file that keeps the operator's override across restarts.</summary>
    public string StateFile { get; init; } = StateDirectory + "/override";

    /// <summary>Where the config files are: patroni-agent.conf, and INSTANCE.conf for each instance.</summary>
    public const string ConfigDirectory = "/etc/patroni-agent";
    /// <summary>The config file read when none is named and no instance is given, if it exists.</summary>
    public const string DefaultConfigFile = ConfigDirectory + "/patroni-agent.conf";
    /// <summary>systemd's RuntimeDirectory= of the unit: the control socket, one subdirectory per instance.</summary>
    public const string RuntimeDirectory = "/run/patroni-agent";
    /// <summary>systemd's StateDirectory= of the unit: the override state file, one subdirectory per instance.</summary>
    public const string StateDirectory = "/var/lib/patroni-agent";

    /// <summary>The built-in defaults of <paramref name="instance"/>: its own control socket and state file.</summary>
    public static AgentOptions ForInstance(string? instance) => instance is null ? new AgentOptions() : new AgentOptions
    {
        Instance = instance,
        ControlSocket = $"{RuntimeDirectory}/{instance}/control.sock",
        StateFile = $"{StateDirectory}/{instance}/override",
    };

    /// <summary>The config file of <paramref name="instance"/>: INSTANCE.conf in <see cref="ConfigDirectory"/>.</summary>
    public static string ConfigFileOf(string instance) => $"{ConfigDirectory}/{instance}.conf";
}

/// <summary>What the log lines look like: text (journald's or a terminal's), or one JSON object a line.</summary>
public enum LogFormat
{
    Text,
    Json,
}
