using PatroniAgent.AgentProtocol;
using PatroniAgent.Http;

namespace PatroniAgent.HttpCheck;

/// <summary>
/// Reads an HTTP health check in the style of Patroni's REST API: <c>GET</c>, <c>HEAD</c> or
/// <c>OPTIONS</c> on a path that names the mode, e.g. <c>OPTIONS /primary HTTP/1.0</c> or
/// <c>GET /replica?lag=16MB HTTP/1.1</c>, read with <see cref="HttpRequestHead"/>. Allocates nothing.
/// </summary>
public static class HttpCheckParser
{
    /// <summary>The most bytes of a request, headers included, that are read.</summary>
    public const int MaxRequestLength = 2048;

    /// <summary>How long a connection may take to send its request; HTTP checks send it at once.</summary>
    public static readonly TimeSpan RequestWait = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The check paths, matched exactly and case-sensitively, and the mode each names. <c>/</c> is a
    /// primary check, as on Patroni's port: Patroni's HAProxy template asks a bare <c>OPTIONS /</c>.
    /// </summary>
    private static readonly (byte[] Path, Mode Mode)[] Paths =
    [
        ("/"u8.ToArray(), Mode.Primary),
        ("/primary"u8.ToArray(), Mode.Primary),
        ("/master"u8.ToArray(), Mode.Primary),
        ("/read-write"u8.ToArray(), Mode.Primary),
        ("/replica"u8.ToArray(), Mode.Replica),
        ("/read-only"u8.ToArray(), Mode.ReadOnly),
        ("/read_only"u8.ToArray(), Mode.ReadOnly),
        ("/sync"u8.ToArray(), Mode.Sync),
        ("/synchronous"u8.ToArray(), Mode.Sync),
        ("/async"u8.ToArray(), Mode.Async),
        ("/asynchronous"u8.ToArray(), Mode.Async),
        ("/standby-leader"u8.ToArray(), Mode.StandbyLeader),
        ("/standby_leader"u8.ToArray(), Mode.StandbyLeader),
        ("/leader"u8.ToArray(), Mode.Leader),
        ("/health"u8.ToArray(), Mode.Health),
    ];

    /// <summary>The accepted paths, for error messages and documentation.</summary>
    public const string AcceptedPaths =
        "/primary (/, /master, /read-write), /replica, /read-only (/read_only), /sync (/synchronous), /async (/asynchronous), /standby-leader (/standby_leader), /leader, /health";

    /// <summary>
    /// Parses what a client sent: the request line of a complete head. Lines may end with <c>\r\n</c>
    /// or <c>\n</c>. Query parameters other than <c>lag</c> and <c>max-lag</c> are ignored; when one
    /// is given more than once, the last counts. Their values are percent-decoded.
    /// </summary>
    public static HttpCheckRequest Parse(ReadOnlySpan<byte> received)
    {
        if (!HttpRequestHead.IsComplete(received))
        {
            return Fail(HttpCheckMethod.Get, received.Length >= MaxRequestLength ? HttpCheckError.TooLarge : HttpCheckError.Incomplete);
        }
        if (!HttpRequestHead.TryReadRequestLine(received, out var line))
        {
            return Fail(HttpCheckMethod.Get, HttpCheckError.Malformed);
        }

        HttpCheckMethod method;
        if (line.Method.SequenceEqual("GET"u8)) method = HttpCheckMethod.Get;
        else if (line.Method.SequenceEqual("HEAD"u8)) method = HttpCheckMethod.Head;
        else if (line.Method.SequenceEqual("OPTIONS"u8)) method = HttpCheckMethod.Options;
        else return Fail(HttpCheckMethod.Get, HttpCheckError.MethodNotAllowed);

        if (!TryFindMode(line.Path, out var mode))
        {
            return Fail(method, HttpCheckError.UnknownPath);
        }

        long maxLag = AgentRequest.NoMaxLag;
        Span<byte> decoded = received.Length <= MaxRequestLength ? stackalloc byte[MaxRequestLength] : new byte[received.Length];
        foreach (var parameter in line.Parameters)
        {
            if (!parameter.Name.SequenceEqual("lag"u8) && !parameter.Name.SequenceEqual("max-lag"u8))
            {
                continue;
            }
            if (!AgentSendParser.TryParseSize(decoded[..PercentDecode(parameter.Value, decoded)], out maxLag))
            {
                return Fail(method, HttpCheckError.InvalidLag);
            }
        }
        return new HttpCheckRequest(method, mode, maxLag, HttpCheckError.None);
    }

    /// <summary>The HTTP status a request that cannot be answered gets.</summary>
    public static int ErrorStatus(HttpCheckError error) => error switch
    {
        HttpCheckError.Malformed or HttpCheckError.Incomplete or HttpCheckError.TooLarge or HttpCheckError.InvalidLag => 400,
        HttpCheckError.UnknownPath => 404,
        HttpCheckError.MethodNotAllowed => 405,
        _ => throw new ArgumentOutOfRangeException(nameof(error)),
    };

    /// <summary>Why a request cannot be answered, as the reason of its reply line.</summary>
    public static string ErrorReason(HttpCheckError error) => error switch
    {
        HttpCheckError.Malformed => "not an HTTP/1.0 or HTTP/1.1 request line",
        HttpCheckError.Incomplete => "request headers cut short",
        HttpCheckError.TooLarge => $"request headers longer than {MaxRequestLength} bytes",
        HttpCheckError.InvalidLag => "invalid lag in the query, expected a size such as 16MB",
        HttpCheckError.UnknownPath => $"unknown path, expected one of: {AcceptedPaths}",
        HttpCheckError.MethodNotAllowed => "method not allowed, expected GET, HEAD or OPTIONS",
        _ => throw new ArgumentOutOfRangeException(nameof(error)),
    };

    private static HttpCheckRequest Fail(HttpCheckMethod method, HttpCheckError error) => new(method, default, AgentRequest.NoMaxLag, error);

    /// <summary>
    /// Decodes a query value into <paramref name="into"/> as Python's <c>unquote_plus</c> does: <c>+</c> is a
    /// space, <c>%</c> and two hexadecimal digits a byte, anything else itself. Returns the decoded length.
    /// </summary>
    private static int PercentDecode(ReadOnlySpan<byte> value, Span<byte> into)
    {
        int length = 0;
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] == (byte)'%' && i + 2 < value.Length && char.IsAsciiHexDigit((char)value[i + 1]) && char.IsAsciiHexDigit((char)value[i + 2]))
            {
                into[length++] = (byte)(HexValue(value[i + 1]) << 4 | HexValue(value[i + 2]));
                i += 2;
            }
            else
            {
                into[length++] = value[i] == (byte)'+' ? (byte)' ' : value[i];
            }
        }
        return length;
    }

    private static int HexValue(byte digit) => digit <= '9' ? digit - '0' : (digit | 0x20) - 'a' + 10;

    private static bool TryFindMode(ReadOnlySpan<byte> path, out Mode mode)
    {
        foreach (var (p, m) in Paths)
        {
            if (path.SequenceEqual(p))
            {
                mode = m;
                return true;
            }
        }
        mode = default;
        return false;
    }
}
