using Microsoft.Extensions.Logging;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Patroni;
using PatroniAgent.Server;
using PatroniAgent.Watcher;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Watcher;

/// <summary>The line <see cref="HeardLog"/> logs after a change of answer, when the checkers have heard it or the window is over.</summary>
public sealed class HeardLogTests : IDisposable
{
    private static readonly PeerAddress First = PeerAddress.From([10, 0, 0, 1]);
    private static readonly PeerAddress Second = PeerAddress.From([10, 0, 0, 2]);

    private readonly ManualTime _time = new();
    private readonly ListLogger _log = new();
    private readonly AnswerBoard _board;
    private readonly HeardLog _heard;

    public HeardLogTests()
    {
        _board = new AnswerBoard("down", TimeSpan.FromMinutes(5), _time);
        _heard = new HeardLog(_board, _log);
    }

    public void Dispose() => _heard.Dispose();

    private void Check(PeerAddress peer, string line = "primary\n") =>
        _board.Answer(AgentRequest.For(Mode.Primary), System.Text.Encoding.ASCII.GetBytes(line), peer);

    private void Publish(NodeStatus status)
    {
        _board.PublishFresh(Snapshot.FromStatus(status, UnknownAnswer.Default));
        _heard.Published();
    }

    [Fact]
    public void A_change_is_logged_once_when_every_recent_checker_heard_it_with_the_time_to_the_last()
    {
        Check(First);
        Check(Second, "replica\n");
        Publish(Statuses.LeaderPrimary);
        _time.Advance(TimeSpan.FromMilliseconds(12));
        Check(First);
        _heard.Look();
        Assert.Empty(_log.Lines);

        _time.Advance(TimeSpan.FromMilliseconds(36));
        Check(Second, "replica\n");
        _heard.Look();
        _heard.Look();

        var line = Assert.Single(_log.Lines);
        Assert.Equal((LogLevel.Information, "primary: ready, replica: maint heard by 2 of 2 checkers in 48 ms"), line);
    }

    [Fact]
    public void A_checker_that_does_not_check_again_is_named_once_the_window_is_over()
    {
        Check(First);
        Check(Second);
        Publish(Statuses.LeaderPrimary);
        Check(First);
        _time.Advance(Checkers.RecentWindow - TimeSpan.FromMilliseconds(1));
        _heard.Look();
        Assert.Empty(_log.Lines);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        _heard.Look();

        Assert.Equal((LogLevel.Warning, "primary: ready heard by 1 of 2 checkers within 10 s; not by 10.0.0.2"), Assert.Single(_log.Lines));
    }

    [Fact]
    public void Without_checkers_or_without_a_change_of_answer_nothing_is_logged()
    {
        Publish(Statuses.LeaderPrimary);
        _heard.Look();
        Check(First);
        Publish(Statuses.LeaderPrimary with { Timeline = 2 });
        Check(First);
        _heard.Look();

        Assert.Empty(_log.Lines);
    }

    [Fact]
    public void A_checker_last_seen_before_the_window_is_not_waited_for()
    {
        Check(Second);
        _time.Advance(Checkers.RecentWindow + TimeSpan.FromSeconds(1));
        Check(First);
        Publish(Statuses.LeaderPrimary);
        Check(First);
        _heard.Look();

        Assert.Equal((LogLevel.Information, "primary: ready heard by 1 of 1 checkers in 0 ms"), Assert.Single(_log.Lines));
    }
}
