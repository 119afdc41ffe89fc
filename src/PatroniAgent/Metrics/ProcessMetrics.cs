using System.Diagnostics;
using System.Globalization;
using System.Text;
using static PatroniAgent.Metrics.PrometheusFormat;

namespace PatroniAgent.Metrics;

/// <summary>
/// The standard process metrics of Prometheus' client libraries, read from the kernel at each scrape:
/// CPU time, resident and virtual memory, open and maximum descriptors, start time. A value the
/// kernel does not give (no <c>/proc</c>) is left out rather than exported as 0.
/// </summary>
public static class ProcessMetrics
{
    public static void Write(StringBuilder text)
    {
        using var process = Process.GetCurrentProcess();
        Family(text, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", process.TotalProcessorTime.TotalSeconds);
        Family(text, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", process.WorkingSet64);
        Family(text, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", process.VirtualMemorySize64);
        Family(text, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
            new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0);
        if (OpenDescriptors() is { } open)
        {
            Family(text, "process_open_fds", "gauge", "Number of open file descriptors.", open);
        }
        if (MaxDescriptors() is { } max)
        {
            Family(text, "process_max_fds", "gauge", "Maximum number of open file descriptors.", max);
        }
    }

    private static long? OpenDescriptors()
    {
        try
        {
            return Directory.EnumerateFileSystemEntries("/proc/self/fd").LongCount();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The soft limit of "Max open files" in <c>/proc/self/limits</c>; null when unlimited or not readable.</summary>
    private static long? MaxDescriptors()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return fields.Length > 0 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out long soft) ? soft : null;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }

    private static void Family(StringBuilder text, string name, string type, string help, double value)
    {
        Header(text, name, type, help);
        Sample(text, name, null, value);
    }
}
