using System.Text;
using System.Text.RegularExpressions;
using PatroniAgent.Configuration;

namespace PatroniAgent.Commands;

/// <summary>
/// The bash completion of patroni-agent, built from the tables --help is built from: the commands,
/// each command's options and what their values are (files, a log level and format, an instance name).
/// <c>patroni-agent completion bash</c> prints it; the packages install it where bash-completion
/// loads it.
/// </summary>
public static partial class BashCompletion
{
    /// <summary>The placeholders whose values are paths, completed as file names.</summary>
    private static readonly string[] FilePlaceholders = ["FILE", "PATH"];

    public static string Render()
    {
        List<OptionHelp> agent = [.. ConfigLoader.Options];
        Dictionary<string, string> placeholders = [];
        foreach (OptionHelp option in agent.Concat(HaproxyConfigCommand.MemberOptions).Concat(HaproxyConfigCommand.Options))
        {
            foreach (string flag in option.Spellings)
            {
                if (placeholders.TryGetValue(flag, out string? other) && other != option.Placeholder)
                    throw new InvalidOperationException($"{flag} takes {other} in one table and {option.Placeholder} in another");
                placeholders[flag] = option.Placeholder;
            }
        }
        foreach (CommandHelp command in CommandTable.Help)
        {
            foreach (Match flag in CommandFlag().Matches(command.Arguments))
                placeholders.TryAdd(flag.Groups["flag"].Value, flag.Groups["value"].Value);
        }

        string Flags(Func<string, bool> valueIs) =>
            string.Join('|', placeholders.Where(p => p.Value.Length > 0 && valueIs(p.Value)).Select(p => p.Key).Order(StringComparer.Ordinal));
        string Words(IEnumerable<OptionHelp> options) => string.Join(' ', options.SelectMany(o => o.Spellings));

        StringBuilder script = new();
        script.AppendLine("# bash completion of patroni-agent(1), written by: patroni-agent completion bash");
        script.AppendLine("_patroni_agent()");
        script.AppendLine("{");
        script.AppendLine("    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} command=run words");
        script.AppendLine("    # --key=value: bash splits at the =, the option is the word before it.");
        script.AppendLine("    if [[ $cur == = ]]; then cur=; fi");
        script.AppendLine("    if [[ $prev == = && $COMP_CWORD -ge 2 ]]; then prev=${COMP_WORDS[COMP_CWORD-2]}; fi");
        script.AppendLine("    if [[ $COMP_CWORD -gt 1 && ${COMP_WORDS[1]} != -* ]]; then command=${COMP_WORDS[1]}; fi");
        script.AppendLine("    case $prev in");
        script.AppendLine($"        {Flags(p => FilePlaceholders.Contains(p))})");
        script.AppendLine("            compopt -o filenames 2>/dev/null");
        script.AppendLine("            mapfile -t COMPREPLY < <(compgen -f -- \"$cur\")");
        script.AppendLine("            return ;;");
        foreach ((string placeholder, IReadOnlyList<string> words) in new[] { ("LEVEL", ConfigLoader.LogLevels), ("FORMAT", ConfigLoader.LogFormats) })
        {
            script.AppendLine($"        {Flags(p => p == placeholder)})");
            script.AppendLine($"            mapfile -t COMPREPLY < <(compgen -W \"{string.Join(' ', words)}\" -- \"$cur\")");
            script.AppendLine("            return ;;");
        }
        script.AppendLine($"        {Flags(p => p == "NAME")})");
        script.AppendLine("            local file names=()");
        script.AppendLine($"            for file in {AgentOptions.ConfigDirectory}/*.conf; do");
        script.AppendLine("                [[ -e $file ]] || continue");
        script.AppendLine("                file=${file##*/}");
        script.AppendLine($"                [[ $file == {Path.GetFileName(AgentOptions.DefaultConfigFile)} ]] || names+=(\"${{file%.conf}}\")");
        script.AppendLine("            done");
        script.AppendLine("            mapfile -t COMPREPLY < <(compgen -W \"${names[*]}\" -- \"$cur\")");
        script.AppendLine("            return ;;");
        script.AppendLine($"        {Flags(_ => true)})");
        script.AppendLine("            return ;;");
        script.AppendLine("    esac");
        // The agent's commands share its options: they are written once, as $options.
        var byWords = CommandTable.Help.GroupBy(command => command.Name switch
        {
            HaproxyConfigCommand.Name => Words([.. HaproxyConfigCommand.MemberOptions, .. HaproxyConfigCommand.Options]),
            _ when command.Arguments.Contains("[OPTION...]", StringComparison.Ordinal) =>
                string.Join(' ', CommandFlag().Matches(command.Arguments).Select(m => m.Groups["flag"].Value).Append("$options")),
            _ => string.Join(' ', command.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => char.IsAsciiLetterLower(w[0]))),
        });
        script.AppendLine($"    local options=\"{Words(agent)}\"");
        script.AppendLine("    case $command in");
        foreach (var group in byWords)
            script.AppendLine($"        {string.Join('|', group.Select(c => c.Name))}) words=\"{group.Key}\" ;;");
        script.AppendLine("        *) return ;;");
        script.AppendLine("    esac");
        script.AppendLine($"    if [[ $COMP_CWORD -eq 1 ]]; then words=\"{string.Join(' ', CommandTable.Help.Select(c => c.Name))} $words\"; fi");
        script.AppendLine("    mapfile -t COMPREPLY < <(compgen -W \"$words\" -- \"$cur\")");
        script.AppendLine("}");
        script.AppendLine("complete -F _patroni_agent patroni-agent");
        return script.ToString();
    }

    /// <summary>A flag named in a command's arguments, e.g. <c>[--reason TEXT]</c>.</summary>
    [GeneratedRegex(@"(?<flag>--[a-z][a-z-]*)(?: (?<value>[A-Z]+))?")]
    private static partial Regex CommandFlag();
}
