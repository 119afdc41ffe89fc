using System.Text;
using PatroniAgent.Configuration;

namespace PatroniAgent.Commands;

/// <summary>
/// The man page patroni-agent(1), in roff (the man macros), built from the tables --help is built
/// from: <see cref="CommandTable.Help"/>, <see cref="ConfigLoader.Options"/>,
/// <see cref="ConfigLoader.Values"/> and haproxy-config's options. <c>patroni-agent manpage</c> prints it.
/// </summary>
public static class ManPage
{
    public static string Render(string version)
    {
        StringBuilder page = new();
        page.AppendLine($".TH PATRONI\\-AGENT 1 \"\" \"patroni\\-agent {Escape(version)}\" \"User Commands\"");
        // Paths and flags stay whole: no hyphenation, lines filled but not justified.
        page.AppendLine(".nh").AppendLine(".ad l");
        Section(page, "NAME");
        page.AppendLine("patroni\\-agent \\- HAProxy agent\\-check daemon for Patroni clusters");

        Section(page, "SYNOPSIS");
        bool first = true;
        foreach (CommandHelp command in CommandTable.Help)
        {
            if (!first)
                page.AppendLine(".br");
            first = false;
            string name = command.Name == "run" ? "[\\fBrun\\fR]" : $"\\fB{Escape(command.Name)}\\fR";
            page.AppendLine($"\\fBpatroni\\-agent\\fR {name} {Escape(command.Arguments)}");
        }

        Section(page, "DESCRIPTION");
        Paragraphs(page,
            "patroni-agent runs on every database host of a Patroni cluster, next to Patroni, and answers HAProxy's agent checks and Patroni-style HTTP health checks from one background poll of the local Patroni REST API: up ready for the primary, up maint for the replicas of a read-write backend, down when PostgreSQL is not running. A check costs no Patroni call, whatever the number of HAProxy instances and their check interval.",
            "HAProxy's agent-send line names the mode a check asks for (primary, replica max-lag=16MB, ...); a listener's mode answers checks that name none. patroni-agent check prints what every mode answers now.");

        Section(page, "COMMANDS");
        foreach (CommandHelp command in CommandTable.Help)
            Item(page, $"\\fB{Escape(command.Name)}\\fR {Escape(command.Arguments)}", command.Description);

        Section(page, "OPTIONS");
        Options(page, ConfigLoader.Options);

        Section(page, "VALUES");
        foreach ((string name, string description) in ConfigLoader.Values)
            Item(page, $"\\fI{Escape(name)}\\fR", description);

        Section(page, "CONFIGURATION");
        Paragraphs(page, [.. ConfigLoader.SourcesText,
            "SIGHUP re-reads the configuration: the settings that can change without a restart apply at once, each change logged; an invalid file is refused and the running settings stay. The log names the settings that need a restart (the listeners among them)."]);

        Section(page, "HAPROXY-CONFIG");
        Paragraphs(page, HaproxyConfigCommand.Summary);
        page.AppendLine(".SS Members");
        Options(page, HaproxyConfigCommand.MemberOptions);
        page.AppendLine(".SS Options");
        Options(page, HaproxyConfigCommand.Options);
        Paragraphs(page, HaproxyConfigCommand.ExitStatus);

        Section(page, "SIGNALS");
        Item(page, "\\fBSIGHUP\\fR", "reload the configuration (systemctl reload).");
        Item(page, "\\fBSIGTERM\\fR, \\fBSIGINT\\fR", "stop: the listeners close and the process exits 0.");

        Section(page, "FILES");
        Item(page, $"\\fI{Escape(AgentOptions.DefaultConfigFile)}\\fR", "the config file, when no other is named and no instance is given.");
        Item(page, $"\\fI{Escape(AgentOptions.ConfigFileOf("NAME"))}\\fR", "the config file of instance NAME (--instance NAME, the unit patroni-agent@NAME).");
        Item(page, $"\\fI{Escape(new AgentOptions().ControlSocket)}\\fR", $"the control socket of notify, drain, maint and ready; {AgentOptions.ForInstance("NAME").ControlSocket} for instance NAME.");
        Item(page, $"\\fI{Escape(new AgentOptions().StateFile)}\\fR", $"the operator's override, kept across restarts; {AgentOptions.ForInstance("NAME").StateFile} for instance NAME.");

        Section(page, "EXIT STATUS");
        Item(page, "\\fB0\\fR", "done; run: stopped by a signal.");
        Item(page, "\\fB1\\fR", "run: a listener cannot be bound; check: Patroni did not answer; drain, maint, ready: the state file cannot be written or the agent refused; haproxy-config: Patroni unreachable or its answer unusable.");
        Item(page, "\\fB2\\fR", "an invalid command line, config file or environment variable, named in the message.");

        Section(page, "SEE ALSO");
        page.AppendLine("\\fBhaproxy\\fR(1), \\fBpatroni\\fR(1), \\fBpatronictl\\fR(1), \\fBsystemctl\\fR(1)");
        Paragraphs(page, "The guides are in /usr/share/doc/patroni-agent/: README.md, answers.md, configuration.md, operations.md and the others.");
        return page.ToString();
    }

    private static void Section(StringBuilder page, string name) => page.AppendLine($".SH {Escape(name)}");

    private static void Paragraphs(StringBuilder page, params IEnumerable<string> paragraphs)
    {
        foreach (string paragraph in paragraphs)
            page.AppendLine(".PP").AppendLine(Escape(paragraph));
    }

    private static void Item(StringBuilder page, string tag, string description) =>
        page.AppendLine(".TP").AppendLine(tag).AppendLine(Escape(description));

    private static void Options(StringBuilder page, IReadOnlyList<OptionHelp> options)
    {
        foreach (OptionHelp option in options)
        {
            string flags = string.Join(", ", option.Spellings.Select(f => $"\\fB{Escape(f)}\\fR"));
            string tag = option.Placeholder.Length == 0 ? flags : $"{flags} \\fI{Escape(option.Placeholder)}\\fR";
            Item(page, tag, option.DescriptionWithDefault);
        }
    }

    /// <summary>
    /// Text as roff prints it literally: backslashes and hyphens escaped (so flags print as ASCII
    /// minus signs that can be copied), and a line that starts with a control character guarded.
    /// </summary>
    public static string Escape(string text)
    {
        string escaped = text.Replace("\\", "\\e").Replace("-", "\\-");
        return escaped.StartsWith('.') || escaped.StartsWith('\'') ? "\\&" + escaped : escaped;
    }
}
