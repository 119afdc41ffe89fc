using System.Globalization;
using System.Text;
using PatroniAgent.Configuration;
using PatroniAgent.HaproxyConfig;
using PatroniAgent.Patroni;

namespace PatroniAgent.Commands;

/// <summary>
/// <c>patroni-agent haproxy-config</c>: prints an HAProxy configuration for the members given with
/// <c>--member NAME=HOST</c> or read from Patroni's <c>GET /cluster</c>. Exit status 0 when printed,
/// 2 for a bad command line, 1 when Patroni cannot be read or its member list cannot be used.
/// </summary>
public static class HaproxyConfigCommand
{
    /// <summary>How long reading <c>GET /cluster</c> may take.</summary>
    public static readonly TimeSpan PatroniTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The command's name, the first argument.</summary>
    public const string Name = "haproxy-config";

    /// <summary>What the command does, as --help and the man page say it.</summary>
    public const string Summary =
        "Prints a complete HAProxy configuration for a Patroni cluster whose hosts each run patroni-agent: a read-write frontend and backend (the primary only), a read-only one (the replicas within --max-lag), optionally sync and async ones, and a stats page.";

    /// <summary>The exit statuses, as --help and the man page say them.</summary>
    public const string ExitStatus = "Exit status: 0 printed, 1 Patroni unreachable or its answer unusable, 2 bad command line.";

    /// <summary>Where the members come from: one of the first two, and Patroni's access files with the second.</summary>
    public static IReadOnlyList<OptionHelp> MemberOptions { get; } =
    [
        new("--member", "NAME=HOST", "a Patroni member and its host (IP address or DNS name), repeatable", null),
        new("--patroni-url", "URL", "read the members from this Patroni's GET /cluster instead (their names, hosts and PostgreSQL ports)", null),
        new("--patroni-ca-file", "FILE", "PEM CA certificates its TLS certificate must chain to", null),
        new("--patroni-cert-file", "FILE", "PEM client certificate shown to it", null),
        new("--patroni-key-file", "FILE", "its private key, when not in the certificate's file", null),
        new("--patroni-auth-file", "FILE", "file whose first line is username:password, for basic auth (the agent's files of the same names serve)", null),
    ];

    /// <summary>The choices of the configuration, with their defaults.</summary>
    public static IReadOnlyList<OptionHelp> Options { get; } = BuildOptions();

    /// <summary>The --help text, built from <see cref="MemberOptions"/> and <see cref="Options"/>.</summary>
    public static string HelpText { get; } = BuildHelpText();

    private static List<OptionHelp> BuildOptions()
    {
        HaproxyConfigOptions defaults = new();
        static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
        return
        [
            new("--postgres-port", "N", "PostgreSQL port of --member hosts, and of members Patroni gives none", "5432"),
            new("--agent-port", "N", "the agents' agent-check port, their listen", Port(defaults.AgentPort)),
            new("--http-check-port", "N", "port of the regular HTTP check: the agents' http-listen, or Patroni's 8008", Port(defaults.HttpCheckPort)),
            new("--bind", "ADDR", "address the frontends and the stats page bind: * or an IP address", defaults.BindAddress),
            new("--read-write-port", "N", "read-write frontend", Port(defaults.ReadWritePort)),
            new("--read-only-port", "N", "read-only frontend", Port(defaults.ReadOnlyPort)),
            new("--sync", "", "add a frontend of the synchronous standbys", null),
            new("--sync-port", "N", "its port", Port(defaults.SyncPort)),
            new("--async", "", "add a frontend of the asynchronous replicas", null),
            new("--async-port", "N", "its port", Port(defaults.AsyncPort)),
            new("--stats-port", "N", "HAProxy's stats page", Port(defaults.StatsPort)),
            new("--max-lag", "SIZE", "most replay lag of a replica that takes reads, e.g. 16MB", defaults.MaxLag),
            new("-h, --help", "", "print this help and exit", null),
        ];
    }

    private static string BuildHelpText()
    {
        StringBuilder text = new();
        text.AppendLine($"Usage: patroni-agent {Name} {CommandTable.Help.Single(c => c.Name == Name).Arguments}");
        text.AppendLine();
        HelpLayout.AppendWrapped(text, "", Summary, HelpLayout.Width);
        text.AppendLine();
        text.AppendLine("Members:");
        HelpLayout.AppendOptions(text, MemberOptions);
        text.AppendLine();
        text.AppendLine("Options:");
        HelpLayout.AppendOptions(text, Options);
        text.AppendLine();
        text.AppendLine(ExitStatus);
        return text.ToString();
    }

    /// <summary>Where the members come from.</summary>
    private sealed record Request(
        List<(string Name, string Host)> Members, Uri? PatroniUrl, PatroniAccess Access, int PostgresPort, HaproxyConfigOptions Options);

    /// <summary>Runs the command with the arguments after <c>haproxy-config</c>.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (args.Any(a => a is "--help" or "-h"))
        {
            output.Write(HelpText);
            return 0;
        }
        Request request;
        try
        {
            request = Parse(args);
        }
        catch (ConfigException e)
        {
            return Usage(error, e.Message);
        }

