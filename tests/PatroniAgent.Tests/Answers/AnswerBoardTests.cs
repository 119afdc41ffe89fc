using System.Text;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Patroni;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Answers;

/// <summary><see cref="AnswerBoard"/>'s stale-after bound, to the clock's last unit.</summary>
public class AnswerBoardTests
{
    private const string Stale = "down #no answer from patroni for";


    [Theory]
    [InlineData(43)]
    [InlineData(1001)]
    [InlineData(3000)]
    public void A_snapshot_is_served_for_exactly_stale_after_on_a_clock_of_100_ns_ticks(int staleAfterMs)
    {
        var time = new ManualTime();
        var staleAfter = TimeSpan.FromMilliseconds(staleAfterMs);
        var board = new AnswerBoard("down", staleAfter, time);
        board.PublishFresh(Snapshot.FromStatus(Statuses.LeaderPrimary, UnknownAnswer.Default));

        time.Advance(staleAfter);
        Assert.Equal("up ready 100% #primary, timeline 1\n", Answer(board));

        time.Advance(TimeSpan.FromTicks(1));
        Assert.StartsWith(Stale, Answer(board));
    }

    [Theory]
    [InlineData(43)]
    [InlineData(1001)]
    [InlineData(3000)]
    public void A_snapshot_is_served_for_exactly_stale_after_on_a_nanosecond_clock(int staleAfterMs)
    {
        var time = new NanosecondTime();
        var board = new AnswerBoard("down", TimeSpan.FromMilliseconds(staleAfterMs), time);
        board.PublishFresh(Snapshot.FromStatus(Statuses.LeaderPrimary, UnknownAnswer.Default));

        time.Advance(staleAfterMs * 1_000_000L);
        Assert.Equal("up ready 100% #primary, timeline 1\n", Answer(board));

        time.Advance(1);
        Assert.StartsWith(Stale, Answer(board));
    }

    private static string Answer(AnswerBoard board) => Encoding.ASCII.GetString(board.Answer(AgentRequest.For(Mode.Primary), "primary\n"u8));

    /// <summary>A manual clock counting nanoseconds, as the system's does on Linux.</summary>
    private sealed class NanosecondTime : TimeProvider
    {
        private long _nanoseconds = 1_000_000_000;

        public override long TimestampFrequency => 1_000_000_000;

        public override long GetTimestamp() => _nanoseconds;

        public void Advance(long nanoseconds) => _nanoseconds += nanoseconds;
    }
}
