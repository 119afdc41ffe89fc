using System.Text;
using PatroniAgent.Configuration;

namespace PatroniAgent.Commands;

/// <summary>A command as --help, the man page and the shell completion show it.</summary>
public sealed record CommandHelp(string Name, string Arguments, string Description);

/// <summary>The plain-text layout of --help: rows of a name and its wrapped description.</summary>
public static class HelpLayout
{
    /// <summary>The width --help is wrapped at.</summary>
    public const int Width = 100;

    /// <summary>Appends one row per option: its flag and value, then its description and default.</summary>
    public static void AppendOptions(StringBuilder text, IReadOnlyList<OptionHelp> options)
    {
        int width = options.Max(o => o.Usage.Length) + 2;
        foreach (OptionHelp option in options)
            AppendRow(text, option.Usage, width, option.DescriptionWithDefault, Width);
    }

    /// <summary>Appends "  NAME  description", the description wrapped at <paramref name="width"/> and indented under itself.</summary>
    public static void AppendRow(StringBuilder text, string name, int nameWidth, string description, int width)
    {
        string indent = new(' ', 2 + nameWidth);
        if (name.Length > nameWidth - 2)
        {
            text.Append("  ").AppendLine(name);
            AppendWrapped(text, indent, description, width);
            return;
        }
        AppendWrapped(text, indent, description, width, firstPrefix: "  " + name.PadRight(nameWidth));
    }

    /// <summary>Appends <paramref name="paragraph"/> word-wrapped at <paramref name="width"/>, each line after <paramref name="indent"/> (the first after <paramref name="firstPrefix"/>).</summary>
    public static void AppendWrapped(StringBuilder text, string indent, string paragraph, int width, string? firstPrefix = null)
    {
        string line = firstPrefix ?? indent;
        bool empty = true;
        foreach (string word in paragraph.Split(' '))
        {
            if (!empty && line.Length + 1 + word.Length > width)
            {
                text.AppendLine(line);
                line = indent;
                empty = true;
            }
            line += empty ? word : " " + word;
            empty = false;
        }
        text.AppendLine(line);
    }
}
