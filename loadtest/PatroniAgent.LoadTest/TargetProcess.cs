using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PatroniAgent.LoadTest;

/// <summary>
/// A server under test running as its own process, listening on 127.0.0.1, and the line it must answer.
/// Disposing it kills the process (by its id) and waits for it.
/// </summary>
internal sealed class TargetProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];

    private TargetProcess(string name, Process process, IPEndPoint endPoint, string expected)
    {
        Name = name;
        _process = process;
        EndPoint = endPoint;
        Expected = expected;
    }

    public string Name { get; }

    public IPEndPoint EndPoint { get; }

    /// <summary>The whole answer line every check must get, without its line end.</summary>
    public string Expected { get; }

    public int Pid => _process.Id;

    /// <summary>Where a .NET responder (loadtest/saea-responder) tells its allocation and GC counters, if it does.</summary>
    public IPEndPoint? StatsEndPoint { get; set; }

    /// <summary>The responder's counters now, or null when it has no stats port or did not answer.</summary>
    public RuntimeCounters? ReadCounters() => StatsEndPoint is { } stats ? RuntimeCounters.Parse(TryCheck(stats, "")) : null;

    /// <summary>Starts <paramref name="file"/> with <paramref name="arguments"/>; it must listen on <paramref name="port"/>.</summary>
    public static TargetProcess Start(string name, string file, IEnumerable<string> arguments, int port, string expected)
    {
        var info = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        var target = new TargetProcess(name, process, new IPEndPoint(IPAddress.Loopback, port), expected);
        process.OutputDataReceived += (_, e) => target.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => target.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return target;
    }

    /// <summary>When the process has exited: an exception naming it, its status and its first lines of output; else null.</summary>
    public InvalidOperationException? Exited() =>
        _process.HasExited ? new InvalidOperationException($"{Name} (pid {Pid}) exited with status {_process.ExitCode}: {Output}") : null;

    /// <summary>Checks once a millisecond until the expected line comes back; throws after <paramref name="limit"/>.</summary>
    public void WaitUntilAnswering(TimeSpan limit, string send)
    {
        var waited = Stopwatch.StartNew();
        string? last = null;
        while (waited.Elapsed < limit)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with status {_process.ExitCode}: {Output}");
            }
            last = TryCheck(EndPoint, send);
            if (last == Expected)
            {
                return;
            }
            Thread.Sleep(1);
        }
        throw new TimeoutException($"{Name} did not answer \"{Expected}\" within {limit.TotalSeconds:0.#} s (last answer: {last ?? "none"}). {Output}");
    }

    /// <summary>One check with a blocking socket: the answer line, or null when there was none.</summary>
    public static string? TryCheck(IPEndPoint endPoint, string send)
    {
        try
        {
            using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.ReceiveTimeout = 2000;
            socket.Connect(endPoint);
            if (send.Length > 0)
            {
                socket.Send(Encoding.ASCII.GetBytes(send));
            }
            var buffer = new byte[512];
            int have = 0;
            while (have < buffer.Length)
            {
                int n = socket.Receive(buffer, have, buffer.Length - have, SocketFlags.None);
                if (n == 0)
                {
                    break;
                }
                have += n;
                int end = buffer.AsSpan(0, have).IndexOfAny((byte)'\n', (byte)'\r');
                if (end >= 0)
                {
                    return Encoding.ASCII.GetString(buffer, 0, end);
                }
            }
            return null;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join(" | ", _output);
            }
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            if (_output.Count < 20)
            {
                _output.Add(line);
            }
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
    }
}

/// <summary>
/// What loadtest/saea-responder tells on its stats port: checks answered, <c>GC.GetTotalAllocatedBytes(true)</c>
/// and <c>GC.CollectionCount</c> of generations 0 to 2; or the difference of two such readings.
/// </summary>
internal sealed record RuntimeCounters(long Answered, long AllocatedBytes, long Gen0, long Gen1, long Gen2)
{
    public static RuntimeCounters? Parse(string? line)
    {
        var fields = line?.Split(' ');
        if (fields is not { Length: 5 })
        {
            return null;
        }
        var values = new long[5];
        for (int i = 0; i < 5; i++)
        {
            if (!long.TryParse(fields[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out values[i]))
            {
                return null;
            }
        }
        return new RuntimeCounters(values[0], values[1], values[2], values[3], values[4]);
    }

    public static RuntimeCounters operator -(RuntimeCounters end, RuntimeCounters start) =>
        new(end.Answered - start.Answered, end.AllocatedBytes - start.AllocatedBytes, end.Gen0 - start.Gen0, end.Gen1 - start.Gen1, end.Gen2 - start.Gen2);

    public static RuntimeCounters operator +(RuntimeCounters a, RuntimeCounters b) =>
        new(a.Answered + b.Answered, a.AllocatedBytes + b.AllocatedBytes, a.Gen0 + b.Gen0, a.Gen1 + b.Gen1, a.Gen2 + b.Gen2);

    public long Collections => Gen0 + Gen1 + Gen2;

    public double BytesPerCheck => Answered > 0 ? (double)AllocatedBytes / Answered : double.NaN;

    /// <summary>Collections of any generation per check (each counted once: a gen1 collection also counts in gen0's count).</summary>
    public double CollectionsPerCheck => Answered > 0 ? (double)Gen0 / Answered : double.NaN;
}
