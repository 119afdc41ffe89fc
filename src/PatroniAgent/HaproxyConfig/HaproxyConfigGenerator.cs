using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Configuration;

namespace PatroniAgent.HaproxyConfig;

/// <summary>
/// Writes a complete, commented HAProxy configuration for a Patroni cluster whose hosts each run the
/// agent: a pure function of the members and the options. The check settings are the ones measured
/// on the real cluster (docs/failover.md): agent checks every 50 ms, regular checks every 500 ms.
/// </summary>
public static class HaproxyConfigGenerator
{
    /// <summary>Checks the input and writes the configuration.</summary>
    /// <exception cref="ConfigException">No members, a name or host HAProxy cannot take, a name or host given twice, a bad port or lag.</exception>
    public static string Generate(IReadOnlyList<HaproxyMember> members, HaproxyConfigOptions options)
    {
        Validate(members, options);
        var text = new StringBuilder();
        WriteHeader(text, members, options);
        WriteGlobal(text, options);
        WriteReadWrite(text, members, options);
        WriteReplicas(text, members, options, "postgres_ro", options.ReadOnlyPort, "replica",
            "Reads: the replicas whose replay lag is at most max-lag, in turn. The primary is not among them.");
        if (options.Sync)
        {
            WriteReplicas(text, members, options, "postgres_sync", options.SyncPort, "sync",
                "Reads from the synchronous standbys only (sync_standby or quorum_standby in Patroni), lag at most max-lag.");
        }
        if (options.Async)
        {
            WriteReplicas(text, members, options, "postgres_async", options.AsyncPort, "async",
                "Reads from the asynchronous replicas only, lag at most max-lag.");
        }
        return text.ToString();
    }

    private static void WriteHeader(StringBuilder text, IReadOnlyList<HaproxyMember> members, HaproxyConfigOptions options)
    {
        text.AppendLine("# HAProxy configuration of a Patroni cluster, written by patroni-agent haproxy-config.");
        text.Append("# Members: ").AppendJoin(", ", members.Select(m => $"{m.Name} ({Address(m)})")).AppendLine(".");
        text.AppendLine("#");
        text.AppendLine("# Every database host runs patroni-agent, which answers the agent checks and the regular HTTP");
        text.AppendLine("# checks from one local poll of Patroni, so Patroni's load does not grow with HAProxy instances:");
        text.AppendLine(Invariant($"#     patroni-agent --listen '*:{options.AgentPort}=primary' --http-listen '*:{options.HttpCheckPort}'"));
        text.AppendLine("# Check this file with: haproxy -c -f FILE");
        text.AppendLine();
    }

    private static void WriteGlobal(StringBuilder text, HaproxyConfigOptions options)
    {
        text.AppendLine("global");
        text.AppendLine("    log /dev/log local0");
        text.AppendLine("    maxconn 4000");
        text.AppendLine("    # For 'show stat' and 'disable agent': echo 'show stat' | socat stdio /run/haproxy/admin.sock");
        text.AppendLine("    stats socket /run/haproxy/admin.sock mode 660 level admin");
        text.AppendLine("    stats timeout 30s");
        text.AppendLine();
        text.AppendLine("defaults");
        text.AppendLine("    # Server state changes, with the agent's reason, go to the log.");
        text.AppendLine("    log global");
        text.AppendLine("    mode tcp");
        text.AppendLine("    timeout connect 1s");
        text.AppendLine("    # Database sessions may stay idle for long.");
        text.AppendLine("    timeout client 30m");
        text.AppendLine("    timeout server 30m");
        text.AppendLine("    timeout check 1s");
        text.AppendLine();
        text.AppendLine("# HAProxy's view of every server, with what its agent said last.");
        text.AppendLine("listen stats");
        text.AppendLine("    mode http");
        text.AppendLine(Invariant($"    bind {Bind(options, options.StatsPort)}"));
        text.AppendLine("    stats enable");
        text.AppendLine("    stats uri /");
        text.AppendLine("    stats refresh 5s");
        text.AppendLine();
    }

