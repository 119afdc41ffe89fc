using System.Diagnostics;
using System.Text;
using PatroniAgent.AgentProtocol;

namespace PatroniAgent.LoadTest;

/// <summary>The settings of one comparison run; <see cref="Short"/> gives the CI run.</summary>
internal sealed record CompareOptions
{
    public bool Short { get; init; }
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(0.5);
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(2);
    public int Rounds { get; init; } = 11;
    public int Clients { get; init; } = 64;
    public double Rate { get; init; } = 2000;
    public int Threads { get; init; } = 2 * Environment.ProcessorCount;
    public int Idle { get; init; } = 10_000;
    public int Silent { get; init; } = 1_000;
    public TimeSpan BaselineDuration { get; init; } = TimeSpan.FromSeconds(5);
    public long InProcessChecks { get; init; } = 1_000_000;
    public int Startups { get; init; } = 5;
    public TimeSpan IdleMemoryDuration { get; init; } = TimeSpan.FromSeconds(60);
    public string? Fixture { get; init; }
    public string? Agent { get; init; }
    public string Send { get; init; } = "primary";
    public bool Reset { get; init; } = true;

    public static CompareOptions ShortRun => new()
    {
        Short = true,
        Duration = TimeSpan.FromSeconds(2),
        Rounds = 1,
        BaselineDuration = TimeSpan.FromSeconds(2),
        InProcessChecks = 200_000,
        Startups = 3,
        IdleMemoryDuration = TimeSpan.FromSeconds(5),
    };
}

/// <summary>
/// The side-by-side run of issue 4: the published agent, the C reference responder (as it is, and reading
/// the client's line first) and the seed's Python baseline, each its own process on 127.0.0.1, under the
/// same load; then the agent alone with idle and silent connections held, its start-up time and memory,
/// and its check path's allocations in process.
/// Prints the tables and the targets; returns 1 when any check failed or got a wrong answer, or the check
/// path allocated, else 0. Speed never fails the run.
/// </summary>
internal sealed class Comparison(CompareOptions options, TextWriter output)
{
    private const string Python = "/usr/bin/python3";
    private const string Reference = "c-reference";
    private const string ReadingReference = "c-read-line";
    private const string Agent = "patroni-agent";
    private const string SaeaPipe = "saea-pipe";
    private const string SaeaDirect = "saea-direct";
    private const string Baseline = "seed-baseline";

    private readonly List<string> _failures = [];
    private ulong _descriptors;
    private readonly List<(string Target, string Measured, string Limit, bool? Met)> _targets = [];

    public int Run()
    {
        var root = Prerequisites.RepositoryRoot();
        _descriptors = Native.RaiseDescriptorLimit();
        PrintMachine();
        var agentPath = options.Agent ?? Prerequisites.Agent(root, output);
        var responderPath = Prerequisites.Responder(root, output);
        var saeaPath = Prerequisites.SaeaResponder(root, output);
        var fixture = options.Fixture ?? Path.Combine(root, "tests", "PatroniAgent.Tests", "Fixtures", "patroni", "v4.1.4-primary.json");
        var recording = PatroniRecording.Load(fixture);
        var send = options.Send.Length == 0 ? [] : Encoding.ASCII.GetBytes(options.Send + "\n");
        var expected = Encoding.ASCII.GetString(InProcessAgent.Board(recording).Answer(AgentRequest.For(Mode.Primary), send)).TrimEnd('\n');
        var shape = new LoadShape(options.Clients, 0, send, options.Reset, TimeSpan.FromSeconds(2));
        output.WriteLine($"stand-in Patroni answers {recording.Name} (HTTP {recording.Status}, role {recording.Role}; {recording.Source})");
        output.WriteLine($"expected answer: \"{expected}\"; generator: {options.Threads} thread(s), {shape.Describe()}");
        output.WriteLine();

        using var patroni = new StandInPatroni(recording);
        var context = new Context(root, agentPath, responderPath, saeaPath, patroni, recording, send, expected);
        Step("start-up and idle memory", () => StartUp(context));
        Step("closed loop", () => ClosedLoop(context, shape));
        Step("open loop", () => OpenLoop(context, shape with { Clients = 0, Rate = options.Rate }));
        Step("held connections", () => HeldConnections(context, shape));
        Step("allocations", () => Allocations(context, shape));

        PrintTargets();
        output.WriteLine($"load average at the end: {File.ReadAllText("/proc/loadavg").Trim()}");
        if (_failures.Count == 0)
        {
            output.WriteLine("result: no errors, no wrong answers, no allocation on the check path");
            return 0;
        }
        output.WriteLine("result: FAILED");
        foreach (var failure in _failures)
        {
            output.WriteLine($"  {failure}");
        }
        return 1;
    }

