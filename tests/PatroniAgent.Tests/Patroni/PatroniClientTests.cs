using System.Text;
using System.Text.Json.Nodes;
using PatroniAgent.Patroni;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Patroni;

/// <summary>
/// <see cref="PatroniClient"/> against a stand-in Patroni: what it reads, how many requests it makes,
/// and that every failure mode gives a result with an error (Status null), never an exception.
/// </summary>
public class PatroniClientTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task A_4x_primary_is_read_with_one_request()
    {
        await using var fake = new FakePatroni();
        fake.Status(PatroniFixtures.Load("v4.1.4-primary"));
        fake.Set("/cluster", FakeReply.From(PatroniFixtures.Load("v4.1.4-cluster")));
        var client = new PatroniClient(fake.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal(new NodeStatus
        {
            HttpStatus = 200,
            Role = PatroniRole.Primary,
            RoleName = "primary",
            State = "running",
            Timeline = 1,
            LagBytes = 0,
            Scope = "demo4",
            Name = "pg1",
        }, result.Status);
        Assert.Equal(1, fake.Requests);
    }

    [Fact]
    public async Task A_3x_master_is_read_with_one_request()
    {
        await using var fake = new FakePatroni();
        fake.Status(PatroniFixtures.Load("v3.0.2-primary"));
        var client = new PatroniClient(fake.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal(PatroniRole.Primary, result.Status!.Role);
        Assert.Equal("master", result.Status.RoleName);
        Assert.Equal(0, result.Status.LagBytes);
        Assert.Equal(1, fake.Requests);
    }

    [Fact]
    public async Task A_stopped_replica_does_not_ask_for_the_cluster()
    {
        await using var fake = new FakePatroni();
        fake.Status(PatroniFixtures.Load("v4.1.4-replica-stopped-paused"));
        var client = new PatroniClient(fake.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal("stopped", result.Status!.State);
        Assert.Null(result.Status.LagBytes);
        Assert.Equal(1, fake.Requests);
    }

    [Fact]
    public async Task A_3x_replica_gets_its_lag_from_the_cluster_by_api_url()
    {
        await using var fake = new FakePatroni();
        var nobody = await ClosedUrl();
        fake.Status(PatroniFixtures.Load("v3.0.2-replica"));
        // pg2 is the polled node: its api_url has the fake's host and port. The leader does not answer.
        fake.Set("/cluster", new FakeReply.Answer(200, Cluster("v3.0.2-cluster", members =>
        {
            members[0]!["api_url"] = $"{nobody}patroni";
            members[1]!["api_url"] = $"http://127.0.0.1:{fake.Port}/patroni";
            members[1]!["lag"] = 12345;
            members[2]!["lag"] = 99999;
        })));
        var client = new PatroniClient(fake.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal(new NodeStatus
        {
            HttpStatus = 503,
            Role = PatroniRole.Replica,
            RoleName = "replica",
            State = "running",
            Timeline = 4,
            LagBytes = 12345,
            UnreplayedBytes = 0,
            Scope = "demo",
        }, result.Status);
        Assert.Equal(2, fake.Requests);
    }

    [Fact]
    public async Task A_4x_replica_gets_its_lag_from_the_cluster_by_name()
    {
        await using var fake = new FakePatroni();
        fake.Status(PatroniFixtures.Load("v4.1.4-replica"));
        fake.Set("/cluster", new FakeReply.Answer(200, Cluster("v4.1.4-cluster", members =>
        {
            members[1]!["replay_lag"] = 777;
            members[1]!["lag"] = 888;
        })));
        var client = new PatroniClient(fake.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal(777, result.Status!.LagBytes);
        Assert.Equal("replica", result.Status.RoleName);
        Assert.Equal(503, result.Status.HttpStatus);
        Assert.Equal(2, fake.Requests);
    }

    [Fact]
    public async Task A_replica_lag_is_read_at_most_once_per_lag_refresh()
    {
        await using var fake = new FakePatroni();
        fake.Status(PatroniFixtures.Load("v4.1.4-replica"));
        fake.Set("/cluster", new FakeReply.Answer(200, Cluster("v4.1.4-cluster", members => members[1]!["replay_lag"] = 100)));
        var time = new ManualTime();
        var client = new PatroniClient(fake.Url, Generous, time);

        Assert.Equal(100, (client.Poll(CancellationToken.None)).Status!.LagBytes);
        fake.Set("/cluster", new FakeReply.Answer(200, Cluster("v4.1.4-cluster", members => members[1]!["replay_lag"] = 200)));
        time.Advance(PatroniClient.LagRefresh - TimeSpan.FromMilliseconds(1));
        Assert.Equal(100, (client.Poll(CancellationToken.None)).Status!.LagBytes);
        Assert.Equal(3, fake.Requests);

        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(200, (client.Poll(CancellationToken.None)).Status!.LagBytes);
        Assert.Equal(5, fake.Requests);
    }

    [Fact]
    public async Task A_node_that_becomes_a_replica_reads_its_lag_at_once()
    {
        await using var fake = new FakePatroni();
        fake.Status(PatroniFixtures.Load("v4.1.4-replica"));
        fake.Set("/cluster", new FakeReply.Answer(200, Cluster("v4.1.4-cluster", members => members[1]!["replay_lag"] = 100)));
        var client = new PatroniClient(fake.Url, Generous, new ManualTime());

        Assert.Equal(100, (client.Poll(CancellationToken.None)).Status!.LagBytes);
        fake.Status(PatroniFixtures.Load("v4.1.4-replica-stopped-paused"));
        Assert.Null((client.Poll(CancellationToken.None)).Status!.LagBytes);
        fake.Status(PatroniFixtures.Load("v4.1.4-replica"));
        fake.Set("/cluster", new FakeReply.Answer(200, Cluster("v4.1.4-cluster", members => members[1]!["replay_lag"] = 300)));
        Assert.Equal(300, (client.Poll(CancellationToken.None)).Status!.LagBytes);
        Assert.Equal(5, fake.Requests);
    }

    [Fact]
    public async Task A_base_url_with_a_path_polls_below_it()
    {
        await using var fake = new FakePatroni();
        fake.Set("/patroni/", FakeReply.From(PatroniFixtures.Load("v4.1.4-replica")));
        fake.Set("/patroni/cluster", FakeReply.From(PatroniFixtures.Load("v4.1.4-cluster")));
        var client = new PatroniClient(new Uri(fake.Url, "/patroni"), Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal(0, result.Status!.LagBytes);
        Assert.Equal(2, fake.Requests);
    }

    public static TheoryData<string, FakeReply?> ClusterFailures => new()
    {
        { "not found", null },
        { "HTTP 500", new FakeReply.Answer(500, "{\"members\": []}"u8.ToArray()) },
        { "invalid JSON", new FakeReply.Answer(200, "{\"members\": [{\"name\": \"pg"u8.ToArray()) },
        { "silence", new FakeReply.Silence() },
        { "member missing", new FakeReply.Answer(200, "{\"members\": [{\"name\": \"pg1\", \"role\": \"leader\"}]}"u8.ToArray()) },
        { "lag unknown", new FakeReply.Answer(200, "{\"members\": [{\"name\": \"pg2\", \"role\": \"replica\", \"lag\": \"unknown\"}]}"u8.ToArray()) },
    };

    [Theory]
    [MemberData(nameof(ClusterFailures))]
    public async Task A_failing_cluster_request_leaves_the_lag_unknown(string name, FakeReply? cluster)
    {
        Assert.NotEmpty(name);
        await using var fake = new FakePatroni();
        fake.Status(PatroniFixtures.Load("v4.1.4-replica"));
        if (cluster is not null)
        {
            fake.Set("/cluster", cluster);
        }
        var client = new PatroniClient(fake.Url, TimeSpan.FromSeconds(1));

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal(new NodeStatus
        {
            HttpStatus = 503,
            Role = PatroniRole.Replica,
            RoleName = "replica",
            State = "running",
            Timeline = 1,
            LagBytes = null,
            UnreplayedBytes = 0,
            ReplicationState = "streaming",
            Scope = "demo4",
            Name = "pg2",
        }, result.Status);
        Assert.Equal(2, fake.Requests);
    }

    [Fact]
    public async Task Connection_refused()
    {
        int port;
        await using (var gone = new FakePatroni())
        {
            port = gone.Port;
        }
        var client = new PatroniClient(new Uri($"http://127.0.0.1:{port}"), Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(new PollResult(null, "patroni refused the connection", PollErrorKind.Refused), result);
    }

    [Fact]
    public async Task Accepted_then_silent_times_out()
    {
        await using var fake = new FakePatroni();
        fake.Status(new FakeReply.Silence());
        var client = new PatroniClient(fake.Url, Short);
        var result = client.Poll(CancellationToken.None);

        Assert.Equal(new PollResult(null, "no answer from patroni within 200 ms", PollErrorKind.Timeout), result);
    }

    [Fact]
    public async Task A_reply_slower_than_the_timeout_times_out()
    {
        await using var fake = new FakePatroni();
        fake.Status(new FakeReply.Delayed(TimeSpan.FromSeconds(2), FakeReply.From(PatroniFixtures.Load("v4.1.4-primary"))));
        var client = new PatroniClient(fake.Url, Short);
        var result = client.Poll(CancellationToken.None);

        Assert.Equal(new PollResult(null, "no answer from patroni within 200 ms", PollErrorKind.Timeout), result);
    }

    [Fact]
    public async Task A_reply_within_the_timeout_is_read()
    {
        await using var fake = new FakePatroni();
        fake.Status(new FakeReply.Delayed(TimeSpan.FromMilliseconds(50), FakeReply.From(PatroniFixtures.Load("v4.1.4-primary"))));
        var client = new PatroniClient(fake.Url, TimeSpan.FromSeconds(2));

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal("primary", result.Status!.RoleName);
    }

    [Theory]
    [InlineData(500, true)]
    [InlineData(500, false)]
    [InlineData(502, false)]
    [InlineData(404, true)]
    public async Task Http_errors_are_failures(int http, bool withBody)
    {
        await using var fake = new FakePatroni();
        var body = withBody ? PatroniFixtures.Load("v4.1.4-primary").Body : [];
        fake.Status(new FakeReply.Answer(http, body));
        var client = new PatroniClient(fake.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(new PollResult(null, $"patroni answered HTTP {http}", PollErrorKind.Http), result);
        Assert.Equal(1, fake.Requests);
    }

    [Fact]
    public async Task A_503_with_a_valid_replica_body_is_a_status()
    {
        await using var fake = new FakePatroni();
        fake.Status(PatroniFixtures.Load("v3.0.2-replica-paused"));
        var client = new PatroniClient(fake.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal(503, result.Status!.HttpStatus);
        Assert.Equal(PatroniRole.Replica, result.Status.Role);
        Assert.True(result.Status.Paused);
        Assert.True(result.Status.IsRunning);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("html")]
    [InlineData("empty")]
    public async Task Bodies_that_are_not_json_are_failures(string kind)
    {
        var primary = PatroniFixtures.Load("v4.1.4-primary").Body;
        byte[] body = kind switch
        {
            "truncated" => primary[..(primary.Length / 2)],
            "html" => "<html><body><h1>502 Bad Gateway</h1></body></html>"u8.ToArray(),
            _ => [],
        };
        await using var fake = new FakePatroni();
        fake.Status(new FakeReply.Answer(200, body));
        var client = new PatroniClient(fake.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Status);
        Assert.StartsWith("patroni answer is not valid JSON", result.Error);
        Assert.Equal(PollErrorKind.Json, result.ErrorKind);
    }

    [Fact]
    public async Task A_body_without_role_is_a_failure()
    {
        await using var fake = new FakePatroni();
        fake.Status(new FakeReply.Answer(200, "{\"state\": \"running\"}"u8.ToArray()));
        var client = new PatroniClient(fake.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(new PollResult(null, "patroni answer has no state or role", PollErrorKind.Json), result);
    }

    [Fact]
    public async Task A_3_MB_body_is_refused_for_its_size()
    {
        // Valid JSON, padded with whitespace: only the size can make it fail.
        var padding = new byte[3 << 20];
        padding.AsSpan().Fill((byte)' ');
        var body = padding.Concat(PatroniFixtures.Load("v4.1.4-primary").Body).ToArray();
        await using var fake = new FakePatroni();
        fake.Status(new FakeReply.Answer(200, body));
        var client = new PatroniClient(fake.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(new PollResult(null, "patroni answer larger than 1024 kB", PollErrorKind.Http), result);
    }

    [Fact]
    public async Task A_body_just_under_the_limit_is_read()
    {
        var json = PatroniFixtures.Load("v4.1.4-primary").Body;
        var padding = new byte[PatroniClient.MaxBodyBytes - json.Length - 1];
        padding.AsSpan().Fill((byte)' ');
        await using var fake = new FakePatroni();
        fake.Status(new FakeReply.Answer(200, [.. padding, .. json]));
        var client = new PatroniClient(fake.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal("primary", result.Status!.RoleName);
    }

    [Fact]
    public async Task A_body_of_exactly_the_limit_is_read()
    {
        // MaxBodyBytes is "the largest answer read": an answer of exactly that size is not larger.
        var json = PatroniFixtures.Load("v4.1.4-primary").Body;
        var padding = new byte[PatroniClient.MaxBodyBytes - json.Length];
        padding.AsSpan().Fill((byte)' ');
        await using var fake = new FakePatroni();
        fake.Status(new FakeReply.Answer(200, [.. padding, .. json]));
        var client = new PatroniClient(fake.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal("primary", result.Status!.RoleName);
    }

    [Fact]
    public async Task A_wrong_content_type_with_a_json_body_still_decodes()
    {
        await using var fake = new FakePatroni();
        var recorded = PatroniFixtures.Load("v4.1.4-primary");
        fake.Status(new FakeReply.Answer(recorded.Status, recorded.Body, "text/html; charset=utf-8"));
        var client = new PatroniClient(fake.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal(PatroniRole.Primary, result.Status!.Role);
        Assert.Equal(1, result.Status.Timeline);
    }

    [Fact]
    public void An_unresolvable_host_is_named()
    {
        var client = new PatroniClient(new Uri("http://patroni-agent-test.invalid:8008"), Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(new PollResult(null, "cannot resolve patroni host patroni-agent-test.invalid", PollErrorKind.Dns), result);
    }

    [Fact]
    public async Task A_body_shorter_than_its_content_length_is_cut_short()
    {
        await using var fake = new FakePatroni();
        fake.Status(new FakeReply.Raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{\"state\": \"running\""u8.ToArray()));
        var client = new PatroniClient(fake.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(new PollResult(null, "patroni answer cut short (ResponseEnded)", PollErrorKind.Http), result);
    }

    [Fact]
    public async Task A_reply_that_is_not_http_is_a_failure()
    {
        await using var fake = new FakePatroni();
        fake.Status(new FakeReply.Raw("SSH-2.0-OpenSSH_9.2\r\n\r\n"u8.ToArray()));
        var client = new PatroniClient(fake.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(new PollResult(null, "patroni request failed (InvalidResponse)", PollErrorKind.Http), result);
    }

    [Fact]
    public async Task Polls_in_a_row_reuse_nothing_stale()
    {
        await using var fake = new FakePatroni();
        var client = new PatroniClient(fake.Url, Generous);

        fake.Status(PatroniFixtures.Load("v4.1.4-primary"));
        Assert.Equal("primary", (client.Poll(CancellationToken.None)).Status!.RoleName);
        fake.Status(new FakeReply.Answer(500, []));
        Assert.Equal("patroni answered HTTP 500", (client.Poll(CancellationToken.None)).Error);
        fake.Status(PatroniFixtures.Load("v3.0.2-primary"));
        Assert.Equal("master", (client.Poll(CancellationToken.None)).Status!.RoleName);
        Assert.Equal(3, fake.Requests);
    }

    [Fact]
    public async Task Cancellation_by_the_caller_is_the_only_exception()
    {
        await using var fake = new FakePatroni();
        fake.Status(new FakeReply.Silence());
        var client = new PatroniClient(fake.Url, TimeSpan.FromSeconds(10));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        Assert.ThrowsAny<OperationCanceledException>(() => client.Poll(cts.Token));
    }

    [Fact]
    public async Task A_replica_lag_is_the_leaders_position_minus_its_replayed_location()
    {
        await using var fake = new FakePatroni();
        await using var leader = new FakePatroni();
        ReplicaLedBy(fake, leader, Primary(ReplayedV4 + 4096));
        var client = new PatroniClient(fake.Url, Generous, new ManualTime(), leaderWait: Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal(4096, result.Status!.LagBytes);
        Assert.Equal(0, result.Status.UnreplayedBytes);
        Assert.Equal(LagSource.Leader, result.LagSource);
        Assert.Equal(TimeSpan.Zero, result.LagAge);
        Assert.Equal(1, leader.Requests);
        Assert.Equal(2, fake.Requests);
    }

    [Fact]
    public async Task A_leader_position_behind_the_replayed_one_is_no_lag()
    {
        await using var fake = new FakePatroni();
        await using var leader = new FakePatroni();
        ReplicaLedBy(fake, leader, Primary(ReplayedV4 - 100));
        var client = new PatroniClient(fake.Url, Generous, new ManualTime(), leaderWait: Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(0, result.Status!.LagBytes);
        Assert.Equal(LagSource.Leader, result.LagSource);
    }

    [Fact]
    public async Task A_3x_cluster_names_the_leader_and_its_master_gives_the_position()
    {
        await using var fake = new FakePatroni();
        await using var leader = new FakePatroni();
        fake.Status(PatroniFixtures.Load("v3.0.2-replica"));
        fake.Set("/cluster", new FakeReply.Answer(200, Cluster("v3.0.2-cluster", members =>
        {
            members[0]!["api_url"] = $"{leader.Url}patroni";
            members[1]!["api_url"] = $"http://127.0.0.1:{fake.Port}/patroni";
            members[1]!["lag"] = 12345;
        })));
        leader.Set("/patroni", Primary(67595640 + 100, "v3.0.2-primary"));
        var client = new PatroniClient(fake.Url, Generous, new ManualTime(), leaderWait: Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal(100, result.Status!.LagBytes);
        Assert.Equal(LagSource.Leader, result.LagSource);
        Assert.Equal(1, leader.Requests);
    }

    [Fact]
    public async Task The_leader_is_asked_at_most_once_per_leader_position_refresh()
    {
        await using var fake = new FakePatroni();
        await using var leader = new FakePatroni();
        ReplicaLedBy(fake, leader, Primary(ReplayedV4 + 10));
        var time = new ManualTime();
        var client = new PatroniClient(fake.Url, Generous, time, leaderWait: Generous);

        Assert.Equal(10, client.Poll(CancellationToken.None).Status!.LagBytes);
        leader.Set("/patroni", Primary(ReplayedV4 + 20));
        PollResult result = default;
        for (int i = 0; i < 4; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(200));
            result = client.Poll(CancellationToken.None);
            Assert.Equal(10, result.Status!.LagBytes);
        }
        Assert.Equal(LagSource.Leader, result.LagSource);
        Assert.Equal(TimeSpan.FromMilliseconds(800), result.LagAge);
        Assert.Equal(1, leader.Requests);

        time.Advance(TimeSpan.FromMilliseconds(200));
        result = client.Poll(CancellationToken.None);
        Assert.Equal(20, result.Status!.LagBytes);
        Assert.Equal(TimeSpan.Zero, result.LagAge);
        Assert.Equal(2, leader.Requests);
        // Six GET / and one GET /cluster: the cluster is read again only at LagRefresh.
        Assert.Equal(7, fake.Requests);
    }

    public static TheoryData<string, FakeReply?> LeaderFailures => new()
    {
        { "refused", null },
        { "silence", new FakeReply.Silence() },
        { "503 as a replica", FakeReply.From(PatroniFixtures.Load("v4.1.4-replica")) },
        { "200 as a replica", new FakeReply.Answer(200, PatroniFixtures.Load("v4.1.4-replica").Body) },
        { "HTTP 500", new FakeReply.Answer(500, []) },
        { "not JSON", new FakeReply.Answer(200, "<html>"u8.ToArray()) },
    };

    [Theory]
    [MemberData(nameof(LeaderFailures))]
    public async Task A_failing_leader_falls_back_to_the_cluster_lag_and_reads_the_cluster_again(string name, FakeReply? failure)
    {
        Assert.NotEmpty(name);
        await using var fake = new FakePatroni();
        var leader = new FakePatroni();
        await using var _ = leader;
        ReplicaLedBy(fake, leader, Primary(ReplayedV4 + 10));
        var time = new ManualTime();
        var client = new PatroniClient(fake.Url, Short, time, leaderWait: Generous);
        Assert.Equal(10, client.Poll(CancellationToken.None).Status!.LagBytes);

        if (failure is null)
        {
            await leader.DisposeAsync();
        }
        else
        {
            leader.Set("/patroni", failure);
        }
        fake.Set("/cluster", ClusterLedBy(leader, 600));
        time.Advance(PatroniClient.LeaderPositionRefresh);
        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal(600, result.Status!.LagBytes);
        Assert.Equal(LagSource.Cluster, result.LagSource);
        Assert.Equal(4, fake.Requests);

        // The same leader named again is not asked again before the next LagRefresh.
        int asked = leader.Requests;
        time.Advance(PatroniClient.LeaderPositionRefresh);
        result = client.Poll(CancellationToken.None);
        Assert.Equal(600, result.Status!.LagBytes);
        Assert.Equal(LagSource.Cluster, result.LagSource);
        Assert.Equal(TimeSpan.FromSeconds(1), result.LagAge);
        Assert.Equal(asked, leader.Requests);
        Assert.Equal(5, fake.Requests);
    }

    [Fact]
    public async Task A_slow_leader_answers_a_later_poll_and_never_holds_the_local_status()
    {
        await using var fake = new FakePatroni();
        await using var leader = new FakePatroni();
        ReplicaLedBy(fake, leader, new FakeReply.Delayed(TimeSpan.FromSeconds(2), Primary(ReplayedV4 + 10)));
        var time = new ManualTime();
        var client = new PatroniClient(fake.Url, TimeSpan.FromSeconds(30), time, leaderWait: TimeSpan.FromMilliseconds(50));

        var first = client.Poll(CancellationToken.None);
        Assert.Equal((500L, LagSource.Cluster), (first.Status!.LagBytes, first.LagSource));
        time.Advance(PatroniClient.LeaderPositionRefresh);
        var second = client.Poll(CancellationToken.None);
        Assert.Equal((500L, LagSource.Cluster), (second.Status!.LagBytes, second.LagSource));
        Assert.True(leader.Requests <= 1, $"a second read of the leader began while the first was running: {leader.Requests} requests");

        PollResult later = default;
        await Eventually.WaitFor(() => (later = client.Poll(CancellationToken.None)).LagSource == LagSource.Leader, TimeSpan.FromSeconds(20),
            () => $"the leader's answer never reached a poll: {later}");
        Assert.Equal(10, later.Status!.LagBytes);
        Assert.Equal(PatroniClient.LeaderPositionRefresh, later.LagAge);
    }

    [Fact]
    public async Task A_leader_position_older_than_its_limit_gives_way_to_the_cluster_lag()
    {
        await using var fake = new FakePatroni();
        await using var leader = new FakePatroni();
        ReplicaLedBy(fake, leader, Primary(ReplayedV4 + 10));
        var time = new ManualTime();
        var client = new PatroniClient(fake.Url, TimeSpan.FromSeconds(30), time, leaderWait: TimeSpan.FromMilliseconds(50));
        await Eventually.WaitFor(() => client.Poll(CancellationToken.None).LagSource == LagSource.Leader, TimeSpan.FromSeconds(20));

        leader.Set("/patroni", new FakeReply.Silence());
        time.Advance(PatroniClient.LeaderPositionMaxAge);
        var atTheLimit = client.Poll(CancellationToken.None);
        time.Advance(TimeSpan.FromTicks(1));
        var pastIt = client.Poll(CancellationToken.None);

        Assert.Equal((10L, LagSource.Leader), (atTheLimit.Status!.LagBytes, atTheLimit.LagSource));
        Assert.Equal((500L, LagSource.Cluster), (pastIt.Status!.LagBytes, pastIt.LagSource));
    }

    [Fact]
    public async Task A_new_leader_named_by_the_cluster_is_asked_next()
    {
        await using var fake = new FakePatroni();
        await using var old = new FakePatroni();
        await using var leader = new FakePatroni();
        ReplicaLedBy(fake, old, Primary(ReplayedV4 + 10));
        var time = new ManualTime();
        var client = new PatroniClient(fake.Url, Generous, time, leaderWait: Generous);
        Assert.Equal(10, client.Poll(CancellationToken.None).Status!.LagBytes);

        old.Set("/patroni", FakeReply.From(PatroniFixtures.Load("v4.1.4-replica")));
        fake.Set("/cluster", ClusterLedBy(leader, 600));
        leader.Set("/patroni", Primary(ReplayedV4 + 30));
        time.Advance(PatroniClient.LeaderPositionRefresh);
        Assert.Equal(600, client.Poll(CancellationToken.None).Status!.LagBytes);
        time.Advance(PatroniClient.LeaderPositionRefresh);
        var result = client.Poll(CancellationToken.None);

        Assert.Equal(30, result.Status!.LagBytes);
        Assert.Equal(LagSource.Leader, result.LagSource);
        Assert.Equal(2, old.Requests);
        Assert.Equal(1, leader.Requests);
    }

    [Fact]
    public async Task A_standby_leader_is_not_asked()
    {
        await using var fake = new FakePatroni();
        await using var leader = new FakePatroni();
        fake.Status(PatroniFixtures.Load("v4.1.4-replica"));
        fake.Set("/cluster", new FakeReply.Answer(200, Cluster("v4.1.4-cluster", members =>
        {
            members[0]!["role"] = "standby_leader";
            members[0]!["api_url"] = $"{leader.Url}patroni";
            members[1]!["replay_lag"] = 500;
        })));
        leader.Set("/patroni", Primary(ReplayedV4 + 10));
        var client = new PatroniClient(fake.Url, Generous, new ManualTime(), leaderWait: Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(500, result.Status!.LagBytes);
        Assert.Equal(LagSource.Cluster, result.LagSource);
        Assert.Equal(0, leader.Requests);
    }

    [Fact]
    public async Task A_primary_asks_no_leader_and_measures_no_lag()
    {
        await using var fake = new FakePatroni();
        await using var leader = new FakePatroni();
        fake.Status(PatroniFixtures.Load("v4.1.4-primary"));
        fake.Set("/cluster", ClusterLedBy(leader, 500));
        var client = new PatroniClient(fake.Url, Generous, new ManualTime(), leaderWait: Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Equal(0, result.Status!.LagBytes);
        Assert.Equal(LagSource.None, result.LagSource);
        Assert.Equal(0, leader.Requests);
        Assert.Equal(1, fake.Requests);
    }

    /// <summary>The replayed_location of the v4.1.4-replica fixture.</summary>
    private const long ReplayedV4 = 67108864;

    /// <summary>
    /// Makes <paramref name="fake"/> the v4.1.4 replica pg2, with a replay lag of 500 in its <c>GET /cluster</c>,
    /// led by <paramref name="leader"/>, whose <c>GET /</c> gives <paramref name="leaderAnswer"/>.
    /// </summary>
    private static void ReplicaLedBy(FakePatroni fake, FakePatroni leader, FakeReply leaderAnswer)
    {
        fake.Status(PatroniFixtures.Load("v4.1.4-replica"));
        fake.Set("/cluster", ClusterLedBy(leader, 500));
        leader.Set("/patroni", leaderAnswer);
    }

    /// <summary>The v4.1.4 cluster with pg1, its leader, at <paramref name="leader"/> and pg2's replay lag.</summary>
    private static FakeReply ClusterLedBy(FakePatroni leader, long replayLag) => new FakeReply.Answer(200, Cluster("v4.1.4-cluster", members =>
    {
        members[0]!["api_url"] = $"{leader.Url}patroni";
        members[1]!["replay_lag"] = replayLag;
    }));

    /// <summary>A primary's answer at WAL position <paramref name="location"/>.</summary>
    private static FakeReply Primary(long location, string fixture = "v4.1.4-primary")
    {
        var root = JsonNode.Parse(PatroniFixtures.Load(fixture).Body)!;
        root["xlog"]!["location"] = location;
        return new FakeReply.Answer(200, Encoding.UTF8.GetBytes(root.ToJsonString()));
    }

    private static async Task<Uri> ClosedUrl()
    {
        var gone = new FakePatroni();
        var url = gone.Url;
        await gone.DisposeAsync();
        return url;
    }

    private static byte[] Cluster(string fixture, Action<JsonArray> edit)
    {
        var root = JsonNode.Parse(PatroniFixtures.Load(fixture).Body)!;
        edit(root["members"]!.AsArray());
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }
}
