using PatroniAgent.AgentProtocol;
using PatroniAgent.Http;
using PatroniAgent.HttpCheck;
using PatroniAgent.Server;

namespace PatroniAgent.Answers;

/// <summary>
/// The current answers, shared by all listeners. The watcher publishes snapshots with one reference
/// swap; a check reads the reference, parses its agent-send line or HTTP request and gets a
/// pre-encoded reply. A snapshot's answers are not served past stale-after: checks then get its stale
/// answers, never ready (HTTP 503).
/// </summary>
public sealed class AnswerBoard
{
    private static readonly byte[][] ErrorAnswers = BuildErrorAnswers();
    private static readonly HttpReply[] HttpErrorResponses = BuildHttpErrorResponses();

    private readonly TimeProvider _time;
    /// <summary>Stale-after in timestamp units, computed in integers: through seconds as a double it came out one unit short for some values (43 ms, 1001 ms).</summary>
    private long _staleAfterTicks;
    private readonly long[] _transitions = new long[ModeNames.All.Length];
    private volatile Snapshot _current;
    private long _generation;

    public AnswerBoard(string unknownWords, TimeSpan staleAfter, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        Gates = new LagGates(_time.TimestampFrequency);
        Checkers = new Checkers();
        Reconfigure(unknownWords, staleAfter);
        _current = Snapshot.Unknown(Unknown, "waiting for the first answer from patroni");
    }

    /// <summary>The words answered while Patroni's state is unknown, and the reason given when answers go stale.</summary>
    public UnknownAnswer Unknown { get; private set; } = UnknownAnswer.Default;

    /// <summary>
    /// Takes new unknown-answer words and stale-after (a reload): the next snapshot published is fresh for
    /// the new time and goes stale to the new words. Called by the watcher, the only one that publishes.
    /// </summary>
    public void Reconfigure(string unknownWords, TimeSpan staleAfter)
    {
        _staleAfterTicks = (long)((Int128)staleAfter.Ticks * _time.TimestampFrequency / TimeSpan.TicksPerSecond);
        Unknown = UnknownAnswer.For(unknownWords, staleAfter);
    }

    /// <summary>Every check answered, by protocol, mode and answer kind.</summary>
    public CheckCounters Checks { get; } = new();

    /// <summary>The hysteresis of the checks with a lag limit.</summary>
    public LagGates Gates { get; }

    /// <summary>How often the answer of <paramref name="mode"/> (without max-lag) changed kind, e.g. from ready to maint.</summary>
    public long Transitions(Mode mode) => Volatile.Read(ref _transitions[(int)mode]);

    /// <summary>The snapshot checks are answered from.</summary>
    public Snapshot Current => _current;

    /// <summary>
    /// The published answers' generation: it grows by one each time a new snapshot is served (a new status,
    /// override or unknown answer), not when the current one is only confirmed fresh. A check answered from a
    /// generation carries everything published up to it.
    /// </summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>The clock of every timestamp the board and its checkers keep.</summary>
    public TimeProvider Time => _time;

    /// <summary>Who checks, and which generation of the answers each has heard.</summary>
    public Checkers Checkers { get; }

    /// <summary>Whether <see cref="Current"/> is past its stale-after bound.</summary>
    public bool IsStale => _current.IsStaleAt(_time.GetTimestamp());

    /// <summary>What a check in <paramref name="mode"/> (without max-lag) is answered now, as text, and its kind.</summary>
    public (string Line, AnswerKind Kind) CurrentAnswer(Mode mode)
    {
        var snapshot = _current;
        bool stale = snapshot.IsStaleAt(_time.GetTimestamp());
        return (snapshot.LineOf(mode, stale), snapshot.KindOf(mode, stale));
    }

    /// <summary>
    /// Serves <paramref name="snapshot"/> (new, or the current one confirmed), fresh for stale-after from
    /// <paramref name="polledAt"/> (default now), the timestamp at which the poll it comes from was sent:
    /// Patroni's answer describes a moment after that, however long it took to arrive. Moves the lag
    /// gates to its lag and returns the replica's moves out of and back into checks with a lag limit.
    /// </summary>
    public IReadOnlyList<LagTransition> PublishFresh(Snapshot snapshot, long? polledAt = null)
    {
        long at = polledAt ?? _time.GetTimestamp();
        snapshot.KeepFreshUntil(at + _staleAfterTicks);
        var moves = Gates.Update(snapshot.LagOf(byReceived: false), snapshot.LagOf(byReceived: true), at);
        Serve(snapshot);
        return moves;
    }