    private static void WriteReadWrite(StringBuilder text, IReadOnlyList<HaproxyMember> members, HaproxyConfigOptions options)
    {
        text.AppendLine("# Writes: only the primary. Its agent answers 'up ready 100%'; the other hosts answer 'up maint',");
        text.AppendLine("# so they show as MAINT with the agent's reason, not as DOWN.");
        text.AppendLine("# - agent-inter 20ms: a new primary takes writes about 45 ms after it accepts them, with Patroni's");
        text.AppendLine("#   callbacks wired to the agent (patroni-agent callbacks; docs/failover.md).");
        text.AppendLine("# - disabled: after a start or reload a server takes nothing until its agent first says ready.");
        text.AppendLine("# - on-marked-down shutdown-sessions: the clients of a demoted primary are cut.");
        text.AppendLine(Invariant($"# - check port {options.HttpCheckPort}: the regular check asks the agent's http-listen (or Patroni itself),"));
        text.AppendLine("#   so a host whose agent is dead goes DOWN instead of keeping the agent's last answer.");
        WriteFrontend(text, "postgres_rw", Bind(options, options.ReadWritePort));
        text.AppendLine("backend postgres_rw");
        text.AppendLine("    option httpchk OPTIONS /primary");
        WriteServers(text, members, options, "primary", ReadWriteAgentInter, shutdownSessions: true);
    }

    private static void WriteReplicas(
        StringBuilder text, IReadOnlyList<HaproxyMember> members, HaproxyConfigOptions options,
        string name, int port, string mode, string comment)
    {
        text.Append("# ").AppendLine(comment);
        text.AppendLine($"# - agent-inter {ReadOnlyAgentInter}: a replica's answer changes at the agent's poll, once a second.");
        text.AppendLine("# - a replica over max-lag answers 'up drain': no new sessions, and the running ones go on; it");
        text.AppendLine("#   comes back once its lag stayed at or below half of max-lag for 10 s (return-lag, lag-hold).");
        text.AppendLine("#   The regular check therefore asks no lag, and sessions are not cut when a check fails.");
        WriteFrontend(text, name, Bind(options, port));
        text.Append("backend ").AppendLine(name);
        text.AppendLine("    balance roundrobin");
        text.Append("    option httpchk OPTIONS /").AppendLine(mode);
        WriteServers(text, members, options, $"{mode} max-lag={options.MaxLag}", ReadOnlyAgentInter, shutdownSessions: false);
    }

    private static void WriteFrontend(StringBuilder text, string name, string bind)
    {
        text.Append("frontend ").AppendLine(name);
        text.Append("    bind ").AppendLine(bind);
        text.Append("    default_backend ").AppendLine(name);
        text.AppendLine();
    }

    /// <summary>
    /// How often HAProxy asks the agents: every check costs the database host a TCP connection (60 to 85 µs
    /// of CPU, docs/performance.md), so the read-write backend, which must follow a promotion within tens of
    /// milliseconds, asks often and the read-only ones, whose answers move with the agent's poll, do not.
    /// </summary>
    private const string ReadWriteAgentInter = "20ms", ReadOnlyAgentInter = "200ms";

    private static void WriteServers(
        StringBuilder text, IReadOnlyList<HaproxyMember> members, HaproxyConfigOptions options, string agentSend, string agentInter, bool shutdownSessions)
    {
        text.AppendLine("    http-check expect status 200");
        text.AppendLine(shutdownSessions ? "    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions" : "    default-server inter 500ms fall 2 rise 1");
        foreach (var member in members)
        {
            text.AppendLine(Invariant(
                $"    server {member.Name} {Address(member)}:{member.PostgresPort} check port {options.HttpCheckPort} agent-check agent-port {options.AgentPort} agent-send \"{agentSend}\\n\" agent-inter {agentInter} disabled"));
        }
        text.AppendLine();
    }

    private static string Address(HaproxyMember member) =>
        IPAddress.TryParse(member.Host, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{member.Host}]" : member.Host;

