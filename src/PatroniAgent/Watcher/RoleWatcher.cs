using Microsoft.Extensions.Logging;
using PatroniAgent.Metrics;
using PatroniAgent.Patroni;
using PatroniAgent.Policy;

namespace PatroniAgent.Watcher;

/// <summary>
/// Polls Patroni in the background and keeps the <see cref="AnswerBoard"/> current: a new snapshot
/// when the status changes, a refreshed one when it does not, and the unknown answer once no poll
/// has succeeded for stale-after. Logs one line per change, nothing per poll.
/// </summary>
public sealed partial class RoleWatcher
{
    private readonly IPatroniPoller _poller;
    private readonly AnswerBoard _board;
    private readonly TimeSpan _interval;
    private readonly TimeSpan _staleAfter;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private long _lastSuccess;
    private string? _lastError;

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
    }

    /// <summary>What the polls did, for the metrics and the status page.</summary>
    public PollMetrics Polls { get; }

    /// <summary>Polls until <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            long started = _time.GetTimestamp();
            try
            {
                await PollOnceAsync(cancellationToken).ConfigureAwait(false);
                var wait = _interval - _time.GetElapsedTime(started);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Polls once and publishes what follows from it; true when Patroni answered usably.</summary>
    public async Task<bool> PollOnceAsync(CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        var result = await _poller.PollAsync(cancellationToken).ConfigureAwait(false);
        Polls.Record(_time.GetElapsedTime(started), result);
        if (result.Status is { } status)
        {
            OnStatus(status);
            return true;
        }
        OnFailure(result.Error ?? "patroni poll failed");
        return false;
    }

    private void OnStatus(NodeStatus status)
    {
        _lastSuccess = _time.GetTimestamp();
        if (_lastError is not null)
        {
            LogReachable(_logger, _lastError);
            _lastError = null;
        }
        var current = _board.Current;
        if (status.Equals(current.Status))
        {
            _board.PublishFresh(current);
            return;
        }
        var next = Snapshot.FromStatus(status);
        string summary = Summary(next);
        if (current.Status is null || Summary(current) != summary)
        {
            LogStatus(_logger, summary);
        }
        _board.PublishFresh(next);
    }

    private void OnFailure(string error)
    {
        if (_lastError != error)
        {
            LogPollFailed(_logger, error);
            _lastError = error;
        }
        if (_time.GetElapsedTime(_lastSuccess) < _staleAfter || _board.Current.UnknownReason == error)
        {
            return;
        }
        LogUnknown(_logger, _board.UnknownWords, error);
        _board.PublishUnknown(Snapshot.Unknown(_board.UnknownWords, error));
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
        string flags = (status.Paused ? ", paused" : "") + (status.NoLoadBalance ? ", noloadbalance" : "") + (status.Synchronous ? ", synchronous" : "");
        return $"role {status.RoleName}, state {status.State}, HTTP {status.HttpStatus}{timeline}{flags}; ready for: {string.Join(' ', ready.DefaultIfEmpty("none"))}";
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "patroni status: {Summary}")]
    private static partial void LogStatus(ILogger logger, string summary);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "patroni poll failed: {Error}; answering from the last status until it is stale")]
    private static partial void LogPollFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "patroni answers again (after: {Error})")]
    private static partial void LogReachable(ILogger logger, string error);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "patroni state unknown, answering \"{Words}\" in every mode: {Error}")]
    private static partial void LogUnknown(ILogger logger, string words, string error);
}
