using System.Text;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Patroni;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Answers;

/// <summary>
/// Patroni's filters on the board: <c>tag_KEY=VALUE</c> and <c>replication_state=STATE</c>, in agent-send
/// lines and HTTP queries; <c>mode=write</c> for readiness.
/// </summary>
[Collection(nameof(AllocationCollection))]
public class CheckFilterTests
{
    private const string Unmatched = "up maint #replica, lag 2 kB, not matching the check's filters\n";

    private static readonly NodeStatus TaggedReplica = Statuses.Running(PatroniRole.Replica, "replica") with
    {
        ReplicationState = "streaming",
        Tags = new TagSet([KeyValuePair.Create("dc", "east"), KeyValuePair.Create("nofailover", "false"), KeyValuePair.Create("weight", "2")]),
    };

    private static AnswerBoard Board(NodeStatus status)
    {
        var board = new AnswerBoard("down", TimeSpan.FromSeconds(3), new ManualTime());
        board.PublishFresh(Snapshot.FromStatus(status, UnknownAnswer.Default));
        return board;
    }

    private static string Agent(AnswerBoard board, string line) => Encoding.ASCII.GetString(board.Answer(AgentRequest.For(Mode.Primary), Encoding.ASCII.GetBytes(line)));

    private static int Http(AnswerBoard board, string target) =>
        AnswerReading.ReadHttp(board.AnswerHttp(Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\n\r\n"))).Status;

    [Theory]
    [InlineData("replica tag_dc=east\n", "up ready 100% #replica, lag 2 kB\n")]
    [InlineData("replica tag_dc=east tag_nofailover=false tag_weight=2\n", "up ready 100% #replica, lag 2 kB\n")]
    [InlineData("replica tag_dc=e%61st\n", "up ready 100% #replica, lag 2 kB\n")]
    [InlineData("replica tag_dc=west\n", Unmatched)]
    [InlineData("replica tag_dc=East\n", Unmatched)]
    [InlineData("replica tag_rack=1\n", Unmatched)]
    [InlineData("replica tag_dc=east tag_nofailover=true\n", Unmatched)]
    [InlineData("replica max-lag=16MB tag_dc=east\n", "up ready 100% #replica, lag 2 kB\n")]
    [InlineData("replica tag_dc=east max-lag=1kB\n", "up drain #replica, lag 2 kB over max-lag\n")]
    [InlineData("health tag_dc=west\n", Unmatched)]
    public void A_replica_takes_reads_only_with_every_tag_a_check_asks_for(string line, string expected)
    {
        Assert.Equal(expected, Agent(Board(TaggedReplica), line));
    }

    [Theory]
    [InlineData("/replica?tag_dc=east", 200)]
    [InlineData("/replica?tag_dc=west", 503)]
    [InlineData("/replica?tag_dc=east&tag_weight=2&lag=16MB", 200)]
    [InlineData("/replica?tag%5Fdc=east", 200)]
    [InlineData("/read-only?tag_nofailover=false", 200)]
    [InlineData("/replica?replication_state=streaming", 200)]
    [InlineData("/replica?replication_state=in%20archive%20recovery", 503)]
    [InlineData("/replica?replication_state=in+archive+recovery", 503)]
    [InlineData("/async?replication_state=streaming&tag_dc=east", 200)]
    public void The_HTTP_checks_take_the_same_filters_in_their_query(string target, int status)
    {
        Assert.Equal(status, Http(Board(TaggedReplica), target));
    }

    [Theory]
    [InlineData("replica replication_state=streaming\n", Unmatched)]
    [InlineData("replica replication_state=in%20archive%20recovery\n", "up ready 100% #replica, lag 2 kB\n")]
    [InlineData("replica replication_state=in+archive+recovery\n", "up ready 100% #replica, lag 2 kB\n")]
    public void A_replica_in_archive_recovery_is_told_from_a_streaming_one(string line, string expected)
    {
        var recovering = TaggedReplica with { ReplicationState = "in archive recovery" };
        Assert.Equal(expected, Agent(Board(recovering), line));
    }

    [Fact]
    public void A_replica_that_reports_no_replication_state_matches_no_replication_state_filter()
    {
        var board = Board(TaggedReplica with { ReplicationState = null });
        Assert.Equal(Unmatched, Agent(board, "replica replication_state=streaming\n"));
        Assert.Equal("up ready 100% #replica, lag 2 kB\n", Agent(board, "replica\n"));
    }

    [Theory]
    [InlineData("/primary?tag_dc=west", 200)]
    [InlineData("/leader?tag_dc=west&replication_state=x", 200)]
    [InlineData("/read-only?replication_state=in%20archive%20recovery", 200)]
    [InlineData("/read-only?tag_dc=west", 503)]
    [InlineData("/health?tag_dc=west", 503)]
    [InlineData("/readiness?tag_dc=west", 200)]
    [InlineData("/liveness?tag_dc=west", 200)]
    public void As_in_Patroni_tags_do_not_count_on_the_writer_and_leader_checks_and_the_replication_state_only_on_replicas(string target, int status)
    {
        Assert.Equal(status, Http(Board(Statuses.LeaderPrimary), target));
    }

    [Fact]
    public void A_filter_never_makes_an_answer_ready()
    {
        var board = Board(TaggedReplica);
        Assert.Equal("up maint #replica, lag 2 kB\n", Agent(board, "primary tag_dc=east\n"));
        Assert.Equal(503, Http(board, "/primary?tag_dc=east&replication_state=streaming"));
    }

    [Fact]
    public void Readiness_measures_the_lag_by_the_wal_replayed_or_with_mode_write_received()
    {
        var board = Board(TaggedReplica with { LagBytes = 3L << 20, UnreplayedBytes = 5L << 19 });
        Assert.Equal("up maint #replica, lag 3 MB over 1 MB\n", Agent(board, "readiness\n"));
        Assert.Equal("up ready 100% #replica, write lag 512 kB\n", Agent(board, "readiness mode=write\n"));
        Assert.Equal("up maint #replica, write lag 512 kB over max-lag\n", Agent(board, "readiness mode=write lag=100kB\n"));
        Assert.Equal("up ready 100% #replica, lag 3 MB\n", Agent(board, "readiness lag=4MB\n"));
        Assert.Equal(503, Http(board, "/readiness"));
        Assert.Equal(200, Http(board, "/readiness?mode=write"));
        Assert.Equal(200, Http(board, "/readiness?lag=3MB"));
        Assert.Equal(503, Http(board, "/readiness?mode=apply&lag=2MB"));
    }

    [Fact]
    public void Readiness_wants_a_streaming_replica_or_the_leader()
    {
        Assert.Equal("up maint #replica, in archive recovery, not streaming\n",
            Agent(Board(TaggedReplica with { ReplicationState = "in archive recovery" }), "readiness\n"));
        Assert.Equal("up ready 100% #primary, timeline 1\n", Agent(Board(Statuses.LeaderPrimary), "readiness\n"));
    }

    [Theory]
    [InlineData("replica Tag_dc=east\n")]
    [InlineData("replica tag_dc\n")]
    [InlineData("replica dc=east\n")]
    public void An_agent_send_parameter_that_is_no_filter_is_an_error(string line)
    {
        Assert.StartsWith("down #unknown parameter in agent-send", Agent(Board(TaggedReplica), line));
    }

    [Fact]
    public void Checks_with_filters_allocate_nothing()
    {
        var board = Board(TaggedReplica);
        byte[] agent = "replica tag_dc=east replication_state=streaming lag=16MB\n"u8.ToArray();
        byte[] http = "GET /replica?tag_dc=e%61st&replication_state=streaming&lag=16+MB HTTP/1.1\r\n\r\n"u8.ToArray();
        for (int i = 0; i < 100; i++)
        {
            board.Answer(AgentRequest.For(Mode.Primary), agent);
            board.AnswerHttp(http);
        }
        Assert.Equal(0, Allocations.OnThisThread(() =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                board.Answer(AgentRequest.For(Mode.Primary), agent);
                board.AnswerHttp(http);
            }
        }));
    }
}
