using System.Globalization;
using System.Text;

namespace PatroniAgent.AgentProtocol;

/// <summary>
/// Reads the line HAProxy sends after connecting (<c>agent-send</c>): a mode word, optionally
/// followed by <c>key=value</c> parameters, e.g. <c>replica max-lag=16MB</c>. Allocates nothing.
/// </summary>
public static class AgentSendParser
{
    /// <summary>The longest agent-send line, terminator included, that the agent reads.</summary>
    public const int MaxLineLength = 256;

    /// <summary>Whether <paramref name="received"/> holds a whole line: it has a <c>\n</c> or <c>\r</c>.</summary>
    public static bool IsComplete(ReadOnlySpan<byte> received) => received.IndexOfAny((byte)'\n', (byte)'\r') >= 0;

    /// <summary>
    /// Parses what a client sent. The line ends at the first <c>\n</c> or <c>\r</c>; without one, all
    /// of <paramref name="received"/> is the line (the client stopped sending or the wait ran out),
    /// unless it filled the whole line buffer. An empty line asks for <paramref name="defaults"/>, the
    /// listener's check; a line that names a mode keeps the listener's max-lag, return-lag, hold,
    /// weighted and mode= where it gives none of its own.
    /// </summary>
    public static AgentRequest Parse(ReadOnlySpan<byte> received, in AgentRequest defaults)
    {
        Mode defaultMode = defaults.Mode;
        int end = received.IndexOfAny((byte)'\n', (byte)'\r');
        if (end < 0)
        {
            if (received.Length >= MaxLineLength)
            {
                return Fail(defaultMode, AgentRequestError.LineTooLong);
            }
            end = received.Length;
        }
        var line = received[..end];
        foreach (byte b in line)
        {
            if (b != (byte)'\t' && (b < 0x20 || b > 0x7e))
            {
                return Fail(defaultMode, AgentRequestError.InvalidCharacters);
            }
        }

        var rest = line;
        var first = NextWord(ref rest);
        if (first.IsEmpty)
        {
            return defaults;
        }
        if (!ModeNames.TryParse(first, out var mode))
        {
            return Fail(defaultMode, AgentRequestError.UnknownMode);
        }

        long maxLag = defaults.MaxLag;
        bool byReceived = defaults.ByReceived, weighted = defaults.Weighted;
        long returnLag = defaults.ReturnLag, hold = defaults.HoldMilliseconds;
        int filtersStart = -1, filtersEnd = -1;
        for (var word = NextWord(ref rest); !word.IsEmpty; word = NextWord(ref rest))
        {
            int eq = word.IndexOf((byte)'=');
            if (eq <= 0)
            {
                return Fail(mode, AgentRequestError.UnknownParameter);
            }
            var key = word[..eq];
            var value = word[(eq + 1)..];
            if (CheckParameters.IsFilter(key))
            {
                int at = end - rest.Length - word.Length;
                filtersStart = filtersStart < 0 ? at : filtersStart;
                filtersEnd = at + word.Length;
            }
            else if (Ascii.EqualsIgnoreCase(key, "return-lag"u8))
            {
                if (!TryParseSize(value, out returnLag))
                {
                    return Fail(mode, AgentRequestError.InvalidValue);
                }
            }
            else if (Ascii.EqualsIgnoreCase(key, "hold"u8))
            {
                if (!CheckParameters.TryParseMilliseconds(value, out hold))
                {
                    return Fail(mode, AgentRequestError.InvalidValue);
                }
            }
            else if (Ascii.EqualsIgnoreCase(key, "weighted"u8))
            {
                weighted = CheckParameters.IsYes(value);
                if (!weighted && !Ascii.EqualsIgnoreCase(value, "no"u8) && !Ascii.EqualsIgnoreCase(value, "false"u8)
                    && !Ascii.EqualsIgnoreCase(value, "off"u8) && !value.SequenceEqual("0"u8))
                {
                    return Fail(mode, AgentRequestError.InvalidValue);
                }
            }
            else if (Ascii.EqualsIgnoreCase(key, "mode"u8))
            {
                byReceived = CheckParameters.IsWriteMode(value);
            }
            else if (!Ascii.EqualsIgnoreCase(key, "max-lag"u8) && !Ascii.EqualsIgnoreCase(key, "lag"u8))
            {
                return Fail(mode, AgentRequestError.UnknownParameter);
            }
            else if (!TryParseSize(value, out maxLag))
            {
                return Fail(mode, AgentRequestError.InvalidMaxLag);
            }
        }
        return new AgentRequest(mode, maxLag, AgentRequestError.None)
        {
            ByReceived = byReceived,
            Filters = filtersStart < 0 ? default : filtersStart..filtersEnd,
            ReturnLag = returnLag,
            HoldMilliseconds = hold,
            Weighted = weighted,
        };
    }