    private static string Bind(HaproxyConfigOptions options, int port) =>
        IPAddress.TryParse(options.BindAddress, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6
            ? Invariant($"[{options.BindAddress}]:{port}")
            : Invariant($"{options.BindAddress}:{port}");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static void Validate(IReadOnlyList<HaproxyMember> members, HaproxyConfigOptions options)
    {
        if (members.Count == 0)
        {
            throw new ConfigException("no members: give --member NAME=HOST (repeatable) or --patroni-url URL");
        }
        var names = new Dictionary<string, HaproxyMember>(StringComparer.Ordinal);
        var hosts = new Dictionary<string, HaproxyMember>(StringComparer.OrdinalIgnoreCase);
        foreach (var member in members)
        {
            if (!IsServerName(member.Name))
            {
                throw new ConfigException($"member name \"{member.Name}\" cannot be an HAProxy server name: use letters, digits, '-', '_', '.' and ':'");
            }
            if (!IsHost(member.Host))
            {
                throw new ConfigException($"member {member.Name}: \"{member.Host}\" is not an IP address or a host name");
            }
            CheckPort($"member {member.Name}: PostgreSQL port", member.PostgresPort);
            if (!names.TryAdd(member.Name, member))
            {
                throw new ConfigException($"member name {member.Name} is given twice");
            }
            if (!hosts.TryAdd(Canonical(member.Host), member))
            {
                throw new ConfigException(
                    $"members {hosts[Canonical(member.Host)].Name} and {member.Name} have the same host {member.Host}: the agent of a host answers for one Patroni member only");
            }
        }

        if (options.BindAddress != "*" && !IPAddress.TryParse(options.BindAddress, out _))
        {
            throw new ConfigException($"--bind: \"{options.BindAddress}\" is not * or an IP address");
        }
        CheckPort("--agent-port", options.AgentPort);
        CheckPort("--http-check-port", options.HttpCheckPort);
        if (options.AgentPort == options.HttpCheckPort)
        {
            throw new ConfigException(Invariant($"--agent-port and --http-check-port are both {options.AgentPort}: the agent serves agent checks and HTTP checks on different ports"));
        }
        var frontends = new List<(string Flag, int Port)>
        {
            ("--read-write-port", options.ReadWritePort),
            ("--read-only-port", options.ReadOnlyPort),
            ("--stats-port", options.StatsPort),
        };
        if (options.Sync)
        {
            frontends.Add(("--sync-port", options.SyncPort));
        }
        if (options.Async)
        {
            frontends.Add(("--async-port", options.AsyncPort));
        }
        foreach (var (flag, port) in frontends)
        {
            CheckPort(flag, port);
        }
        foreach (var group in frontends.GroupBy(f => f.Port).Where(g => g.Count() > 1))
        {
            throw new ConfigException(Invariant($"{string.Join(" and ", group.Select(f => f.Flag))} are all {group.Key}: each frontend needs its own port"));
        }
        if (!AgentSendParser.TryParseSize(Encoding.ASCII.GetBytes(options.MaxLag), out _) || !options.MaxLag.All(char.IsAsciiLetterOrDigit))
        {
            throw new ConfigException($"--max-lag: \"{options.MaxLag}\" is not a size such as 16MB (B, kB, MB, GB or TB)");
        }
    }

    private static void CheckPort(string what, int port)
    {
        if (port is < 1 or > 65535)
        {
            throw new ConfigException(Invariant($"{what}: {port} is not a port 1..65535"));
        }
    }

    /// <summary>The characters HAProxy accepts in a server name.</summary>
    private static bool IsServerName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');

    /// <summary>An IPv4 or IPv6 address (without a zone), or a DNS name (labels of letters, digits and inner hyphens).</summary>
    private static bool IsHost(string host)
    {
        if (IPAddress.TryParse(host, out var ip))
        {
            return ip.AddressFamily == AddressFamily.InterNetworkV6 ? !host.Contains('%') : ip.ToString() == host;
        }
        if (host.Length is 0 or > 253 || host.All(c => char.IsAsciiDigit(c) || c == '.'))
        {
            return false;
        }
        return host.TrimEnd('.').Split('.').All(label =>
            label.Length is > 0 and <= 63
            && label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')
            && label[0] != '-' && label[^1] != '-');
    }

    private static string Canonical(string host) =>
        IPAddress.TryParse(host, out var ip) ? ip.ToString() : host.TrimEnd('.');
}
