using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace PatroniAgent.Configuration;

/// <summary>
/// The parsers of configuration values (addresses, prefixes, durations, numbers, answer words, log
/// levels, URLs); each names the source and the key in its error, as <c>where</c> gives them.
/// </summary>
internal static class ConfigValues
{
    private const string DurationUnits = "(ms, s or m), e.g. 500ms";

    /// <summary>
    /// Parses an allowed source: an IPv4 or IPv6 address alone (one host) or with <c>/LENGTH</c>. A prefix
    /// with bits set past its length is refused: it could mean the network or the one host.
    /// </summary>
    internal static IPNetwork ParsePrefix(string text, string where)
    {
        const string Example = "e.g. 10.0.0.0/8, 192.0.2.7, ::1/128 or fd00::/8";
        int slash = text.IndexOf('/');
        string host = slash < 0 ? text : text[..slash];
        bool v6 = host.Contains(':');
        if (!IPAddress.TryParse(host, out IPAddress? address)
            || (v6 ? address.AddressFamily != AddressFamily.InterNetworkV6 || address.ScopeId != 0 || host.Contains('%')
                   : address.AddressFamily != AddressFamily.InterNetwork || address.ToString() != host))
            throw Error(where, $"\"{host}\" in \"{text}\" is not an IPv4 or IPv6 address; write an address or a prefix, {Example}");
        int bits = v6 ? 128 : 32;
        int length = bits;
        if (slash >= 0)
        {
            string lengthText = text[(slash + 1)..];
            if (lengthText.Length == 0 || !lengthText.All(char.IsAsciiDigit)
                || !int.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > bits)
                throw Error(where, string.Create(CultureInfo.InvariantCulture, $"prefix length \"{lengthText}\" in \"{text}\" is not a number 0..{bits}"));
        }
        byte[] network = address.GetAddressBytes();
        for (int bit = length; bit < bits; bit++)
            network[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        var prefix = new IPNetwork(new IPAddress(network), length);
        if (!prefix.BaseAddress.Equals(address))
            throw Error(where, string.Create(CultureInfo.InvariantCulture,
                $"\"{text}\" has bits set past its prefix length /{length}; write the network, {prefix}, or the host alone, {address}"));
        return prefix;
    }

    /// <summary>Parses <c>ADDR:PORT</c>; <paramref name="text"/> is the whole value, for messages.</summary>
    internal static IPEndPoint ParseEndPoint(string endPoint, string text, string where, string example)
    {
        int colon = endPoint.LastIndexOf(':');
        if (colon < 0)
            throw Error(where, $"\"{text}\" needs ADDR:PORT, {example}");
        string host = endPoint[..colon];
        string port = endPoint[(colon + 1)..];
        IPAddress address = ParseAddress(host, text, where);
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int portNumber) || portNumber > IPEndPoint.MaxPort)
            throw Error(where, $"port \"{port}\" in \"{text}\" is not a number 0..65535");
        return new IPEndPoint(address, portNumber);
    }

    private static IPAddress ParseAddress(string host, string text, string where)
    {
        if (host == "*")
            return IPAddress.IPv6Any;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            return IPAddress.Loopback;
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            if (IPAddress.TryParse(host[1..^1], out IPAddress? v6) && v6.AddressFamily == AddressFamily.InterNetworkV6)
                return v6;
        }
        else if (host.Contains(':'))
        {
            throw Error(where, $"\"{text}\": write an IPv6 address in brackets, e.g. [::1]:5555");
        }
        else if (IPAddress.TryParse(host, out IPAddress? v4) && v4.AddressFamily == AddressFamily.InterNetwork && v4.ToString() == host)
        {
            return v4;
        }
        throw Error(where, $"\"{host}\" in \"{text}\" is not an IPv4 address, a bracketed IPv6 address, * or localhost");
    }

    /// <summary>A unix socket path must fit sockaddr_un: at most 107 bytes.</summary>
    internal static string ParseSocketPath(string text, string where)
    {
        const int MaxBytes = 107;
        int bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes > MaxBytes)
            throw Error(where, string.Create(CultureInfo.InvariantCulture, $"\"{text}\" is {bytes} bytes long; a unix socket path has at most {MaxBytes}"));
        return text;
    }

    /// <summary>Patroni's base URL: absolute http or https, with a host, no query, fragment or password.</summary>
    internal static Uri ParseUrl(string text, string where)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
            throw Error(where, $"\"{text}\" is not an absolute http or https URL, e.g. http://127.0.0.1:8008");
        if (text.Contains('?') || text.Contains('#'))
            throw Error(where, $"\"{text}\" must not have a query or a fragment");
        if (uri.UserInfo.Length > 0)
            throw Error(where, "must not contain a user name or password");
        return uri;
    }

    internal static TimeSpan ParseDuration(string text, string where, TimeSpan min, TimeSpan max)
    {
        int unitStart = text.Length;
        while (unitStart > 0 && char.IsAsciiLetter(text[unitStart - 1]))
            unitStart--;
        string unit = text[unitStart..];
        if (!decimal.TryParse(text.AsSpan(0, unitStart), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal number))
            throw Error(where, $"\"{text}\" is not a duration; write a number and a unit {DurationUnits}");
        long ticksPerUnit = unit switch
        {
            "ms" => TimeSpan.TicksPerMillisecond,
            "s" => TimeSpan.TicksPerSecond,
            "m" => TimeSpan.TicksPerMinute,
            "" => throw Error(where, $"\"{text}\" needs a unit {DurationUnits}"),
            _ => throw Error(where, $"\"{text}\" has an unknown unit \"{unit}\"; use {DurationUnits}"),
        };
        if (number < (decimal)min.Ticks / ticksPerUnit || number > (decimal)max.Ticks / ticksPerUnit)
            throw Error(where, $"\"{text}\" is out of range ({FormatDuration(min)}..{FormatDuration(max)})");
        return TimeSpan.FromTicks((long)Math.Round(number * ticksPerUnit));
    }

    /// <summary>An exact form that <see cref="ParseDuration"/> reads back: whole minutes above one minute, else seconds from one second, else milliseconds.</summary>
    internal static string FormatDuration(TimeSpan duration)
    {
        long ticks = duration.Ticks;
        if (ticks > TimeSpan.TicksPerMinute && ticks % TimeSpan.TicksPerMinute == 0)
            return string.Create(CultureInfo.InvariantCulture, $"{ticks / TimeSpan.TicksPerMinute}m");
        if (ticks >= TimeSpan.TicksPerSecond)
            return string.Create(CultureInfo.InvariantCulture, $"{(decimal)ticks / TimeSpan.TicksPerSecond}s");
        return string.Create(CultureInfo.InvariantCulture, $"{(decimal)ticks / TimeSpan.TicksPerMillisecond}ms");
    }

    internal static int ParseInteger(string text, string where, int min, int max)
    {
        if (text.Length == 0 || !text.All(char.IsAsciiDigit))
            throw Error(where, $"\"{text}\" is not a whole number");
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
            throw Error(where, string.Create(CultureInfo.InvariantCulture, $"\"{text}\" is out of range ({min}..{max})"));
        return value;
    }

    /// <summary>A switch: <c>yes</c> or <c>no</c>.</summary>
    internal static bool ParseYesNo(string text, string where) => text switch
    {
        "yes" => true,
        "no" => false,
        _ => throw Error(where, $"\"{text}\" is not yes or no"),
    };

    /// <summary>A percentage: a whole number 0..100 and <c>%</c>.</summary>
    internal static int ParsePercent(string text, string where)
    {
        string digits = text.EndsWith('%') ? text[..^1] : "";
        if (digits.Length == 0 || digits.Length > 3 || !digits.All(char.IsAsciiDigit) || int.Parse(digits, CultureInfo.InvariantCulture) > 100)
            throw Error(where, $"\"{text}\" is not a percentage 0%..100%, e.g. 50%");
        return int.Parse(digits, CultureInfo.InvariantCulture);
    }

    internal static string ParseUnknownAnswer(string text, string where)
    {
        if (text.Contains('#'))
            throw Error(where, $"\"{text}\" must not contain #: the agent appends the reason itself");
        string[] words = text.ToLowerInvariant().Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0)
            throw Error(where, "needs at least one word, e.g. down");

        string? state = null, administrative = null, weight = null;
        foreach (string word in words)
        {
            switch (word)
            {
                case "ready":
                    throw Error(where,
                        $"\"{text}\" must not contain ready: while Patroni's state is unknown the server must never be made ready, it could route writes to a node that is not the primary");
                case "up" or "down" or "fail" or "stopped":
                    TakeOnce(ref state, word, "up, down, fail or stopped", text, where);
                    break;
                case "maint" or "drain":
                    TakeOnce(ref administrative, word, "maint or drain", text, where);
                    break;
                default:
                    if (!IsWeight(word))
                        throw Error(where,
                            $"unknown word \"{word}\" in \"{text}\"; use up, down, fail, stopped, maint, drain or a weight N% (0..256)");
                    TakeOnce(ref weight, word, "weight", text, where);
                    break;
            }
        }
        if (state is not ("down" or "fail" or "stopped") && administrative != "maint")
            throw Error(where,
                $"\"{text}\" would let the server take traffic while Patroni's state is unknown; include down, fail, stopped or maint");
        return string.Join(' ', words);
    }

    private static void TakeOnce(ref string? slot, string word, string kind, string text, string where)
    {
        if (slot is not null)
            throw Error(where, $"\"{text}\" has both {slot} and {word}; give at most one {kind}");
        slot = word;
    }

    private static bool IsWeight(string word) =>
        word.Length is >= 2 and <= 4
        && word[^1] == '%'
        && word[..^1].All(char.IsAsciiDigit)
        && int.Parse(word[..^1], NumberStyles.None, CultureInfo.InvariantCulture) <= 256;

    internal static LogLevel ParseLogLevel(string text, string where) => text.ToLowerInvariant() switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "information" or "info" => LogLevel.Information,
        "warning" or "warn" => LogLevel.Warning,
        "error" => LogLevel.Error,
        "critical" => LogLevel.Critical,
        "none" => LogLevel.None,
        _ => throw Error(where, $"unknown log level \"{text}\"; use trace, debug, information, warning, error, critical or none"),
    };

    internal static string LogLevelName(LogLevel level) => level.ToString().ToLowerInvariant();

    internal static LogFormat ParseLogFormat(string text, string where) => text.ToLowerInvariant() switch
    {
        "text" => LogFormat.Text,
        "json" => LogFormat.Json,
        _ => throw Error(where, $"unknown log format \"{text}\"; use {string.Join(" or ", Enum.GetValues<LogFormat>().Select(LogFormatName))}"),
    };

    internal static string LogFormatName(LogFormat format) => format.ToString().ToLowerInvariant();

    internal static ConfigException Error(string where, string problem) => new($"{where}: {problem}");
}
