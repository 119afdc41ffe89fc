using System.Collections;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Configuration;
using PatroniAgent.Control;
using PatroniAgent.Hosting;
using PatroniAgent.Policy;
using PatroniAgent.Watcher;

namespace PatroniAgent.Commands;

/// <summary>What a command runs with: the process's environment, its output streams, and the file system.</summary>
public sealed record CommandContext(IReadOnlyDictionary<string, string> Environment, TextWriter Out, TextWriter Error, Func<string, string> ReadFile)
{
    /// <summary>This process's environment variables, standard output and standard error.</summary>
    public static CommandContext OfProcess() => new(
        System.Environment.GetEnvironmentVariables().Cast<DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? ""),
        Console.Out, Console.Error, File.ReadAllText);
}

/// <summary>An agent command's parsed command line, and how to read its configuration again (for a reload).</summary>
public sealed record Invocation(CommandLine Line, CommandContext Context, Func<AgentOptions> ReadAgain);

/// <summary>
/// A subcommand: how --help, the man page and the completion show it, and what runs it with the
/// arguments after its name. An agent command has <paramref name="Rules"/>: it takes the agent's
/// options (<see cref="ConfigLoader"/>); the others read their arguments themselves.
/// </summary>
public sealed record AgentCommand(CommandHelp Help, ArgumentRules? Rules, Func<IReadOnlyList<string>, CommandContext, int> Run);

/// <summary>Every subcommand of patroni-agent, and the one place a command line is dispatched to them.</summary>
public static class CommandTable
{
    /// <summary>Every command, <c>run</c> (the default) first.</summary>
    public static IReadOnlyList<AgentCommand> All { get; } =
    [
        Agent("run", "[OPTION...]", "serve agent checks and HTTP health checks (the default)",
            new ArgumentRules(LoadsPatroniAccess: true), RunCommand.Run),
        Agent("check", "[OPTION...]", "poll Patroni once, print what every mode would answer (with the override) and exit",
            new ArgumentRules(LoadsPatroniAccess: true), run => CheckCommand.Run(run.Line.Options, run.Context.Out)),
        Agent("notify", "[ACTION ROLE SCOPE] [OPTION...]",
            $"tell the running agent a role change is under way: it polls Patroni at once, then every {RoleWatcher.RoleChangeInterval.TotalMilliseconds} ms for {RoleWatcher.RoleChangeWindow.TotalSeconds} s; for Patroni's callbacks, which pass ACTION ROLE SCOPE",
            new ArgumentRules(MaxOperands: 3), run => ControlCommand.Notify(run.Line.Options, run.Context.Error)),
        Agent("callbacks", "[OPTION...]", "print the lines of patroni.yml that make Patroni run notify as its callbacks",
            new ArgumentRules(), run => ControlCommand.Callbacks(run.Line.Options, Environment.ProcessPath ?? "patroni-agent", run.Context.Out)),
        Agent("drain", "[--reason TEXT] [--wait [--timeout DURATION]] [OPTION...]",
            $"operator override: answer drain where the answer would be ready, with \"#operator: TEXT\"; kept in state-file across restarts. TEXT: printable ASCII without #, at most {OperatorOverride.MaxReasonLength} characters",
            new ArgumentRules(TakesReason: true, TakesWait: true), run => SetOverride(run, new OperatorOverride(Admin.Drain, run.Line.Reason))),
        Agent("maint", "[--reason TEXT] [--wait [--timeout DURATION]] [OPTION...]",
            "operator override: answer maint where the answer would be ready, as drain does",
            new ArgumentRules(TakesReason: true, TakesWait: true), run => SetOverride(run, new OperatorOverride(Admin.Maint, run.Line.Reason))),
        Agent("ready", "[--wait [--timeout DURATION]] [OPTION...]", "clear the operator override",
            new ArgumentRules(TakesWait: true), run => SetOverride(run, null)),
        new(new(HaproxyConfigCommand.Name, "(--member NAME=HOST... | --patroni-url URL) [OPTION...]",
                "print an HAProxy configuration for the cluster (haproxy-config --help)"),
            Rules: null, (args, context) => HaproxyConfigCommand.Run(args, context.Out, context.Error)),
        Printing("manpage", [], "print the man page patroni-agent(1), in roff; the packages install it", () => ManPage.Render(AgentVersion.Text)),
        Printing("completion", ["bash"], "print the bash completion of patroni-agent; the packages install it", BashCompletion.Render),
    ];

