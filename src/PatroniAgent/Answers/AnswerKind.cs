using PatroniAgent.AgentProtocol;

namespace PatroniAgent.Answers;

/// <summary>What an answer tells HAProxy, in the few words the metrics count it by.</summary>
public enum AnswerKind
{
    /// <summary><c>up ready</c>: the node takes the backend's traffic.</summary>
    Ready,
    /// <summary><c>up drain</c>: no new traffic, the sessions it has stay.</summary>
    Drain,
    /// <summary><c>up maint</c>: healthy, but not for this backend.</summary>
    Maint,
    /// <summary><c>down</c> decided from Patroni's status.</summary>
    Down,
    /// <summary>The unknown answer: no usable or fresh status from Patroni.</summary>
    Unknown,
    /// <summary><c>down</c> because the request itself could not be used (a bad agent-send line or HTTP request).</summary>
    Error,
}

/// <summary>The names of <see cref="AnswerKind"/> as metric label values.</summary>
public static class AnswerKinds
{
    public static readonly AnswerKind[] All = Enum.GetValues<AnswerKind>();

    public static string Name(AnswerKind kind) => kind switch
    {
        AnswerKind.Ready => "ready",
        AnswerKind.Drain => "drain",
        AnswerKind.Maint => "maint",
        AnswerKind.Down => "down",
        AnswerKind.Unknown => "unknown",
        AnswerKind.Error => "error",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The kind of an answer decided from a status: its admin word, or down.</summary>
    public static AnswerKind Of(AgentAnswer answer) => answer.Health == Health.Down
        ? AnswerKind.Down
        : answer.Admin switch
        {
            Admin.Drain => AnswerKind.Drain,
            Admin.Maint => AnswerKind.Maint,
            _ => AnswerKind.Ready,
        };
}
