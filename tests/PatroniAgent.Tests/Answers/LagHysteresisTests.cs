using System.Text;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Patroni;
using Microsoft.Extensions.Logging;
using PatroniAgent.Tests.Support;
using PatroniAgent.Watcher;

namespace PatroniAgent.Tests.Answers;

/// <summary>
/// Checks with a lag limit on a replica whose lag moves: out at the limit, back only below the return
/// limit after the hold time, each move reported once; and weights that fall with the lag.
/// </summary>
[Collection(nameof(AllocationCollection))]
public class LagHysteresisTests
{
    private const long MB = 1L << 20;
    private const string Check = "replica max-lag=16MB\n";

    private readonly ManualTime _time = new();
    private readonly AnswerBoard _board;
    private readonly List<LagTransition> _moves = [];

    public LagHysteresisTests()
    {
        _board = new AnswerBoard("down", TimeSpan.FromMinutes(5), _time);
    }

    /// <summary>A poll that reports <paramref name="lag"/> bytes, after <paramref name="after"/>.</summary>
    private void Poll(long lag, TimeSpan after)
    {
        _time.Advance(after);
        var status = Statuses.Running(PatroniRole.Replica, "replica") with { LagBytes = lag };
        _moves.AddRange(_board.PublishFresh(Snapshot.FromStatus(status, _board.Unknown)));
    }

    private string Answer(string line = Check) => Encoding.ASCII.GetString(_board.Answer(AgentRequest.For(Mode.Primary), Encoding.ASCII.GetBytes(line)));