    private sealed record Context(string Root, string AgentPath, string ResponderPath, string SaeaPath, StandInPatroni Patroni, PatroniRecording Recording, byte[] Send, string Expected)
    {
        public string SendText => Encoding.ASCII.GetString(Send);

        /// <summary>What the seed answers: READY for role master only (so MAINT for Patroni 4's primary, its known flaw).</summary>
        public string BaselineExpected => Recording.Role == "master" ? "READY" : "MAINT";
    }

    private void Step(string name, Action step)
    {
        var start = MachineTime.Now();
        try
        {
            step();
            output.WriteLine($"{name}: the hypervisor stole {Show.Fixed(MachineTime.Now().StolenPercentSince(start), "0.0")} % of the machine's CPU time");
            output.WriteLine();
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or System.Net.Sockets.SocketException)
        {
            output.WriteLine($"{name}: {e.Message}");
            output.WriteLine();
            _failures.Add($"{name}: {e.Message}");
        }
    }

    private void PrintMachine()
    {
        output.WriteLine($"patroni-agent load test ({(options.Short ? "short CI run" : "full run")}), {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        var load = File.ReadAllText("/proc/loadavg").Split(' ');
        output.WriteLine($"machine: {Environment.ProcessorCount} CPUs, Linux {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, .NET {Environment.Version}, "
            + $"load average {load[0]} {load[1]} {load[2]}, open-files limit {_descriptors}");
        output.WriteLine();
    }

    private TargetProcess StartAgent(Context context, string? sendWait = null)
    {
        int port = Loopback.FreePort();
        string[] arguments = ["--listen", $"127.0.0.1:{port}=primary", "--patroni-url", context.Patroni.Url.ToString(), "--log-level", "warning"];
        if (sendWait is not null)
        {
            arguments = [.. arguments, "--send-wait", sendWait];
        }
        return TargetProcess.Start(Agent, context.AgentPath, arguments, port, context.Expected);
    }

    /// <summary>The C responder; <paramref name="read"/> makes it read the client's line before it answers.</summary>
    private static TargetProcess StartReference(Context context, bool read)
    {
        int port = Loopback.FreePort();
        string[] arguments = ["127.0.0.1", port.ToString(System.Globalization.CultureInfo.InvariantCulture), context.Expected];
        var target = TargetProcess.Start(read ? ReadingReference : Reference, context.ResponderPath, read ? [.. arguments, "read"] : arguments, port, context.Expected);
        return Ready(target, context.SendText);
    }

    /// <summary>
    /// The design card's acceptor (loadtest/saea-responder): accept on a reused SocketAsyncEventArgs, the line
    /// read through a PipeReader (<paramref name="pipe"/>) or a pooled receive SocketAsyncEventArgs.
    /// </summary>
    private static TargetProcess StartSaea(Context context, bool pipe)
    {
        int port = Loopback.FreePort(), statsPort = Loopback.FreePort();
        while (statsPort == port)
        {
            statsPort = Loopback.FreePort();
        }
        string[] arguments = [port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--read", pipe ? "pipe" : "saea",
            "--stats-port", statsPort.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        var target = TargetProcess.Start(pipe ? SaeaPipe : SaeaDirect, context.SaeaPath, arguments, port, context.Expected);
        target.StatsEndPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, statsPort);
        return Ready(target, context.SendText);
    }

    private static TargetProcess Ready(TargetProcess target, string send)
    {
        try
        {
            target.WaitUntilAnswering(TimeSpan.FromSeconds(10), send);
            return target;
        }
        catch
        {
            target.Dispose();
            throw;
        }
    }

    private void StartUp(Context context)
    {
        // The first start also runs this process's own first connect, process start and stand-in request
        // (JIT-compiled at first use): it is timed apart and not counted.
        double warmUp = TimeToFirstAnswer(context, out var warmAgent);
        warmAgent.Dispose();
        var times = new List<double>();
        var idle = new List<long>();
        for (int i = 0; i < options.Startups; i++)
        {
            times.Add(TimeToFirstAnswer(context, out var agent));
            using (agent)
            {
                Thread.Sleep(1000);
                idle.Add(ProcessStats.ResidentBytes(agent.Pid));
            }
        }
        times.Sort();
        idle.Sort();
        var table = new Table("agent start", "first correct answer ms", "RSS idle after 1 s, MB");
        for (int i = 0; i < times.Count; i++)
        {
            table.Add($"#{i + 1} (sorted)", Show.Fixed(times[i], "0.0"), Show.Megabytes(idle[i]));
        }
        output.WriteLine($"== start-up: process start to first correct answer (connecting in a tight loop), {options.Startups} starts after an uncounted one ({warmUp:0.0} ms)");
        table.Print(output);
        double median = times[times.Count / 2];
        _targets.Add(($"start to first correct answer, median of {times.Count}", $"{median:0.0} ms", "<= 30 ms", median <= 30));
        _targets.Add(($"start to first correct answer, slowest of {times.Count}", $"{times[^1]:0.0} ms", "<= 30 ms", times[^1] <= 30));
        _targets.Add(("RSS idle 1 s after start (largest of the starts)", $"{Show.Megabytes(idle[^1])} MB", "<= 20 MB", idle[^1] <= 20L << 20));
        IdleMemory(context);
    }

    private double TimeToFirstAnswer(Context context, out TargetProcess agent)
    {
        var clock = Stopwatch.StartNew();
        agent = StartAgent(context);
        string? answer = null;
        while (answer != context.Expected && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            answer = TargetProcess.TryCheck(agent.EndPoint, context.SendText);
        }
        double elapsed = clock.Elapsed.TotalMilliseconds;
        if (answer != context.Expected)
        {
            agent.Dispose();
            throw new TimeoutException($"the agent gave no correct answer within 5 s of its start (last: {answer ?? "none"})");
        }
        return elapsed;
    }

    /// <summary>
    /// RSS of an idle agent polling the stand-in at its default interval, sampled every second: the
    /// steady state, which a heap growing with every poll until its first collection reaches only after
    /// minutes. And the CPU time those polls cost, the agent's whole cost on a quiet node.
    /// </summary>
    private void IdleMemory(Context context)
    {
        using var agent = StartAgent(context);
        long polledBefore = context.Patroni.Served;
        double cpuBefore = ProcessStats.CpuSeconds(agent.Pid);
        var samples = new List<(double Seconds, long Rss)>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < options.IdleMemoryDuration)
        {
            Thread.Sleep(1000);
            samples.Add((clock.Elapsed.TotalSeconds, ProcessStats.ResidentBytes(agent.Pid)));
        }
        long polls = context.Patroni.Served - polledBefore;
        double cpu = ProcessStats.CpuSeconds(agent.Pid) - cpuBefore;
        long largest = samples.Max(s => s.Rss);
        var table = new Table("idle agent", "seconds", "RSS MB");
        foreach (var sample in new[] { samples[0], samples[samples.Count / 2], samples[^1] })
        {
            table.Add("sample", Show.Fixed(sample.Seconds, "0"), Show.Megabytes(sample.Rss));
        }
        table.Add("largest", "", Show.Megabytes(largest));
        output.WriteLine($"== idle memory: one agent, no checks, {polls:N0} polls of the stand-in in {clock.Elapsed.TotalSeconds:0} s");
        table.Print(output);
        output.WriteLine($"CPU time: {Show.Fixed(cpu, "0.00")} s in {clock.Elapsed.TotalSeconds:0} s, {Show.Fixed(100 * cpu / clock.Elapsed.TotalSeconds, "0.00")} % of one core, "
            + $"{(polls == 0 ? "-" : Show.Fixed(cpu * 1e6 / polls, "0"))} µs per poll");
        _targets.Add(($"RSS idle, largest over {clock.Elapsed.TotalSeconds:0} s of polling", $"{Show.Megabytes(largest)} MB", "<= 20 MB", largest <= 20L << 20));
    }

