using System.Globalization;
using System.Net;
using System.Net.Sockets;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Server;
using static PatroniAgent.Configuration.ConfigValues;

namespace PatroniAgent.Configuration;

/// <summary>The configuration keys: each key's flag, variable, help, and how its values apply to the options.</summary>
internal static class ConfigKeys
{
    /// <summary>The prefix of every environment variable of the agent.</summary>
    internal const string EnvPrefix = "PATRONI_AGENT_";

    /// <summary>
    /// A configuration key: its file key, and the flag and environment variable derived from it. A key
    /// with <paramref name="Clear"/> is a list: it may be repeated, its environment variable takes
    /// entries separated by commas, and a source that sets it replaces the entries of the sources before.
    /// </summary>
    internal sealed record Key(
        string Name,
        string Placeholder,
        string Description,
        Func<AgentOptions, string> Show,
        Func<AgentOptions, string, string, AgentOptions> Apply,
        Func<AgentOptions, AgentOptions>? Clear = null)
    {
        public string Flag { get; } = "--" + Name;
        public string Env { get; } = EnvPrefix + Name.Replace('-', '_').ToUpperInvariant();
        public bool IsList => Clear is not null;
    }

    internal static readonly Key[] Keys =
    [
        new("listen", "ADDR:PORT[=MODE [PARAM...]]", "listener, its default mode and lag parameters as agent-send gives them (max-lag=16MB hold=30s), repeatable",
            o => string.Join(", ", o.Listeners), AddListener, o => o with { Listeners = [] }),
        new("http-listen", "ADDR:PORT", "HTTP health-check listener (GET /primary, /replica...), repeatable",
            o => o.HttpListeners.Count == 0 ? "none" : string.Join(' ', o.HttpListeners.Select(ListenSocket.Show)), AddHttpListener, o => o with { HttpListeners = [] }),
        new("metrics-listen", "ADDR:PORT", "Prometheus /metrics and JSON /status endpoint, repeatable",
            o => o.MetricsListeners.Count == 0 ? "none" : string.Join(' ', o.MetricsListeners.Select(ListenSocket.Show)), AddMetricsListener, o => o with { MetricsListeners = [] }),
        new("metrics-checkers", "yes|no", "series per checker address in the metrics (its checks, its last check); off, only counts",
            o => o.MetricsPerChecker ? "yes" : "no", (o, v, w) => o with { MetricsPerChecker = ParseYesNo(v, w) }),
        new("allow", "CIDR", "source addresses allowed to connect, repeatable",
            o => o.Allow.Count == 0 ? "any address" : string.Join(' ', o.Allow), AddAllow, o => o with { Allow = [] }),
        new("patroni-url", "URL", "Patroni REST API",
            o => o.PatroniUrl.ToString(), (o, v, w) => o with { PatroniUrl = ParseUrl(v, w) }),
        new("patroni-ca-file", "FILE", "PEM CA certificates Patroni's TLS certificate must chain to",
            o => o.PatroniCaFile ?? "the system store", (o, v, _) => o with { PatroniCaFile = v }),
        new("patroni-cert-file", "FILE", "PEM client certificate shown to Patroni",
            o => o.PatroniCertFile ?? "none", (o, v, _) => o with { PatroniCertFile = v }),
        new("patroni-key-file", "FILE", "PEM private key of patroni-cert-file",
            o => o.PatroniKeyFile ?? "in patroni-cert-file", (o, v, _) => o with { PatroniKeyFile = v }),
        new("patroni-auth-file", "FILE", "file whose first line is username:password, for Patroni's basic auth",
            o => o.PatroniAuthFile ?? "none", (o, v, _) => o with { PatroniAuthFile = v }),
        Duration("poll-interval", "time between polls",
            TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(60), o => o.PollInterval, (o, t) => o with { PollInterval = t }),
        Duration("timeout", "how long a poll waits for Patroni's answer before it gives up",
            TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(60), o => o.Timeout, (o, t) => o with { Timeout = t }),
        Duration("stale-after", "unknown state after this long without an answer",
            TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10), o => o.StaleAfter, (o, t) => o with { StaleAfter = t }),
        Duration("send-wait", "wait for the agent-send line",
            TimeSpan.Zero, TimeSpan.FromSeconds(10), o => o.SendWait, (o, t) => o with { SendWait = t }),
        new("return-lag", "PERCENT", "a replica a check's max-lag took out returns at or below this share of it (a check's return-lag=SIZE overrides), 0%..100%",
            o => $"{o.ReturnLagPercent}%", (o, v, w) => o with { ReturnLagPercent = ParsePercent(v, w) }),
        Duration("lag-hold", "how long its lag must stay there before it returns (a check's hold= overrides)",
            TimeSpan.Zero, TimeSpan.FromMinutes(10), o => o.LagHold, (o, t) => o with { LagHold = t }),
        new("unknown-answer", "WORDS", "answer while Patroni's state is unknown",
            o => o.UnknownAnswer, (o, v, w) => o with { UnknownAnswer = ParseUnknownAnswer(v, w) }),
        Integer("backlog", "listen backlog", 1, 65535, o => o.Backlog, (o, n) => o with { Backlog = n }),
        Integer("workers", "event-loop threads", 1, 64, o => o.Workers, (o, n) => o with { Workers = n }),
        Integer("max-connections", "connections held at once", 1, 1_000_000,
            o => o.MaxConnections, (o, n) => o with { MaxConnections = n }),
        new("log-level", "LEVEL", "least severe level logged",
            o => LogLevelName(o.LogLevel), (o, v, w) => o with { LogLevel = ParseLogLevel(v, w) }),
        new("log-format", "FORMAT", "log lines as text (journald's priorities under systemd, a UTC time elsewhere) or as JSON objects",
            o => LogFormatName(o.LogFormat), (o, v, w) => o with { LogFormat = ParseLogFormat(v, w) }),
        new("control-socket", "PATH", "unix socket of notify, drain, maint and ready (mode 0660)",
            o => o.ControlSocket, (o, v, w) => o with { ControlSocket = ParseSocketPath(v, w) }),
        new("state-file", "PATH", "file keeping the drain or maint override across restarts",
            o => o.StateFile, (o, v, _) => o with { StateFile = v }),
    ];

    private static AgentOptions AddListener(AgentOptions options, string text, string where)
    {
        ListenerConfig listener = ParseListener(text, where);
        CheckNewEndPoint(options, listener.EndPoint, http: false, where);
        return options with { Listeners = [.. options.Listeners, listener] };
    }

    private static AgentOptions AddHttpListener(AgentOptions options, string text, string where)
    {
        if (text.Contains('='))
            throw Error(where, $"\"{text}\" needs ADDR:PORT without a mode; the path of each HTTP check names its mode");
        IPEndPoint endPoint = ParseEndPoint(text, text, where, "e.g. 127.0.0.1:8009 or *:8009");
        CheckNewEndPoint(options, endPoint, http: true, where);
        return options with { HttpListeners = [.. options.HttpListeners, endPoint] };
    }

    private static AgentOptions AddMetricsListener(AgentOptions options, string text, string where)
    {
        IPEndPoint endPoint = ParseEndPoint(text, text, where, "e.g. 127.0.0.1:8010 or *:8010");
        if (endPoint.Port != 0 && options.MetricsListeners.Concat(options.HttpListeners).Concat(options.Listeners.Select(l => l.EndPoint))
            .Any(e => Overlap(e, endPoint)))
            throw Error(where, $"{ListenSocket.Show(endPoint)} is listed more than once, or overlaps a check listener (* covers every address); the metrics endpoint needs an address of its own");
        return options with { MetricsListeners = [.. options.MetricsListeners, endPoint] };
    }

    private static AgentOptions AddAllow(AgentOptions options, string text, string where) =>
        options with { Allow = [.. options.Allow, ParsePrefix(text, where)] };

    /// <summary>
    /// Refuses an address that a listener already has, or that overlaps one on the same port (port 0
    /// excepted): <c>*</c> covers every address and <c>0.0.0.0</c> every IPv4 address, and the kernel lets
    /// only one of two overlapping sockets listen. The listeners already set are those of this source and
    /// of earlier sources whose lists this one keeps, since a source's lists are cleared before its entries
    /// are added: the merged configuration never has an address twice.
    /// </summary>
    private static void CheckNewEndPoint(AgentOptions options, IPEndPoint endPoint, bool http, string where)
    {
        if (endPoint.Port == 0)
            return;
        IPEndPoint? agentHasIt = options.Listeners.Select(l => l.EndPoint).FirstOrDefault(e => Overlap(e, endPoint));
        IPEndPoint? httpHasIt = options.HttpListeners.FirstOrDefault(e => Overlap(e, endPoint));
        const string Wildcards = "* covers every address and 0.0.0.0 every IPv4 address";
        const string NotBoth = "an address serves agent checks or HTTP checks, not both";
        string address = ListenSocket.Show(endPoint);
        if ((http ? httpHasIt : agentHasIt) is { } same)
            throw Error(where, same.Equals(endPoint)
                ? $"{address} is listed more than once"
                : $"{address} overlaps {ListenSocket.Show(same)} ({Wildcards}); list one of them");
        foreach ((IPEndPoint? other, string kind) in new[] { (agentHasIt, "listen"), (httpHasIt, "http-listen") })
        {
            if (other is null)
                continue;
            throw Error(where, other.Equals(endPoint)
                ? $"{address} is also a{(kind == "listen" ? "" : "n")} {kind} address; {NotBoth}"
                : $"{address} overlaps the {kind} address {ListenSocket.Show(other)} ({Wildcards}); {NotBoth}");
        }
    }

    /// <summary>Whether two sockets on these addresses cannot both listen: the same port and the same address, or one a wildcard covering the other.</summary>
    private static bool Overlap(IPEndPoint a, IPEndPoint b)
    {
        static bool Covers(IPAddress wide, IPAddress other) =>
            wide.Equals(IPAddress.IPv6Any) || (wide.Equals(IPAddress.Any) && other.AddressFamily == AddressFamily.InterNetwork);
        return a.Port == b.Port && (a.Address.Equals(b.Address) || Covers(a.Address, b.Address) || Covers(b.Address, a.Address));
    }

    /// <summary>
    /// Reads <c>ADDR:PORT[=MODE [PARAMETER...]]</c>: what follows <c>=</c> is read as an agent-send line,
    /// whose parameters may be the lag ones (max-lag, return-lag, hold, weighted, mode), not filters.
    /// </summary>
    private static ListenerConfig ParseListener(string text, string where)
    {
        int equals = text.IndexOf('=');
        string endPoint = equals < 0 ? text : text[..equals];
        var listener = new ListenerConfig(ParseEndPoint(endPoint, text, where, "e.g. 127.0.0.1:5555 or *:5555=replica"), Mode.Primary);
        if (equals < 0)
            return listener;

        string[] words = text[(equals + 1)..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0 || !ModeNames.TryParse(words[0], out var mode))
            throw Error(where, $"unknown mode \"{(words.Length == 0 ? "" : words[0])}\" in \"{text}\"; the modes are {ModeNames.Accepted}");
        listener = listener with { Mode = mode, Parameters = string.Join(' ', words[1..]) };
        var request = listener.Defaults;
        if (request.Error != AgentRequestError.None)
            throw Error(where, $"\"{text}\": the check after \"=\" is read as an agent-send line: {AgentSendParser.ErrorReason(request.Error)}");
        if (!request.Filters.Equals(default(Range)))
            throw Error(where, $"\"{text}\": replication_state= and tag_KEY= filters belong in the check's agent-send line, not in listen");
        return listener;
    }

    private static Key Duration(
        string name, string description, TimeSpan min, TimeSpan max,
        Func<AgentOptions, TimeSpan> get, Func<AgentOptions, TimeSpan, AgentOptions> set) =>
        new(name, "DURATION", $"{description}, {FormatDuration(min)}..{FormatDuration(max)}",
            o => FormatDuration(get(o)), (o, v, w) => set(o, ParseDuration(v, w, min, max)));

    private static Key Integer(
        string name, string description, int min, int max,
        Func<AgentOptions, int> get, Func<AgentOptions, int, AgentOptions> set) =>
        new(name, "N", string.Create(CultureInfo.InvariantCulture, $"{description}, {min}..{max}"),
            o => get(o).ToString(CultureInfo.InvariantCulture), (o, v, w) => set(o, ParseInteger(v, w, min, max)));
}
