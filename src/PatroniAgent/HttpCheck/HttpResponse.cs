using System.Globalization;
using System.Text;

namespace PatroniAgent.HttpCheck;

/// <summary>
/// One complete HTTP/1.1 reply to a health check, encoded once: status line, headers and a text
/// body, after which the server closes the connection. HEAD gets the same bytes up to the end of the
/// headers, so its Content-Length is that of the GET reply.
/// </summary>
public sealed class HttpResponse
{
    private readonly byte[] _bytes;
    private readonly int _headLength;

    public HttpResponse(int status, ReadOnlySpan<byte> body)
    {
        Status = status;
        var head = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {status} {ReasonPhrase(status)}\r\n")
            .Append("Content-Type: text/plain\r\n")
            .Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\n");
        if (status == 405)
        {
            head.Append("Allow: GET, HEAD, OPTIONS\r\n");
        }
        string text = head.Append("Connection: close\r\n\r\n").ToString();
        _headLength = text.Length;
        _bytes = new byte[_headLength + body.Length];
        Encoding.ASCII.GetBytes(text, _bytes);
        body.CopyTo(_bytes.AsSpan(_headLength));
    }

    /// <summary>The status code.</summary>
    public int Status { get; }

    /// <summary>The bytes sent for <paramref name="method"/>: the whole reply, or only its head for HEAD.</summary>
    public ReadOnlySpan<byte> For(HttpCheckMethod method) => method == HttpCheckMethod.Head ? _bytes.AsSpan(0, _headLength) : _bytes;

    /// <summary>The status of a check answer: 200 when the server may take traffic, 503 otherwise.</summary>
    public static int StatusOf(bool ready) => ready ? 200 : 503;

    private static string ReasonPhrase(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };
}
