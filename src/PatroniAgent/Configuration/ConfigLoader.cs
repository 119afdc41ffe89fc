using System.Text.RegularExpressions;
using PatroniAgent.Policy;
using static PatroniAgent.Configuration.ConfigKeys;
using static PatroniAgent.Configuration.ConfigValues;

namespace PatroniAgent.Configuration;

/// <summary>
/// What a command takes besides the options: <c>--reason</c>, up to <paramref name="MaxOperands"/>
/// operands, and whether it needs Patroni's access files read (the commands that poll Patroni).
/// </summary>
public sealed record ArgumentRules(bool TakesReason = false, int MaxOperands = 0, bool LoadsPatroniAccess = false, bool TakesWait = false);

/// <summary>
/// A command's merged configuration, its <c>--reason</c> and its operands; <paramref name="Wait"/> is how long
/// <c>--wait</c> waits for the checkers to hear the change (<c>--timeout</c>), null without <c>--wait</c>.
/// </summary>
public sealed record CommandLine(AgentOptions Options, string Reason, IReadOnlyList<string> Operands, TimeSpan? Wait = null);

/// <summary>
/// Builds <see cref="AgentOptions"/> from, each overriding the ones before: the built-in defaults,
/// the config file, the PATRONI_AGENT_* environment variables and the command-line flags.
/// </summary>
public static partial class ConfigLoader
{
    private const string ConfigFlag = "--config";
    private const string ConfigEnv = "PATRONI_AGENT_CONFIG";
    private const string InstanceFlag = "--instance";
    private const string InstanceEnv = "PATRONI_AGENT_INSTANCE";
    private const string ReasonFlag = "--reason";
    private const string WaitFlag = "--wait";
    private const string TimeoutFlag = "--timeout";

    /// <summary>How long <c>--wait</c> waits without <c>--timeout</c>: the recent window, in which every checker seen checks again.</summary>
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(30);

    /// <summary>The longest <c>--timeout</c>.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromHours(1);
    private const string DefaultOrigin = "default";

    /// <summary>
    /// One value from one source. <paramref name="Where"/> names the source and the key, as error messages start;
    /// <paramref name="Origin"/> names the source alone.
    /// </summary>
    private sealed record Setting(Key Key, string Value, string Where, string Origin);

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
        return new CommandLine(options, arguments.Reason, arguments.Operands, arguments.Wait);
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
    private sealed record Arguments(List<Setting> Settings, string? ConfigPath, string? Instance, string Reason, List<string> Operands, TimeSpan? Wait);

    private static Arguments ParseArguments(IReadOnlyList<string> args, ArgumentRules rules)
    {
        string reason = "";
        List<string> operands = [];
        List<Setting> settings = [];
        HashSet<string> given = [];
        string? configPath = null;
        string? instance = null;
        bool wait = false;
        TimeSpan? timeout = null;
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
            // drain, maint and ready poll no Patroni: their --timeout is how long --wait waits.
            if (flag == WaitFlag || (flag == TimeoutFlag && rules.TakesWait))
            {
                if (!rules.TakesWait)
                    throw new ConfigException($"{flag} is only for the drain, maint and ready commands (see --help)");
                if (!given.Add(flag))
                    throw Error(flag, "given more than once");
                if (flag == WaitFlag)
                {
                    reader.NoValue();
                    wait = true;
                }
                else
                {
                    timeout = ConfigValues.ParseDuration(reader.Value(), flag, TimeSpan.FromMilliseconds(1), MaxWait);
                }
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
        if (timeout is not null && !wait)
            throw new ConfigException($"{TimeoutFlag} is how long {WaitFlag} waits: give {WaitFlag} too");
        return new Arguments(settings, configPath, instance, reason, operands, wait ? timeout ?? DefaultWait : null);
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
}
