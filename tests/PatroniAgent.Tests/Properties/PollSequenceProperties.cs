using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Logging.Abstractions;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Patroni;
using PatroniAgent.Watcher;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Properties;

/// <summary>
/// Faults as data: sequences of polls (good answers, failures with their reasons, timeouts) and pauses,
/// driven through <see cref="RoleWatcher"/> on a manual clock, with checks between the steps and while a
/// poll is under way. Read-write is ready only while the last good poll showed a running primary with
/// the lock and is at most stale-after old; and it is ready whenever that poll is younger than stale-after.
/// </summary>
public class PollSequenceProperties
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);

    /// <summary>One step of a run: a poll and what it gives after how long, or a pause without polling.</summary>
    public abstract record Step;

    public sealed record Poll(PatroniAnswer? Answer, string? Failure, TimeSpan Duration) : Step
    {
        public PollResult Result => Answer?.ToPollResult() ?? PollResult.Failed(Failure!);

        public override string ToString() => Answer is { } answer
            ? $"poll {Duration.TotalMilliseconds} ms: {answer}"
            : $"poll {Duration.TotalMilliseconds} ms: fails with '{Failure}'";
    }

    public sealed record Pause(TimeSpan Duration) : Step
    {
        public override string ToString() => $"pause {Duration.TotalMilliseconds} ms";
    }

    public sealed record Run(TimeSpan StaleAfter, IReadOnlyList<Step> Steps)
    {
        public override string ToString() =>
            $"stale-after {StaleAfter.TotalMilliseconds} ms:\n  " + string.Join("\n  ", Steps.Select(step => step.ToString()));
    }

    /// <summary>Reasons <see cref="PatroniClient"/> gives for a failed poll.</summary>
    private static readonly string[] FailureReasons =
    [
        "patroni refused the connection", "patroni answer cut short (ResponseEnded)", "cannot resolve patroni host pg1",
        "patroni unreachable: HostUnreachable", "TLS handshake with patroni failed", "patroni request failed",
        "patroni answer larger than 1024 kB",
    ];

    private static readonly Gen<Step> Steps = Gen.Frequency(
        (4, from answer in Gen.Frequency((3, PatroniAnswers.RunningPrimaries), (2, PatroniAnswers.Any))
            from ms in Gen.Choose(0, 300)
            select (Step)new Poll(answer, null, TimeSpan.FromMilliseconds(ms))),
        (2, from reason in Gen.Elements(FailureReasons)
            from ms in Gen.Choose(0, 1000)
            select (Step)new Poll(null, reason, TimeSpan.FromMilliseconds(ms))),
        (1, Gen.Constant((Step)new Poll(null, $"no answer from patroni within {Timeout.TotalMilliseconds:0} ms", Timeout))),
        (2, Gen.Choose(0, 4000).Select(ms => (Step)new Pause(TimeSpan.FromMilliseconds(ms)))));

    private static readonly Arbitrary<Run> Runs =
        (from staleAfterMs in Gen.Elements(100, 500, 1000, 1500, 3000)
         from count in Gen.Choose(1, 30)
         from steps in Steps.ListOf(count)
         select new Run(TimeSpan.FromMilliseconds(staleAfterMs), steps)).ToArbitrary();

    [ReplayableProperty(MaxTest = 400)]
    public Property Read_write_follows_the_last_good_poll_and_never_outlives_stale_after() => Prop.ForAll(Runs, run =>
    {
        var time = new ManualTime();
        var poller = new ScriptedPoller(time) { Slices = 3 };
        var board = new AnswerBoard("down", run.StaleAfter, time);
        var watcher = new RoleWatcher(poller, board, TimeSpan.FromMilliseconds(50), run.StaleAfter, NullLogger.Instance, time);
        (long At, bool RunningPrimary)? lastGood = null;

        void Check(string when)
        {
            var reply = board.Answer(AgentRequest.For(Mode.Primary), "primary\n"u8);
            bool ready = AnswerReading.IsReady(reply);
            var (status, _) = AnswerReading.ReadHttp(board.AnswerHttp("OPTIONS /primary HTTP/1.0\r\n\r\n"u8));
            Assert.True(ready == (status == 200), $"{when}: agent and HTTP disagree: {AnswerReading.Escaped(reply)} vs HTTP {status}");

            var age = lastGood is { } good ? TimeSpan.FromTicks(time.GetTimestamp() - good.At) : (TimeSpan?)null;
            bool mayBeReady = lastGood is { RunningPrimary: true } && age <= run.StaleAfter;
            bool mustBeReady = lastGood is { RunningPrimary: true } && age < run.StaleAfter;
            Assert.False(ready && !mayBeReady, $"{when}: ready, yet the last good poll is {Describe(lastGood, age)}: {AnswerReading.Escaped(reply)}");
            Assert.False(mustBeReady && !ready, $"{when}: not ready, yet the last good poll is {Describe(lastGood, age)}: {AnswerReading.Escaped(reply)}");
            if (age is null || age > run.StaleAfter)
            {
                foreach (var mode in ModeNames.All)
                {
                    var line = board.Answer(AgentRequest.For(mode), []);
                    Assert.False(AnswerReading.IsReady(line), $"{when}: {ModeNames.Name(mode)} ready without a fresh good poll: {AnswerReading.Escaped(line)}");
                }
            }
        }

        for (int i = 0; i < run.Steps.Count; i++)
        {
            string when = $"step {i + 1} ({run.Steps[i]})";
            switch (run.Steps[i])
            {
                case Poll poll:
                    var result = poll.Result;
                    poller.Then(result, poll.Duration);
                    poller.During = () => Check($"during {when}");
                    long sent = time.GetTimestamp();
                    watcher.PollOnce(CancellationToken.None);
                    if (result.Status is not null)
                    {
                        // Patroni's answer is as old as the request: freshness counts from the poll's start.
                        lastGood = (sent, poll.Answer!.MayTakeWrites);
                    }
                    break;
                case Pause pause:
                    time.Advance(pause.Duration / 2);
                    Check($"halfway through {when}");
                    time.Advance(pause.Duration - pause.Duration / 2);
                    break;
            }
            Check($"after {when}");
        }
    });

    private static string Describe((long At, bool RunningPrimary)? lastGood, TimeSpan? age) => lastGood is { } good
        ? $"{age!.Value.TotalMilliseconds} ms old and {(good.RunningPrimary ? "showed a running primary with the lock" : "showed something else")}"
        : "none yet";
}
