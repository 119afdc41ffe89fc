using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Policy;
using PatroniAgent.Server;

namespace PatroniAgent.Configuration;

/// <summary>
/// What a command takes besides the options: <c>--reason</c>, up to <paramref name="MaxOperands"/>
/// operands, and whether it needs Patroni's access files read (the commands that poll Patroni).
/// </summary>
public sealed record ArgumentRules(bool TakesReason = false, int MaxOperands = 0, bool LoadsPatroniAccess = false);

/// <summary>A command's merged configuration, its <c>--reason</c> and its operands.</summary>
public sealed record CommandLine(AgentOptions Options, string Reason, IReadOnlyList<string> Operands);

/// <summary>
/// Builds <see cref="AgentOptions"/> from, each overriding the ones before: the built-in defaults,
/// the config file, the PATRONI_AGENT_* environment variables and the command-line flags.
/// </summary>
public static partial class ConfigLoader
{
    private const string EnvPrefix = "PATRONI_AGENT_";
    private const string ConfigFlag = "--config";
    private const string ConfigEnv = "PATRONI_AGENT_CONFIG";
    private const string InstanceFlag = "--instance";
    private const string InstanceEnv = "PATRONI_AGENT_INSTANCE";
    private const string ReasonFlag = "--reason";
    private const string DefaultOrigin = "default";
    private const string DurationUnits = "(ms, s or m), e.g. 500ms";

