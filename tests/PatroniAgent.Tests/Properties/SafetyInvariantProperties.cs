using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Logging.Abstractions;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Watcher;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Properties;

/// <summary>
/// The safety invariant over generated Patroni answers and poll timings: read-write answers ready (HTTP
/// 200) if and only if Patroni answered HTTP 200 with state <c>running</c> and role <c>primary</c> or
/// <c>master</c> in a usable answer, and the snapshot is at most stale-after old when checked. Every
/// reply is one well-formed line, and none is ready once the snapshot is past stale-after.
/// </summary>
public class SafetyInvariantProperties
{
    /// <summary>Every way a check asks for read-write: the agent-send words, as the listener's mode, and HTTP.</summary>
    private static readonly string[] ReadWriteLines = ["primary\n", "master\n", "read-write\n", "rw\n", "PRIMARY\r\n", "Master", "rw max-lag=0\n"];
    private static readonly string[] ReadWriteRequests =
    [
        "OPTIONS /primary HTTP/1.0\r\n\r\n", "GET /primary HTTP/1.1\r\nHost: pg1\r\n\r\n", "HEAD /master HTTP/1.1\r\n\r\n", "GET /read-write?lag=1MB HTTP/1.0\n\n",
    ];

    /// <summary>
    /// A stale-after and the age of the status when checked, counted from when its poll was sent: around
    /// the bound, exactly on it, and far from it.
    /// </summary>
    public sealed record Timing(TimeSpan StaleAfter, TimeSpan Age)
    {
        public bool Fresh => Age <= StaleAfter;

        public override string ToString() => $"stale-after {StaleAfter.Ticks} ticks, checked {Age.Ticks} ticks after the poll was sent";
    }

    public static readonly Gen<Timing> Timings =
        from staleAfter in Gen.Frequency(
            (2, Gen.Choose(1, 10_000).Select(ms => TimeSpan.FromMilliseconds(ms))),
            (1, Gen.Choose(1, 100_000_000).Select(ticks => TimeSpan.FromTicks(ticks))),
            (1, Gen.Elements(3000, 100, 50, 1, 43, 1001).Select(ms => TimeSpan.FromMilliseconds(ms))))
        from age in Gen.OneOf(
            Gen.Elements(0L, staleAfter.Ticks - 1, staleAfter.Ticks, staleAfter.Ticks + 1),
            Gen.Choose(0, (int)Math.Min(int.MaxValue, staleAfter.Ticks * 2)).Select(ticks => (long)ticks))
        select new Timing(staleAfter, TimeSpan.FromTicks(Math.Max(0, age)));

    /// <summary>A status, when it is checked, and how long its poll took (at most the age: the check comes after the answer).</summary>
    public sealed record Case(PatroniAnswer Answer, Timing Timing, TimeSpan PollTime)
    {
        public override string ToString() => $"{Answer}; {Timing}; the poll took {PollTime.TotalMilliseconds} ms";
    }

    private static readonly Arbitrary<Case> Cases =
        (from answer in PatroniAnswers.Any
         from timing in Timings
         from pollMs in Gen.Choose(0, 1000)
         select new Case(answer, timing, TimeSpan.FromTicks(Math.Min(timing.Age.Ticks, TimeSpan.FromMilliseconds(pollMs).Ticks)))).ToArbitrary();

    [ReplayableProperty(MaxTest = 3000)]
    public Property Read_write_is_ready_exactly_for_a_fresh_running_primary_with_the_lock() => Prop.ForAll(Cases, c =>
    {
        var rig = new Rig(c.Timing.StaleAfter);
        rig.Poller.Then(c.Answer.ToPollResult(), c.PollTime);
        rig.Watcher.PollOnce(CancellationToken.None);
        rig.Time.Advance(c.Timing.Age - c.PollTime);

        bool expected = c.Answer.MayTakeWrites && c.Timing.Fresh;
        foreach (var line in ReadWriteLines)
        {
            var reply = rig.Board.Answer(AgentRequest.For(Mode.Health), Encoding.ASCII.GetBytes(line));
            Assert.True(AnswerReading.IsReady(reply) == expected, $"'{AnswerReading.Escaped(Encoding.ASCII.GetBytes(line))}' answered {AnswerReading.Escaped(reply)}");
        }
        Assert.Equal(expected, AnswerReading.IsReady(rig.Board.Answer(AgentRequest.For(Mode.Primary), [])));
        Assert.Equal(expected, AnswerReading.IsReady(rig.Board.Answer(AgentRequest.For(Mode.Primary), "\n"u8)));
        foreach (var request in ReadWriteRequests)
        {
            var (status, _) = AnswerReading.ReadHttp(rig.Board.AnswerHttp(Encoding.ASCII.GetBytes(request)));
            Assert.True((status == 200) == expected, $"'{request.Trim()}' answered HTTP {status}");
        }
    });

    [ReplayableProperty(MaxTest = 2000)]
    public Property Every_reply_is_one_printable_line_and_none_is_ready_when_stale_or_not_running() => Prop.ForAll(Cases, c =>
    {
        var rig = new Rig(c.Timing.StaleAfter);
        rig.Poller.Then(c.Answer.ToPollResult(), c.PollTime);
        rig.Watcher.PollOnce(CancellationToken.None);
        rig.Time.Advance(c.Timing.Age - c.PollTime);

        foreach (var mode in ModeNames.All)
        {
            foreach (var line in new[] { ModeNames.Name(mode) + "\n", ModeNames.Name(mode) + " max-lag=16MB\n", ModeNames.Name(mode) + " lag=0\n" })
            {
                var reply = rig.Board.Answer(AgentRequest.For(Mode.Primary), Encoding.ASCII.GetBytes(line));
                Assert.Null(AnswerReading.LineProblem(reply, Rig.UnknownWords));
                bool ready = AnswerReading.IsReady(reply);
                Assert.False(ready && !c.Timing.Fresh, $"stale, yet '{line.Trim()}' answered {AnswerReading.Escaped(reply)}");
                bool aboutPatroni = mode == Mode.Liveness && c.Answer.Decodes;
                Assert.False(ready && !aboutPatroni && !(c.Answer.Decodes && c.Answer.State == "running"), $"not a running node, yet '{line.Trim()}' answered {AnswerReading.Escaped(reply)}");

                var request = $"GET /{ModeNames.Name(mode)}?lag=16MB HTTP/1.1\r\n\r\n";
                var (status, body) = AnswerReading.ReadHttp(rig.Board.AnswerHttp(Encoding.ASCII.GetBytes(request)));
                Assert.Null(AnswerReading.LineProblem(Encoding.Latin1.GetBytes(body), Rig.UnknownWords));
                Assert.Equal(AnswerReading.IsReady(Encoding.Latin1.GetBytes(body)) ? 200 : 503, status);
                Assert.False(status == 200 && !c.Timing.Fresh, $"stale, yet '{request.Trim()}' answered HTTP 200");
            }
        }
    });

    /// <summary>A watcher polling the scripted Patroni into a board, on a manual clock.</summary>
    private sealed class Rig
    {
        public const string UnknownWords = "down";

        public Rig(TimeSpan staleAfter)
        {
            Poller = new ScriptedPoller(Time);
            Board = new AnswerBoard(UnknownWords, staleAfter, Time);
            Watcher = new RoleWatcher(Poller, Board, TimeSpan.FromMilliseconds(50), staleAfter, NullLogger.Instance, Time);
        }

        public ManualTime Time { get; } = new();
        public ScriptedPoller Poller { get; }
        public AnswerBoard Board { get; }
        public RoleWatcher Watcher { get; }
    }
}
