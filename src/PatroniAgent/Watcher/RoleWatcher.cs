using Microsoft.Extensions.Logging;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Patroni;
using PatroniAgent.Policy;

namespace PatroniAgent.Watcher;

/// <summary>
/// Polls Patroni in the background and keeps the <see cref="AnswerBoard"/> current: a new snapshot
/// when the status changes, a refreshed one when it does not, and the unknown answers once no poll
/// has succeeded for stale-after. Freshness counts from when a poll was sent, so a slow answer is
/// never taken for a newer one. Logs one line per change, nothing per poll.
/// </summary>
public sealed partial class RoleWatcher
{
    /// <summary>How often the watcher polls during a role change, when its poll interval is longer.</summary>
    public static readonly TimeSpan RoleChangeInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// How long a role change lasts for the watcher. Patroni runs on_role_change right after asking
    /// PostgreSQL to promote, before recovery has ended, and after starting a demoted primary as a replica,
    /// before it accepts connections: the poll at the notice alone often sees the state before the change.
    /// </summary>
    public static readonly TimeSpan RoleChangeWindow = TimeSpan.FromSeconds(5);

    private readonly AnswerBoard _board;
    private IPatroniPoller _poller;
    private TimeSpan _interval;
    private TimeSpan _staleAfter;
    private Settings? _reconfigured;
    private bool _redecide;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private long _lastSuccess;
    private Snapshot? _lastKnown;
    private string? _lastError;
    private volatile OperatorOverride? _override;
    private readonly AutoResetEvent _pollRequested = new(false);
    private long _roleChangeEnds = long.MinValue;

    public RoleWatcher(IPatroniPoller poller, AnswerBoard board, TimeSpan interval, TimeSpan staleAfter, ILogger logger, TimeProvider? time = null)
    {
        _poller = poller;
        _board = board;
        _interval = interval;
        _staleAfter = staleAfter;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _lastSuccess = _time.GetTimestamp();
        Polls = new PollMetrics(_time);
        Heard = new HeardLog(board, logger);
    }

    /// <summary>What the polls did, for the metrics and the status page.</summary>
    public PollMetrics Polls { get; }

    /// <summary>The answers this watcher publishes.</summary>
    public AnswerBoard Board => _board;

    /// <summary>The log line, after each change of answer, of when the checkers heard it.</summary>
    public HeardLog Heard { get; }

    /// <summary>
    /// Polls on the calling thread until <paramref name="cancellationToken"/> is cancelled: a thread of
    /// the watcher's own, which sleeps between polls and waits in each for Patroni's answer.
    /// </summary>
    public void Run(CancellationToken cancellationToken)
    {
        WaitHandle[] wakes = [_pollRequested, cancellationToken.WaitHandle];
        while (!cancellationToken.IsCancellationRequested)
        {
            long started = _time.GetTimestamp();
            _pollRequested.Reset();
            try
            {
                PollOnce(cancellationToken);
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                // Stopping: a poll cut short may fail in any way, and nothing waits for its result.
                return;
            }
            var wait = CurrentInterval - _time.GetElapsedTime(started);
            if (wait > TimeSpan.Zero)
            {
                WaitHandle.WaitAny(wakes, wait);
            }
        }
    }

    /// <summary>
    /// Cuts the wait for the next poll short (a new override, a role change): the poll starts at once, or
    /// right after the one under way ends.
    /// </summary>
    public void PollNow() => _pollRequested.Set();

    /// <summary>
    /// A role change is under way (<c>patroni-agent notify</c> from Patroni's on_role_change): polls at once,
    /// then every <see cref="RoleChangeInterval"/> for <see cref="RoleChangeWindow"/>.
    /// </summary>
    public void RoleChanging()
    {
        long ends = _time.GetTimestamp() + (long)(RoleChangeWindow.TotalSeconds * _time.TimestampFrequency);
        Interlocked.Exchange(ref _roleChangeEnds, ends);
        PollNow();
    }

    /// <summary>The wait from the start of one poll to the start of the next, now.</summary>
    public TimeSpan CurrentInterval
    {
        get
        {
            TimeSpan interval = Volatile.Read(ref _reconfigured)?.Interval ?? _interval;
            return _time.GetTimestamp() < Interlocked.Read(ref _roleChangeEnds) && interval > RoleChangeInterval ? RoleChangeInterval : interval;
        }
    }

    /// <summary>What a reload may change in the watcher.</summary>
    private sealed record Settings(IPatroniPoller Poller, TimeSpan Interval, TimeSpan StaleAfter, string UnknownWords);

    /// <summary>
    /// Takes new settings (a reload): the next poll, which starts at once, asks <paramref name="poller"/>,
    /// and its answers are decided again with the new unknown-answer words and stale-after.
    /// </summary>
    public void Reconfigure(IPatroniPoller poller, TimeSpan interval, TimeSpan staleAfter, string unknownWords)
    {
        Volatile.Write(ref _reconfigured, new Settings(poller, interval, staleAfter, unknownWords));
        PollNow();
    }