    /// <summary>Why an agent-send line cannot be used, as the <c>down</c> answer to it gives the reason.</summary>
    public static string ErrorReason(AgentRequestError error) => error switch
    {
        AgentRequestError.UnknownMode => $"unknown mode in agent-send, expected one of: {ModeNames.Canonical}",
        AgentRequestError.UnknownParameter => "unknown parameter in agent-send, expected max-lag, return-lag, hold, weighted, mode, replication_state or tag_KEY",
        AgentRequestError.InvalidMaxLag => "invalid max-lag in agent-send, expected a size such as 16MB",
        AgentRequestError.InvalidValue => "invalid value in agent-send: return-lag takes a size such as 8MB, hold a duration such as 10s, weighted yes or no",
        AgentRequestError.LineTooLong => $"agent-send line longer than {MaxLineLength - 1} bytes",
        AgentRequestError.InvalidCharacters => "agent-send line is not printable text",
        _ => throw new ArgumentOutOfRangeException(nameof(error)),
    };

    /// <summary>
    /// Parses a size in bytes as Patroni's <c>parse_int(value, 'B')</c> reads it: an integer (decimal,
    /// octal after a leading 0, hexadecimal after 0x) or a decimal fraction, with an optional sign and an
    /// optional unit B, kB, MB, GB or TB (powers of 1024, as in PostgreSQL), whitespace allowed around both;
    /// the agent also reads the unit in any case and without its B. False for a negative size and for one
    /// that does not fit a long.
    /// </summary>
    public static bool TryParseSize(ReadOnlySpan<byte> text, out long bytes)
    {
        bytes = 0;
        text = StripWhitespace(text);
        int end = ReadInteger(text, out long integer, out bool fits);
        bool isFraction = end < text.Length && text[end] is (byte)'.' or (byte)'e' or (byte)'E';
        double fraction = 0;
        if (isFraction)
        {
            end = FractionLength(text);
            if (end == 0 || !double.TryParse(text[..end], NumberStyles.Float, CultureInfo.InvariantCulture, out fraction))
            {
                return false;
            }
        }
        else if (end == 0 || !fits)
        {
            return false;
        }

        var unit = StripWhitespace(text[end..]);
        if (unit.IsEmpty)
        {
            if (isFraction)
            {
                return TryRoundToBytes(fraction, out bytes);
            }
            bytes = integer;
            return integer >= 0;
        }
        int shift;
        if (Ascii.EqualsIgnoreCase(unit, "B"u8)) shift = 0;
        else if (Ascii.EqualsIgnoreCase(unit, "kB"u8) || Ascii.EqualsIgnoreCase(unit, "k"u8)) shift = 10;
        else if (Ascii.EqualsIgnoreCase(unit, "MB"u8) || Ascii.EqualsIgnoreCase(unit, "M"u8)) shift = 20;
        else if (Ascii.EqualsIgnoreCase(unit, "GB"u8) || Ascii.EqualsIgnoreCase(unit, "G"u8)) shift = 30;
        else if (Ascii.EqualsIgnoreCase(unit, "TB"u8) || Ascii.EqualsIgnoreCase(unit, "T"u8)) shift = 40;
        else return false;
        double value = (isFraction ? fraction : integer) * (1L << shift);
        if (shift > 0)
        {
            double smallerUnit = 1L << (shift - 10);
            value = Math.Round(value / smallerUnit, MidpointRounding.ToEven) * smallerUnit;
        }
        return TryRoundToBytes(value, out bytes);
    }

    private static ReadOnlySpan<byte> StripWhitespace(ReadOnlySpan<byte> text)
    {
        int start = 0;
        while (start < text.Length && IsWhitespace(text[start]))
        {
            start++;
        }
        int end = text.Length;
        while (end > start && IsWhitespace(text[end - 1]))
        {
            end--;
        }
        return text[start..end];
    }

