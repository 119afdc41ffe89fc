using System.Text;
using PatroniAgent.Configuration;

namespace PatroniAgent.Commands;

/// <summary>The text of <c>patroni-agent --help</c>: usage, commands, every option with its default, the values and the sources.</summary>
public static class AgentHelp
{
    public static string Text { get; } = Build();

    private static string Build()
    {
        const int Width = HelpLayout.Width;
        IReadOnlyList<CommandHelp> commands = CommandTable.Help;
        StringBuilder text = new();
        string usage = "Usage: ";
        foreach (CommandHelp command in commands)
        {
            string name = command.Name == "run" ? "[run]" : command.Name;
            text.Append(usage).AppendLine($"patroni-agent {name} {command.Arguments}");
            usage = "       ";
        }
        text.AppendLine();
        text.AppendLine("HAProxy agent-check daemon for Patroni.");
        text.AppendLine();
        text.AppendLine("Commands:");
        int commandWidth = commands.Max(c => c.Name.Length) + 2;
        foreach (CommandHelp command in commands)
            HelpLayout.AppendRow(text, command.Name, commandWidth, command.Description, Width);
        text.AppendLine();
        text.AppendLine("Options:");
        HelpLayout.AppendOptions(text, ConfigLoader.Options);
        text.AppendLine();
        text.AppendLine("Values:");
        int valueWidth = ConfigLoader.Values.Max(v => v.Name.Length) + 2;
        foreach ((string name, string description) in ConfigLoader.Values)
            HelpLayout.AppendRow(text, name, valueWidth, description, Width);
        text.AppendLine();
        foreach (string paragraph in ConfigLoader.SourcesText)
            HelpLayout.AppendWrapped(text, "", paragraph, Width);
        return text.ToString();
    }
}
