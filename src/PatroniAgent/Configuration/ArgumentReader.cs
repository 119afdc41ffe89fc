namespace PatroniAgent.Configuration;

/// <summary>
/// Walks a command line as every command of patroni-agent reads it: options as <c>--flag value</c> or
/// <c>--flag=value</c>, switches without a value, and operands (the words that are not options).
/// </summary>
public sealed class ArgumentReader(IReadOnlyList<string> args)
{
    private int _next;

    /// <summary>The argument <see cref="MoveNext"/> reached.</summary>
    public string Current { get; private set; } = "";

    /// <summary>Whether <see cref="Current"/> is an option: it starts with <c>-</c>.</summary>
    public bool IsOption => Current.StartsWith('-');

    /// <summary>The option's name: <see cref="Current"/> up to an <c>=</c>.</summary>
    public string Flag { get; private set; } = "";

    private string? _inlineValue;

    /// <summary>Moves to the next argument; false after the last.</summary>
    public bool MoveNext()
    {
        if (_next >= args.Count)
        {
            return false;
        }
        Current = args[_next++];
        int equals = Current.IndexOf('=');
        Flag = IsOption && equals >= 0 ? Current[..equals] : Current;
        _inlineValue = IsOption && equals >= 0 ? Current[(equals + 1)..] : null;
        return true;
    }

    /// <summary>The option's value: the text after its <c>=</c>, else the next argument unless that is an option too.</summary>
    /// <exception cref="ConfigException">The option has no value.</exception>
    public string Value()
    {
        if (_inlineValue is { } inline)
        {
            return inline;
        }
        if (_next < args.Count && !args[_next].StartsWith('-'))
        {
            return args[_next++];
        }
        throw new ConfigException($"{Flag}: missing value");
    }

    /// <summary>Refuses a value given to a switch.</summary>
    /// <exception cref="ConfigException">The option was written <c>--flag=value</c>.</exception>
    public void NoValue()
    {
        if (_inlineValue is not null)
        {
            throw new ConfigException($"{Flag} takes no value");
        }
    }
}