    /// <summary>Serves <paramref name="snapshot"/> with the freshness it carries, e.g. the same status under a new override.</summary>
    public void Republish(Snapshot snapshot) => Serve(snapshot);

    /// <summary>Serves the unknown answers of <paramref name="snapshot"/>, which do not age.</summary>
    public void PublishUnknown(Snapshot snapshot) => Serve(snapshot);

    private void Serve(Snapshot snapshot)
    {
        var served = _current;
        if (ReferenceEquals(served, snapshot))
        {
            return;
        }
        bool changed = CountTransitions(served, snapshot);
        snapshot.Generation = Interlocked.Increment(ref _generation);
        _current = snapshot;
        if (changed)
        {
            LastChange = new AnswerChange(snapshot, _time.GetTimestamp());
        }
    }

    /// <summary>The last publication that changed a mode's answer kind: the snapshot served and when; null before the first.</summary>
    public AnswerChange? LastChange { get; private set; }

    /// <summary>
    /// Counts, per mode, a change of answer kind between the snapshot served and the next; true when one
    /// changed. Only the watcher publishes, so no two calls race.
    /// </summary>
    private bool CountTransitions(Snapshot served, Snapshot next)
    {
        bool changed = false;
        foreach (var mode in ModeNames.All)
        {
            if (served.KindOf(mode) != next.KindOf(mode))
            {
                Interlocked.Increment(ref _transitions[(int)mode]);
                changed = true;
            }
        }
        return changed;
    }

    /// <summary>
    /// The reply to a check from <paramref name="peer"/> on a listener whose check is <paramref name="defaults"/>
    /// (its mode and lag parameters).
    /// </summary>
    public ReadOnlySpan<byte> Answer(in AgentRequest defaults, ReadOnlySpan<byte> received, in PeerAddress peer = default)
    {
        var request = AgentSendParser.Parse(received, defaults);
        var snapshot = _current;
        long now = _time.GetTimestamp();
        if (request.Error != AgentRequestError.None)
        {
            Count(peer, CheckProtocol.Agent, CheckCounters.NoMode, AnswerKind.Error, snapshot, now);
            return ErrorAnswers[(int)request.Error];
        }
        bool stale = snapshot.IsStaleAt(now);
        var (line, _, kind) = Choose(snapshot, request.Mode, request.MaxLag, request.ReturnLag, request.HoldMilliseconds, request.ByReceived, request.Weighted, stale, now);
        if (IsFilteredOut(snapshot, request.Mode, kind, received[request.Filters], query: false))
        {
            (line, _, kind) = snapshot.SelectUnmatched(request.Mode, stale);
        }
        Count(peer, CheckProtocol.Agent, (int)request.Mode, kind, snapshot, now);
        return line;
    }

    /// <summary>The reply to an HTTP health check from <paramref name="peer"/>; for HEAD, only the head of the reply.</summary>
    public ReadOnlySpan<byte> AnswerHttp(ReadOnlySpan<byte> received, in PeerAddress peer = default)
    {
        var request = HttpCheckParser.Parse(received);
        var snapshot = _current;
        long now = _time.GetTimestamp();
        if (request.Error != HttpCheckError.None)
        {
            Count(peer, CheckProtocol.Http, CheckCounters.NoMode, AnswerKind.Error, snapshot, now);
            return HttpErrorResponses[(int)request.Error].For(request.Method);
        }
        bool stale = snapshot.IsStaleAt(now);
        var (_, response, kind) = Choose(snapshot, request.Mode, request.MaxLag, request.ReturnLag, request.HoldMilliseconds, request.ByReceived, weighted: false, stale, now);
        if (IsFilteredOut(snapshot, request.Mode, kind, received[request.Filters], query: true))
        {
            (_, response, kind) = snapshot.SelectUnmatched(request.Mode, stale);
        }
        Count(peer, CheckProtocol.Http, (int)request.Mode, kind, snapshot, now);
        return response.For(request.Method);
    }

    private void Count(in PeerAddress peer, CheckProtocol protocol, int mode, AnswerKind kind, Snapshot snapshot, long now)
    {
        Checks.Count(protocol, mode, kind);
        Checkers.Record(peer, mode, kind, snapshot.Generation, now);
    }

