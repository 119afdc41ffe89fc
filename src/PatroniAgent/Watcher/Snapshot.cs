using PatroniAgent.AgentProtocol;
using PatroniAgent.HttpCheck;
using PatroniAgent.Patroni;
using PatroniAgent.Policy;

namespace PatroniAgent.Watcher;

/// <summary>
/// Everything the agent answers, for every mode, from one Patroni status (or from its absence),
/// encoded once: the agent reply lines and the HTTP health-check replies. The answers never change:
/// listeners read them without locks while the watcher swaps in the next snapshot. Only the time until
/// which they may be served moves, when a poll confirms them.
/// </summary>
public sealed class Snapshot
{
    private readonly Encoded[] _answers;
    private readonly Encoded?[] _overMaxLag;
    private readonly long _lagBytes;
    private long _freshUntil;

    private Snapshot(NodeStatus? status, OperatorOverride? applied, string? unknownReason, AgentAnswer[]? decided, Encoded[] answers, Encoded?[] overMaxLag)
    {
        Status = status;
        Override = applied;
        UnknownReason = unknownReason;
        Decided = decided;
        _answers = answers;
        _overMaxLag = overMaxLag;
        _lagBytes = status?.LagBytes ?? -1;
        _freshUntil = status is null ? long.MaxValue : long.MinValue;
    }

    /// <summary>The status the answers come from; null when Patroni's state is unknown.</summary>
    public NodeStatus? Status { get; }

    /// <summary>The operator's override applied to the answers; null for none, and always null when Patroni's state is unknown.</summary>
    public OperatorOverride? Override { get; }

    /// <summary>Why Patroni's state is unknown; null when it is known.</summary>
    public string? UnknownReason { get; }

    /// <summary>The decided answer per mode (indexed by <see cref="Mode"/>); null when unknown.</summary>
    public IReadOnlyList<AgentAnswer>? Decided { get; }

    /// <summary>Decides and encodes every mode for <paramref name="status"/>, with <paramref name="applied"/> on every ready answer.</summary>
    public static Snapshot FromStatus(NodeStatus status, OperatorOverride? applied = null)
    {
        var modes = ModeNames.All;
        var decided = new AgentAnswer[modes.Length];
        var answers = new Encoded[modes.Length];
        var overMaxLag = new Encoded?[modes.Length];
        foreach (var mode in modes)
        {
            decided[(int)mode] = OperatorOverride.Apply(AnswerPolicy.Decide(status, mode), applied);
            answers[(int)mode] = Encoded.From(decided[(int)mode]);
            if (AnswerPolicy.DependsOnLag(status, mode))
            {
                overMaxLag[(int)mode] = Encoded.From(OperatorOverride.Apply(AnswerPolicy.Decide(status, mode, (status.LagBytes ?? 0) - 1), applied));
            }
        }
        return new Snapshot(status, applied, null, decided, answers, overMaxLag);
    }

    /// <summary>The answers of the same status with <paramref name="applied"/> instead, fresh until the same time as these.</summary>
    public Snapshot WithOverride(OperatorOverride? applied)
    {
        if (Status is null)
        {
            return this;
        }
        var next = FromStatus(Status, applied);
        next._freshUntil = Volatile.Read(ref _freshUntil);
        return next;
    }

    /// <summary>Every mode answers <paramref name="words"/> with <paramref name="reason"/> (HTTP 503).</summary>
    public static Snapshot Unknown(string words, string reason)
    {
        var line = AnswerLine.Encode(words, reason);
        var answers = new Encoded[ModeNames.All.Length];
        Array.Fill(answers, new Encoded(line, new HttpResponse(HttpResponse.StatusOf(ready: false), line), AnswerKind.Unknown));
        return new Snapshot(null, null, reason, null, answers, new Encoded?[answers.Length]);
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

    /// <summary>
    /// The reply line for a check in <paramref name="mode"/> accepting at most <paramref name="maxLag"/> bytes
    /// of lag (none when negative), and what kind of answer it is, for the check counters.
    /// </summary>
    public byte[] Select(Mode mode, long maxLag, out AnswerKind kind)
    {
        var found = Find(mode, maxLag);
        kind = found.Kind;
        return found.Line;
    }

    /// <summary>The HTTP reply for a check in <paramref name="mode"/>: the reply line as its body, 200 when it is ready, else 503; and what kind of answer it is.</summary>
    public HttpResponse SelectHttp(Mode mode, long maxLag, out AnswerKind kind)
    {
        var found = Find(mode, maxLag);
        kind = found.Kind;
        return found.Http;
    }

    /// <summary>The kind of the answer for <paramref name="mode"/> without max-lag, as the current-answer metric shows it.</summary>
    public AnswerKind KindOf(Mode mode) => _answers[(int)mode].Kind;

    /// <summary>The reply line for <paramref name="mode"/> without max-lag, as text without its newline, for the status page.</summary>
    public string LineOf(Mode mode) => AnswerLine.Text(_answers[(int)mode].Line);

    private Encoded Find(Mode mode, long maxLag)
    {
        if (maxLag >= 0 && _overMaxLag[(int)mode] is { } over && (_lagBytes < 0 || _lagBytes > maxLag))
        {
            return over;
        }
        return _answers[(int)mode];
    }

    /// <summary>One answer as an agent reply line and as an HTTP reply, and its kind.</summary>
    private sealed record Encoded(byte[] Line, HttpResponse Http, AnswerKind Kind)
    {
        public static Encoded From(AgentAnswer answer)
        {
            var line = answer.Encode();
            return new Encoded(line, new HttpResponse(HttpResponse.StatusOf(answer.IsReady), line), AnswerKinds.Of(answer));
        }
    }
}