    private int Http(string target) =>
        AnswerReading.ReadHttp(_board.AnswerHttp(Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\n\r\n"))).Status;

    [Fact]
    public void A_replica_leaves_at_the_limit_and_returns_only_after_its_lag_stayed_at_half_of_it_for_ten_seconds()
    {
        Poll(2 * MB, TimeSpan.Zero);
        Assert.Equal("up ready 100% #replica, lag 2 MB\n", Answer());

        Poll(20 * MB, TimeSpan.FromSeconds(1));
        Assert.Equal("up drain #replica, lag 20 MB over max-lag\n", Answer());

        Poll(15 * MB, TimeSpan.FromSeconds(1));
        Assert.Equal("up drain #replica, lag 15 MB, held out after passing max-lag\n", Answer());

        Poll(8 * MB, TimeSpan.FromSeconds(1));
        Assert.Equal("up drain #replica, lag 8 MB, held out after passing max-lag\n", Answer());
        _time.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        Assert.StartsWith("up drain #replica, lag 8 MB, held out", Answer());
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal("up ready 100% #replica, lag 8 MB\n", Answer());

        Poll(8 * MB, TimeSpan.FromSeconds(1));
        Assert.Equal(
            ["lag 20 MB over max-lag 16 MB: out of those checks until at or below 8 MB for 10s",
             "lag 8 MB, at or below 8 MB for 10s: back in the checks with max-lag 16 MB"],
            _moves.Select(_board.Gates.Describe));
    }

    [Fact]
    public void A_listeners_lag_parameters_answer_a_check_that_sends_nothing()
    {
        var listener = new AgentRequest(Mode.Replica, 16 * MB, AgentRequestError.None) { ReturnLag = 4 * MB, HoldMilliseconds = 30_000 };
        string Empty() => Encoding.ASCII.GetString(_board.Answer(listener, []));

        Poll(2 * MB, TimeSpan.Zero);
        Assert.Equal("up ready 100% #replica, lag 2 MB\n", Empty());
        Poll(20 * MB, TimeSpan.FromSeconds(1));
        Assert.Equal("up drain #replica, lag 20 MB over max-lag\n", Empty());
        Poll(8 * MB, TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal("up drain #replica, lag 8 MB, held out after passing max-lag\n", Empty());
        Poll(3 * MB, TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromTicks(1));
        Assert.StartsWith("up drain #replica, lag 3 MB, held out", Empty());
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal("up ready 100% #replica, lag 3 MB\n", Empty());
        Assert.Equal("up ready 100% #replica, lag 3 MB\n", Answer("read-only\n"));
    }

    [Fact]
    public void A_lag_that_wanders_around_the_limit_takes_the_replica_out_once_and_never_back()
    {
        Poll(2 * MB, TimeSpan.Zero);
        Assert.StartsWith("up ready", Answer());
        var answers = new List<string>();
        for (int second = 0; second < 60; second++)
        {
            Poll(second % 2 == 0 ? 17 * MB : 15 * MB, TimeSpan.FromSeconds(1));
            answers.Add(Answer()[..8]);
        }
        Assert.All(answers, answer => Assert.Equal("up drain", answer));
        Assert.Single(_moves);
        Assert.True(_moves[0].Left);
    }

    [Fact]
    public void The_watcher_logs_each_move_once_with_the_lag()
    {
        var poller = new ScriptedPoller(_time);
        var log = new ListLogger();
        var watcher = new RoleWatcher(poller, _board, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5), log, _time);
        void PollWith(long lag)
        {
            poller.Then(new PollResult(Statuses.Running(PatroniRole.Replica, "replica") with { LagBytes = lag }, null), TimeSpan.FromSeconds(1));
            watcher.PollOnce(CancellationToken.None);
        }

        PollWith(2 * MB);
        Assert.StartsWith("up ready", Answer());
        PollWith(20 * MB);
        PollWith(30 * MB);
        PollWith(MB);
        _time.Advance(TimeSpan.FromSeconds(10));
        PollWith(MB);
        PollWith(MB);

        Assert.Equal(
            ["replica lag 20 MB over max-lag 16 MB: out of those checks until at or below 8 MB for 10s",
             "replica lag 1 MB, at or below 8 MB for 10s: back in the checks with max-lag 16 MB"],
            log.Lines.Where(l => l.Level == LogLevel.Information && l.Message.StartsWith("replica ", StringComparison.Ordinal)).Select(l => l.Message));
    }

    [Fact]
    public void A_limit_no_check_asked_for_a_minute_moves_without_a_report()
    {
        Poll(0, TimeSpan.Zero);
        Assert.StartsWith("up ready", Answer("replica max-lag=1MB\n"));
        _time.Advance(TimeSpan.FromSeconds(61));
        Assert.StartsWith("up ready", Answer());
        Poll(5 * MB, TimeSpan.Zero);
        Assert.Empty(_moves);
        Poll(20 * MB, TimeSpan.FromSeconds(1));
        Assert.Equal([16 * MB], _moves.Select(move => move.Limits.MaxLag));
        Assert.StartsWith("up drain", Answer("replica max-lag=1MB\n"));
    }

    [Theory]
    [InlineData("health max-lag=0\n", "up ready 100% #replica, lag 0 B\n")]
    [InlineData("liveness max-lag=0\n", "up ready 100% #patroni answers, postgres running, replica\n")]
    [InlineData("primary max-lag=0\n", "up maint #replica, lag 0 B\n")]
    public void A_mode_whose_answer_does_not_depend_on_the_lag_is_never_held_out(string line, string expected)
    {
        Poll(0, TimeSpan.Zero);
        Assert.Equal(expected, Answer(line));
        Poll(MB, TimeSpan.FromSeconds(1));
        Poll(0, TimeSpan.FromSeconds(1));
        Assert.Equal(expected, Answer(line));
        Assert.StartsWith("up drain #replica, lag 0 B, held out", Answer("replica max-lag=0\n"));
    }

    [Fact]
    public void A_check_gives_its_own_return_limit_and_hold()
    {
        const string Quick = "replica max-lag=16MB return-lag=15MB hold=0s\n";
        Poll(2 * MB, TimeSpan.Zero);
        Assert.StartsWith("up ready", Answer(Quick));
        Assert.StartsWith("up ready", Answer());
        Poll(17 * MB, TimeSpan.FromSeconds(1));
        Assert.StartsWith("up drain", Answer(Quick));
        Poll(15 * MB, TimeSpan.FromSeconds(1));
        Assert.Equal("up ready 100% #replica, lag 15 MB\n", Answer(Quick));
        Assert.StartsWith("up drain", Answer());
    }

    [Fact]
    public void The_HTTP_checks_hold_a_replica_out_in_the_same_way()
    {
        Poll(2 * MB, TimeSpan.Zero);
        Assert.Equal(200, Http("/replica?lag=16MB"));
        Poll(20 * MB, TimeSpan.FromSeconds(1));
        Poll(1 * MB, TimeSpan.FromSeconds(1));
        Assert.Equal(503, Http("/replica?lag=16MB"));
        Assert.Equal(200, Http("/replica?lag=16MB&hold=0s"));
        Assert.Equal(200, Http("/replica"));
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(200, Http("/replica?lag=16MB"));
    }

    [Fact]
    public void The_defaults_come_from_the_configuration()
    {
        _board.Gates.Configure(returnPercent: 25, hold: TimeSpan.FromSeconds(2));
        Poll(2 * MB, TimeSpan.Zero);
        Assert.StartsWith("up ready", Answer());
        Poll(20 * MB, TimeSpan.FromSeconds(1));
        Poll(5 * MB, TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.StartsWith("up drain", Answer());
        Poll(4 * MB, TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.StartsWith("up ready", Answer());
    }

    [Theory]
    [InlineData(0, "up ready 100% #replica, lag 0 B\n")]
    [InlineData(MB, "up ready 100% #replica, lag 1 MB\n")]
    [InlineData(8 * MB, "up ready 60% #replica, lag 8 MB\n")]
    [InlineData(14 * MB, "up ready 30% #replica, lag 14 MB\n")]
    [InlineData(16 * MB, "up ready 10% #replica, lag 16 MB\n")]
    [InlineData(17 * MB, "up drain #replica, lag 17 MB over max-lag\n")]
    public void Weighted_reads_lose_weight_as_the_lag_nears_the_limit(long lag, string expected)
    {
        Poll(lag, TimeSpan.Zero);
        Assert.Equal(expected, Answer("replica max-lag=16MB weighted=yes\n"));
        Assert.StartsWith(lag <= 16 * MB ? "up ready 100%" : "up drain", Answer());
    }

    [Fact]
    public void Checks_with_a_lag_limit_allocate_nothing_once_their_gate_is_made()
    {
        byte[] agent = "replica max-lag=16MB return-lag=4MB hold=5s weighted=yes\n"u8.ToArray();
        byte[] http = "GET /replica?lag=16MB&hold=3s HTTP/1.1\r\n\r\n"u8.ToArray();
        Poll(2 * MB, TimeSpan.Zero);
        _board.Answer(AgentRequest.For(Mode.Primary), agent);
        _board.AnswerHttp(http);
        Assert.Equal(0, Allocations.OnThisThread(() =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                _board.Answer(AgentRequest.For(Mode.Primary), agent);
                _board.AnswerHttp(http);
            }
        }));
    }

    [Fact]
    public void Beyond_its_capacity_a_check_gets_the_bare_limit()
    {
        Poll(2 * MB, TimeSpan.Zero);
        for (int i = 0; i < LagGates.Capacity; i++)
        {
            Assert.StartsWith("up ready", Answer($"replica max-lag={16 + i}MB\n"));
        }
        const string Extra = "replica max-lag=100MB\n";
        Poll(150 * MB, TimeSpan.FromSeconds(1));
        Assert.StartsWith("up drain", Answer(Extra));
        Poll(50 * MB, TimeSpan.FromSeconds(1));
        Assert.Equal("up ready 100% #replica, lag 50 MB\n", Answer(Extra));
    }
}