    /// <summary>
    /// The answer of a check: without a lag limit the mode's own; with one, within it, over it, or held out
    /// by <see cref="LagGates"/> after passing it; within it and <paramref name="weighted"/>, with a weight
    /// that falls from 100% at no lag to 10% at the limit.
    /// </summary>
    private (byte[] Line, HttpReply Http, AnswerKind Kind) Choose(
        Snapshot snapshot, Mode mode, long maxLag, long returnLag, long hold, bool byReceived, bool weighted, bool stale, long now)
    {
        if (maxLag < 0)
        {
            return snapshot.SelectChosen(mode, LagChoice.None, byReceived, stale);
        }
        long lag = snapshot.LagOf(byReceived);
        var limits = Gates.For(maxLag, returnLag, hold, byReceived);
        var choice = Gates.IsWithin(limits, lag, now) ? LagChoice.Within : lag >= 0 && lag <= maxLag ? LagChoice.HeldOut : LagChoice.Over;
        int step = weighted && choice == LagChoice.Within ? WeightStep(lag, maxLag) : 0;
        return snapshot.SelectChosen(mode, choice, byReceived, stale, step);
    }

    /// <summary>The weight step of a lag within <paramref name="maxLag"/>: 10 (100%) at no lag, down to 1 (10%) at the limit.</summary>
    private static int WeightStep(long lag, long maxLag) =>
        maxLag == 0 ? Snapshot.WeightSteps : Snapshot.WeightSteps - (int)Math.Floor((Snapshot.WeightSteps - 1) * ((double)lag / maxLag));

    /// <summary>Whether an answer that would take traffic is turned away by filters the node does not pass.</summary>
    private static bool IsFilteredOut(Snapshot snapshot, Mode mode, AnswerKind kind, ReadOnlySpan<byte> filters, bool query) =>
        !filters.IsEmpty && kind is AnswerKind.Ready or AnswerKind.Drain && snapshot.Status is { } status
        && !CheckFilters.Pass(filters, query, status, mode);

    /// <summary>The answers of an agent-check listener whose check is <paramref name="defaults"/>.</summary>
    public IAnswerSource For(AgentRequest defaults) => new ListenerAnswers(this, defaults);

    /// <summary>The answers of an HTTP health-check listener.</summary>
    public IAnswerSource ForHttp() => new HttpAnswers(this);

    private static byte[][] BuildErrorAnswers()
    {
        var errors = Enum.GetValues<AgentRequestError>();
        var answers = new byte[errors.Length][];
        foreach (var error in errors)
        {
            if (error != AgentRequestError.None)
            {
                answers[(int)error] = AgentAnswer.Down(AgentSendParser.ErrorReason(error)).Encode();
            }
        }
        return answers;
    }

    private static HttpReply[] BuildHttpErrorResponses()
    {
        var errors = Enum.GetValues<HttpCheckError>();
        var responses = new HttpReply[errors.Length];
        foreach (var error in errors)
        {
            if (error != HttpCheckError.None)
            {
                var line = AgentAnswer.Down(HttpCheckParser.ErrorReason(error)).Encode();
                responses[(int)error] = HttpCheckReply.Error(error, line);
            }
        }
        return responses;
    }

    private sealed class ListenerAnswers(AnswerBoard board, AgentRequest defaults) : IAnswerSource
    {
        /// <summary>A field, not the captured parameter: the span returned must not be able to refer to what is passed by <c>in</c>.</summary>
        private readonly AgentRequest _defaults = defaults;

        public int MaxRequestLength => AgentSendParser.MaxLineLength;
        public bool IsComplete(ReadOnlySpan<byte> received) => AgentSendParser.IsComplete(received);
        public ReadOnlySpan<byte> Answer(ReadOnlySpan<byte> received, in PeerAddress peer) => board.Answer(_defaults, received, peer);
    }

    private sealed class HttpAnswers(AnswerBoard board) : IAnswerSource
    {
        public int MaxRequestLength => HttpCheckParser.MaxRequestLength;
        public bool IsComplete(ReadOnlySpan<byte> received) => HttpRequestHead.IsComplete(received);
        public ReadOnlySpan<byte> Answer(ReadOnlySpan<byte> received, in PeerAddress peer) => board.AnswerHttp(received, peer);
    }
}

/// <summary>A publication that changed an answer kind: the snapshot served and the timestamp it was served at.</summary>
public sealed record AnswerChange(Snapshot Snapshot, long At);
