using PatroniAgent.AgentProtocol;

namespace PatroniAgent.HttpCheck;

/// <summary>The methods a health check may use. All get the same status; HEAD gets no body.</summary>
public enum HttpCheckMethod
{
    Get,
    Head,
    Options,
}

/// <summary>Why an HTTP request gets no check answer; each has its own status and reason.</summary>
public enum HttpCheckError
{
    None,
    /// <summary>400: the request line is not <c>METHOD TARGET HTTP/1.x</c>.</summary>
    Malformed,
    /// <summary>400: the headers did not end before the client stopped sending or the wait ran out.</summary>
    Incomplete,
    /// <summary>400: the headers did not end within <see cref="HttpCheckParser.MaxRequestLength"/> bytes.</summary>
    TooLarge,
    /// <summary>400: a <c>lag</c>, <c>max-lag</c> or <c>return-lag</c> that is not a size, or a <c>hold</c> that is not a duration.</summary>
    InvalidLag,
    /// <summary>503, as Patroni answers: the path names no check.</summary>
    UnknownPath,
    /// <summary>405: a method other than GET, HEAD and OPTIONS.</summary>
    MethodNotAllowed,
}

/// <summary>
/// What one HTTP health check asks for: a mode and, for replica modes, the most lag it accepts; with
/// <see cref="ByReceived"/>, lag by the WAL received (<c>mode=write</c>); <see cref="Filters"/> is where
/// the query with its <c>replication_state=</c> and <c>tag_KEY=VALUE</c> filters is in the received bytes
/// (empty: no filter).
/// </summary>
public readonly record struct HttpCheckRequest(HttpCheckMethod Method, Mode Mode, long MaxLag, HttpCheckError Error)
{
    public bool ByReceived { get; init; }

    public Range Filters { get; init; }

    /// <summary>The lag at or below which a replica held out by the lag limit may return (<c>return-lag=SIZE</c>); negative: the agent's default.</summary>
    public long ReturnLag { get; init; } = AgentRequest.NoMaxLag;

    /// <summary>How long, in milliseconds, its lag must stay there (<c>hold=DURATION</c>); negative: the agent's default.</summary>
    public long HoldMilliseconds { get; init; } = AgentRequest.NoMaxLag;
}