    /// <summary>Applies the settings of <see cref="Reconfigure"/>, on the watcher's thread, before a poll.</summary>
    private void ApplyReconfiguration()
    {
        if (Interlocked.Exchange(ref _reconfigured, null) is not { } settings)
        {
            return;
        }
        _poller = settings.Poller;
        _interval = settings.Interval;
        _staleAfter = settings.StaleAfter;
        _board.Reconfigure(settings.UnknownWords, settings.StaleAfter);
        _redecide = true;
    }

    /// <summary>The operator's override now applied; null for none.</summary>
    public OperatorOverride? Override => _override;

    /// <summary>
    /// Sets or clears (null) the operator's override. It reaches the answers with the next poll, which
    /// starts at once: the watcher is the only one that publishes snapshots.
    /// </summary>
    public void SetOverride(OperatorOverride? applied)
    {
        _override = applied;
        PollNow();
    }

    /// <summary>Polls once and publishes what follows from it; true when Patroni answered usably.</summary>
    public bool PollOnce(CancellationToken cancellationToken)
    {
        ApplyReconfiguration();
        long started = _time.GetTimestamp();
        var result = _poller.Poll(cancellationToken);
        Polls.Record(started, result);
        bool good = result.Status is not null;
        if (result.Status is { } status)
        {
            OnStatus(status, started);
        }
        else
        {
            OnFailure(result.Error ?? "patroni poll failed");
        }
        Heard.Published();
        return good;
    }

    private void OnStatus(NodeStatus status, long polledAt)
    {
        _lastSuccess = polledAt;
        if (_lastError is not null)
        {
            LogReachable(_logger, _lastError);
            _lastError = null;
        }
        var current = _board.Current;
        var applied = _override;
        if (!_redecide && status.Equals(current.Status) && Equals(applied, current.Override))
        {
            LogLagMoves(_board.PublishFresh(current, polledAt));
            return;
        }
        _redecide = false;
        var next = Snapshot.FromStatus(status, _board.Unknown, applied);
        string summary = Summary(next);
        if (current.Status is null || Summary(current) != summary)
        {
            LogStatus(_logger, summary);
        }
        _lastKnown = next;
        LogLagMoves(_board.PublishFresh(next, polledAt));
    }

    private void LogLagMoves(IReadOnlyList<LagTransition> moves)
    {
        foreach (var move in moves)
        {
            LogLagMove(_logger, _board.Gates.Describe(move));
        }
    }

    private void OnFailure(string error)
    {
        if (_lastError != error)
        {
            LogPollFailed(_logger, error);
            _lastError = error;
        }
        var current = _board.Current;
        var applied = _override;
        bool redecide = _redecide;
        _redecide = false;
        if (current.Status is not null && (redecide || !Equals(applied, current.Override)))
        {
            _lastKnown = current.With(applied, _board.Unknown);
            _board.Republish(_lastKnown);
        }
        if (_time.GetElapsedTime(_lastSuccess) < _staleAfter || (_board.Current.UnknownReason == error && !redecide))
        {
            return;
        }
        LogUnknown(_logger, _board.Unknown.Words, error);
        _board.PublishUnknown(Snapshot.Unknown(_board.Unknown, error, _lastKnown));
    }

    /// <summary>What a change is logged as: role, state and the modes that answer ready.</summary>
    public static string Summary(Snapshot snapshot)
    {
        if (snapshot.Status is not { } status || snapshot.Decided is not { } decided)
        {
            return $"unknown: {snapshot.UnknownReason}";
        }
        var ready = ModeNames.All.Where(m => decided[(int)m].IsReady).Select(ModeNames.Name);
        string timeline = status.Timeline is { } tl ? $", timeline {tl}" : "";
        string flags = (status.Paused ? ", paused" : "") + (status.NoLoadBalance ? ", noloadbalance" : "") + (status.SyncStandby ? ", synchronous" : "") + (status.QuorumStandby ? ", quorum" : "");
        string overridden = snapshot.Override is { } applied ? $"; operator override: {applied}" : "";
        return $"role {status.RoleName}, state {status.State}, HTTP {status.HttpStatus}{timeline}{flags}; ready for: {string.Join(' ', ready.DefaultIfEmpty("none"))}{overridden}";
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "patroni status: {Summary}")]
    private static partial void LogStatus(ILogger logger, string summary);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "patroni poll failed: {Error}; answering from the last status until it is stale")]
    private static partial void LogPollFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "patroni answers again (after: {Error})")]
    private static partial void LogReachable(ILogger logger, string error);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "patroni state unknown, answering \"{Words}\" where the node was ready and maint where it was maint: {Error}")]
    private static partial void LogUnknown(ILogger logger, string words, string error);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "replica {Move}")]
    private static partial void LogLagMove(ILogger logger, string move);
}
