using Microsoft.Extensions.Logging;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;

namespace PatroniAgent.Watcher;

/// <summary>
/// After each change of answer, one log line when every checker seen recently has heard it, with the
/// time from the change to the last of them ("primary: ready heard by 3 of 3 checkers in 48 ms"), or,
/// when some have not within <see cref="Checkers.RecentWindow"/>, a warning naming them. It looks at the
/// table every <see cref="Interval"/> while a change is pending, and not at all otherwise.
/// </summary>
public sealed partial class HeardLog : IDisposable
{
    /// <summary>How often a pending change is looked at.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);

    private readonly AnswerBoard _board;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly Lock _lock = new();
    private AnswerChange? _seen;
    private AnswerChange? _pending;

    /// <summary>Logs the changes of <paramref name="board"/>, on its clock: its changes and checkers are stamped with it.</summary>
    public HeardLog(AnswerBoard board, ILogger logger)
    {
        _board = board;
        _logger = logger;
        _time = board.Time;
        _timer = _time.CreateTimer(_ => Look(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Takes note of the board's last change of answer, when it is new, and starts looking.</summary>
    public void Published()
    {
        var change = _board.LastChange;
        lock (_lock)
        {
            if (change is null || ReferenceEquals(change, _seen))
            {
                return;
            }
            _seen = change;
            _pending = change;
        }
        _timer.Change(Interval, Interval);
    }

    /// <summary>Looks once at the pending change: logs and stops when every checker heard it or the window is over.</summary>
    public void Look()
    {
        lock (_lock)
        {
            if (_pending is not { } change)
            {
                return;
            }
            long window = Checkers.Window(_time);
            var hearing = Hearing.Of(_board.Checkers.Snapshot(), change.Snapshot.Generation, change.At, window);
            bool over = _time.GetElapsedTime(change.At) >= Checkers.RecentWindow;
            if (!hearing.Complete && !over)
            {
                return;
            }
            _pending = null;
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            if (hearing.Expected.Count == 0)
            {
                return;
            }
            string what = Describe(change.Snapshot, hearing.Expected);
            if (hearing.Complete)
            {
                double ms = Math.Round(_time.GetElapsedTime(change.At, hearing.LastHeardAt).TotalMilliseconds);
                LogHeard(_logger, what, hearing.Heard.Count, hearing.Expected.Count, ms);
            }
            else
            {
                LogNotHeard(_logger, what, hearing.Heard.Count, hearing.Expected.Count, Checkers.RecentWindow.TotalSeconds,
                    string.Join(' ', hearing.Missing.Select(c => c.Address)));
            }
        }
    }

    /// <summary>The answers the checkers asked for, as "primary: ready, replica: maint".</summary>
    public static string Describe(Snapshot snapshot, IEnumerable<Checker> checkers)
    {
        var modes = checkers.Where(c => c.Mode != CheckCounters.NoMode).Select(c => (Mode)c.Mode).Distinct().Order().ToList();
        return modes.Count == 0
            ? "the answers"
            : string.Join(", ", modes.Select(m => $"{ModeNames.Name(m)}: {AnswerKinds.Name(snapshot.KindOf(m))}"));
    }

    public void Dispose() => _timer.Dispose();

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "{What} heard by {Heard} of {Expected} checkers in {Milliseconds} ms")]
    private static partial void LogHeard(ILogger logger, string what, int heard, int expected, double milliseconds);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "{What} heard by {Heard} of {Expected} checkers within {Seconds} s; not by {Missing}")]
    private static partial void LogNotHeard(ILogger logger, string what, int heard, int expected, double seconds, string missing);
}
