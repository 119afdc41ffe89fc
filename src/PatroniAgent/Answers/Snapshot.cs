using System.Globalization;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Http;
using PatroniAgent.HttpCheck;
using PatroniAgent.Patroni;
using PatroniAgent.Policy;

namespace PatroniAgent.Answers;

/// <summary>
/// Everything the agent answers, for every mode, from one Patroni status (or from its absence),
/// encoded once: the agent reply lines and the HTTP health-check replies. The answers never change:
/// listeners read them without locks while the watcher swaps in the next snapshot. Only the time until
/// which they may be served moves, when a poll confirms them; past it, the same snapshot serves its
/// stale answers (<see cref="AnswerPolicy.WordsWhenUnknown"/>), also encoded once.
/// </summary>
public sealed class Snapshot
{
    private readonly Encoded[] _answers;
    private readonly Encoded?[] _overMaxLag;
    private readonly Encoded[] _stale;
    private readonly Encoded?[] _staleOverMaxLag;
    private readonly long _lagBytes;
    private long _freshUntil;

    private Snapshot(NodeStatus? status, OperatorOverride? applied, string? unknownReason, AgentAnswer[]? decided,
        Encoded[] answers, Encoded?[] overMaxLag, Encoded[] stale, Encoded?[] staleOverMaxLag, long? lagBytes = null)
    {
        Status = status;
        Override = applied;
        UnknownReason = unknownReason;
        Decided = decided;
        _answers = answers;
        _overMaxLag = overMaxLag;
        _stale = stale;
        _staleOverMaxLag = staleOverMaxLag;
        _lagBytes = lagBytes ?? status?.LagBytes ?? -1;
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

    /// <summary>
    /// Decides and encodes every mode for <paramref name="status"/>, with <paramref name="applied"/> on every
    /// ready answer, and what each mode answers once the snapshot is stale (<paramref name="unknown"/>'s words
    /// where the mode was ready, maint where it was maint).
    /// </summary>
    public static Snapshot FromStatus(NodeStatus status, UnknownAnswer unknown, OperatorOverride? applied = null)
    {
        var modes = ModeNames.All;
        var decided = new AgentAnswer[modes.Length];
        var answers = new Encoded[modes.Length];
        var overMaxLag = new Encoded?[modes.Length];
        var stale = new Encoded[modes.Length];
        var staleOverMaxLag = new Encoded?[modes.Length];
        foreach (var mode in modes)
        {
            decided[(int)mode] = OperatorOverride.Apply(AnswerPolicy.Decide(status, mode), applied);
            answers[(int)mode] = Encoded.From(decided[(int)mode]);
            stale[(int)mode] = Encoded.Unknown(unknown, unknown.StaleReason, decided[(int)mode]);
            if (AnswerPolicy.DependsOnLag(status, mode))
            {
                var over = OperatorOverride.Apply(AnswerPolicy.Decide(status, mode, (status.LagBytes ?? 0) - 1), applied);
                overMaxLag[(int)mode] = Encoded.From(over);
                staleOverMaxLag[(int)mode] = Encoded.Unknown(unknown, unknown.StaleReason, over);
            }
        }
        return new Snapshot(status, applied, null, decided, answers, overMaxLag, stale, staleOverMaxLag);
    }

    /// <summary>
    /// The answers of the same status with <paramref name="applied"/> and <paramref name="unknown"/> instead,
    /// fresh until the same time as these.
    /// </summary>
    public Snapshot With(OperatorOverride? applied, UnknownAnswer unknown)
    {
        if (Status is null)
        {
            return this;
        }
        var next = FromStatus(Status, unknown, applied);
        next._freshUntil = Volatile.Read(ref _freshUntil);
        return next;
    }

    /// <summary>
    /// The answers while Patroni's state is unknown, with <paramref name="reason"/> (HTTP 503): per mode as
    /// <paramref name="last"/>'s stale answers, from the last known status; <paramref name="unknown"/>'s words in
    /// every mode when there is none.
    /// </summary>
    public static Snapshot Unknown(UnknownAnswer unknown, string reason, Snapshot? last = null)
    {
        var answers = new Encoded[ModeNames.All.Length];
        var overMaxLag = new Encoded?[answers.Length];
        foreach (var mode in ModeNames.All)
        {
            answers[(int)mode] = Encoded.Unknown(unknown, reason, last?._answers[(int)mode].Answer);
            if (last?._overMaxLag[(int)mode] is { Answer: { } over })
            {
                overMaxLag[(int)mode] = Encoded.Unknown(unknown, reason, over);
            }
        }
        return new Snapshot(null, null, reason, null, answers, overMaxLag, answers, overMaxLag, last?._lagBytes);
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
    /// <remarks>A <paramref name="stale"/> snapshot answers its stale answers, of kind <see cref="AnswerKind.Unknown"/>.</remarks>
    public byte[] Select(Mode mode, long maxLag, out AnswerKind kind, bool stale = false)
    {
        var found = Find(mode, maxLag, stale);
        kind = found.Kind;
        return found.Line;
    }

    /// <summary>The HTTP reply for a check in <paramref name="mode"/>: the reply line as its body, 200 when it is ready, else 503; and what kind of answer it is.</summary>
    public HttpReply SelectHttp(Mode mode, long maxLag, out AnswerKind kind, bool stale = false)
    {
        var found = Find(mode, maxLag, stale);
        kind = found.Kind;
        return found.Http;
    }

    /// <summary>The kind of the answer for <paramref name="mode"/> without max-lag, as the current-answer metric shows it.</summary>
    public AnswerKind KindOf(Mode mode, bool stale = false) => Find(mode, -1, stale).Kind;

    /// <summary>The reply line for <paramref name="mode"/> without max-lag, as text without its newline, for the status page.</summary>
    public string LineOf(Mode mode, bool stale = false) => AnswerLine.Text(Find(mode, -1, stale).Line);

    private Encoded Find(Mode mode, long maxLag, bool stale)
    {
        if (maxLag >= 0 && (stale ? _staleOverMaxLag : _overMaxLag)[(int)mode] is { } over && (_lagBytes < 0 || _lagBytes > maxLag))
        {
            return over;
        }
        return (stale ? _stale : _answers)[(int)mode];
    }

    /// <summary>One answer as an agent reply line and as an HTTP reply, its kind, and the decided answer it encodes (none for an unknown answer).</summary>
    private sealed record Encoded(byte[] Line, HttpReply Http, AnswerKind Kind, AgentAnswer? Answer)
    {
        public static Encoded From(AgentAnswer answer)
        {
            var line = answer.Encode();
            return new Encoded(line, HttpCheckReply.Answer(line, answer.IsReady), AnswerKinds.Of(answer), answer);
        }

        /// <summary>The unknown answer of a mode whose last decided answer was <paramref name="last"/> (none: never known).</summary>
        public static Encoded Unknown(UnknownAnswer unknown, string reason, AgentAnswer? last)
        {
            var line = AnswerLine.Encode(AnswerPolicy.WordsWhenUnknown(last, unknown.Words), last is { } was ? $"{reason}; was: {was.Reason}" : reason);
            return new Encoded(line, HttpCheckReply.Answer(line, ready: false), AnswerKind.Unknown, null);
        }
    }
}

/// <summary>
/// The configured unknown answer (<c>unknown-answer</c>, never ready) and the reason a snapshot gives once
/// it is stale.
/// </summary>
public sealed record UnknownAnswer(string Words, string StaleReason)
{
    /// <summary>The agent's defaults: <c>down</c>, stale after 3 s.</summary>
    public static readonly UnknownAnswer Default = For("down", TimeSpan.FromSeconds(3));

    public static UnknownAnswer For(string words, TimeSpan staleAfter) =>
        new(words, string.Create(CultureInfo.InvariantCulture, $"no answer from patroni for {staleAfter.TotalSeconds:0.###}s"));
}
