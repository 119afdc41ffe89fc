using Microsoft.Extensions.Logging.Abstractions;
using PatroniAgent.Answers;
using PatroniAgent.Patroni;
using PatroniAgent.Watcher;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Watcher;

/// <summary>What <see cref="RoleWatcher"/> records of its polls in <see cref="PollMetrics"/>.</summary>
public class PollMetricsTests
{

    [Fact]
    public void Every_poll_lands_in_the_latency_histogram_and_failures_are_counted_by_kind()
    {
        var (_, poller, watcher, _) = Rig();
        poller.Then(new PollResult(Statuses.LeaderPrimary, null), TimeSpan.FromMilliseconds(3));
        poller.Then(PollResult.Failed("no answer from patroni within 1000 ms", PollErrorKind.Timeout), TimeSpan.FromSeconds(1));
        poller.Then(PollResult.Failed("patroni refused the connection", PollErrorKind.Refused), TimeSpan.FromMilliseconds(1));
        poller.Then(PollResult.Failed("patroni answer has no state or role", PollErrorKind.Json), TimeSpan.FromSeconds(20));

        for (int i = 0; i < 4; i++)
        {
            watcher.PollOnce(CancellationToken.None);
        }

        var polls = watcher.Polls;
        var buckets = polls.CumulativeBuckets();
        Assert.Equal(PollMetrics.BucketBounds.Length + 1, buckets.Length);
        Assert.Equal(1, buckets[Array.IndexOf(PollMetrics.BucketBounds, 0.001)]);
        Assert.Equal(2, buckets[Array.IndexOf(PollMetrics.BucketBounds, 0.005)]);
        Assert.Equal(2, buckets[Array.IndexOf(PollMetrics.BucketBounds, 0.5)]);
        Assert.Equal(3, buckets[Array.IndexOf(PollMetrics.BucketBounds, 1.0)]);
        Assert.Equal(3, buckets[^2]);
        Assert.Equal(4, buckets[^1]);
        Assert.Equal(TimeSpan.FromMilliseconds(21_004), polls.TotalDuration);
        Assert.Equal(1, polls.Errors(PollErrorKind.Timeout));
        Assert.Equal(1, polls.Errors(PollErrorKind.Refused));
        Assert.Equal(1, polls.Errors(PollErrorKind.Json));
        Assert.Equal(0, polls.Errors(PollErrorKind.Tls));
        Assert.Equal("patroni answer has no state or role", polls.LastError!.Message);
        Assert.Equal(PollErrorKind.Json, polls.LastError.Kind);
    }

    [Fact]
    public void The_age_of_the_last_good_poll_grows_with_failures_and_resets_on_success()
    {
        var (time, poller, watcher, _) = Rig();
        Assert.Null(watcher.Polls.LastGoodAt);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(2), watcher.Polls.SinceLastGood);

        poller.Then(new PollResult(Statuses.LeaderPrimary, null), TimeSpan.FromMilliseconds(10));
        watcher.PollOnce(CancellationToken.None);
        Assert.Equal(TimeSpan.FromMilliseconds(10), watcher.Polls.SinceLastGood);
        Assert.NotNull(watcher.Polls.LastGoodAt);
        Assert.Null(watcher.Polls.LastError);

        poller.Then(PollResult.Failed("patroni refused the connection", PollErrorKind.Refused), TimeSpan.FromMilliseconds(500));
        watcher.PollOnce(CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromMilliseconds(1510), watcher.Polls.SinceLastGood);
    }

    [Fact]
    public void When_the_answers_go_unknown_for_staleness_the_age_shown_is_past_stale_after()
    {
        var (time, poller, watcher, board) = Rig();
        poller.Then(new PollResult(Statuses.LeaderPrimary, null), TimeSpan.FromMilliseconds(400));
        watcher.PollOnce(CancellationToken.None);
        Assert.True(watcher.Polls.LastGoodAt <= time.GetUtcNow() - TimeSpan.FromMilliseconds(400));

        while (board.Current.Status is not null)
        {
            poller.Then(PollResult.Failed("patroni refused the connection", PollErrorKind.Refused), TimeSpan.FromMilliseconds(100));
            watcher.PollOnce(CancellationToken.None);
        }

        Assert.InRange(watcher.Polls.SinceLastGood, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3.1));
    }

    private static (ManualTime Time, ScriptedPoller Poller, RoleWatcher Watcher, AnswerBoard Board) Rig()
    {
        var time = new ManualTime();
        var poller = new ScriptedPoller(time);
        var board = new AnswerBoard("down", TimeSpan.FromSeconds(3), time);
        return (time, poller, new RoleWatcher(poller, board, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(3), NullLogger.Instance, time), board);
    }
}