    private void ClosedLoop(Context context, LoadShape shape)
    {
        var results = new List<LoadResult>();
        long? baselineRequests = null;
        using (var reference = StartReference(context, read: false))
        using (var reading = StartReference(context, read: true))
        using (var agent = Ready(StartAgent(context), context.SendText))
        using (var pipe = StartSaea(context, pipe: true))
        using (var direct = StartSaea(context, pipe: false))
        {
            for (int round = 1; round <= options.Rounds; round++)
            {
                // Every other round in reverse order, so that a machine slowing down or speeding up within
                // a round favours no target.
                TargetProcess[] order = round % 2 == 1 ? [reference, reading, agent, pipe, direct] : [direct, pipe, agent, reading, reference];
                foreach (var target in order)
                {
                    results.Add(Load(target, shape, options.Duration, round));
                }
            }
        }
        var script = Path.Combine(context.Root, "loadtest", "baseline", "seed_agent.py");
        if (File.Exists(Python) && File.Exists(script))
        {
            int port = Loopback.FreePort();
            string[] arguments = [script, "--listen", "127.0.0.1", "--port", port.ToString(), "--patroni-url", context.Patroni.Url.ToString()];
            using var baseline = Ready(TargetProcess.Start(Baseline, Python, arguments, port, context.BaselineExpected), context.SendText);
            long asked = context.Patroni.Served;
            results.Add(Load(baseline, shape with { Timeout = TimeSpan.FromSeconds(10) }, options.BaselineDuration, 1));
            baselineRequests = context.Patroni.Served - asked;
        }
        else
        {
            output.WriteLine($"{Python} or {script} is missing: the seed baseline is not run");
        }

        output.WriteLine($"== {shape.Describe()}, {options.Duration.TotalSeconds:0.#} s per run after {options.Warmup.TotalSeconds:0.#} s warm-up"
            + $" ({options.Rounds} round(s), alternating; the baseline once, {options.BaselineDuration.TotalSeconds:0.#} s)");
        PrintLoad(results, rounds: options.Rounds > 1);
        var medians = results.GroupBy(r => r.Target).Select(g => Median(g.ToList())).ToList();
        var c = medians.First(m => m.Target == Reference);
        var ratios = new Table(options.Rounds > 1 ? "median of the rounds" : "target", "checks/s", "CPU µs/check", "p99 µs", "p99.9 µs",
            "RSS MB", "throughput vs C", "CPU vs C", "p99 vs C", "p99.9 vs C");
        foreach (var m in medians)
        {
            ratios.Add(m.Target, Show.Count(m.ChecksPerSecond), Show.Micros(m.CpuMicros), Show.Nanos(m.P99), Show.Nanos(m.P999), Show.Megabytes((long)m.Rss),
                Show.Ratio(m.ChecksPerSecond / c.ChecksPerSecond), Show.Ratio(m.CpuMicros / c.CpuMicros), Show.Ratio(m.P99 / c.P99), Show.Ratio(m.P999 / c.P999));
        }
        ratios.Print(output);
        PrintCounters(results);
        var paired = Paired(results.Where(r => r.Target != Baseline).ToList(), Reference);
        if (options.Rounds > 1)
        {
            var table = new Table("median of per-round ratios", "throughput vs C", "CPU vs C", "p99 vs C", "p99.9 vs C");
            foreach (var p in paired)
            {
                table.Add(p.Target, Show.Ratio(p.ChecksPerSecond), Show.Ratio(p.CpuMicros), Show.Ratio(p.P99), Show.Ratio(p.P999));
            }
            output.WriteLine("each target against the C reference in the same round, then the median over the rounds (the targets below use these):");
            table.Print(output);
        }
        if (baselineRequests is { } requests)
        {
            output.WriteLine($"the stand-in Patroni answered {requests:N0} requests during the baseline's run, warm-up included (the agent asks once per poll-interval)");
            output.WriteLine();
        }
        PrintAnswers(results);

        var a = paired.First(m => m.Target == Agent);
        _targets.Add(($"throughput at {shape.Clients} clients vs C", Show.Ratio(a.ChecksPerSecond), ">= 1.0x", a.ChecksPerSecond >= 1.0));
        _targets.Add(("agent CPU per check vs C", Show.Ratio(a.CpuMicros), "<= 1.1x", a.CpuMicros <= 1.1));
        _targets.Add(($"p99 at {shape.Clients} clients vs C", Show.Ratio(a.P99), "<= 1.2x", a.P99 <= 1.2));
        _targets.Add(($"p99.9 at {shape.Clients} clients vs C", Show.Ratio(a.P999), "<= 1.2x", a.P999 <= 1.2));
    }

