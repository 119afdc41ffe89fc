namespace PatroniAgent.Http;

/// <summary>The request line of an HTTP request, as spans of the bytes received: method, target and version.</summary>
public readonly ref struct HttpRequestLine
{
    public HttpRequestLine(ReadOnlySpan<byte> method, ReadOnlySpan<byte> target, ReadOnlySpan<byte> version)
    {
        Method = method;
        Target = target;
        Version = version;
    }

    /// <summary>The method, e.g. <c>GET</c>; case-sensitive.</summary>
    public ReadOnlySpan<byte> Method { get; }

    /// <summary>The target as sent: the path and, after a <c>?</c>, the query.</summary>
    public ReadOnlySpan<byte> Target { get; }

    /// <summary>The version: <c>HTTP/1.0</c> or <c>HTTP/1.1</c>.</summary>
    public ReadOnlySpan<byte> Version { get; }

    /// <summary>The target up to its first <c>?</c>.</summary>
    public ReadOnlySpan<byte> Path => Target.IndexOf((byte)'?') is var question and >= 0 ? Target[..question] : Target;

    /// <summary>The target after its first <c>?</c>; empty when there is none.</summary>
    public ReadOnlySpan<byte> Query => Target.IndexOf((byte)'?') is var question and >= 0 ? Target[(question + 1)..] : default;

    /// <summary>The parameters of the query, in order.</summary>
    public HttpQueryParameters Parameters => new(Query);
}
