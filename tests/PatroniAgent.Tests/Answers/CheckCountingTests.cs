using System.Text;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Patroni;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Answers;

/// <summary>The check counters and answer transitions kept by <see cref="AnswerBoard"/>.</summary>
[Collection(nameof(AllocationCollection))]
public class CheckCountingTests
{

    private static readonly NodeStatus Replica = new()
    {
        HttpStatus = 503, Role = PatroniRole.Replica, RoleName = "replica", State = "running", Timeline = 1, LagBytes = 20L << 20,
    };

    [Fact]
    public void Agent_checks_are_counted_by_the_mode_asked_and_the_kind_of_answer()
    {
        var time = new ManualTime();
        var board = new AnswerBoard("down", TimeSpan.FromSeconds(3), time);
        board.PublishFresh(Snapshot.FromStatus(Replica, UnknownAnswer.Default));

        board.Answer(AgentRequest.For(Mode.Primary), "\n"u8);
        board.Answer(AgentRequest.For(Mode.Primary), "primary\n"u8);
        board.Answer(AgentRequest.For(Mode.Primary), "replica\n"u8);
        board.Answer(AgentRequest.For(Mode.Primary), "replica max-lag=16MB\n"u8);
        board.Answer(AgentRequest.For(Mode.Primary), "no-such-mode\n"u8);
        time.Advance(TimeSpan.FromSeconds(4));
        board.Answer(AgentRequest.For(Mode.Primary), "sync\n"u8);

        var checks = board.Checks;
        Assert.Equal(2, checks.Read(CheckProtocol.Agent, (int)Mode.Primary, AnswerKind.Maint));
        Assert.Equal(1, checks.Read(CheckProtocol.Agent, (int)Mode.Replica, AnswerKind.Ready));
        Assert.Equal(1, checks.Read(CheckProtocol.Agent, (int)Mode.Replica, AnswerKind.Drain));
        Assert.Equal(1, checks.Read(CheckProtocol.Agent, CheckCounters.NoMode, AnswerKind.Error));
        Assert.Equal(1, checks.Read(CheckProtocol.Agent, (int)Mode.Sync, AnswerKind.Unknown));
        Assert.Equal(6, Total(checks));
    }

    [Fact]
    public void Http_checks_are_counted_apart_from_agent_checks()
    {
        var board = new AnswerBoard("down", TimeSpan.FromSeconds(3), new ManualTime());
        board.PublishFresh(Snapshot.FromStatus(Statuses.LeaderPrimary, UnknownAnswer.Default));

        board.AnswerHttp("GET /primary HTTP/1.1\r\n\r\n"u8);
        board.AnswerHttp("GET /replica HTTP/1.1\r\n\r\n"u8);
        board.AnswerHttp("GET /nowhere HTTP/1.1\r\n\r\n"u8);
        board.Answer(AgentRequest.For(Mode.Primary), "primary\n"u8);

        var checks = board.Checks;
        Assert.Equal(1, checks.Read(CheckProtocol.Http, (int)Mode.Primary, AnswerKind.Ready));
        Assert.Equal(1, checks.Read(CheckProtocol.Http, (int)Mode.Replica, AnswerKind.Maint));
        Assert.Equal(1, checks.Read(CheckProtocol.Http, CheckCounters.NoMode, AnswerKind.Error));
        Assert.Equal(1, checks.Read(CheckProtocol.Agent, (int)Mode.Primary, AnswerKind.Ready));
        Assert.Equal(4, Total(checks));
    }

    [Fact]
    public void The_unknown_snapshot_is_counted_as_unknown()
    {
        var board = new AnswerBoard("down", TimeSpan.FromSeconds(3), new ManualTime());

        Assert.Equal("down #waiting for the first answer from patroni\n", Encoding.ASCII.GetString(board.Answer(AgentRequest.For(Mode.Leader), "\n"u8)));

        Assert.Equal(1, board.Checks.Read(CheckProtocol.Agent, (int)Mode.Leader, AnswerKind.Unknown));
    }

    [Fact]
    public void Counting_a_check_allocates_nothing()
    {
        var board = new AnswerBoard("down", TimeSpan.FromMinutes(5), new ManualTime());
        board.PublishFresh(Snapshot.FromStatus(Replica, UnknownAnswer.Default));
        for (int i = 0; i < 1000; i++)
        {
            board.Answer(AgentRequest.For(Mode.Primary), "replica max-lag=16MB\n"u8);
            board.AnswerHttp("GET /replica HTTP/1.1\r\n\r\n"u8);
        }

        const int checks = 100_000;
        long allocated = Allocations.OnThisThread(() =>
        {
            for (int i = 0; i < checks; i++)
            {
                board.Answer(AgentRequest.For(Mode.Primary), "replica max-lag=16MB\n"u8);
                board.AnswerHttp("GET /replica HTTP/1.1\r\n\r\n"u8);
                board.Checks.Count(CheckProtocol.Agent, CheckCounters.NoMode, AnswerKind.Error);
            }
        });

        Assert.Equal(0, allocated);
        Assert.Equal(1000 + checks, board.Checks.Read(CheckProtocol.Agent, (int)Mode.Replica, AnswerKind.Drain));
        Assert.Equal(1000 + checks, board.Checks.Read(CheckProtocol.Http, (int)Mode.Replica, AnswerKind.Ready));
        Assert.Equal(checks, board.Checks.Read(CheckProtocol.Agent, CheckCounters.NoMode, AnswerKind.Error));
    }

    [Fact]
    public void A_transition_is_counted_per_mode_whose_answer_kind_changes()
    {
        var board = new AnswerBoard("down", TimeSpan.FromSeconds(3), new ManualTime());
        board.PublishFresh(Snapshot.FromStatus(Statuses.LeaderPrimary, UnknownAnswer.Default));
        Assert.All(ModeNames.All, m => Assert.Equal(1, board.Transitions(m)));

        var replica = Snapshot.FromStatus(Replica, UnknownAnswer.Default);
        board.PublishFresh(replica);
        board.PublishFresh(replica);
        board.PublishFresh(Snapshot.FromStatus(Replica, UnknownAnswer.Default));

        Assert.Equal(2, board.Transitions(Mode.Primary));
        Assert.Equal(2, board.Transitions(Mode.Replica));
        Assert.Equal(2, board.Transitions(Mode.Leader));
        Assert.Equal(1, board.Transitions(Mode.Health));
        Assert.Equal(1, board.Transitions(Mode.StandbyLeader));

        board.PublishUnknown(Snapshot.Unknown(UnknownAnswer.Default, "patroni refused the connection"));
        Assert.Equal(3, board.Transitions(Mode.Primary));
        Assert.Equal(2, board.Transitions(Mode.Health));
    }

    private static long Total(CheckCounters checks)
    {
        long total = 0;
        foreach (var protocol in new[] { CheckProtocol.Agent, CheckProtocol.Http })
        {
            for (int slot = 0; slot <= CheckCounters.NoMode; slot++)
            {
                foreach (var kind in AnswerKinds.All)
                {
                    total += checks.Read(protocol, slot, kind);
                }
            }
        }
        return total;
    }
}