    /// <summary>
    /// For every target but <paramref name="reference"/>: its ratio to the reference's run of the same
    /// round, the median over the rounds. Pairing by round takes out what the shared machine does over a
    /// whole run (others' work starting or ending), which the ratio of whole-run medians keeps.
    /// </summary>
    private static List<MedianRow> Paired(List<LoadResult> results, string reference)
    {
        var byRound = results.Where(r => r.Target == reference).ToDictionary(r => r.Round);
        return results
            .Where(r => r.Target != reference && byRound.ContainsKey(r.Round))
            .GroupBy(r => r.Target)
            .Select(g => new MedianRow(g.Key,
                Mid(g.Select(r => r.ChecksPerSecond / byRound[r.Round].ChecksPerSecond)),
                Mid(g.Select(r => (r.CpuMicrosecondsPerCheck ?? double.NaN) / (byRound[r.Round].CpuMicrosecondsPerCheck ?? double.NaN))),
                Mid(g.Select(r => (double)r.Latency.Percentile(99) / byRound[r.Round].Latency.Percentile(99))),
                Mid(g.Select(r => (double)r.Latency.Percentile(99.9) / byRound[r.Round].Latency.Percentile(99.9)))))
            .ToList();
    }

    private void OpenLoop(Context context, LoadShape shape)
    {
        var results = new List<LoadResult>();
        using (var reference = StartReference(context, read: false))
        using (var reading = StartReference(context, read: true))
        using (var agent = Ready(StartAgent(context), context.SendText))
        using (var pipe = StartSaea(context, pipe: true))
        using (var direct = StartSaea(context, pipe: false))
        {
            foreach (var target in new[] { reference, reading, agent, pipe, direct })
            {
                results.Add(Load(target, shape, options.Duration, 1));
            }
        }
        output.WriteLine($"== {shape.Describe()}, {options.Duration.TotalSeconds:0.#} s per run (latency from each check's connect)");
        PrintLoad(results);
        PrintCounters(results);
        var schedule = new Table("from the schedule", "p50 µs", "p99 µs", "p99.9 µs", "max µs", "generator late p99 µs", "late max µs");
        foreach (var r in results)
        {
            schedule.Add(r.Target, Show.Nanos(r.FromSchedule!.Percentile(50)), Show.Nanos(r.FromSchedule.Percentile(99)), Show.Nanos(r.FromSchedule.Percentile(99.9)),
                Show.Nanos(r.FromSchedule.MaxNanoseconds), Show.Nanos(r.Lateness!.Percentile(99)), Show.Nanos(r.Lateness.MaxNanoseconds));
        }
        output.WriteLine("latency from each check's scheduled time (adds the generator's own delay in starting it):");
        schedule.Print(output);
        PrintAnswers(results);
        var agentResult = results.First(r => r.Target == Agent);
        long p99 = agentResult.Latency.Percentile(99);
        long fromSchedule = agentResult.FromSchedule!.Percentile(99);
        _targets.Add(($"p99 at {shape.Rate:N0} checks/s, open loop, from connect", $"{Show.Nanos(p99)} µs", "< 1 ms", p99 < 1_000_000));
        _targets.Add(($"the same, from the scheduled time", $"{Show.Nanos(fromSchedule)} µs", "< 1 ms", fromSchedule < 1_000_000));
    }