    /// <summary>
    /// A configuration key: its file key, and the flag and environment variable derived from it. A key
    /// with <paramref name="Clear"/> is a list: it may be repeated, its environment variable takes
    /// entries separated by commas, and a source that sets it replaces the entries of the sources before.
    /// </summary>
    private sealed record Key(
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

    /// <summary>
    /// One value from one source. <paramref name="Where"/> names the source and the key, as error messages start;
    /// <paramref name="Origin"/> names the source alone.
    /// </summary>
    private sealed record Setting(Key Key, string Value, string Where, string Origin);

    private static readonly Key[] Keys =
    [
        new("listen", "ADDR:PORT[=MODE]", "listener and its default mode, repeatable",
            o => string.Join(' ', o.Listeners), AddListener, o => o with { Listeners = [] }),
        new("http-listen", "ADDR:PORT", "HTTP health-check listener (GET /primary, /replica...), repeatable",
            o => o.HttpListeners.Count == 0 ? "none" : string.Join(' ', o.HttpListeners.Select(ListenSocket.Show)), AddHttpListener, o => o with { HttpListeners = [] }),
        new("metrics-listen", "ADDR:PORT", "Prometheus /metrics and JSON /status endpoint, repeatable",
            o => o.MetricsListeners.Count == 0 ? "none" : string.Join(' ', o.MetricsListeners.Select(ListenSocket.Show)), AddMetricsListener, o => o with { MetricsListeners = [] }),
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

    /// <summary>Every setting of <paramref name="options"/> by its config-file key, shown as --help shows defaults.</summary>
    public static IReadOnlyList<(string Key, string Value)> Describe(AgentOptions options) =>
        Keys.Select(k => (k.Name, k.Show(options))).ToList();

    /// <summary>Parses a command's arguments (those after its name) and merges the configuration sources into validated options.</summary>
    /// <param name="args">The arguments after the command's name.</param>
    /// <param name="rules">What the command takes besides the options.</param>
    /// <param name="env">The environment variables.</param>
    /// <param name="readFile">Reads the text of the config file at the given path.</param>
    /// <exception cref="ConfigException">The command line or the configuration is invalid, or the config file cannot be read.</exception>
    public static CommandLine Parse(IReadOnlyList<string> args, ArgumentRules rules, IReadOnlyDictionary<string, string> env, Func<string, string> readFile)
    {
        Arguments arguments = ParseArguments(args, rules);
        (List<Setting> environment, string? envConfig, string? envInstance) = ParseEnvironment(env);
        string? instance = arguments.Instance ?? envInstance;
        List<Setting> file = ReadConfig(arguments.ConfigPath, envConfig, instance, readFile);

        Dictionary<string, string> origins = [];
        AgentOptions options = AgentOptions.ForInstance(instance);
        List<Setting>[] sources = [file, environment, arguments.Settings];
        foreach (List<Setting> source in sources)
            options = Apply(options, source, origins);
        CheckTogether(options, origins);
        string WhereSet(string key) => sources.SelectMany(s => s).LastOrDefault(s => s.Key.Name == key)?.Where ?? DefaultOrigin;
        if (rules.LoadsPatroniAccess)
            options = options with { PatroniAccess = PatroniAccessLoader.Load(options, WhereSet) };
        return new CommandLine(options, arguments.Reason, arguments.Operands);
    }

    /// <summary>
    /// The settings of the config file: the one named by --config or PATRONI_AGENT_CONFIG, else the
    /// instance's INSTANCE.conf (which must exist), else patroni-agent.conf when it exists, so that a
    /// command typed on a host set up by the package sees the settings of the running agent.
    /// </summary>
    private static List<Setting> ReadConfig(string? flagConfig, string? envConfig, string? instance, Func<string, string> readFile)
    {
        if (flagConfig is not null)
            return ParseFile(flagConfig, ReadConfigFile(flagConfig, ConfigFlag, readFile));
        if (envConfig is not null)
            return ParseFile(envConfig, ReadConfigFile(envConfig, ConfigEnv, readFile));
        if (instance is not null)
        {
            string path = AgentOptions.ConfigFileOf(instance);
            return ParseFile(path, ReadConfigFile(path, $"{InstanceFlag} {instance}", readFile));
        }
        string? text = ReadConfigFile(AgentOptions.DefaultConfigFile, $"the default config file ({ConfigFlag} names another)", readFile, optional: true);
        return text is null ? [] : ParseFile(AgentOptions.DefaultConfigFile, text);
    }

    private static AgentOptions Apply(AgentOptions options, List<Setting> source, Dictionary<string, string> origins)
    {
        foreach (Key list in source.Select(s => s.Key).Where(k => k.IsList).Distinct())
            options = list.Clear!(options);
        foreach (Setting setting in source)
        {
            options = setting.Key.Apply(options, setting.Value, setting.Where);
            origins[setting.Key.Name] = setting.Origin;
        }
        return options;
    }

    private static void CheckTogether(AgentOptions options, Dictionary<string, string> origins)
    {
        string Show(string key, TimeSpan value) => $"{key} {FormatDuration(value)} ({origins.GetValueOrDefault(key, DefaultOrigin)})";

        if (options.StaleAfter <= options.PollInterval)
            throw new ConfigException(
                $"{Show("stale-after", options.StaleAfter)} must be greater than {Show("poll-interval", options.PollInterval)}");
    }

    /// <summary>What the command line says: its settings, and the flags and operands that are no settings.</summary>
    private sealed record Arguments(List<Setting> Settings, string? ConfigPath, string? Instance, string Reason, List<string> Operands);

    private static Arguments ParseArguments(IReadOnlyList<string> args, ArgumentRules rules)
    {
        string reason = "";
        List<string> operands = [];
        List<Setting> settings = [];
        HashSet<string> given = [];
        string? configPath = null;
        string? instance = null;
        ArgumentReader reader = new(args);
        while (reader.MoveNext())
        {
            if (!reader.IsOption)
            {
                if (operands.Count == rules.MaxOperands)
                    throw new ConfigException($"unexpected argument \"{reader.Current}\" (see --help)");
                operands.Add(reader.Current);
                continue;
            }
            string flag = reader.Flag;
            if (flag == ReasonFlag)
            {
                if (!rules.TakesReason)
                    throw new ConfigException($"{ReasonFlag} is only for the drain and maint commands (see --help)");
                if (!given.Add(flag))
                    throw Error(flag, "given more than once");
                reason = reader.Value();
                if (OperatorOverride.CheckReason(reason) is { } problem)
                    throw Error(flag, problem);
                continue;
            }
            Key? key = Array.Find(Keys, k => k.Flag == flag);
            if (key is null && flag is not (ConfigFlag or InstanceFlag))
                throw new ConfigException($"unknown option \"{flag}\" (see --help)");

            string value = reader.Value();
            if (value.Length == 0)
                throw Error(flag, "missing value");
            if (key is not { IsList: true } && !given.Add(flag))
                throw Error(flag, "given more than once");

            if (flag == InstanceFlag)
                instance = ParseInstance(value, flag);
            else if (key is null)
                configPath = value;
            else
                settings.Add(new Setting(key, value, flag, flag));
        }
        return new Arguments(settings, configPath, instance, reason, operands);
    }

    /// <summary>
    /// An instance name: it becomes part of file and socket paths (and of a systemd unit's name), so
    /// letters, digits, '-', '_' and '.', starting with a letter or digit, at most 64 characters.
    /// </summary>
    private static string ParseInstance(string text, string where)
    {
        if (!InstanceName().IsMatch(text))
            throw Error(where, $"\"{text}\" is not an instance name: letters, digits, '-', '_' and '.', starting with a letter or a digit, at most 64 characters, e.g. main or 15-main");
        return text;
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex InstanceName();

    private static (List<Setting> Settings, string? ConfigPath, string? Instance) ParseEnvironment(IReadOnlyDictionary<string, string> env)
    {
        List<Setting> settings = [];
        string? configPath = null;
        string? instance = null;
        foreach ((string name, string rawValue) in env.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (!name.StartsWith(EnvPrefix, StringComparison.Ordinal) || IsServiceLink(name, rawValue))
                continue;
            Key? key = Array.Find(Keys, k => k.Env == name);
            if (key is null && name is not (ConfigEnv or InstanceEnv))
                throw Error(name, $"unknown environment variable; the known ones are {ConfigEnv}, {InstanceEnv}, {string.Join(", ", Keys.Select(k => k.Env))}");

            string value = rawValue.Trim();
            if (value.Length == 0)
                continue;
            if (name == InstanceEnv)
                instance = ParseInstance(value, name);
            else if (key is null)
                configPath = value;
            else if (key.IsList)
                settings.AddRange(SplitList(value, name).Select(entry => new Setting(key, entry, name, name)));
            else
                settings.Add(new Setting(key, value, name, name));
        }
        return (settings, configPath, instance);
    }

    /// <summary>
    /// Whether <paramref name="name"/> is one of the variables Kubernetes sets in every pod of a namespace
    /// with a Service named patroni-agent (PATRONI_AGENT_SERVICE_HOST, PATRONI_AGENT_PORT=tcp://..., and
    /// so on): they are no settings, and must not stop the start.
    /// </summary>
    private static bool IsServiceLink(string name, string value) =>
        ServiceLinkName().IsMatch(name) || (name == EnvPrefix + "PORT" && ServiceLinkAddress().IsMatch(value));

    [GeneratedRegex(@"^PATRONI_AGENT_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT_[0-9]+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?)$")]
    private static partial Regex ServiceLinkName();

    [GeneratedRegex(@"^(tcp|udp|sctp)://[^\s]+:[0-9]+$")]
    private static partial Regex ServiceLinkAddress();

    private static IEnumerable<string> SplitList(string value, string where)
    {
        string[] entries = value.Split(',', StringSplitOptions.TrimEntries);
        if (Array.Exists(entries, e => e.Length == 0))
            throw Error(where, $"empty entry in \"{value}\"; separate listeners with single commas");
        return entries;
    }

    /// <summary>The text of a config file; null when it is <paramref name="optional"/> and does not exist.</summary>
    private static string? ReadConfigFile(string path, string origin, Func<string, string> readFile, bool optional)
    {
        try
        {
            return readFile(path);
        }
        catch (Exception e) when (optional && e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string reason = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "no such file",
                UnauthorizedAccessException => "access denied (no permission, or not a file)",
                _ => e.Message,
            };
            throw Error(origin, $"cannot read config file {path}: {reason}");
        }
    }

    private static string ReadConfigFile(string path, string origin, Func<string, string> readFile) =>
        ReadConfigFile(path, origin, readFile, optional: false)!;

    private static List<Setting> ParseFile(string path, string text)
    {
        List<Setting> settings = [];
        Dictionary<Key, int> firstLine = [];
        string[] lines = text.TrimStart('\uFEFF').Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            int lineNumber = i + 1;
            string origin = $"{path} line {lineNumber}";
            if (ParseLine(lines[i].TrimEnd('\r'), origin) is not (string name, string value))
                continue;

            string normalized = name.ToLowerInvariant().Replace('_', '-');
            if (normalized == "config")
                throw new ConfigException($"{origin}: \"{name}\" cannot be set in the config file; use {ConfigFlag} or {ConfigEnv}");
            if (normalized == "instance")
                throw new ConfigException($"{origin}: \"{name}\" cannot be set in the config file; use {InstanceFlag} or {InstanceEnv}");
            Key key = Array.Find(Keys, k => k.Name == normalized)
                ?? throw new ConfigException(
                    $"{origin}: unknown key \"{name}\"; the known keys are {string.Join(", ", Keys.Select(k => k.Name))}");
            if (!key.IsList && !firstLine.TryAdd(key, lineNumber))
                throw new ConfigException($"{origin}: {key.Name} is already set on line {firstLine[key]}");

            settings.Add(new Setting(key, value, $"{origin}: {key.Name}", origin));
        }
        return settings;
    }

    /// <summary>Splits one line into key and value; null for a blank or comment line.</summary>
    private static (string Name, string Value)? ParseLine(string line, string origin)
    {
        ReadOnlySpan<char> rest = line.AsSpan().Trim();
        if (rest.IsEmpty || rest[0] == '#')
            return null;

        int equals = rest.IndexOfAny('=', '#');
        if (equals <= 0 || rest[equals] != '=')
            throw new ConfigException($"{origin}: expected \"key = value\"");
        string name = rest[..equals].TrimEnd().ToString();
        rest = rest[(equals + 1)..].TrimStart();

        if (!rest.IsEmpty && rest[0] is '\'' or '"')
        {
            char quote = rest[0];
            int close = rest[1..].IndexOf(quote) + 1;
            if (close == 0)
                throw new ConfigException($"{origin}: {name}: missing closing {quote}");
            ReadOnlySpan<char> after = rest[(close + 1)..].TrimStart();
            if (!after.IsEmpty && after[0] != '#')
                throw new ConfigException($"{origin}: {name}: unexpected text after the closing {quote}");
            return (name, rest[1..close].ToString());
        }

        int comment = rest.IndexOf('#');
        string value = (comment < 0 ? rest : rest[..comment]).TrimEnd().ToString();
        if (value.Length == 0)
            throw new ConfigException($"{origin}: {name}: missing value");
        return (name, value);
    }

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
        IPEndPoint endPoint = ParseEndPoint(text, text, where, "e.g. 127.0.0.1:9187 or *:9187");
        if (endPoint.Port != 0 && options.MetricsListeners.Concat(options.HttpListeners).Concat(options.Listeners.Select(l => l.EndPoint))
            .Any(e => Overlap(e, endPoint)))
            throw Error(where, $"{ListenSocket.Show(endPoint)} is listed more than once, or overlaps a check listener (* covers every address); the metrics endpoint needs an address of its own");
        return options with { MetricsListeners = [.. options.MetricsListeners, endPoint] };
    }

