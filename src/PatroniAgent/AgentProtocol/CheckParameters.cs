using System.Text;

namespace PatroniAgent.AgentProtocol;

/// <summary>
/// The parameters Patroni's health checks take besides <c>lag</c>, as the agent-send line and the HTTP
/// query both name them: <c>replication_state=STATE</c> and <c>tag_KEY=VALUE</c> (filters),
/// <c>mode=write</c> (readiness by the WAL received). Keys and values may be percent-encoded, <c>+</c> for a space.
/// </summary>
public static class CheckParameters
{
    /// <summary>The longest decoded key or value: as long as the longest request read (a longer one matches nothing).</summary>
    public const int MaxValueLength = 2048;

    private static ReadOnlySpan<byte> TagPrefix => "tag_"u8;

    /// <summary>Whether <paramref name="key"/> names a filter: <c>replication_state</c> or <c>tag_KEY</c>.</summary>
    public static bool IsFilter(ReadOnlySpan<byte> key) => key.SequenceEqual("replication_state"u8) || key.StartsWith(TagPrefix);

    /// <summary>Whether a percent-encoded <c>mode=</c> value asks for lag by the WAL received: <c>write</c>; anything else is Patroni's default, <c>apply</c>.</summary>
    public static bool IsWriteMode(ReadOnlySpan<byte> encoded)
    {
        Span<byte> decoded = stackalloc byte["write".Length];
        return TryDecode(encoded, decoded, out int length) && decoded[..length].SequenceEqual("write"u8);
    }

    /// <summary>Reads a percent-encoded size (<see cref="AgentSendParser.TryParseSize"/>).</summary>
    public static bool TryReadSize(ReadOnlySpan<byte> encoded, out long bytes)
    {
        Span<byte> decoded = stackalloc byte[MaxValueLength];
        bytes = 0;
        return TryDecode(encoded, decoded, out int length) && AgentSendParser.TryParseSize(decoded[..length], out bytes);
    }

    /// <summary>Reads a percent-encoded duration (<see cref="TryParseMilliseconds"/>).</summary>
    public static bool TryReadMilliseconds(ReadOnlySpan<byte> encoded, out long milliseconds)
    {
        Span<byte> decoded = stackalloc byte[MaxValueLength];
        milliseconds = 0;
        return TryDecode(encoded, decoded, out int length) && TryParseMilliseconds(decoded[..length], out milliseconds);
    }

    /// <summary>Whether a <c>weighted=</c> value turns weights on: <c>yes</c>, <c>true</c>, <c>on</c> or <c>1</c>.</summary>
    public static bool IsYes(ReadOnlySpan<byte> value) =>
        Ascii.EqualsIgnoreCase(value, "yes"u8) || Ascii.EqualsIgnoreCase(value, "true"u8) || Ascii.EqualsIgnoreCase(value, "on"u8) || value.SequenceEqual("1"u8);

    /// <summary>Reads a duration, digits and <c>ms</c>, <c>s</c> or <c>m</c>, into milliseconds, at most 10 minutes.</summary>
    public static bool TryParseMilliseconds(ReadOnlySpan<byte> text, out long milliseconds)
    {
        milliseconds = 0;
        int digits = 0;
        long value = 0;
        while (digits < text.Length && char.IsAsciiDigit((char)text[digits]) && digits < 9)
        {
            value = value * 10 + (text[digits] - '0');
            digits++;
        }
        var unit = text[digits..];
        long scale = unit.SequenceEqual("ms"u8) ? 1 : unit.SequenceEqual("s"u8) ? 1000 : unit.SequenceEqual("m"u8) ? 60_000 : 0;
        if (digits == 0 || scale == 0 || value * scale > 600_000)
        {
            return false;
        }
        milliseconds = value * scale;
        return true;
    }

    /// <summary>Percent-decodes <paramref name="text"/> (<c>+</c> is a space) into <paramref name="into"/>; false when it does not fit.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> text, Span<byte> into, out int length)
    {
        length = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (length == into.Length)
            {
                return false;
            }
            byte b = text[i];
            if (b == (byte)'+')
            {
                b = (byte)' ';
            }
            else if (b == (byte)'%' && i + 2 < text.Length && IsHex(text[i + 1]) && IsHex(text[i + 2]))
            {
                b = (byte)(Hex(text[i + 1]) << 4 | Hex(text[i + 2]));
                i += 2;
            }
            into[length++] = b;
        }
        return true;
    }

    private static bool IsHex(byte b) => char.IsAsciiHexDigit((char)b);

    private static int Hex(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;
}
