using System.Runtime.InteropServices;

namespace PatroniAgent.Tests.Support;

/// <summary>The process's open-files limit (RLIMIT_NOFILE), for tests that hold thousands of sockets.</summary>
public static unsafe partial class FileLimit
{
    private const int RLIMIT_NOFILE = 7;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, ulong* limits);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, ulong* limits);

    /// <summary>
    /// Raises the soft limit to at least <paramref name="needed"/> descriptors (never lowers it); child
    /// processes started afterwards inherit it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The hard limit is below <paramref name="needed"/>.</exception>
    public static void RaiseTo(ulong needed)
    {
        ulong* limits = stackalloc ulong[2];
        if (getrlimit(RLIMIT_NOFILE, limits) != 0)
        {
            throw new InvalidOperationException($"getrlimit failed: errno {Marshal.GetLastPInvokeError()}");
        }
        if (limits[0] >= needed)
        {
            return;
        }
        if (limits[1] < needed)
        {
            throw new InvalidOperationException($"this test needs {needed} open files; the hard limit is {limits[1]} (raise it with ulimit -Hn)");
        }
        limits[0] = needed;
        if (setrlimit(RLIMIT_NOFILE, limits) != 0)
        {
            throw new InvalidOperationException($"setrlimit failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }
}
