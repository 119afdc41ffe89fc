using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;

namespace PatroniAgent.Server.Internal;

/// <summary>
/// The connections refused because their source is not in the allow list, counted over every event loop
/// and logged sparingly: the first refusal at once, then at most one line per interval with the count
/// since the line before, so that a flood of refused connections cannot flood the log. Counting
/// allocates nothing; only a line written (with logging enabled) does.
/// </summary>
internal sealed partial class RefusalLog
{
    private readonly long _interval;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly byte[] _latest = new byte[16];
    private int _latestLength;
    private long _count;
    private long _reported;
    private long _quietUntil;

    /// <param name="interval">The least time between two lines.</param>
    /// <param name="logger">Where the lines go.</param>
    public RefusalLog(TimeSpan interval, ILogger logger)
    {
        _interval = (long)(interval.TotalSeconds * Stopwatch.Frequency);
        _logger = logger;
    }

    /// <summary>Connections refused so far.</summary>
    public long Count => Volatile.Read(ref _count);

    /// <summary>The stopwatch time at which refusals not logged yet are due, or <see cref="long.MaxValue"/> when there are none.</summary>
    public long NextReport
    {
        get
        {
            if (AllReported)
            {
                return long.MaxValue;
            }
            lock (_gate)
            {
                return _count > _reported ? _quietUntil : long.MaxValue;
            }
        }
    }

    /// <summary>
    /// Whether every refusal counted is logged, read without the lock: the event loops ask at every turn, and
    /// a refusal counted meanwhile logs itself through <see cref="Add"/>.
    /// </summary>
    private bool AllReported => Volatile.Read(ref _count) == Volatile.Read(ref _reported);

    /// <summary>Counts one refused connection from <paramref name="address"/> (4 or 16 bytes) and logs if a line is due.</summary>
    public void Add(ReadOnlySpan<byte> address, long now)
    {
        lock (_gate)
        {
            Volatile.Write(ref _count, _count + 1);
            address.CopyTo(_latest);
            _latestLength = address.Length;
        }
        Report(now);
    }

    /// <summary>Logs the refusals not logged yet, unless a line was written less than an interval ago.</summary>
    public void Report(long now)
    {
        if (AllReported)
        {
            return;
        }
        long unreported;
        IPAddress? latest = null;
        lock (_gate)
        {
            unreported = _count - _reported;
            if (unreported == 0 || now < _quietUntil)
            {
                return;
            }
            Volatile.Write(ref _reported, _count);
            _quietUntil = now + _interval;
            if (!_logger.IsEnabled(LogLevel.Warning))
            {
                return;
            }
            if (_latestLength is 4 or 16)
            {
                latest = new IPAddress(_latest.AsSpan(0, _latestLength));
                latest = latest.IsIPv4MappedToIPv6 ? latest.MapToIPv4() : latest;
            }
        }
        LogRefused(_logger, unreported, latest?.ToString() ?? "an unknown address");
    }

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "agent listener: refused {Count} connection(s) from outside the allow list since the last such line, the latest from {Address}")]
    private static partial void LogRefused(ILogger logger, long count, string address);
}
