using PatroniAgent.AgentProtocol;
using static PatroniAgent.Configuration.ConfigKeys;
using static PatroniAgent.Configuration.ConfigValues;

namespace PatroniAgent.Configuration;

/// <summary>The configuration as --help, the man page and the completion describe it.</summary>
public static partial class ConfigLoader
{
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
        ("PERCENT", "a whole number 0..100 and %, e.g. 50%"),
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
