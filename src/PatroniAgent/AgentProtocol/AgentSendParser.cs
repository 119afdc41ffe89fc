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
    /// unless it filled the whole line buffer. An empty line asks for <paramref name="defaultMode"/>.
    /// </summary>
    public static AgentRequest Parse(ReadOnlySpan<byte> received, Mode defaultMode)
    {
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
            return new AgentRequest(defaultMode, AgentRequest.NoMaxLag, AgentRequestError.None);
        }
        if (!ModeNames.TryParse(first, out var mode))
        {
            return Fail(defaultMode, AgentRequestError.UnknownMode);
        }

        long maxLag = AgentRequest.NoMaxLag;
        for (var word = NextWord(ref rest); !word.IsEmpty; word = NextWord(ref rest))
        {
            int eq = word.IndexOf((byte)'=');
            if (eq <= 0)
            {
                return Fail(mode, AgentRequestError.UnknownParameter);
            }
            var key = word[..eq];
            if (!Ascii.EqualsIgnoreCase(key, "max-lag"u8) && !Ascii.EqualsIgnoreCase(key, "lag"u8))
            {
                return Fail(mode, AgentRequestError.UnknownParameter);
            }
            if (!TryParseSize(word[(eq + 1)..], out maxLag))
            {
                return Fail(mode, AgentRequestError.InvalidMaxLag);
            }
        }
        return new AgentRequest(mode, maxLag, AgentRequestError.None);
    }

    /// <summary>
    /// Parses a size in bytes: digits with an optional unit B, kB, MB, GB or TB (powers of 1024, as
    /// in PostgreSQL; case-insensitive, the B may be left out).
    /// </summary>
    public static bool TryParseSize(ReadOnlySpan<byte> text, out long bytes)
    {
        bytes = 0;
        int digits = 0;
        long value = 0;
        while (digits < text.Length && text[digits] is >= (byte)'0' and <= (byte)'9')
        {
            int digit = text[digits] - '0';
            if (value > (long.MaxValue - digit) / 10)
            {
                return false;
            }
            value = value * 10 + digit;
            digits++;
        }
        if (digits == 0)
        {
            return false;
        }
        var unit = text[digits..];
        int shift;
        if (unit.IsEmpty || Ascii.EqualsIgnoreCase(unit, "B"u8)) shift = 0;
        else if (Ascii.EqualsIgnoreCase(unit, "kB"u8) || Ascii.EqualsIgnoreCase(unit, "k"u8)) shift = 10;
        else if (Ascii.EqualsIgnoreCase(unit, "MB"u8) || Ascii.EqualsIgnoreCase(unit, "M"u8)) shift = 20;
        else if (Ascii.EqualsIgnoreCase(unit, "GB"u8) || Ascii.EqualsIgnoreCase(unit, "G"u8)) shift = 30;
        else if (Ascii.EqualsIgnoreCase(unit, "TB"u8) || Ascii.EqualsIgnoreCase(unit, "T"u8)) shift = 40;
        else return false;
        if (value > long.MaxValue >> shift)
        {
            return false;
        }
        bytes = value << shift;
        return true;
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
