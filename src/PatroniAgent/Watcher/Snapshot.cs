using PatroniAgent.AgentProtocol;
using PatroniAgent.Patroni;
using PatroniAgent.Policy;

namespace PatroniAgent.Watcher;

/// <summary>
/// Everything the agent answers, for every mode, from one Patroni status (or from its absence),
/// encoded once. The answers never change: listeners read them without locks while the watcher swaps
/// in the next snapshot. Only the time until which they may be served moves, when a poll confirms them.
/// </summary>
public sealed class Snapshot
{
    private readonly byte[][] _answers;
    private readonly byte[]?[] _overMaxLag;
    private readonly long _lagBytes;
    private long _freshUntil;

    private Snapshot(NodeStatus? status, string? unknownReason, AgentAnswer[]? decided, byte[][] answers, byte[]?[] overMaxLag)
    {
        Status = status;
        UnknownReason = unknownReason;
        Decided = decided;
        _answers = answers;
        _overMaxLag = overMaxLag;
        _lagBytes = status?.LagBytes ?? -1;
        _freshUntil = status is null ? long.MaxValue : long.MinValue;
    }

    /// <summary>The status the answers come from; null when Patroni's state is unknown.</summary>
    public NodeStatus? Status { get; }

    /// <summary>Why Patroni's state is unknown; null when it is known.</summary>
    public string? UnknownReason { get; }

    /// <summary>The decided answer per mode (indexed by <see cref="Mode"/>); null when unknown.</summary>
    public IReadOnlyList<AgentAnswer>? Decided { get; }

    public static Snapshot FromStatus(NodeStatus status)
    {
        var modes = ModeNames.All;
        var decided = new AgentAnswer[modes.Length];
        var answers = new byte[modes.Length][];
        var overMaxLag = new byte[]?[modes.Length];
        foreach (var mode in modes)
        {
            decided[(int)mode] = AnswerPolicy.Decide(status, mode);
            answers[(int)mode] = decided[(int)mode].Encode();
            if (AnswerPolicy.DependsOnLag(status, mode))
            {
                overMaxLag[(int)mode] = AnswerPolicy.Decide(status, mode, (status.LagBytes ?? 0) - 1).Encode();
            }
        }
        return new Snapshot(status, null, decided, answers, overMaxLag);
    }

    /// <summary>Every mode answers <paramref name="words"/> with <paramref name="reason"/>.</summary>
    public static Snapshot Unknown(string words, string reason)
    {
        var line = AnswerLine.Encode(words, reason);
        var answers = new byte[ModeNames.All.Length][];
        Array.Fill(answers, line);
        return new Snapshot(null, reason, null, answers, new byte[]?[answers.Length]);
    }

    /// <summary>
    /// Whether the answers are too old to serve at <paramref name="timestamp"/>. Answers from a status
    /// are stale until <see cref="KeepFreshUntil"/> is called; the unknown answers never are.
    /// </summary>
    public bool IsStaleAt(long timestamp) => timestamp > Volatile.Read(ref _freshUntil);

    /// <summary>Lets the answers from a status be served until <paramref name="timestamp"/>.</summary>
    public void KeepFreshUntil(long timestamp)
    {
        if (Status is not null)
        {
            Volatile.Write(ref _freshUntil, timestamp);
        }
    }

    /// <summary>The reply line for a check in <paramref name="mode"/> accepting at most <paramref name="maxLag"/> bytes of lag.</summary>
    public byte[] Select(Mode mode, long maxLag)
    {
        if (maxLag >= 0 && _overMaxLag[(int)mode] is { } over && (_lagBytes < 0 || _lagBytes > maxLag))
        {
            return over;
        }
        return _answers[(int)mode];
    }
}