    private void HeldConnections(Context context, LoadShape shape)
    {
        using var agent = Ready(StartAgent(context, sendWait: "10s"), context.SendText);
        var quiet = Load(agent, shape, options.Duration, 1);
        using var target = new Loopback(agent.EndPoint);
        LoadResult loud;
        long heldRss;
        int held;
        long reconnects, failures;
        // The agent and this process each hold one descriptor per connection, and need some more of their own.
        double fit = Math.Min(1, (Math.Min(_descriptors, int.MaxValue) - 1000.0) / (options.Idle + options.Silent));
        int idle = (int)(options.Idle * fit), silent = (int)(options.Silent * fit);
        if (fit < 1)
        {
            output.WriteLine($"the open-files limit ({_descriptors}) allows {idle:N0} idle and {silent:N0} silent connections only");
        }
        using (var holder = new ConnectionHolder(target, idle, silent))
        {
            if (!holder.Open(TimeSpan.FromSeconds(20)))
            {
                throw new TimeoutException($"only {holder.Held} of {idle + silent} connections could be opened in 20 s ({holder.Failures} failed)");
            }
            Thread.Sleep(200);
            heldRss = ProcessStats.ResidentBytes(agent.Pid);
            loud = Load(agent, shape, options.Duration, 1) with { Target = $"{Agent} + held" };
            held = holder.Held;
            reconnects = holder.Reconnects;
            failures = holder.Failures;
        }
        output.WriteLine($"== {shape.Describe()}, agent with --send-wait 10s, without and with {idle:N0} idle and {silent:N0} silent connections held open");
        PrintLoad([quiet, loud]);
        output.WriteLine($"held during the run: {held:N0} open at its end, {reconnects:N0} reconnected, {failures:N0} failed to connect; agent RSS while holding them: {Show.Megabytes(heldRss)} MB");
        output.WriteLine();
        PrintAnswers([quiet, loud]);
        if (failures > 0)
        {
            _failures.Add($"held connections: {failures} failed to connect");
        }
        double ratio = (double)loud.Latency.Percentile(99) / quiet.Latency.Percentile(99);
        _targets.Add(($"p99 with {idle:N0} idle + {silent:N0} silent held vs without", Show.Ratio(ratio), "<= 2x", ratio <= 2));
        _targets.Add(("errors with them held", Show.Count(loud.Errors.Total + failures), "0", loud.Errors.Total + failures == 0));
        _targets.Add(($"RSS holding {idle + silent:N0} open connections", $"{Show.Megabytes(heldRss)} MB", "<= 40 MB", heldRss <= 40L << 20));
    }

