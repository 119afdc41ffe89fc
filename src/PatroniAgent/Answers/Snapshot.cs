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
    private readonly ModeAnswers[] _modes;
    private long _freshUntil;

    private Snapshot(NodeStatus? status, OperatorOverride? applied, string? unknownReason, ModeAnswers[] modes)
    {
        Status = status;
        Override = applied;
        UnknownReason = unknownReason;
        _modes = modes;
        _freshUntil = status is null ? long.MaxValue : long.MinValue;
    }

    /// <summary>The board's generation this snapshot was served as (<see cref="AnswerBoard.Generation"/>); 0 before it is served.</summary>
    public long Generation { get; internal set; }

    /// <summary>The status the answers come from; null when Patroni's state is unknown.</summary>
    public NodeStatus? Status { get; }

    /// <summary>The operator's override applied to the answers; null for none, and always null when Patroni's state is unknown.</summary>
    public OperatorOverride? Override { get; }

    /// <summary>Why Patroni's state is unknown; null when it is known.</summary>
    public string? UnknownReason { get; }

    /// <summary>The decided answer per mode (indexed by <see cref="Mode"/>) for a check without a lag of its own; null when unknown.</summary>
    public IReadOnlyList<AgentAnswer>? Decided => Status is null ? null : [.. _modes.Select(m => m.Normal.Fresh.Answer!.Value)];

    /// <summary>
    /// Decides and encodes every mode for <paramref name="status"/>, with <paramref name="applied"/> on every
    /// ready answer, and what each mode answers once the snapshot is stale (<paramref name="unknown"/>'s words
    /// where the mode was ready, maint where it was maint).
    /// </summary>
    public static Snapshot FromStatus(NodeStatus status, UnknownAnswer unknown, OperatorOverride? applied = null)
    {
        var encoded = new Dictionary<AgentAnswer, Choice>();
        Choice Encode(AgentAnswer decided)
        {
            var answer = OperatorOverride.Apply(decided, applied);
            if (!encoded.TryGetValue(answer, out var choice))
            {
                choice = new Choice(Encoded.From(answer), Encoded.Unknown(unknown, unknown.StaleReason, answer));
                encoded[answer] = choice;
            }
            return choice;
        }
        var modes = new ModeAnswers[ModeNames.All.Length];
        foreach (var mode in ModeNames.All)
        {
            var within = AnswerPolicy.Decide(status, mode, status.LagBytes ?? 0);
            var over = AnswerPolicy.Decide(status, mode, status.LagBytes is { } lag ? lag - 1 : 0);
            modes[(int)mode] = new ModeAnswers(
                Encode(AnswerPolicy.Decide(status, mode)),
                Encode(within),
                Encode(over),
                Encode(AnswerPolicy.Decide(status, mode, byReceived: true)),
                Encode(AnswerPolicy.Decide(status, mode, status.UnreceivedBytes ?? 0, byReceived: true)),
                Encode(AnswerPolicy.Decide(status, mode, status.UnreceivedBytes is { } unreceived ? unreceived - 1 : 0, byReceived: true)),
                Encode(AnswerPolicy.Unmatched(status, "matching the check's filters")),
                Encode(over.IsReady ? within : AnswerPolicy.HeldOut(within)),
                within.IsReady ? [.. Enumerable.Range(1, WeightSteps).Select(step => Encode(within with { WeightPercent = 100 * step / WeightSteps }))] : null,
                status.LagBytes ?? -1,
                status.UnreceivedBytes ?? -1);
        }
        return new Snapshot(status, applied, null, modes);
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
        var encoded = new Dictionary<AgentAnswer, Choice>();
        var never = Choice.Both(Encoded.Unknown(unknown, reason, null));
        Choice Encode(Choice? was)
        {
            if (was?.Fresh.Answer is not { } answer)
            {
                return never;
            }
            if (!encoded.TryGetValue(answer, out var choice))
            {
                choice = Choice.Both(Encoded.Unknown(unknown, reason, answer));
                encoded[answer] = choice;
            }
            return choice;
        }
        var modes = new ModeAnswers[ModeNames.All.Length];
        foreach (var mode in ModeNames.All)
        {
            var was = last?._modes[(int)mode];
            modes[(int)mode] = new ModeAnswers(
                Encode(was?.Normal), Encode(was?.Within), Encode(was?.Over),
                Encode(was?.NormalByReceived), Encode(was?.WithinByReceived), Encode(was?.OverByReceived),
                Encode(was?.Unmatched), Encode(was?.Held), was?.Weighted?.Select(w => Encode(w)).ToArray(),
                was?.LagBytes ?? -1, was?.UnreceivedBytes ?? -1);
        }
        return new Snapshot(null, null, reason, modes);
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
    /// of lag (none when negative: the mode's own limit), and what kind of answer it is, for the check counters.
    /// </summary>
    /// <remarks>A <paramref name="stale"/> snapshot answers its stale answers, of kind <see cref="AnswerKind.Unknown"/>.</remarks>
    public byte[] Select(Mode mode, long maxLag, out AnswerKind kind, bool stale = false, bool byReceived = false)
    {
        var found = Find(mode, maxLag, byReceived, stale);
        kind = found.Kind;
        return found.Line;
    }

    /// <summary>The HTTP reply for a check in <paramref name="mode"/>: the reply line as its body, 200 when it is ready, else 503; and what kind of answer it is.</summary>
    public HttpReply SelectHttp(Mode mode, long maxLag, out AnswerKind kind, bool stale = false, bool byReceived = false)
    {
        var found = Find(mode, maxLag, byReceived, stale);
        kind = found.Kind;
        return found.Http;
    }

    /// <summary>The answer of a check in <paramref name="mode"/> whose filters this node does not match: its reply line, HTTP reply and kind.</summary>
    public (byte[] Line, HttpReply Http, AnswerKind Kind) SelectUnmatched(Mode mode, bool stale = false)
    {
        var found = stale ? _modes[(int)mode].Unmatched.Stale : _modes[(int)mode].Unmatched.Fresh;
        return (found.Line, found.Http, found.Kind);
    }

    /// <summary>The kind of the answer for <paramref name="mode"/> without max-lag, as the current-answer metric shows it.</summary>
    public AnswerKind KindOf(Mode mode, bool stale = false) => Find(mode, -1, false, stale).Kind;

    /// <summary>The reply line for <paramref name="mode"/> without max-lag, as text without its newline, for the status page.</summary>
    public string LineOf(Mode mode, bool stale = false) => AnswerLine.Text(Find(mode, -1, false, stale).Line);

    private Encoded Find(Mode mode, long maxLag, bool byReceived, bool stale)
    {
        var answers = _modes[(int)mode];
        long lag = byReceived ? answers.UnreceivedBytes : answers.LagBytes;
        var choice = maxLag < 0 ? LagChoice.None : lag >= 0 && lag <= maxLag ? LagChoice.Within : LagChoice.Over;
        return Find(mode, choice, byReceived, stale);
    }

    private Encoded Find(Mode mode, LagChoice lag, bool byReceived, bool stale)
    {
        var answers = _modes[(int)mode];
        var choice = lag switch
        {
            LagChoice.None => byReceived ? answers.NormalByReceived : answers.Normal,
            LagChoice.Within => byReceived ? answers.WithinByReceived : answers.Within,
            LagChoice.Over => byReceived ? answers.OverByReceived : answers.Over,
            _ => answers.Held,
        };
        return stale ? choice.Stale : choice.Fresh;
    }

    /// <summary>How many weights <see cref="SelectChosen"/> offers: 10%, 20%... 100%.</summary>
    public const int WeightSteps = 10;

    /// <summary>The replica's lag the answers were decided with, by the WAL replayed or received; negative when unknown.</summary>
    public long LagOf(bool byReceived) => byReceived ? _modes[0].UnreceivedBytes : _modes[0].LagBytes;

    /// <summary>
    /// The answer of a check in <paramref name="mode"/> whose lag was judged <paramref name="lag"/> by the
    /// board (with its hysteresis), with the weight step <paramref name="weightStep"/> (1..<see cref="WeightSteps"/>;
    /// 0: none) where the answer within the lag is ready: its reply line, HTTP reply and kind.
    /// </summary>
    public (byte[] Line, HttpReply Http, AnswerKind Kind) SelectChosen(Mode mode, LagChoice lag, bool byReceived, bool stale, int weightStep = 0)
    {
        var found = Find(mode, lag, byReceived, stale);
        if (weightStep > 0 && lag == LagChoice.Within && !byReceived && _modes[(int)mode].Weighted is { } weighted)
        {
            found = stale ? weighted[weightStep - 1].Stale : weighted[weightStep - 1].Fresh;
        }
        return (found.Line, found.Http, found.Kind);
    }

    /// <summary>One answer as served fresh and once stale.</summary>
    private sealed record Choice(Encoded Fresh, Encoded Stale)
    {
        public static Choice Both(Encoded answer) => new(answer, answer);
    }

    /// <summary>
    /// A mode's answers: for a check without a lag of its own, within its lag, over it; the same with the
    /// lag measured by the WAL received; for a check whose filters the node does not match; for a replica
    /// held out after passing the limit; and within the lag with each weight of <see cref="WeightSteps"/>
    /// (null where the answer within the lag is not ready). The lags are those the answers were decided
    /// with (negative: unknown).
    /// </summary>
    private sealed record ModeAnswers(
        Choice Normal, Choice Within, Choice Over,
        Choice NormalByReceived, Choice WithinByReceived, Choice OverByReceived,
        Choice Unmatched, Choice Held, Choice[]? Weighted, long LagBytes, long UnreceivedBytes);

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

/// <summary>How a check's lag limit was judged: none given, within it, over it, or held out after passing it.</summary>
public enum LagChoice
{
    None,
    Within,
    Over,
    HeldOut,
}
