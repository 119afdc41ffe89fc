using PatroniAgent.Http;

namespace PatroniAgent.HttpCheck;

/// <summary>The replies to HTTP health checks: plain text, the agent's reply line as the body.</summary>
public static class HttpCheckReply
{
    /// <summary>The reply to a check answered with <paramref name="line"/>: 200 when the server may take traffic, 503 otherwise.</summary>
    public static HttpReply Answer(ReadOnlySpan<byte> line, bool ready) => new(ready ? 200 : 503, "text/plain", line);

    /// <summary>The reply to a request that cannot be answered; a 405 lists the methods checks may use.</summary>
    public static HttpReply Error(HttpCheckError error, ReadOnlySpan<byte> line) =>
        new(HttpCheckParser.ErrorStatus(error), "text/plain", line, allow: error == HttpCheckError.MethodNotAllowed ? "GET, HEAD, OPTIONS" : null);

    /// <summary>The bytes sent for <paramref name="method"/>: the whole reply, or only its head for HEAD.</summary>
    public static ReadOnlySpan<byte> For(this HttpReply reply, HttpCheckMethod method) => method == HttpCheckMethod.Head ? reply.Head : reply.Bytes;
}