    private void Allocations(Context context, LoadShape shape)
    {
        var limit = TimeSpan.FromSeconds(Math.Clamp(options.InProcessChecks / 5_000.0, 30, 300));
        var warmup = TimeSpan.FromSeconds(Math.Max(1, options.Warmup.TotalSeconds));
        var result = InProcessAgent.Measure(context.Recording, shape, options.Threads, options.InProcessChecks, warmup, limit);
        output.WriteLine($"== the agent's check path in this process: AgentServer + AnswerBoard, {shape.Describe()}, until {options.InProcessChecks:N0} checks");
        PrintLoad([result.Load]);
        var table = new Table("in-process counters", "checks", "event-loop bytes", "bytes/check", "whole process bytes/check", "gen0 GCs", "gen2 GCs");
        table.Add("after warm-up", Show.Count(result.Load.Checks), Show.Count(result.ServerBytes), Show.Fixed(result.ServerBytesPerCheck, "0.####"),
            Show.Fixed(result.ProcessBytesPerCheck, "0.####"), result.Gen0Collections.ToString(), result.Gen2Collections.ToString());
        table.Print(output);
        var load = result.Load with { Expected = context.Expected };
        PrintAnswers([load]);
        long wrong = load.Answers.CountOtherThan(context.Expected);
        if (load.Errors.Total > 0 || wrong > 0)
        {
            _failures.Add($"in-process agent: errors: {load.Errors}; {wrong} answers other than \"{context.Expected}\"");
        }
        if (result.ServerBytes != 0 || result.Gen0Collections != 0)
        {
            _failures.Add($"check path allocated {result.ServerBytes} bytes over {result.Load.Checks} checks, {result.Gen0Collections} GCs");
        }
        if (result.Load.Checks < options.InProcessChecks)
        {
            output.WriteLine($"the in-process run reached its time limit ({limit.TotalSeconds:0} s) after {result.Load.Checks:N0} of {options.InProcessChecks:N0} checks");
            output.WriteLine();
        }
        _targets.Add(($"bytes allocated per check ({result.Load.Checks:N0} checks)", Show.Fixed(result.ServerBytesPerCheck, "0.####"), "0", result.ServerBytes == 0));
        _targets.Add(("GCs during those checks", result.Gen0Collections.ToString(), "0", result.Gen0Collections == 0));
    }

