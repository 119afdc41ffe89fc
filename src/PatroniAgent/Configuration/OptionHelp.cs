namespace PatroniAgent.Configuration;

/// <summary>
/// An option as --help, the man page and the shell completion show it. <paramref name="Flag"/> may
/// name two spellings (<c>-h, --help</c>); <paramref name="Placeholder"/> is empty for a flag
/// without a value; <paramref name="Default"/> is null where there is none to show.
/// </summary>
public sealed record OptionHelp(string Flag, string Placeholder, string Description, string? Default)
{
    /// <summary>Every spelling of the flag: <c>-h, --help</c> gives <c>-h</c> and <c>--help</c>.</summary>
    public IEnumerable<string> Spellings => Flag.Split(", ");

    /// <summary>The flag with its value, as the first column of --help shows it.</summary>
    public string Usage => Placeholder.Length == 0 ? Flag : $"{Flag} {Placeholder}";

    /// <summary>The description with the default, as --help shows it.</summary>
    public string DescriptionWithDefault => Default is null ? Description : $"{Description} (default: {Default})";
}
