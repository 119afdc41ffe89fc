using System.Text.Json.Serialization;

namespace PatroniAgent.Metrics;

/// <summary>The JSON status page, <c>GET /status</c>: one object, snake_case keys.</summary>
public sealed class StatusPage
{
    public required string Version { get; init; }
    /// <summary>Role, state and the modes that answer ready, as logged; <c>unknown: REASON</c> or <c>stale: ...</c> otherwise.</summary>
    public required string Summary { get; init; }
    /// <summary>Whether the last status is older than stale-after, so every mode answers the unknown answer.</summary>
    public required bool Stale { get; init; }
    /// <summary>Each mode's reply line (without max-lag) as a check gets it now.</summary>
    public required Dictionary<string, string> Modes { get; init; }
    public required DateTimeOffset? LastGoodPoll { get; init; }
    public required double SecondsSinceLastGoodPoll { get; init; }
    public required StatusError? LastError { get; init; }
    public required long Polls { get; init; }
    public required Dictionary<string, long> PollErrors { get; init; }
    /// <summary>Good polls that measured a replica's lag, by source: <c>leader</c> or <c>cluster</c>.</summary>
    public required Dictionary<string, long> LagPolls { get; init; }
    /// <summary>When the position the last measured lag was measured against was read; null before one was measured.</summary>
    public required DateTimeOffset? LagReferenceAt { get; init; }
    /// <summary>The addresses that checked in the recent window, the most recent first.</summary>
    public required List<StatusChecker> Checkers { get; init; }
    public required long ChecksAnswered { get; init; }
    public required int OpenConnections { get; init; }
    public required long EvictedConnections { get; init; }
    public required long RefusedConnections { get; init; }
    public required Dictionary<string, long> Transitions { get; init; }
    /// <summary>The operator's override (<c>maint REASON</c>, <c>drain REASON</c>); null for none.</summary>
    public required string? Override { get; init; }
}

/// <summary>One checker on the status page: a source address, what it asked and got, and since when it has the current answers (null: not yet).</summary>
public sealed class StatusChecker
{
    public required string Address { get; init; }
    public required DateTimeOffset FirstCheck { get; init; }
    public required DateTimeOffset LastCheck { get; init; }
    public required long Checks { get; init; }
    public required string LastMode { get; init; }
    public required string LastAnswer { get; init; }
    public required DateTimeOffset? HasCurrentAnswersSince { get; init; }
}

/// <summary>The last failed poll on the status page.</summary>
public sealed class StatusError
{
    public required string Message { get; init; }
    public required string Kind { get; init; }
    public required DateTimeOffset At { get; init; }
}

/// <summary>Source-generated serialization of the status page: no reflection, AOT-clean.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(StatusPage))]
public sealed partial class StatusJsonContext : JsonSerializerContext;
