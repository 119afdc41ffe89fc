using System.Net;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Policy;
using PatroniAgent.Server;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Answers;

/// <summary><see cref="Checkers"/>, the table of who checks, and what <see cref="AnswerBoard"/> records in it.</summary>
[Collection(nameof(AllocationCollection))]
public class CheckersTests
{
    private static PeerAddress Peer(string address) => PeerAddress.From(IPAddress.Parse(address).GetAddressBytes());

    [Fact]
    public void Each_address_keeps_its_first_and_last_check_its_count_and_its_last_mode_and_answer()
    {
        var checkers = new Checkers();
        checkers.Record(Peer("10.0.0.1"), (int)Mode.Primary, AnswerKind.Ready, generation: 1, now: 100);
        checkers.Record(Peer("10.0.0.2"), (int)Mode.Replica, AnswerKind.Maint, generation: 1, now: 150);
        checkers.Record(Peer("10.0.0.1"), (int)Mode.Replica, AnswerKind.Maint, generation: 1, now: 200);

        var seen = checkers.Snapshot();

        Assert.Equal(["10.0.0.1", "10.0.0.2"], seen.Select(c => c.Address.ToString()));
        var first = seen[0];
        Assert.Equal((100, 200, 2), (first.FirstCheck, first.LastCheck, first.Checks));
        Assert.Equal("replica", first.ModeName);
        Assert.Equal(AnswerKind.Maint, first.LastKind);
        Assert.Equal(1, checkers.Snapshot()[1].Checks);
    }

    [Fact]
    public void An_address_hears_a_generation_at_its_first_check_answered_from_it()
    {
        var checkers = new Checkers();
        var haproxy = Peer("192.0.2.7");
        checkers.Record(haproxy, (int)Mode.Primary, AnswerKind.Ready, generation: 3, now: 10);
        checkers.Record(haproxy, (int)Mode.Primary, AnswerKind.Ready, generation: 3, now: 20);
        checkers.Record(haproxy, (int)Mode.Primary, AnswerKind.Drain, generation: 4, now: 30);
        checkers.Record(haproxy, (int)Mode.Primary, AnswerKind.Drain, generation: 4, now: 40);

        var checker = Assert.Single(checkers.Snapshot());

        Assert.Equal(4, checker.Generation);
        Assert.Equal(30, checker.HeardSince);
    }

    [Fact]
    public void IPv4_and_its_mapped_IPv6_form_are_one_checker_and_IPv6_is_kept_apart()
    {
        var checkers = new Checkers();
        checkers.Record(Peer("127.0.0.1"), (int)Mode.Primary, AnswerKind.Ready, 1, 1);
        checkers.Record(Peer("::ffff:127.0.0.1"), (int)Mode.Primary, AnswerKind.Ready, 1, 2);
        checkers.Record(Peer("::1"), (int)Mode.Primary, AnswerKind.Ready, 1, 3);
        checkers.Record(PeerAddress.None, (int)Mode.Primary, AnswerKind.Ready, 1, 4);

        var seen = checkers.Snapshot();

        Assert.Equal(["::1", "127.0.0.1"], seen.Select(c => c.Address.ToString()));
        Assert.Equal(2, seen[1].Checks);
    }

    [Fact]
    public void A_full_table_gives_the_least_recent_checker_s_place_to_a_new_one_and_finds_every_other()
    {
        var checkers = new Checkers(capacity: 64);
        for (int i = 0; i < 64; i++)
        {
            checkers.Record(Peer($"10.1.{i / 16}.{i % 16}"), (int)Mode.Primary, AnswerKind.Ready, 1, now: 1000 + i);
        }
        checkers.Record(Peer("10.1.0.0"), (int)Mode.Primary, AnswerKind.Ready, 1, now: 5000);

        for (int i = 0; i < 200; i++)
        {
            checkers.Record(Peer($"10.2.{i / 100}.{i % 100}"), (int)Mode.Primary, AnswerKind.Ready, 1, now: 6000 + i);
        }

        var seen = checkers.Snapshot();
        Assert.Equal(64, checkers.Count);
        Assert.Equal(64, seen.Count);
        Assert.Equal(Enumerable.Range(136, 64).Select(i => $"10.2.{i / 100}.{i % 100}").Reverse(), seen.Select(c => c.Address.ToString()));
        foreach (var checker in seen)
        {
            checkers.Record(PeerAddress.From(checker.Address.GetAddressBytes()), (int)Mode.Primary, AnswerKind.Ready, 1, now: 9000);
        }
        Assert.Equal(64, checkers.Count);
        Assert.All(checkers.Snapshot(), c => Assert.Equal(2, c.Checks));
    }

    [Fact]
    public void The_board_records_every_check_with_the_generation_it_was_answered_from()
    {
        var time = new ManualTime();
        var board = new AnswerBoard("down", TimeSpan.FromSeconds(3), time);
        var haproxy = Peer("10.0.0.9");
        board.Answer(AgentRequest.For(Mode.Primary), "primary\n"u8, haproxy);
        Assert.Equal(0, Assert.Single(board.Checkers.Snapshot()).Generation);

        var primary = Snapshot.FromStatus(Statuses.LeaderPrimary, UnknownAnswer.Default);
        board.PublishFresh(primary);
        board.PublishFresh(primary);
        Assert.Equal(1, board.Generation);
        time.Advance(TimeSpan.FromMilliseconds(5));
        board.AnswerHttp("GET /primary HTTP/1.0\r\n\r\n"u8, haproxy);
        board.Republish(primary.With(new OperatorOverride(Admin.Drain, "maintenance"), UnknownAnswer.Default));
        Assert.Equal(2, board.Generation);
        time.Advance(TimeSpan.FromMilliseconds(5));
        board.Answer(AgentRequest.For(Mode.Primary), "bogus\n"u8, haproxy);

        var checker = Assert.Single(board.Checkers.Snapshot());
        Assert.Equal(3, checker.Checks);
        Assert.Equal(2, checker.Generation);
        Assert.Equal(time.GetTimestamp(), checker.HeardSince);
        Assert.Equal("none", checker.ModeName);
        Assert.Equal(AnswerKind.Error, checker.LastKind);
    }

    [Fact]
    public void Recording_checks_allocates_nothing_even_when_the_table_is_full()
    {
        var board = new AnswerBoard("down", TimeSpan.FromMinutes(5), new ManualTime());
        board.PublishFresh(Snapshot.FromStatus(Statuses.LeaderPrimary, UnknownAnswer.Default));
        var peers = Enumerable.Range(0, Checkers.DefaultCapacity + 100).Select(i => Peer($"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")).ToArray();
        foreach (var peer in peers)
        {
            board.Answer(AgentRequest.For(Mode.Primary), "primary\n"u8, peer);
        }

        const int checks = 20_000;
        long allocated = Allocations.OnThisThread(() =>
        {
            for (int i = 0; i < checks; i++)
            {
                board.Answer(AgentRequest.For(Mode.Primary), "primary\n"u8, peers[i % peers.Length]);
            }
        });

        Assert.Equal(0, allocated);
        Assert.Equal(Checkers.DefaultCapacity, board.Checkers.Count);
    }
}
