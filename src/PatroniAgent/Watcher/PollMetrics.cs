using PatroniAgent.Patroni;

namespace PatroniAgent.Watcher;

/// <summary>
/// What the watcher's polls of Patroni did: a latency histogram, failures by kind, the last good poll,
/// the last error, and what replica lags were measured against and how old that was. Written by the watcher alone, one poll at a time; read when metrics are scraped.
/// </summary>
public sealed class PollMetrics
{
    /// <summary>The upper bounds of the latency histogram's buckets, in seconds (the last bucket, +Inf, is implied).</summary>
    public static readonly double[] BucketBounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private static readonly PollErrorKind[] Kinds = Enum.GetValues<PollErrorKind>();

    /// <summary>The sources a lag is measured against, in label order (<see cref="LagSource.None"/> is no measurement).</summary>
    public static readonly LagSource[] LagSources = [LagSource.Leader, LagSource.Cluster];

    private readonly TimeProvider _time;
    private readonly long[] _buckets = new long[BucketBounds.Length + 1];
    private readonly long[] _errors = new long[Kinds.Length];
    private readonly long[] _lagPolls = new long[LagSources.Length + 1];
    private long _lagReferenceUnixMilliseconds;
    private long _durationTicks;
    private long _lastGood;
    private long _lastGoodUnixMilliseconds;
    private volatile PollError? _lastError;

    public PollMetrics(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _lastGood = _time.GetTimestamp();
    }

    /// <summary>
    /// Records one poll, sent at the timestamp <paramref name="sentAt"/>, that ended now in <paramref name="result"/>.
    /// A good poll's age counts from when it was sent, as the watcher's freshness does, so the age shown
    /// is past stale-after whenever the answers have gone unknown for it.
    /// </summary>
    public void Record(long sentAt, PollResult result)
    {
        var duration = _time.GetElapsedTime(sentAt);
        double seconds = duration.TotalSeconds;
        int bucket = 0;
        while (bucket < BucketBounds.Length && seconds > BucketBounds[bucket])
        {
            bucket++;
        }
        Interlocked.Increment(ref _buckets[bucket]);
        Interlocked.Add(ref _durationTicks, duration.Ticks);
        if (result.Status is not null)
        {
            if (result.LagSource != LagSource.None)
            {
                Interlocked.Increment(ref _lagPolls[(int)result.LagSource]);
                Volatile.Write(ref _lagReferenceUnixMilliseconds, (_time.GetUtcNow() - result.LagAge).ToUnixTimeMilliseconds());
            }
            Volatile.Write(ref _lastGood, sentAt);
            Volatile.Write(ref _lastGoodUnixMilliseconds, (_time.GetUtcNow() - duration).ToUnixTimeMilliseconds());
            return;
        }
        Interlocked.Increment(ref _errors[(int)result.ErrorKind]);
        _lastError = new PollError(result.Error ?? "patroni poll failed", result.ErrorKind, _time.GetUtcNow());
    }

    /// <summary>Polls per histogram bucket, cumulative as Prometheus wants them: the last is every poll.</summary>
    public long[] CumulativeBuckets()
    {
        var cumulative = new long[_buckets.Length];
        long sum = 0;
        for (int i = 0; i < _buckets.Length; i++)
        {
            sum += Volatile.Read(ref _buckets[i]);
            cumulative[i] = sum;
        }
        return cumulative;
    }

    /// <summary>The time all polls took together.</summary>
    public TimeSpan TotalDuration => TimeSpan.FromTicks(Volatile.Read(ref _durationTicks));

    /// <summary>Failed polls of one kind.</summary>
    public long Errors(PollErrorKind kind) => Volatile.Read(ref _errors[(int)kind]);

    /// <summary>Good polls whose replica lag was measured against <paramref name="source"/>.</summary>
    public long LagPolls(LagSource source) => Volatile.Read(ref _lagPolls[(int)source]);

    /// <summary>When the position the last measured lag was measured against was read; null before the first such poll.</summary>
    public DateTimeOffset? LagReferenceAt => Volatile.Read(ref _lagReferenceUnixMilliseconds) is var ms and > 0
        ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
        : null;

    /// <summary>The label value of a lag source.</summary>
    public static string SourceName(LagSource source) => source.ToString().ToLowerInvariant();

    /// <summary>Time since the last good poll, or since the watcher started when none has succeeded yet.</summary>
    public TimeSpan SinceLastGood => _time.GetElapsedTime(Volatile.Read(ref _lastGood));

    /// <summary>When the last good poll was sent; null before the first.</summary>
    public DateTimeOffset? LastGoodAt => Volatile.Read(ref _lastGoodUnixMilliseconds) is var ms and > 0
        ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
        : null;

    /// <summary>The last failure; null when no poll has failed yet.</summary>
    public PollError? LastError => _lastError;

    /// <summary>The label value of a failure kind.</summary>
    public static string KindName(PollErrorKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>Every failure kind, in label order.</summary>
    public static IReadOnlyList<PollErrorKind> AllKinds => Kinds;
}

/// <summary>One failed poll: the reason, its kind and when it happened.</summary>
public sealed record PollError(string Message, PollErrorKind Kind, DateTimeOffset At);
