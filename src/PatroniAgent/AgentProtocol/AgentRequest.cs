namespace PatroniAgent.AgentProtocol;

/// <summary>Why an agent-send line could not be used.</summary>
public enum AgentRequestError
{
    None,
    UnknownMode,
    UnknownParameter,
    InvalidMaxLag,
    LineTooLong,
    InvalidCharacters,
}

/// <summary>
/// What one check asks for: a mode and, for replica modes, the most lag it accepts; with
/// <see cref="ByReceived"/>, lag measured by the WAL received instead of replayed (<c>mode=write</c>);
/// <see cref="Filters"/> is where its <c>replication_state=</c> and <c>tag_KEY=VALUE</c> filters are
/// in the received bytes (empty: none).
/// </summary>
public readonly record struct AgentRequest(Mode Mode, long MaxLag, AgentRequestError Error)
{
    /// <summary>No max-lag given.</summary>
    public const long NoMaxLag = -1;

    public bool HasMaxLag => MaxLag >= 0;

    public bool ByReceived { get; init; }

    public Range Filters { get; init; }
}
