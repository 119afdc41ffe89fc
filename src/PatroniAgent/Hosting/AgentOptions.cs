using System.Net;
using Microsoft.Extensions.Logging;
using PatroniAgent.Patroni;
using PatroniAgent.Policy;

namespace PatroniAgent.Hosting;

/// <summary>One agent-check listener: where it listens and the mode it answers when the check names none.</summary>
public sealed record ListenerConfig(IPEndPoint EndPoint, Mode Mode)
{
    public override string ToString() => $"{EndPoint}={ModeNames.Name(Mode)}";
}

/// <summary>The whole configuration of the agent, after file, environment and command line were merged.</summary>
public sealed record AgentOptions
{
    public IReadOnlyList<ListenerConfig> Listeners { get; init; } = [new(new IPEndPoint(IPAddress.Any, 5555), Mode.Primary)];
    public IReadOnlyList<IPEndPoint> HttpListeners { get; init; } = [];
    /// <summary>Where <c>GET /metrics</c> and <c>GET /status</c> are served; empty (the default) serves them nowhere.</summary>
    public IReadOnlyList<IPEndPoint> MetricsListeners { get; init; } = [];

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
    public string UnknownAnswer { get; init; } = "down";
    public int Backlog { get; init; } = 4096;
    public int Workers { get; init; } = 1;
    public int MaxConnections { get; init; } = 20000;
    public LogLevel LogLevel { get; init; } = LogLevel.Information;
    /// <summary>The unix socket of the control channel (notify, drain, maint, ready).</summary>
    public string ControlSocket { get; init; } = "/run/patroni-agent/control.sock";
    /// <summary>The file that keeps the operator's override across restarts.</summary>
    public string StateFile { get; init; } = "/var/lib/patroni-agent/override";
}