        if (request.PatroniUrl is null)
        {
            try
            {
                var members = request.Members.Select(m => new HaproxyMember(m.Name, m.Host, request.PostgresPort)).ToList();
                output.Write(HaproxyConfigGenerator.Generate(members, request.Options));
                return 0;
            }
            catch (ConfigException e)
            {
                return Usage(error, e.Message);
            }
        }

        var client = new PatroniClient(request.PatroniUrl, PatroniTimeout, access: request.Access);
        var url = new Uri(client.BaseUrl, "cluster");
        byte[] body;
        try
        {
            body = client.ReadCluster(CancellationToken.None);
        }
        catch (PatroniAnswerException e)
        {
            error.WriteLine($"patroni-agent haproxy-config: cannot read the members from {url}: {e.Message}");
            return 1;
        }
        try
        {
            var members = ClusterMembers.Decode(body, request.PostgresPort);
            output.Write(HaproxyConfigGenerator.Generate(members, request.Options));
            return 0;
        }
        catch (Exception e) when (e is PatroniAnswerException or ConfigException)
        {
            error.WriteLine($"patroni-agent haproxy-config: {url}: {e.Message}");
            return 1;
        }
    }

    private static int Usage(TextWriter error, string message)
    {
        error.WriteLine($"patroni-agent haproxy-config: {message}");
        error.WriteLine("Try 'patroni-agent haproxy-config --help'.");
        return 2;
    }

    private static Request Parse(IReadOnlyList<string> args)
    {
        var members = new List<(string, string)>();
        var options = new HaproxyConfigOptions();
        var access = new AgentOptions();
        Uri? patroniUrl = null;
        int postgresPort = 5432;
        var given = new HashSet<string>();
        var reader = new ArgumentReader(args);
        while (reader.MoveNext())
        {
            if (!reader.IsOption)
            {
                throw new ConfigException($"unexpected argument \"{reader.Current}\"");
            }
            string flag = reader.Flag;
            if (flag is "--sync" or "--async")
            {
                reader.NoValue();
                options = flag == "--sync" ? options with { Sync = true } : options with { Async = true };
                continue;
            }
            if (flag != "--member" && !given.Add(flag))
            {
                throw new ConfigException($"{flag}: given more than once");
            }
            string value = reader.Value();
            switch (flag)
            {
                case "--member":
                    members.Add(ParseMember(value));
                    break;
                case "--patroni-url":
                    patroniUrl = ConfigValues.ParseUrl(value, flag);
                    break;
                case "--patroni-ca-file":
                    access = access with { PatroniCaFile = value };
                    break;
                case "--patroni-cert-file":
                    access = access with { PatroniCertFile = value };
                    break;
                case "--patroni-key-file":
                    access = access with { PatroniKeyFile = value };
                    break;
                case "--patroni-auth-file":
                    access = access with { PatroniAuthFile = value };
                    break;
                case "--postgres-port":
                    postgresPort = ParsePort(flag, value);
                    break;
                case "--agent-port":
                    options = options with { AgentPort = ParsePort(flag, value) };
                    break;
                case "--http-check-port":
                    options = options with { HttpCheckPort = ParsePort(flag, value) };
                    break;
                case "--bind":
                    options = options with { BindAddress = value };
                    break;
                case "--read-write-port":
                    options = options with { ReadWritePort = ParsePort(flag, value) };
                    break;
                case "--read-only-port":
                    options = options with { ReadOnlyPort = ParsePort(flag, value) };
                    break;
                case "--sync-port":
                    options = options with { SyncPort = ParsePort(flag, value) };
                    break;
                case "--async-port":
                    options = options with { AsyncPort = ParsePort(flag, value) };
                    break;
                case "--stats-port":
                    options = options with { StatsPort = ParsePort(flag, value) };
                    break;
                case "--max-lag":
                    options = options with { MaxLag = value };
                    break;
                default:
                    throw new ConfigException($"unknown option \"{flag}\"");
            }
        }
        if (patroniUrl is not null && members.Count > 0)
        {
            throw new ConfigException("give either --member or --patroni-url, not both");
        }
        if (patroniUrl is null && members.Count == 0)
        {
            throw new ConfigException("no members: give --member NAME=HOST (repeatable) or --patroni-url URL");
        }
        if (patroniUrl is null && (access.PatroniCaFile ?? access.PatroniCertFile ?? access.PatroniKeyFile ?? access.PatroniAuthFile) is not null)
        {
            throw new ConfigException("the --patroni-*-file options need --patroni-url");
        }
        var loaded = patroniUrl is null ? PatroniAccess.None
            : PatroniAccessLoader.Load(access with { PatroniUrl = patroniUrl }, key => "--" + key);
        return new Request(members, patroniUrl, loaded, postgresPort, options);
    }

    private static (string Name, string Host) ParseMember(string value)
    {
        int equals = value.IndexOf('=');
        if (equals <= 0 || equals == value.Length - 1)
        {
            throw new ConfigException($"--member: \"{value}\" is not NAME=HOST, e.g. pg1=10.0.0.1");
        }
        return (value[..equals], value[(equals + 1)..]);
    }

    private static int ParsePort(string flag, string value)
    {
        if (value.Length == 0 || !value.All(char.IsAsciiDigit)
            || !int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            throw new ConfigException($"{flag}: \"{value}\" is not a port 1..65535");
        }
        return port;
    }
}
