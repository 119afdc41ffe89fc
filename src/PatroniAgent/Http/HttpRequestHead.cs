namespace PatroniAgent.Http;

/// <summary>
/// Reads the head of an HTTP/1.0 or HTTP/1.1 request: whether it is complete, and its request line.
/// Lines may end with <c>\r\n</c> or <c>\n</c>. Headers are skipped; a body is never read. Allocates nothing.
/// </summary>
public static class HttpRequestHead
{
    /// <summary>Whether <paramref name="received"/> holds the whole head of a request: it ends with an empty line.</summary>
    public static bool IsComplete(ReadOnlySpan<byte> received) =>
        received.IndexOf("\n\n"u8) >= 0 || received.IndexOf("\n\r\n"u8) >= 0;

    /// <summary>
    /// Reads the first line of <paramref name="head"/> as <c>METHOD TARGET HTTP/1.x</c>: the method an HTTP
    /// token, the target visible ASCII, the version <c>HTTP/1.0</c> or <c>HTTP/1.1</c>. False when the
    /// line is not such a request line, or has not ended.
    /// </summary>
    public static bool TryReadRequestLine(ReadOnlySpan<byte> head, out HttpRequestLine requestLine)
    {
        requestLine = default;
        int end = head.IndexOf((byte)'\n');
        if (end < 0)
        {
            return false;
        }
        var line = head[..end];
        if (!line.IsEmpty && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        int firstSpace = line.IndexOf((byte)' ');
        int lastSpace = line.LastIndexOf((byte)' ');
        if (firstSpace <= 0 || lastSpace <= firstSpace + 1)
        {
            return false;
        }
        var method = line[..firstSpace];
        var target = line[(firstSpace + 1)..lastSpace];
        var version = line[(lastSpace + 1)..];
        if (!IsToken(method) || !IsVisible(target) || !(version.SequenceEqual("HTTP/1.1"u8) || version.SequenceEqual("HTTP/1.0"u8)))
        {
            return false;
        }
        requestLine = new HttpRequestLine(method, target, version);
        return true;
    }

    /// <summary>An HTTP token (RFC 9110): letters, digits and <c>!#$%&amp;'*+-.^_`|~</c>.</summary>
    private static bool IsToken(ReadOnlySpan<byte> text)
    {
        foreach (byte b in text)
        {
            if (!(char.IsAsciiLetterOrDigit((char)b) || "!#$%&'*+-.^_`|~"u8.Contains(b)))
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsVisible(ReadOnlySpan<byte> text)
    {
        foreach (byte b in text)
        {
            if (b is < 0x21 or > 0x7e)
            {
                return false;
            }
        }
        return true;
    }
}
