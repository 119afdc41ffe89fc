using System.Net;
using System.Text;

namespace PatroniAgent.LoadTest;

/// <summary>
/// <c>run</c>: loads one server that is already listening on a loopback address, and prints what it measured.
/// Returns 1 when a check failed or got another line than <c>--expect</c>.
/// </summary>
internal static class RunCommand
{
    public static int Execute(Arguments args, TextWriter output)
    {
        var connect = args.String("connect") ?? throw new UsageException("run needs --connect ADDRESS:PORT");
        if (!IPEndPoint.TryParse(connect, out var endPoint) || endPoint.Port == 0)
        {
            throw new UsageException($"--connect: \"{connect}\" is not ADDRESS:PORT");
        }
        int clients = args.Int("clients", 64);
        double rate = args.Double("rate", 0);
        var send = args.String("send", "primary");
        var shape = new LoadShape(rate > 0 ? 0 : clients, rate, send.Length == 0 ? [] : Encoding.ASCII.GetBytes(send + "\n"),
            !args.Flag("close"), args.Duration("timeout", TimeSpan.FromSeconds(2)));
        var warmup = args.Duration("warmup", TimeSpan.FromSeconds(1));
        var duration = args.Duration("duration", TimeSpan.FromSeconds(5));
        int threads = args.Int("threads", 1);
        int? pid = args.String("pid") is { } p ? int.Parse(p, System.Globalization.CultureInfo.InvariantCulture) : null;
        var expected = args.String("expect");
        int idle = args.Int("idle", 0);
        int silent = args.Int("silent", 0);
        args.RejectUnknown();

        Native.RaiseDescriptorLimit();
        using var target = new Loopback(endPoint);
        using var holder = idle + silent > 0 ? new ConnectionHolder(target, idle, silent) : null;
        if (holder is not null && !holder.Open(TimeSpan.FromSeconds(20)))
        {
            output.WriteLine($"only {holder.Held} of {idle + silent} connections could be held ({holder.Failures} failed)");
            return 1;
        }
        var result = LoadRun.Run(endPoint.ToString(), target, shape, threads, warmup, duration, pid);
        output.WriteLine($"{shape.Describe()}, {threads} generator thread(s), {duration.TotalSeconds:0.#} s after {warmup.TotalSeconds:0.#} s warm-up"
            + (holder is null ? "" : $", {idle:N0} idle and {silent:N0} silent connections held ({holder.Held:N0} open at the end, {holder.Reconnects:N0} reconnects)"));
        var table = new Table("target", "checks/s", "p50 µs", "p99 µs", "p99.9 µs", "max µs", "errors", "CPU µs/check", "RSS MB", "generator cores");
        table.Add(result.Target, Show.Count(result.ChecksPerSecond), Show.Nanos(result.Latency.Percentile(50)), Show.Nanos(result.Latency.Percentile(99)),
            Show.Nanos(result.Latency.Percentile(99.9)), Show.Nanos(result.Latency.MaxNanoseconds), Show.Count(result.Errors.Total),
            Show.Micros(result.CpuMicrosecondsPerCheck), Show.Megabytes(result.TargetResidentBytes), Show.Fixed(result.GeneratorCores, "0.00"));
        table.Print(output);
        output.WriteLine($"errors: {result.Errors}");
        output.WriteLine("answers seen:");
        foreach (var (line, count) in result.Answers.Lines)
        {
            output.WriteLine($"  {count,12:N0} x \"{line}\"{(expected is null || line == expected ? "" : "  WRONG")}");
        }
        long wrong = expected is null ? 0 : result.Answers.CountOtherThan(expected);
        return result.Errors.Total == 0 && wrong == 0 && result.Checks > 0 ? 0 : 1;
    }
}