    private LoadResult Load(TargetProcess target, LoadShape shape, TimeSpan duration, int round)
    {
        using var address = new Loopback(target.EndPoint);
        RuntimeCounters? start = null, end = null;
        Action? atStart = null, atEnd = null;
        if (target.StatsEndPoint is not null)
        {
            atStart = () => start = target.ReadCounters();
            atEnd = () => end = target.ReadCounters();
        }
        LoadResult result;
        try
        {
            result = LoadRun.Run(target.Name, address, shape, options.Threads, options.Warmup, duration, target.Pid, atWindowStart: atStart, atWindowEnd: atEnd);
        }
        catch (IOException) when (target.Exited() is { } exited)
        {
            // Its /proc entry is gone: say which target died and what it printed.
            throw exited;
        }
        if (start is not null && end is not null)
        {
            result = result with { Counters = end - start };
        }
        else if (target.StatsEndPoint is not null)
        {
            output.WriteLine($"{target.Name}: its counters could not be read on {target.StatsEndPoint}");
        }
        var wrong = result.Answers.CountOtherThan(target.Expected);
        if (result.Errors.Total > 0)
        {
            _failures.Add($"{target.Name}, {shape.Describe()}: errors: {result.Errors}");
        }
        if (wrong > 0)
        {
            _failures.Add($"{target.Name}, {shape.Describe()}: {wrong} answers other than \"{target.Expected}\"");
        }
        if (result.Checks == 0)
        {
            _failures.Add($"{target.Name}, {shape.Describe()}: no check completed");
        }
        return result with { Round = round, Expected = target.Expected };
    }

