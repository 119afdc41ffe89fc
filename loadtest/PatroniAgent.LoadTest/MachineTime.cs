namespace PatroniAgent.LoadTest;

/// <summary>
/// The machine's CPU time so far, from the first line of /proc/stat: all of it, and the part the
/// hypervisor gave to other guests while this one wanted to run (steal). On a shared virtual machine
/// steal is one reason why two runs of the same code differ.
/// </summary>
internal readonly record struct MachineTime(long Total, long Steal)
{
    public static MachineTime Now() => Parse(File.ReadLines("/proc/stat").First());

    /// <summary>Reads "cpu user nice system idle iowait irq softirq steal ...", in clock ticks.</summary>
    public static MachineTime Parse(string cpuLine)
    {
        var fields = cpuLine.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 9 || fields[0] != "cpu")
        {
            throw new FormatException($"not the cpu line of /proc/stat: \"{cpuLine}\"");
        }
        long total = 0;
        for (int i = 1; i <= 8; i++)
        {
            total += long.Parse(fields[i]);
        }
        return new MachineTime(total, long.Parse(fields[8]));
    }

    /// <summary>The share of the CPU time since <paramref name="start"/> that was stolen, in percent.</summary>
    public double StolenPercentSince(MachineTime start) =>
        Total == start.Total ? 0 : 100.0 * (Steal - start.Steal) / (Total - start.Total);
}