    private static AgentOptions AddAllow(AgentOptions options, string text, string where) =>
        options with { Allow = [.. options.Allow, ParsePrefix(text, where)] };

    /// <summary>
    /// Parses an allowed source: an IPv4 or IPv6 address alone (one host) or with <c>/LENGTH</c>. A prefix
    /// with bits set past its length is refused: it could mean the network or the one host.
    /// </summary>
    private static IPNetwork ParsePrefix(string text, string where)
    {
        const string Example = "e.g. 10.0.0.0/8, 192.0.2.7, ::1/128 or fd00::/8";
        int slash = text.IndexOf('/');
        string host = slash < 0 ? text : text[..slash];
        bool v6 = host.Contains(':');
        if (!IPAddress.TryParse(host, out IPAddress? address)
            || (v6 ? address.AddressFamily != AddressFamily.InterNetworkV6 || address.ScopeId != 0 || host.Contains('%')
                   : address.AddressFamily != AddressFamily.InterNetwork || address.ToString() != host))
            throw Error(where, $"\"{host}\" in \"{text}\" is not an IPv4 or IPv6 address; write an address or a prefix, {Example}");
        int bits = v6 ? 128 : 32;
        int length = bits;
        if (slash >= 0)
        {
            string lengthText = text[(slash + 1)..];
            if (lengthText.Length == 0 || !lengthText.All(char.IsAsciiDigit)
                || !int.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > bits)
                throw Error(where, string.Create(CultureInfo.InvariantCulture, $"prefix length \"{lengthText}\" in \"{text}\" is not a number 0..{bits}"));
        }
        byte[] network = address.GetAddressBytes();
        for (int bit = length; bit < bits; bit++)
            network[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        var prefix = new IPNetwork(new IPAddress(network), length);
        if (!prefix.BaseAddress.Equals(address))
            throw Error(where, string.Create(CultureInfo.InvariantCulture,
                $"\"{text}\" has bits set past its prefix length /{length}; write the network, {prefix}, or the host alone, {address}"));
        return prefix;
    }

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

    private static ListenerConfig ParseListener(string text, string where)
    {
        int equals = text.IndexOf('=');
        string endPoint = equals < 0 ? text : text[..equals];
        Mode mode = Mode.Primary;
        if (equals >= 0 && !ModeNames.TryParse(text[(equals + 1)..], out mode))
            throw Error(where, $"unknown mode \"{text[(equals + 1)..]}\" in \"{text}\"; the modes are {ModeNames.Accepted}");
        return new ListenerConfig(ParseEndPoint(endPoint, text, where, "e.g. 127.0.0.1:5555 or *:5555=replica"), mode);
    }

    /// <summary>Parses <c>ADDR:PORT</c>; <paramref name="text"/> is the whole value, for messages.</summary>
    private static IPEndPoint ParseEndPoint(string endPoint, string text, string where, string example)
    {
        int colon = endPoint.LastIndexOf(':');
        if (colon < 0)
            throw Error(where, $"\"{text}\" needs ADDR:PORT, {example}");
        string host = endPoint[..colon];
        string port = endPoint[(colon + 1)..];
        IPAddress address = ParseAddress(host, text, where);
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int portNumber) || portNumber > IPEndPoint.MaxPort)
            throw Error(where, $"port \"{port}\" in \"{text}\" is not a number 0..65535");
        return new IPEndPoint(address, portNumber);
    }

    private static IPAddress ParseAddress(string host, string text, string where)
    {
        if (host == "*")
            return IPAddress.IPv6Any;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            return IPAddress.Loopback;
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            if (IPAddress.TryParse(host[1..^1], out IPAddress? v6) && v6.AddressFamily == AddressFamily.InterNetworkV6)
                return v6;
        }
        else if (host.Contains(':'))
        {
            throw Error(where, $"\"{text}\": write an IPv6 address in brackets, e.g. [::1]:5555");
        }
        else if (IPAddress.TryParse(host, out IPAddress? v4) && v4.AddressFamily == AddressFamily.InterNetwork && v4.ToString() == host)
        {
            return v4;
        }
        throw Error(where, $"\"{host}\" in \"{text}\" is not an IPv4 address, a bracketed IPv6 address, * or localhost");
    }

    /// <summary>A unix socket path must fit sockaddr_un: at most 107 bytes.</summary>
    private static string ParseSocketPath(string text, string where)
    {
        const int MaxBytes = 107;
        int bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes > MaxBytes)
            throw Error(where, string.Create(CultureInfo.InvariantCulture, $"\"{text}\" is {bytes} bytes long; a unix socket path has at most {MaxBytes}"));
        return text;
    }

    /// <summary>Patroni's base URL: absolute http or https, with a host, no query, fragment or password.</summary>
    internal static Uri ParseUrl(string text, string where)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
            throw Error(where, $"\"{text}\" is not an absolute http or https URL, e.g. http://127.0.0.1:8008");
        if (text.Contains('?') || text.Contains('#'))
            throw Error(where, $"\"{text}\" must not have a query or a fragment");
        if (uri.UserInfo.Length > 0)
            throw Error(where, "must not contain a user name or password");
        return uri;
    }

    private static Key Duration(
        string name, string description, TimeSpan min, TimeSpan max,
        Func<AgentOptions, TimeSpan> get, Func<AgentOptions, TimeSpan, AgentOptions> set) =>
        new(name, "DURATION", $"{description}, {FormatDuration(min)}..{FormatDuration(max)}",
            o => FormatDuration(get(o)), (o, v, w) => set(o, ParseDuration(v, w, min, max)));

    private static TimeSpan ParseDuration(string text, string where, TimeSpan min, TimeSpan max)
    {
        int unitStart = text.Length;
        while (unitStart > 0 && char.IsAsciiLetter(text[unitStart - 1]))
            unitStart--;
        string unit = text[unitStart..];
        if (!decimal.TryParse(text.AsSpan(0, unitStart), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal number))
            throw Error(where, $"\"{text}\" is not a duration; write a number and a unit {DurationUnits}");
        long ticksPerUnit = unit switch
        {
            "ms" => TimeSpan.TicksPerMillisecond,
            "s" => TimeSpan.TicksPerSecond,
            "m" => TimeSpan.TicksPerMinute,
            "" => throw Error(where, $"\"{text}\" needs a unit {DurationUnits}"),
            _ => throw Error(where, $"\"{text}\" has an unknown unit \"{unit}\"; use {DurationUnits}"),
        };
        if (number < (decimal)min.Ticks / ticksPerUnit || number > (decimal)max.Ticks / ticksPerUnit)
            throw Error(where, $"\"{text}\" is out of range ({FormatDuration(min)}..{FormatDuration(max)})");
        return TimeSpan.FromTicks((long)Math.Round(number * ticksPerUnit));
    }

    /// <summary>An exact form that <see cref="ParseDuration"/> reads back: whole minutes above one minute, else seconds from one second, else milliseconds.</summary>
    private static string FormatDuration(TimeSpan duration)
    {
        long ticks = duration.Ticks;
        if (ticks > TimeSpan.TicksPerMinute && ticks % TimeSpan.TicksPerMinute == 0)
            return string.Create(CultureInfo.InvariantCulture, $"{ticks / TimeSpan.TicksPerMinute}m");
        if (ticks >= TimeSpan.TicksPerSecond)
            return string.Create(CultureInfo.InvariantCulture, $"{(decimal)ticks / TimeSpan.TicksPerSecond}s");
        return string.Create(CultureInfo.InvariantCulture, $"{(decimal)ticks / TimeSpan.TicksPerMillisecond}ms");
    }

    private static Key Integer(
        string name, string description, int min, int max,
        Func<AgentOptions, int> get, Func<AgentOptions, int, AgentOptions> set) =>
        new(name, "N", string.Create(CultureInfo.InvariantCulture, $"{description}, {min}..{max}"),
            o => get(o).ToString(CultureInfo.InvariantCulture), (o, v, w) => set(o, ParseInteger(v, w, min, max)));

    private static int ParseInteger(string text, string where, int min, int max)
    {
        if (text.Length == 0 || !text.All(char.IsAsciiDigit))
            throw Error(where, $"\"{text}\" is not a whole number");
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
            throw Error(where, string.Create(CultureInfo.InvariantCulture, $"\"{text}\" is out of range ({min}..{max})"));
        return value;
    }

    private static string ParseUnknownAnswer(string text, string where)
    {
        if (text.Contains('#'))
            throw Error(where, $"\"{text}\" must not contain #: the agent appends the reason itself");
        string[] words = text.ToLowerInvariant().Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0)
            throw Error(where, "needs at least one word, e.g. down");

        string? state = null, administrative = null, weight = null;
        foreach (string word in words)
        {
            switch (word)
            {
                case "ready":
                    throw Error(where,
                        $"\"{text}\" must not contain ready: while Patroni's state is unknown the server must never be made ready, it could route writes to a node that is not the primary");
                case "up" or "down" or "fail" or "stopped":
                    TakeOnce(ref state, word, "up, down, fail or stopped", text, where);
                    break;
                case "maint" or "drain":
                    TakeOnce(ref administrative, word, "maint or drain", text, where);
                    break;
                default:
                    if (!IsWeight(word))
                        throw Error(where,
                            $"unknown word \"{word}\" in \"{text}\"; use up, down, fail, stopped, maint, drain or a weight N% (0..256)");
                    TakeOnce(ref weight, word, "weight", text, where);
                    break;
            }
        }
        if (state is not ("down" or "fail" or "stopped") && administrative != "maint")
            throw Error(where,
                $"\"{text}\" would let the server take traffic while Patroni's state is unknown; include down, fail, stopped or maint");
        return string.Join(' ', words);
    }

    private static void TakeOnce(ref string? slot, string word, string kind, string text, string where)
    {
        if (slot is not null)
            throw Error(where, $"\"{text}\" has both {slot} and {word}; give at most one {kind}");
        slot = word;
    }

    private static bool IsWeight(string word) =>
        word.Length is >= 2 and <= 4
        && word[^1] == '%'
        && word[..^1].All(char.IsAsciiDigit)
        && int.Parse(word[..^1], NumberStyles.None, CultureInfo.InvariantCulture) <= 256;

    private static LogLevel ParseLogLevel(string text, string where) => text.ToLowerInvariant() switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "information" or "info" => LogLevel.Information,
        "warning" or "warn" => LogLevel.Warning,
        "error" => LogLevel.Error,
        "critical" => LogLevel.Critical,
        "none" => LogLevel.None,
        _ => throw Error(where, $"unknown log level \"{text}\"; use trace, debug, information, warning, error, critical or none"),
    };

    private static string LogLevelName(LogLevel level) => level.ToString().ToLowerInvariant();

    private static LogFormat ParseLogFormat(string text, string where) => text.ToLowerInvariant() switch
    {
        "text" => LogFormat.Text,
        "json" => LogFormat.Json,
        _ => throw Error(where, $"unknown log format \"{text}\"; use {string.Join(" or ", LogFormats)}"),
    };

    private static string LogFormatName(LogFormat format) => format.ToString().ToLowerInvariant();

    private static ConfigException Error(string where, string problem) => new($"{where}: {problem}");

    /// <summary>The names the log-level option takes, as the completion offers them.</summary>
    public static IReadOnlyList<string> LogLevels { get; } = ["trace", "debug", "information", "warning", "error", "critical", "none"];

    /// <summary>The names the log-format option takes.</summary>
    public static IReadOnlyList<string> LogFormats { get; } = [.. Enum.GetValues<LogFormat>().Select(LogFormatName)];

    /// <summary>Every option of the agent's commands, with its built-in default.</summary>
    public static IReadOnlyList<OptionHelp> Options { get; } = BuildOptions();

    /// <summary>The placeholders of option values and what they take.</summary>
    public static IReadOnlyList<(string Name, string Description)> Values { get; } =
    [
        ("ADDR", "an IPv4 address, [IPv6 address], * (every IPv4 and IPv6 address) or localhost (127.0.0.1)"),
        ("CIDR", "an IPv4 or IPv6 address, or a prefix: 10.0.0.0/8, 192.0.2.7, fd00::/8"),
        ("MODE", $"primary when omitted, or one of: {ModeNames.Accepted}"),
        ("DURATION", "a number and a unit: ms, s or m, e.g. 250ms, 1.5s, 1m"),
        ("LEVEL", "trace, debug, information (info), warning (warn), error, critical, none"),
        ("FORMAT", "text or json"),
        ("WORDS", "up, down, fail, stopped, maint, drain, a weight N% (0..256); never ready, and at least one of down, fail, stopped or maint"),
        ("NAME", "an instance: letters, digits, '-', '_' and '.', e.g. main or 15-main"),
    ];

    /// <summary>How the sources of settings combine, as --help and the man page say it.</summary>
    public static IReadOnlyList<string> SourcesText { get; } =
    [
        "Each option can also be set in the config file, as \"key = value\" (poll-interval = 500ms), and in the environment, as PATRONI_AGENT_KEY (PATRONI_AGENT_POLL_INTERVAL=500ms); in the environment, repeatable entries are separated by commas.",
        $"Later sources override earlier ones: defaults < config file < environment < command line. The config file is the one {ConfigFlag} or {ConfigEnv} names; else, with {InstanceFlag} NAME (or {InstanceEnv}), {AgentOptions.ConfigFileOf("NAME")}; else {AgentOptions.DefaultConfigFile} when it exists.",
    ];

    private static List<OptionHelp> BuildOptions()
    {
        AgentOptions defaults = new();
        return
        [
            new(ConfigFlag, "FILE", "config file", $"{AgentOptions.DefaultConfigFile} if it exists"),
            new(InstanceFlag, "NAME",
                $"one of several agents on this host: reads {AgentOptions.ConfigFileOf("NAME")}, uses {AgentOptions.ForInstance("NAME").ControlSocket} and {AgentOptions.ForInstance("NAME").StateFile}",
                "none"),
            .. Keys.Select(k => new OptionHelp(k.Flag, k.Placeholder, k.Description, k.Show(defaults))),
            new("-h, --help", "", "print this help and exit", null),
            new("--version", "", "print the version and exit", null),
        ];
    }
}
