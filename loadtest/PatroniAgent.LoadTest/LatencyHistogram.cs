using System.Numerics;

namespace PatroniAgent.LoadTest;

/// <summary>
/// Latencies in nanoseconds, in log-linear buckets: exact below 128 ns, then 64 buckets per power of
/// two (at most 1.6 % off). Recording allocates nothing; one histogram per generator thread, merged at the end.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 6;
    private const int SubBuckets = 1 << SubBucketBits;
    private const int Linear = 2 * SubBuckets;
    private readonly long[] _counts = new long[Linear + 58 * SubBuckets];

    public long Count { get; private set; }

    public long MaxNanoseconds { get; private set; }

    public void Record(long nanoseconds)
    {
        long value = Math.Max(0, nanoseconds);
        _counts[Index(value)]++;
        Count++;
        if (value > MaxNanoseconds)
        {
            MaxNanoseconds = value;
        }
    }

    public void Add(LatencyHistogram other)
    {
        for (int i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }
        Count += other.Count;
        MaxNanoseconds = Math.Max(MaxNanoseconds, other.MaxNanoseconds);
    }

    /// <summary>The latency that <paramref name="percentile"/> % of the checks did not exceed (the bucket's upper bound).</summary>
    public long Percentile(double percentile)
    {
        if (Count == 0)
        {
            return 0;
        }
        long rank = Math.Max(1, (long)Math.Ceiling(Count * percentile / 100));
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(UpperBound(i), MaxNanoseconds);
            }
        }
        return MaxNanoseconds;
    }

    private static int Index(long value)
    {
        if (value < Linear)
        {
            return (int)value;
        }
        int shift = 63 - BitOperations.LeadingZeroCount((ulong)value) - SubBucketBits;
        return Linear + (shift - 1) * SubBuckets + (int)(value >> shift) - SubBuckets;
    }

    private static long UpperBound(int index)
    {
        if (index < Linear)
        {
            return index;
        }
        int shift = (index - Linear) / SubBuckets + 1;
        long top = (index - Linear) % SubBuckets + SubBuckets;
        return ((top + 1) << shift) - 1;
    }
}