    private void PrintLoad(IEnumerable<LoadResult> results, bool rounds = false)
    {
        var table = new Table("target", "checks/s", "p50 µs", "p99 µs", "p99.9 µs", "max µs", "errors", "wrong", "CPU µs/check", "RSS MB", "generator cores");
        foreach (var r in results)
        {
            var name = rounds && r.Target != Baseline ? $"{r.Target} #{r.Round}" : r.Target;
            table.Add(name, Show.Count(r.ChecksPerSecond), Show.Nanos(r.Latency.Percentile(50)), Show.Nanos(r.Latency.Percentile(99)),
                Show.Nanos(r.Latency.Percentile(99.9)), Show.Nanos(r.Latency.MaxNanoseconds), Show.Count(r.Errors.Total),
                Show.Count(r.Expected is null ? 0 : r.Answers.CountOtherThan(r.Expected)), Show.Micros(r.CpuMicrosecondsPerCheck),
                Show.Megabytes(r.TargetResidentBytes), Show.Fixed(r.GeneratorCores, "0.00"));
        }
        table.Print(output);
    }

    private void PrintAnswers(IEnumerable<LoadResult> results)
    {
        output.WriteLine("answers seen:");
        foreach (var group in results.GroupBy(r => r.Target))
        {
            var tally = new AnswerTally();
            foreach (var r in group)
            {
                tally.Add(r.Answers);
            }
            var expected = group.First().Expected;
            foreach (var (line, count) in tally.Lines)
            {
                output.WriteLine($"  {group.Key,-22} {count,12:N0} x \"{line}\"{(line == expected ? "" : "  WRONG")}");
            }
            var errors = new ErrorTally();
            foreach (var r in group)
            {
                errors.Add(r.Errors);
            }
            if (errors.Total > 0)
            {
                output.WriteLine($"  {group.Key,-22} errors: {errors}");
            }
        }
        output.WriteLine();
    }

    private void PrintTargets()
    {
        output.WriteLine("== targets of issue 4 (on this machine, load generator included)");
        var table = new Table("target", "measured", "limit", "met");
        foreach (var (target, measured, limit, met) in _targets)
        {
            table.Add(target, measured, limit, met switch { true => "yes", false => "NO", null => "-" });
        }
        table.Print(output);
    }

    /// <summary>The median of each figure over the rounds of one target.</summary>
    private static double Mid(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static MedianRow Median(List<LoadResult> runs)
    {
        return new MedianRow(runs[0].Target,
            Mid(runs.Select(r => r.ChecksPerSecond)),
            Mid(runs.Select(r => r.CpuMicrosecondsPerCheck ?? double.NaN)),
            Mid(runs.Select(r => (double)r.Latency.Percentile(99))),
            Mid(runs.Select(r => (double)r.Latency.Percentile(99.9))))
        {
            Rss = Mid(runs.Select(r => (double)(r.TargetResidentBytes ?? 0))),
        };
    }

    private sealed record MedianRow(string Target, double ChecksPerSecond, double CpuMicros, double P99, double P999)
    {
        public double Rss { get; init; } = double.NaN;
    }

    /// <summary>The .NET responders' own counters over their measured windows, all rounds together.</summary>
    private void PrintCounters(List<LoadResult> results)
    {
        var withCounters = results.Where(r => r.Counters is not null).GroupBy(r => r.Target).ToList();
        if (withCounters.Count == 0)
        {
            return;
        }
        var table = new Table("responder's own counters", "checks answered", "bytes allocated", "bytes/check", "gen0 GCs", "gen1 GCs", "gen2 GCs", "GCs/1,000 checks");
        foreach (var group in withCounters)
        {
            var sum = group.Select(r => r.Counters!).Aggregate((a, b) => a + b);
            table.Add(group.Key, Show.Count(sum.Answered), Show.Count(sum.AllocatedBytes), Show.Fixed(sum.BytesPerCheck, "0.#"),
                sum.Gen0.ToString(System.Globalization.CultureInfo.InvariantCulture), sum.Gen1.ToString(System.Globalization.CultureInfo.InvariantCulture),
                sum.Gen2.ToString(System.Globalization.CultureInfo.InvariantCulture), Show.Fixed(1000 * sum.CollectionsPerCheck, "0.###"));
        }
        output.WriteLine("the .NET responders' GC.GetTotalAllocatedBytes(true) and GC.CollectionCount over the measured windows (stats port, read as each window opens and after its last check):");
        table.Print(output);
    }
}