    /// <summary>The commands as help shows them.</summary>
    public static IReadOnlyList<CommandHelp> Help { get; } = [.. All.Select(c => c.Help)];

    /// <summary>
    /// Runs the command <paramref name="args"/> names (<c>run</c> when the first argument is an option or
    /// there is none) and returns the exit status: 2 for a bad command line. For the agent commands,
    /// <c>--help</c> and <c>--version</c> win anywhere, without the options being read.
    /// </summary>
    public static int Run(IReadOnlyList<string> args, CommandContext context)
    {
        var (command, rest) = Find(args);
        if (command is { Rules: null })
        {
            return command.Run(rest, context);
        }
        foreach (string arg in args)
        {
            if (arg is "--help" or "-h")
            {
                context.Out.Write(AgentHelp.Text);
                return 0;
            }
            if (arg is "--version")
            {
                context.Out.WriteLine($"patroni-agent {AgentVersion.Text}");
                return 0;
            }
        }
        if (command is null)
        {
            return Usage(context, $"unknown command \"{args[0]}\"; the commands are {string.Join(", ", Help.Select(c => c.Name).SkipLast(1))} and {Help[^1].Name} (see --help)");
        }
        return command.Run(rest, context);
    }

    /// <summary>
    /// The command <paramref name="args"/> names, null when it names none, and the arguments after
    /// its name (<c>run</c> and all of them when the first is an option or there is none).
    /// </summary>
    public static (AgentCommand? Command, IReadOnlyList<string> Arguments) Find(IReadOnlyList<string> args) =>
        args.Count > 0 && !args[0].StartsWith('-')
            ? (All.FirstOrDefault(c => c.Help.Name == args[0]), args.Skip(1).ToList())
            : (All[0], args);

    /// <summary>A command taking the agent's options: its arguments are parsed and merged with the config file and environment first.</summary>
    private static AgentCommand Agent(string name, string arguments, string description, ArgumentRules rules, Func<Invocation, int> run) =>
        new(new CommandHelp(name, arguments, description), rules, (args, context) =>
        {
            CommandLine Parse() => ConfigLoader.Parse(args, rules, context.Environment, context.ReadFile);
            CommandLine line;
            try
            {
                line = Parse();
            }
            catch (ConfigException e)
            {
                return Usage(context, e.Message);
            }
            return run(new Invocation(line, context, () => Parse().Options));
        });

    /// <summary>A command that prints a text when given exactly <paramref name="arguments"/>.</summary>
    private static AgentCommand Printing(string name, string[] arguments, string description, Func<string> text) =>
        new(new CommandHelp(name, string.Join(' ', arguments), description), Rules: null, (args, context) =>
        {
            if (!args.SequenceEqual(arguments))
            {
                context.Error.WriteLine($"patroni-agent: usage: patroni-agent {name} {string.Join(' ', arguments)}".TrimEnd());
                return 2;
            }
            context.Out.Write(text());
            return 0;
        });

    private static int SetOverride(Invocation run, OperatorOverride? applied) =>
        ControlCommand.SetOverride(run.Line.Options, applied, run.Context.Out, run.Context.Error, run.Line.Wait);

    private static int Usage(CommandContext context, string message)
    {
        context.Error.WriteLine($"patroni-agent: {message}");
        context.Error.WriteLine("Try 'patroni-agent --help'.");
        return 2;
    }
}
