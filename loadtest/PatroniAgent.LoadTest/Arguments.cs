using System.Globalization;

namespace PatroniAgent.LoadTest;

/// <summary>A usage error: the message says which argument and why.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Command-line options: <c>--key value</c>, <c>--key=value</c> and bare <c>--flag</c>s.</summary>
internal sealed class Arguments
{
    private readonly Dictionary<string, string?> _values = [];
    private readonly HashSet<string> _used = [];

    public Arguments(IEnumerable<string> args, IReadOnlySet<string> flags)
    {
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            var arg = e.Current;
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new UsageException($"unexpected argument \"{arg}\"");
            }
            var key = arg[2..];
            string? value = null;
            int eq = key.IndexOf('=');
            if (eq >= 0)
            {
                value = key[(eq + 1)..];
                key = key[..eq];
            }
            else if (!flags.Contains(key))
            {
                value = e.MoveNext() ? e.Current : throw new UsageException($"--{key} needs a value");
            }
            _values[key] = value;
        }
    }

    public bool Flag(string key)
    {
        _used.Add(key);
        return _values.ContainsKey(key);
    }

    public string? String(string key)
    {
        _used.Add(key);
        return _values.TryGetValue(key, out var value) ? value : null;
    }

    public string String(string key, string fallback) => String(key) ?? fallback;

    public int Int(string key, int fallback) => Parse(key, fallback, v => int.Parse(v, CultureInfo.InvariantCulture));

    public long Long(string key, long fallback) => Parse(key, fallback, v => long.Parse(v.Replace("_", ""), CultureInfo.InvariantCulture));

    public double Double(string key, double fallback) => Parse(key, fallback, v => double.Parse(v, CultureInfo.InvariantCulture));

    /// <summary>A duration such as <c>5s</c>, <c>500ms</c> or <c>1.5s</c>.</summary>
    public TimeSpan Duration(string key, TimeSpan fallback) => Parse(key, fallback, v =>
        v.EndsWith("ms", StringComparison.Ordinal) ? TimeSpan.FromMilliseconds(double.Parse(v[..^2], CultureInfo.InvariantCulture))
        : v.EndsWith('s') ? TimeSpan.FromSeconds(double.Parse(v[..^1], CultureInfo.InvariantCulture))
        : throw new FormatException());

    /// <summary>Fails on any option that no one asked for.</summary>
    public void RejectUnknown()
    {
        foreach (var key in _values.Keys)
        {
            if (!_used.Contains(key))
            {
                throw new UsageException($"unknown option --{key}");
            }
        }
    }

    private T Parse<T>(string key, T fallback, Func<string, T> parse)
    {
        var value = String(key);
        if (value is null)
        {
            return fallback;
        }
        try
        {
            return parse(value);
        }
        catch (FormatException)
        {
            throw new UsageException($"--{key}: \"{value}\" is not valid");
        }
        catch (OverflowException)
        {
            throw new UsageException($"--{key}: \"{value}\" is out of range");
        }
    }
}
