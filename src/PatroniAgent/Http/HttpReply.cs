using System.Globalization;
using System.Text;

namespace PatroniAgent.Http;

/// <summary>
/// One complete HTTP/1.1 reply, encoded once: status line, headers and body, after which the server
/// closes the connection. The reply to HEAD is the same bytes up to the end of the headers, so its
/// Content-Length is that of the whole reply.
/// </summary>
public sealed class HttpReply
{
    private readonly byte[] _bytes;
    private readonly int _headLength;

    /// <summary>
    /// Encodes a reply with <paramref name="status"/> and its reason phrase, the Content-Type, Content-Length,
    /// Allow and Cache-Control headers (the last two when given) and <c>Connection: close</c>.
    /// </summary>
    public HttpReply(int status, string contentType, ReadOnlySpan<byte> body, string? allow = null, string? cacheControl = null)
    {
        Status = status;
        var head = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {status} {ReasonPhrase(status)}\r\n")
            .Append(CultureInfo.InvariantCulture, $"Content-Type: {contentType}\r\n")
            .Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\n");
        if (allow is not null)
        {
            head.Append(CultureInfo.InvariantCulture, $"Allow: {allow}\r\n");
        }
        if (cacheControl is not null)
        {
            head.Append(CultureInfo.InvariantCulture, $"Cache-Control: {cacheControl}\r\n");
        }
        string text = head.Append("Connection: close\r\n\r\n").ToString();
        _headLength = text.Length;
        _bytes = new byte[_headLength + body.Length];
        Encoding.ASCII.GetBytes(text, _bytes);
        body.CopyTo(_bytes.AsSpan(_headLength));
    }

    /// <summary>The status code.</summary>
    public int Status { get; }

    /// <summary>The whole reply: head and body.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>The reply to HEAD: the head alone.</summary>
    public ReadOnlySpan<byte> Head => _bytes.AsSpan(0, _headLength);

    private static string ReasonPhrase(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };
}
