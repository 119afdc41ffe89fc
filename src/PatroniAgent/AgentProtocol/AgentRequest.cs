namespace PatroniAgent.AgentProtocol;

/// <summary>Why an agent-send line could not be used.</summary>
public enum AgentRequestError
{
    None,
    UnknownMode,
    UnknownParameter,
    InvalidMaxLag,
    /// <summary>A return-lag, hold or weighted value that cannot be read.</summary>
    InvalidValue,
    LineTooLong,
    InvalidCharacters,
}

/// <summary>
/// What one check asks for: a mode and, for replica modes, the most lag it accepts; with
/// <see cref="ByReceived"/>, lag measured by the WAL received instead of replayed (<c>mode=write</c>);
/// <see cref="Filters"/> is where its <c>replication_state=</c> and <c>tag_KEY=VALUE</c> filters are
/// in the received bytes (empty: none); <see cref="ReturnLag"/> and <see cref="HoldMilliseconds"/> shape how a
/// replica held out by the lag limit comes back.
/// </summary>
public readonly record struct AgentRequest(Mode Mode, long MaxLag, AgentRequestError Error)
{
    /// <summary>No max-lag given.</summary>
    public const long NoMaxLag = -1;

    public bool HasMaxLag => MaxLag >= 0;

    /// <summary>A check of <paramref name="mode"/> with no parameters.</summary>
    public static AgentRequest For(Mode mode) => new(mode, NoMaxLag, AgentRequestError.None);

    public bool ByReceived { get; init; }

    public Range Filters { get; init; }

    /// <summary>The lag at or below which a replica held out by max-lag may return (<c>return-lag=SIZE</c>); negative: the agent's default.</summary>
    public long ReturnLag { get; init; } = NoMaxLag;

    /// <summary>How long, in milliseconds, its lag must stay there (<c>hold=DURATION</c>); negative: the agent's default.</summary>
    public long HoldMilliseconds { get; init; } = NoMaxLag;

    /// <summary>A ready replica's weight falls with its lag (<c>weighted=yes</c>).</summary>
    public bool Weighted { get; init; }
}
