namespace PatroniAgent.LoadTest;

/// <summary>CPU time and resident memory of a process, read from /proc.</summary>
internal static class ProcessStats
{
    /// <summary>USER_HZ: the unit of the CPU times in /proc/PID/stat, 100 on Linux.</summary>
    private const double TicksPerSecond = 100;

    /// <summary>User plus system CPU time of <paramref name="pid"/> so far, in seconds (clock-tick resolution).</summary>
    public static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // The command name (field 2) may hold spaces; the fields after it start past its closing parenthesis.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11]) + long.Parse(fields[12])) / TicksPerSecond;
    }

    /// <summary>The resident set of <paramref name="pid"/> (VmRSS), in bytes.</summary>
    public static long ResidentBytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]) * 1024;
            }
        }
        return 0;
    }
}
