namespace PatroniAgent.LoadTest;

/// <summary>The load test of patroni-agent: <c>compare</c> (the default) or <c>run</c>.</summary>
public static class Program
{
    private const string Usage = """
        patroni-agent-loadtest [compare] [--short] [OPTION...]
          Runs the published agent, the C reference responder and the seed baseline side by side on
          127.0.0.1 and prints the tables and the targets of issue 4. Exits 1 on any failed check, wrong
          answer or allocation on the check path; never on speed.
            --short                  the CI run: 2 s per target, 200,000 in-process checks
            --duration 2s --warmup 0.5s --rounds 11  closed loop; the other steps take one round
            --clients 64             closed-loop connections
            --rate 2000              open-loop checks per second
            --threads N              generator threads (default: two per CPU)
            --idle 10000 --silent 1000   connections held open in the held-connections run
            --baseline-duration 5s   the seed baseline's run (it is slow)
            --in-process-checks 1000000
            --startups 5             agent starts timed
            --idle-memory 60s        how long an idle agent's RSS is watched (5s in --short)
            --send primary           the agent-send line ("" for none)
            --close                  close with FIN instead of RST
            --fixture PATH           the recorded Patroni answer the stand-in serves (default v4.1.4-primary)
            --agent PATH             the agent binary (default artifacts/publish/patroni-agent, published if missing)

        patroni-agent-loadtest run --connect ADDRESS:PORT [OPTION...]
          Loads one server already listening on a loopback address.
            --clients 64 | --rate R  closed loop, or open loop at R checks/s
            --duration 5s --warmup 1s --threads 1 --timeout 2s
            --send primary --expect LINE --close
            --pid PID                the server's process, for CPU time and RSS
            --idle N --silent M      connections held open during the run
        """;

    public static int Main(string[] args)
    {
        try
        {
            if (args is ["--help" or "-h", ..])
            {
                Console.Out.Write(Usage);
                return 0;
            }
            if (args is ["run", .. var rest])
            {
                return RunCommand.Execute(new Arguments(rest, new HashSet<string> { "close" }), Console.Out);
            }
            var options = Compare(new Arguments(args is ["compare", ..] ? args[1..] : args, new HashSet<string> { "short", "close" }));
            return new Comparison(options, Console.Out).Run();
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"patroni-agent-loadtest: {e.Message}");
            Console.Error.WriteLine("Try --help.");
            return 2;
        }
    }

    private static CompareOptions Compare(Arguments args)
    {
        var o = args.Flag("short") ? CompareOptions.ShortRun : new CompareOptions();
        o = o with
        {
            Duration = args.Duration("duration", o.Duration),
            Warmup = args.Duration("warmup", o.Warmup),
            Rounds = args.Int("rounds", o.Rounds),
            Clients = args.Int("clients", o.Clients),
            Rate = args.Double("rate", o.Rate),
            Threads = args.Int("threads", o.Threads),
            Idle = args.Int("idle", o.Idle),
            Silent = args.Int("silent", o.Silent),
            BaselineDuration = args.Duration("baseline-duration", o.BaselineDuration),
            InProcessChecks = args.Long("in-process-checks", o.InProcessChecks),
            Startups = args.Int("startups", o.Startups),
            IdleMemoryDuration = args.Duration("idle-memory", o.IdleMemoryDuration),
            Send = args.String("send", o.Send),
            Reset = !args.Flag("close"),
            Fixture = args.String("fixture"),
            Agent = args.String("agent"),
        };
        args.RejectUnknown();
        if (o.Rounds < 1 || o.Clients < 1 || o.Rate <= 0 || o.Threads < 1 || o.Startups < 1 || o.InProcessChecks < 1 || o.IdleMemoryDuration < TimeSpan.FromSeconds(1))
        {
            throw new UsageException("--rounds, --clients, --rate, --threads, --startups and --in-process-checks must be positive, --idle-memory at least 1s");
        }
        return o;
    }
}