    /// <summary>Whether Python's <c>str.strip</c> removes <paramref name="b"/>: the ASCII whitespace and separators.</summary>
    private static bool IsWhitespace(byte b) => b is >= 0x09 and <= 0x0d or >= 0x1c and <= 0x20;

    /// <summary>
    /// Reads the integer at the start of <paramref name="text"/> as Patroni's <c>strtol</c> does: an optional
    /// sign, then <c>0x</c> and hexadecimal digits, or <c>0</c> and octal digits, or decimal digits. Returns
    /// its length, 0 when there is none; <paramref name="fits"/> is false when it does not fit a long.
    /// </summary>
    private static int ReadInteger(ReadOnlySpan<byte> text, out long value, out bool fits)
    {
        value = 0;
        fits = true;
        int sign = text.Length > 0 && text[0] is (byte)'+' or (byte)'-' ? 1 : 0;
        int start;
        int radix;
        if (text.Length > sign + 2 && text[sign] == (byte)'0' && text[sign + 1] == (byte)'x' && DigitValue(text[sign + 2]) < 16)
        {
            start = sign + 2;
            radix = 16;
        }
        else if (text.Length > sign && text[sign] == (byte)'0')
        {
            start = sign + 1;
            radix = 8;
        }
        else if (text.Length > sign && text[sign] is >= (byte)'1' and <= (byte)'9')
        {
            start = sign;
            radix = 10;
        }
        else
        {
            return 0;
        }

        long magnitude = 0;
        int end = start;
        for (; end < text.Length && DigitValue(text[end]) is var digit && digit < radix; end++)
        {
            if (magnitude > (long.MaxValue - digit) / radix)
            {
                fits = false;
            }
            else
            {
                magnitude = magnitude * radix + digit;
            }
        }
        value = sign == 1 && text[0] == (byte)'-' ? -magnitude : magnitude;
        return end;
    }

    private static int DigitValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => int.MaxValue,
    };

    /// <summary>
    /// The length of the decimal fraction at the start of <paramref name="text"/> as Patroni's <c>strtod</c>
    /// reads it (<c>[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?</c>), 0 when there is none.
    /// </summary>
    private static int FractionLength(ReadOnlySpan<byte> text)
    {
        int sign = text.Length > 0 && text[0] is (byte)'+' or (byte)'-' ? 1 : 0;
        int end = DigitsEnd(text, sign);
        if (end + 1 < text.Length && text[end] == (byte)'.' && char.IsAsciiDigit((char)text[end + 1]))
        {
            end = DigitsEnd(text, end + 1);
        }
        else if (end == sign)
        {
            return 0;
        }
        if (end < text.Length && text[end] is (byte)'e' or (byte)'E')
        {
            int exponent = end + 1 < text.Length && text[end + 1] is (byte)'+' or (byte)'-' ? end + 2 : end + 1;
            int exponentEnd = DigitsEnd(text, exponent);
            if (exponentEnd > exponent)
            {
                end = exponentEnd;
            }
        }
        return end;
    }

    private static int DigitsEnd(ReadOnlySpan<byte> text, int start)
    {
        while (start < text.Length && char.IsAsciiDigit((char)text[start]))
        {
            start++;
        }
        return start;
    }

    /// <summary>Rounds half to even, as Patroni's <c>rint</c>; false when the result is negative or does not fit a long.</summary>
    private static bool TryRoundToBytes(double value, out long bytes)
    {
        double rounded = Math.Round(value, MidpointRounding.ToEven);
        bool fits = rounded >= 0 && rounded < 9223372036854775808.0;
        bytes = fits ? (long)rounded : 0;
        return fits;
    }

    private static AgentRequest Fail(Mode mode, AgentRequestError error) => new(mode, AgentRequest.NoMaxLag, error);

    private static ReadOnlySpan<byte> NextWord(ref ReadOnlySpan<byte> rest)
    {
        int start = 0;
        while (start < rest.Length && rest[start] is (byte)' ' or (byte)'\t')
        {
            start++;
        }
        int end = start;
        while (end < rest.Length && rest[end] is not ((byte)' ' or (byte)'\t'))
        {
            end++;
        }
        var word = rest[start..end];
        rest = rest[end..];
        return word;
    }
}
