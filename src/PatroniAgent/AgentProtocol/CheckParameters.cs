namespace PatroniAgent.AgentProtocol;

/// <summary>
/// The parameters Patroni's health checks take besides <c>lag</c>, as the agent-send line and the HTTP
/// query both name them: <c>replication_state=STATE</c> and <c>tag_KEY=VALUE</c> (filters),
/// <c>mode=write</c> (readiness by the WAL received). Keys and values may be percent-encoded, <c>+</c> for a space.
/// </summary>
public static class CheckParameters
{
    /// <summary>The longest decoded value compared; a longer one matches nothing.</summary>
    public const int MaxValueLength = 256;

    private static ReadOnlySpan<byte> TagPrefix => "tag_"u8;

    /// <summary>Whether <paramref name="key"/> names a filter: <c>replication_state</c> or <c>tag_KEY</c>.</summary>
    public static bool IsFilter(ReadOnlySpan<byte> key) => key.SequenceEqual("replication_state"u8) || key.StartsWith(TagPrefix);

    /// <summary>Whether a <c>mode=</c> value asks for lag by the WAL received: <c>write</c>; anything else is Patroni's default, <c>apply</c>.</summary>
    public static bool IsWriteMode(ReadOnlySpan<byte> value) => value.SequenceEqual("write"u8);

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
