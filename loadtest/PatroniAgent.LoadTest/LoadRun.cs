using System.Diagnostics;

namespace PatroniAgent.LoadTest;

/// <summary>What one load run measured.</summary>
internal sealed record LoadResult(
    string Target,
    double Seconds,
    long Checks,
    LatencyHistogram Latency,
    AnswerTally Answers,
    ErrorTally Errors,
    double? TargetCpuSeconds,
    long? TargetResidentBytes,
    double GeneratorCpuSeconds)
{
    /// <summary>Which of several runs against the same target this is, from 1.</summary>
    public int Round { get; init; } = 1;

    /// <summary>Open loop: latencies from each check's scheduled time, the generator's delays included.</summary>
    public LatencyHistogram? FromSchedule { get; init; }

    /// <summary>Open loop: how late the generator started the checks after their scheduled times.</summary>
    public LatencyHistogram? Lateness { get; init; }

    /// <summary>The answer line every check should have got, when known.</summary>
    public string? Expected { get; init; }

    /// <summary>A .NET responder's own allocation and GC counters over the measured window, when it has them.</summary>
    public RuntimeCounters? Counters { get; init; }

    public double ChecksPerSecond => Checks / Seconds;

    /// <summary>CPU time of the target process per check, in microseconds.</summary>
    public double? CpuMicrosecondsPerCheck => TargetCpuSeconds is { } cpu && Checks > 0 ? cpu * 1e6 / Checks : null;

    /// <summary>The generator's (this process's) CPU use, in cores.</summary>
    public double GeneratorCores => GeneratorCpuSeconds / Seconds;
}

/// <summary>
/// Runs generator threads against one target for a warm-up and a measured window, and reads the
/// target's CPU time and resident memory over that window.
/// </summary>
internal static class LoadRun
{
    /// <summary>
    /// Loads <paramref name="target"/> with <paramref name="shape"/> on <paramref name="threads"/> threads:
    /// <paramref name="warmup"/> unmeasured, then <paramref name="duration"/> measured, or until
    /// <paramref name="stopAfterChecks"/> measured checks when that comes first. <paramref name="atWindowStart"/>
    /// runs as the measured window opens, <paramref name="atWindowEnd"/> once its last check has ended.
    /// </summary>
    public static LoadResult Run(string name, Loopback target, LoadShape shape, int threads, TimeSpan warmup, TimeSpan duration,
        int? targetPid, long stopAfterChecks = long.MaxValue, Action? atWindowStart = null, Action? atWindowEnd = null)
    {
        threads = shape.ClosedLoop ? Math.Clamp(threads, 1, shape.Clients) : Math.Max(1, threads);
        var generators = new CheckGenerator[threads];
        for (int i = 0; i < threads; i++)
        {
            var share = shape.ClosedLoop
                ? shape with { Clients = shape.Clients / threads + (i < shape.Clients % threads ? 1 : 0) }
                : shape;
            generators[i] = new CheckGenerator(target, share, shape.Rate / threads);
        }
        try
        {
            var running = generators.Select(g => new Thread(g.Run) { IsBackground = true, Name = "load-generator" }).ToArray();
            long start = Stopwatch.GetTimestamp();
            long windowStart = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
            long windowEnd = windowStart + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            foreach (var generator in generators)
            {
                generator.RecordFrom(windowStart);
                generator.StopAt(windowEnd);
            }
            foreach (var thread in running)
            {
                thread.Start();
            }

            SleepUntil(windowStart);
            atWindowStart?.Invoke();
            double targetCpu = targetPid is { } pid ? ProcessStats.CpuSeconds(pid) : 0;
            double ownCpu = ProcessStats.CpuSeconds(Environment.ProcessId);
            long measuredFrom = Stopwatch.GetTimestamp();
            long stoppedAt = windowEnd;
            while (Stopwatch.GetTimestamp() < windowEnd)
            {
                Thread.Sleep(20);
                if (Completed(generators) >= stopAfterChecks)
                {
                    stoppedAt = Stopwatch.GetTimestamp();
                    foreach (var generator in generators)
                    {
                        generator.StopAt(stoppedAt);
                    }
                    break;
                }
            }
            SleepUntil(stoppedAt);
            double? targetCpuUsed = targetPid is { } p ? ProcessStats.CpuSeconds(p) - targetCpu : null;
            long? targetRss = targetPid is { } q ? ProcessStats.ResidentBytes(q) : null;
            double ownCpuUsed = ProcessStats.CpuSeconds(Environment.ProcessId) - ownCpu;
            double seconds = (double)(stoppedAt - measuredFrom) / Stopwatch.Frequency;
            foreach (var thread in running)
            {
                thread.Join();
            }
            atWindowEnd?.Invoke();

            var latency = new LatencyHistogram();
            var fromSchedule = new LatencyHistogram();
            var lateness = new LatencyHistogram();
            var answers = new AnswerTally();
            var errors = new ErrorTally();
            foreach (var generator in generators)
            {
                latency.Add(generator.Latency);
                fromSchedule.Add(generator.FromSchedule);
                lateness.Add(generator.Lateness);
                answers.Add(generator.Answers);
                errors.Add(generator.Errors);
            }
            return new LoadResult(name, seconds, latency.Count, latency, answers, errors, targetCpuUsed, targetRss, ownCpuUsed)
            {
                FromSchedule = shape.ClosedLoop ? null : fromSchedule,
                Lateness = shape.ClosedLoop ? null : lateness,
            };
        }
        finally
        {
            foreach (var generator in generators)
            {
                generator.Dispose();
            }
        }
    }

    private static long Completed(CheckGenerator[] generators)
    {
        long completed = 0;
        foreach (var generator in generators)
        {
            completed += generator.Completed;
        }
        return completed;
    }

    private static void SleepUntil(long timestamp)
    {
        while (true)
        {
            long left = timestamp - Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                return;
            }
            Thread.Sleep(TimeSpan.FromSeconds(Math.Min(0.05, (double)left / Stopwatch.Frequency)));
        }
    }
}
