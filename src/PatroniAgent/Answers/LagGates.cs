using PatroniAgent.Policy;

namespace PatroniAgent.Answers;

/// <summary>A replica leaving or re-entering the checks with one lag limit, as the watcher logs it.</summary>
public readonly record struct LagTransition(bool Left, long LagBytes, LagGates.Limits Limits);

/// <summary>
/// Hysteresis for checks with a lag limit: a replica leaves at once when its lag passes the limit
/// (or is unknown), and comes back only once its lag has stayed at or below the return limit for the
/// hold time, so a lag that wanders around the limit does not move it in and out of HAProxy. One gate
/// per distinct limit, return limit and hold asked by checks, at most <see cref="Capacity"/>: a gate is
/// made the first time a check asks for it (the one allocation), read by the check path without
/// locks, and moved by the watcher at every poll. Checks beyond the capacity use the bare limit.
/// </summary>
public sealed class LagGates
{
    /// <summary>The most gates kept.</summary>
    public const int Capacity = 32;

    /// <summary>A check's lag limit, the lag at or below which a replica that left may return, and for how long it must stay there.</summary>
    public readonly record struct Limits(long MaxLag, long ReturnLag, long HoldTicks, bool ByReceived);

    private readonly Gate?[] _gates = new Gate?[Capacity];
    private readonly long _ticksPerSecond;

    public LagGates(long ticksPerSecond)
    {
        _ticksPerSecond = ticksPerSecond;
    }

    /// <summary>How long a replica must stay at or below the return limit, when a check does not say.</summary>
    public TimeSpan Hold { get; private set; } = TimeSpan.FromSeconds(10);

    /// <summary>The return limit in percent of the limit, when a check does not say.</summary>
    public int ReturnPercent { get; private set; } = 50;

    /// <summary>Sets the defaults for checks that give no return limit or hold; a change forgets every gate, whose limits came from the old ones.</summary>
    public void Configure(int returnPercent, TimeSpan hold)
    {
        if (returnPercent == ReturnPercent && hold == Hold)
        {
            return;
        }
        ReturnPercent = returnPercent;
        Hold = hold;
        Array.Clear(_gates);
    }

    /// <summary>The limits of a check: its own return limit and hold (negative: the defaults).</summary>
    public Limits For(long maxLag, long returnLag, long holdMilliseconds, bool byReceived) => new(
        maxLag,
        returnLag >= 0 ? Math.Min(returnLag, maxLag) : maxLag / 100 * ReturnPercent + maxLag % 100 * ReturnPercent / 100,
        (holdMilliseconds >= 0 ? holdMilliseconds : (long)Hold.TotalMilliseconds) * _ticksPerSecond / 1000,
        byReceived);

    /// <summary>
    /// Whether a replica with <paramref name="lag"/> (negative: unknown) is within <paramref name="limits"/> at
    /// <paramref name="now"/>: within the limit, and not held out since it last passed it.
    /// </summary>
    public bool IsWithin(in Limits limits, long lag, long now)
    {
        if (lag < 0 || lag > limits.MaxLag)
        {
            return false;
        }
        var gate = Find(limits) ?? Add(limits, lag);
        if (gate is null)
        {
            return true;
        }
        Volatile.Write(ref gate.LastAsked, now);
        if (!gate.Out)
        {
            return true;
        }
        long since = Volatile.Read(ref gate.BelowSince);
        return since != Gate.NotBelow && lag <= limits.ReturnLag && now - since >= limits.HoldTicks;
    }

    /// <summary>How long after its last check a limit's moves are still reported: a limit asked once (a curl) does not log forever.</summary>
    public static readonly TimeSpan Reported = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Moves every gate to the lag of a new poll at <paramref name="now"/> and returns the replicas' moves
    /// out and back in for the limits checks asked within <see cref="Reported"/> (none most of the time,
    /// without allocating).
    /// </summary>
    public IReadOnlyList<LagTransition> Update(long lag, long unreceived, long now)
    {
        List<LagTransition>? moves = null;
        long reportedTicks = (long)(Reported.TotalSeconds * _ticksPerSecond);
        foreach (var gate in _gates)
        {
            if (gate is null)
            {
                break;
            }
            bool reported = now - Volatile.Read(ref gate.LastAsked) <= reportedTicks;
            long measured = gate.Limits.ByReceived ? unreceived : lag;
            if (measured < 0 || measured > gate.Limits.MaxLag)
            {
                Volatile.Write(ref gate.BelowSince, Gate.NotBelow);
                if (!gate.Out)
                {
                    gate.Out = true;
                    if (reported)
                    {
                        (moves ??= []).Add(new LagTransition(true, measured, gate.Limits));
                    }
                }
            }
            else if (gate.Out)
            {
                if (measured > gate.Limits.ReturnLag)
                {
                    Volatile.Write(ref gate.BelowSince, Gate.NotBelow);
                }
                else
                {
                    if (Volatile.Read(ref gate.BelowSince) == Gate.NotBelow)
                    {
                        Volatile.Write(ref gate.BelowSince, now);
                    }
                    if (now - Volatile.Read(ref gate.BelowSince) >= gate.Limits.HoldTicks)
                    {
                        gate.Out = false;
                        Volatile.Write(ref gate.BelowSince, Gate.NotBelow);
                        if (reported)
                        {
                            (moves ??= []).Add(new LagTransition(false, measured, gate.Limits));
                        }
                    }
                }
            }
        }
        return moves ?? (IReadOnlyList<LagTransition>)[];
    }

    /// <summary>How a transition reads in the log, e.g. <c>lag 20 MB over max-lag 16 MB: out until at or below 8 MB for 10s</c>.</summary>
    public string Describe(LagTransition move)
    {
        string measured = move.Limits.ByReceived ? "write lag" : "lag";
        string lag = move.LagBytes < 0 ? "unknown" : AnswerPolicy.FormatBytes(move.LagBytes);
        string hold = $"{(double)move.Limits.HoldTicks / _ticksPerSecond:0.###}s";
        return move.Left
            ? $"{measured} {lag} over max-lag {AnswerPolicy.FormatBytes(move.Limits.MaxLag)}: out of those checks until at or below {AnswerPolicy.FormatBytes(move.Limits.ReturnLag)} for {hold}"
            : $"{measured} {lag}, at or below {AnswerPolicy.FormatBytes(move.Limits.ReturnLag)} for {hold}: back in the checks with max-lag {AnswerPolicy.FormatBytes(move.Limits.MaxLag)}";
    }

    private Gate? Find(in Limits limits)
    {
        foreach (var gate in _gates)
        {
            if (gate is null)
            {
                return null;
            }
            if (gate.Limits == limits)
            {
                return gate;
            }
        }
        return null;
    }

    private Gate? Add(in Limits limits, long lag)
    {
        var made = new Gate(limits) { Out = lag < 0 || lag > limits.MaxLag, LastAsked = long.MinValue / 2 };
        for (int i = 0; i < _gates.Length; i++)
        {
            var found = Interlocked.CompareExchange(ref _gates[i], made, null);
            if (found is null)
            {
                return made;
            }
            if (found.Limits == limits)
            {
                return found;
            }
        }
        return null;
    }

    /// <summary>One limit's state: whether the replica is out, and since when its lag has been at or below the return limit.</summary>
    private sealed class Gate(Limits limits)
    {
        public const long NotBelow = long.MinValue;

        public Limits Limits { get; } = limits;

        public volatile bool Out;

        public long BelowSince = NotBelow;

        public long LastAsked;
    }
}
