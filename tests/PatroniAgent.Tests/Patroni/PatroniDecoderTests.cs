using System.Text;
using System.Text.Json.Nodes;
using PatroniAgent.Patroni;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Patroni;

/// <summary>
/// <see cref="PatroniDecoder"/> on the recorded answers of real Patroni 3.0.2 ("master") and 4.1.4
/// ("primary") nodes, on the /cluster answers for the lag, and on answers it must reject.
/// </summary>
public class PatroniDecoderTests
{
    /// <summary>fixture, HTTP status, role, role word, state, timeline, paused, lag, member name.</summary>
    public static TheoryData<string, int, PatroniRole, string, string, long?, bool, long?, string?> StatusFixtures => new()
    {
        { "v3.0.2-primary", 200, PatroniRole.Primary, "master", "running", 4, false, 0, null },
        { "v3.0.2-primary-paused", 200, PatroniRole.Primary, "master", "running", 4, true, 0, null },
        { "v3.0.2-primary-stopped-paused", 503, PatroniRole.Primary, "master", "stopped", null, true, 0, null },
        { "v3.0.2-replica", 503, PatroniRole.Replica, "replica", "running", 4, false, null, null },
        { "v3.0.2-replica-paused", 503, PatroniRole.Replica, "replica", "running", 4, true, null, null },
        { "v3.0.2-replica-stopped-paused", 503, PatroniRole.Replica, "replica", "stopped", null, true, null, null },
        { "v4.1.4-primary", 200, PatroniRole.Primary, "primary", "running", 1, false, 0, "pg1" },
        { "v4.1.4-primary-paused", 200, PatroniRole.Primary, "primary", "running", 1, true, 0, "pg1" },
        { "v4.1.4-primary-postgres-killed", 200, PatroniRole.Primary, "primary", "unknown", null, false, 0, "pg2" },
        { "v4.1.4-primary-stopped-paused", 503, PatroniRole.Primary, "primary", "stopped", null, true, 0, "pg1" },
        { "v4.1.4-replica", 503, PatroniRole.Replica, "replica", "running", 1, false, null, "pg2" },
        { "v4.1.4-replica-paused", 503, PatroniRole.Replica, "replica", "running", 1, true, null, "pg2" },
        { "v4.1.4-replica-stopped-paused", 503, PatroniRole.Replica, "replica", "stopped", null, true, null, "pg3" },
    };

    [Theory]
    [MemberData(nameof(StatusFixtures))]
    public void Recorded_status_answers_decode_to_their_facts(
        string fixture, int http, PatroniRole role, string roleName, string state, long? timeline, bool paused, long? lag, string? member)
    {
        var recorded = PatroniFixtures.Load(fixture);
        Assert.Equal("GET /", recorded.Request);

        var status = PatroniDecoder.DecodeStatus(recorded.Status, recorded.Body, out string? memberName);

        var expected = new NodeStatus
        {
            HttpStatus = http,
            Role = role,
            RoleName = roleName,
            State = state,
            Timeline = timeline,
            LagBytes = lag,
            UnreplayedBytes = role == PatroniRole.Replica && state == "running" ? 0 : null,
            NoLoadBalance = false,
            SyncStandby = false,
            QuorumStandby = false,
            ReplicationState = role == PatroniRole.Replica && state == "running" && fixture.StartsWith("v4.", StringComparison.Ordinal) ? "streaming" : null,
            Paused = paused,
            Scope = fixture.StartsWith("v4.", StringComparison.Ordinal) ? "demo4" : "demo",
            Name = member,
        };
        Assert.Equal(expected, status);
        Assert.Equal(state == "running", status.IsRunning);
        Assert.Equal(member, memberName);
    }

    [Fact]
    public void Every_recorded_status_answer_is_in_the_table()
    {
        var recorded = Directory.GetFiles(PatroniFixtures.Directory, "*.json")
            .Select(path => Path.GetFileNameWithoutExtension(path))
            .Where(name => !name.EndsWith("-cluster", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToArray();
        var tested = StatusFixtures.Select(row => (string)row[0]!).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(13, recorded.Length);
        Assert.Equal(recorded, tested);
    }

    // ---- lag from GET /cluster ----

    [Fact]
    public void Lag_of_a_4x_member_is_found_by_name_in_the_recorded_cluster()
    {
        var cluster = PatroniFixtures.Load("v4.1.4-cluster");
        Assert.Equal("GET /cluster", cluster.Request);
        var url = new Uri("http://127.0.2.2:8008");
        Assert.Equal(0, PatroniDecoder.DecodeLag(cluster.Body, "pg2", url));
        Assert.Equal(0, PatroniDecoder.DecodeLag(cluster.Body, "pg3", url));
    }

    [Fact]
    public void Lag_of_a_4x_member_comes_from_its_own_entry_and_prefers_replay_lag()
    {
        var body = EditCluster("v4.1.4-cluster", members =>
        {
            members[1]!["replay_lag"] = 1000;
            members[1]!["lag"] = 5000;
            members[2]!["replay_lag"] = 2000;
            members[2]!["lag"] = 6000;
        });
        // The name decides, whatever host the agent polls (here pg3's).
        var pg3Url = new Uri("http://127.0.2.3:8008");
        Assert.Equal(1000, PatroniDecoder.DecodeLag(body, "pg2", pg3Url));
        Assert.Equal(2000, PatroniDecoder.DecodeLag(body, "pg3", pg3Url));
    }

    [Fact]
    public void Lag_falls_back_to_lag_when_replay_lag_is_absent()
    {
        var body = EditCluster("v4.1.4-cluster", members =>
        {
            members[1]!.AsObject().Remove("replay_lag");
            members[1]!["lag"] = 4321;
        });
        Assert.Equal(4321, PatroniDecoder.DecodeLag(body, "pg2", new Uri("http://127.0.0.1:8008")));
    }

    [Fact]
    public void Lag_of_a_3x_member_is_found_by_the_host_and_port_of_its_api_url()
    {
        var recorded = PatroniFixtures.Load("v3.0.2-cluster");
        Assert.Equal(0, PatroniDecoder.DecodeLag(recorded.Body, null, new Uri("http://127.0.1.2:8008")));

        var body = EditCluster("v3.0.2-cluster", members =>
        {
            members[1]!["lag"] = 1111;
            members[2]!["lag"] = 2222;
        });
        Assert.Equal(1111, PatroniDecoder.DecodeLag(body, null, new Uri("http://127.0.1.2:8008")));
        Assert.Equal(2222, PatroniDecoder.DecodeLag(body, null, new Uri("http://127.0.1.3:8008/")));
        // Same host, other port: another Patroni, not this one.
        Assert.Null(PatroniDecoder.DecodeLag(body, null, new Uri("http://127.0.1.2:8009")));
        // No member at that host.
        Assert.Null(PatroniDecoder.DecodeLag(body, null, new Uri("http://127.0.1.9:8008")));
        // The leader's entry has no lag.
        Assert.Null(PatroniDecoder.DecodeLag(body, null, new Uri("http://127.0.1.1:8008")));
    }

    [Fact]
    public void Unknown_lag_is_null()
    {
        var v3 = EditCluster("v3.0.2-cluster", members => members[1]!["lag"] = "unknown");
        Assert.Null(PatroniDecoder.DecodeLag(v3, null, new Uri("http://127.0.1.2:8008")));

        var v4 = EditCluster("v4.1.4-cluster", members =>
        {
            members[1]!["replay_lag"] = "unknown";
            members[1]!["lag"] = "unknown";
        });
        Assert.Null(PatroniDecoder.DecodeLag(v4, "pg2", new Uri("http://127.0.2.2:8008")));
        // The other member's lag is still read.
        Assert.Equal(0, PatroniDecoder.DecodeLag(v4, "pg3", new Uri("http://127.0.2.2:8008")));
    }

    [Fact]
    public void No_matching_member_is_null()
    {
        var cluster = PatroniFixtures.Load("v4.1.4-cluster");
        Assert.Null(PatroniDecoder.DecodeLag(cluster.Body, "pg9", new Uri("http://127.0.2.2:8008")));
        Assert.Null(PatroniDecoder.DecodeLag("""{"members": []}"""u8, "pg2", new Uri("http://127.0.2.2:8008")));
        Assert.Null(PatroniDecoder.DecodeLag("""{"scope": "demo"}"""u8, "pg2", new Uri("http://127.0.2.2:8008")));
    }

    [Fact]
    public void A_cluster_answer_that_is_not_json_is_rejected()
    {
        var e = Assert.Throws<PatroniAnswerException>(() => PatroniDecoder.DecodeLag("""{"members": [{"name": "pg2", """u8, "pg2", new Uri("http://127.0.0.1:8008")));
        Assert.StartsWith("patroni answer is not valid JSON", e.Message);
    }

    // ---- rejections ----

    [Theory]
    [InlineData(500)]
    [InlineData(404)]
    [InlineData(401)]
    [InlineData(302)]
    public void Http_statuses_other_than_200_and_503_are_rejected_even_with_a_valid_body(int http)
    {
        var body = PatroniFixtures.Load("v4.1.4-primary").Body;
        var e = Assert.Throws<PatroniAnswerException>(() => PatroniDecoder.DecodeStatus(http, body, out _));
        Assert.Equal($"patroni answered HTTP {http}", e.Message);
    }

    [Theory]
    [InlineData("<html><body>Bad Gateway</body></html>")]
    [InlineData("{\"state\": \"running\", \"role\": ")]
    [InlineData("{\"state\": \"running\" \"role\": \"replica\"}")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("[]")]
    [InlineData("[{\"state\": \"running\", \"role\": \"replica\"}]")]
    [InlineData("\"running\"")]
    [InlineData("42")]
    [InlineData("{\"state\": \"running\", \"role\": \"replica\", \"timeline\": \"4\"}")]
    [InlineData("{\"state\": \"running\", \"role\": \"replica\", \"timeline\": 4.5}")]
    [InlineData("{\"state\": \"running\", \"role\": 1}")]
    [InlineData("{\"state\": \"running\", \"role\": \"replica\", \"pause\": \"yes\"}")]
    [InlineData("{\"state\": \"running\", \"role\": \"replica\", \"tags\": []}")]
    public void Bodies_that_are_not_a_status_object_are_rejected_as_not_json(string body)
    {
        var e = Assert.Throws<PatroniAnswerException>(() => PatroniDecoder.DecodeStatus(200, Encoding.UTF8.GetBytes(body), out _));
        Assert.StartsWith("patroni answer is not valid JSON", e.Message);
    }

    [Fact]
    public void A_truncated_recorded_answer_is_rejected()
    {
        var body = PatroniFixtures.Load("v4.1.4-replica").Body;
        for (int cut = 1; cut < body.Length; cut += 37)
        {
            var e = Assert.Throws<PatroniAnswerException>(() => PatroniDecoder.DecodeStatus(503, body.AsSpan(0, cut), out _));
            Assert.StartsWith("patroni answer is not valid JSON", e.Message);
        }
    }

    [Fact]
    public void Json_null_is_rejected()
    {
        var e = Assert.Throws<PatroniAnswerException>(() => PatroniDecoder.DecodeStatus(200, "null"u8, out _));
        Assert.Equal("patroni answer is not a JSON object", e.Message);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"state\": \"running\"}")]
    [InlineData("{\"role\": \"primary\"}")]
    [InlineData("{\"state\": \"running\", \"role\": \"\"}")]
    [InlineData("{\"state\": \"\", \"role\": \"replica\"}")]
    [InlineData("{\"state\": null, \"role\": \"replica\"}")]
    [InlineData("{\"state\": \"running\", \"role\": null, \"timeline\": 4}")]
    [InlineData("{\"State\": \"running\", \"Role\": \"replica\"}")]
    public void A_body_without_role_or_state_is_rejected(string body)
    {
        var e = Assert.Throws<PatroniAnswerException>(() => PatroniDecoder.DecodeStatus(200, Encoding.UTF8.GetBytes(body), out _));
        Assert.Equal("patroni answer has no state or role", e.Message);
    }

    // ---- roles, sync, tags ----

    [Theory]
    [InlineData("primary", PatroniRole.Primary)]
    [InlineData("master", PatroniRole.Primary)]
    [InlineData("replica", PatroniRole.Replica)]
    [InlineData("standby_leader", PatroniRole.StandbyLeader)]
    [InlineData("demoted", PatroniRole.Other)]
    [InlineData("promoted", PatroniRole.Other)]
    [InlineData("uninitialized", PatroniRole.Other)]
    [InlineData("Primary", PatroniRole.Other)]
    [InlineData("leader", PatroniRole.Other)]
    public void Role_words(string word, PatroniRole role)
    {
        Assert.Equal(role, PatroniDecoder.ParseRole(word));
        var status = PatroniDecoder.DecodeStatus(503, Encoding.UTF8.GetBytes($$"""{"state": "running", "role": "{{word}}", "timeline": 9}"""), out var member);
        Assert.Equal(role, status.Role);
        Assert.Equal(word, status.RoleName);
        Assert.Equal(9, status.Timeline);
        Assert.Null(member);
        // Only the primary role knows its lag (none); every other role waits for /cluster.
        Assert.Equal(role == PatroniRole.Primary ? 0 : null, status.LagBytes);
    }

    [Fact]
    public void A_standby_leader_decodes_with_unknown_lag()
    {
        var body = """
            {"state": "running", "role": "standby_leader", "server_version": 150018, "xlog": {"received_location": 100, "replayed_location": 90},
             "timeline": 3, "patroni": {"version": "4.1.4", "scope": "standby", "name": "s1"}}
            """u8;
        var status = PatroniDecoder.DecodeStatus(503, body, out var member);
        Assert.Equal(new NodeStatus
        {
            HttpStatus = 503,
            Role = PatroniRole.StandbyLeader,
            RoleName = "standby_leader",
            State = "running",
            Timeline = 3,
            UnreplayedBytes = 10,
            Scope = "standby",
            Name = "s1",
        }, status);
        Assert.Equal("s1", member);
    }

    [Theory]
    [InlineData("demoted", "stopped")]
    [InlineData("uninitialized", "starting")]
    [InlineData("demoted", "restart failed (running)")]
    public void Cached_roles_of_a_node_whose_postgres_does_not_answer(string role, string state)
    {
        var body = Encoding.UTF8.GetBytes($$"""{"state": "{{state}}", "role": "{{role}}", "patroni": {"version": "4.1.4", "scope": "demo4", "name": "pg1"} }""");
        var status = PatroniDecoder.DecodeStatus(503, body, out var member);
        Assert.Equal(PatroniRole.Other, status.Role);
        Assert.Equal(role, status.RoleName);
        Assert.Equal(state, status.State);
        Assert.False(status.IsRunning);
        Assert.Null(status.Timeline);
        Assert.Null(status.LagBytes);
        Assert.Equal("pg1", member);
    }

    [Theory]
    [InlineData(", \"sync_standby\": true", true, false)]
    [InlineData(", \"quorum_standby\": true", false, true)]
    [InlineData(", \"sync_standby\": true, \"quorum_standby\": true", true, true)]
    [InlineData(", \"sync_standby\": false", false, false)]
    [InlineData(", \"quorum_standby\": false", false, false)]
    [InlineData("", false, false)]
    public void Sync_and_quorum_standbys_are_told_apart(string fields, bool sync, bool quorum)
    {
        var status = PatroniDecoder.DecodeStatus(503, Replica(fields), out _);
        Assert.Equal((sync, quorum), (status.SyncStandby, status.QuorumStandby));
        Assert.Equal(PatroniRole.Replica, status.Role);
    }

    [Theory]
    [InlineData(", \"tags\": {\"noloadbalance\": true}", true)]
    [InlineData(", \"tags\": {\"noloadbalance\": \"true\"}", true)]
    [InlineData(", \"tags\": {\"noloadbalance\": 1}", true)]
    [InlineData(", \"tags\": {\"noloadbalance\": \"yes\"}", true)]
    [InlineData(", \"tags\": {\"noloadbalance\": false}", false)]
    [InlineData(", \"tags\": {\"noloadbalance\": \"false\"}", false)]
    [InlineData(", \"tags\": {\"noloadbalance\": 0}", false)]
    [InlineData(", \"tags\": {\"noloadbalance\": null}", false)]
    [InlineData(", \"tags\": {\"nofailover\": true}", false)]
    [InlineData(", \"tags\": {}", false)]
    [InlineData("", false)]
    public void Noloadbalance_tag(string fields, bool noLoadBalance)
    {
        var status = PatroniDecoder.DecodeStatus(503, Replica(fields), out _);
        Assert.Equal(noLoadBalance, status.NoLoadBalance);
    }

    [Theory]
    [InlineData(new byte[] { 0xff })]
    [InlineData(new byte[] { 0xc0, 0x80 })]
    [InlineData(new byte[] { (byte)'\\', (byte)'u', (byte)'d', (byte)'c', (byte)'0', (byte)'0' })]
    public void A_noloadbalance_tag_that_is_not_valid_text_is_rejected(byte[] text)
    {
        byte[] body = [.. "{\"state\": \"running\", \"role\": \"replica\", \"tags\": {\"noloadbalance\": \""u8, .. text, .. "\"}}"u8];

        var e = Assert.Throws<PatroniAnswerException>(() => PatroniDecoder.DecodeStatus(503, body, out _));
        Assert.Equal("patroni answer has invalid text in tag noloadbalance", e.Message);
    }

    [Fact]
    public void Tags_are_kept_as_Patronis_tag_filters_compare_them()
    {
        var status = PatroniDecoder.DecodeStatus(503, Replica(""", "tags": {"dc": "east", "nofailover": true, "nosync": false, "weight": 2, "ratio": 1.5, "none": null, "list": [1], "map": {"a": 1}}"""), out _);
        Assert.Equal(
            [KeyValuePair.Create("dc", "east"), KeyValuePair.Create("nofailover", "true"), KeyValuePair.Create("nosync", "false"),
             KeyValuePair.Create("ratio", "1.5"), KeyValuePair.Create("weight", "2")],
            status.Tags.All);
        Assert.True(status.Tags.Matches("dc"u8, "east"u8));
        Assert.False(status.Tags.Matches("none"u8, "null"u8));
        Assert.False(status.Tags.Matches("map"u8, "{\"a\": 1}"u8));
        var again = PatroniDecoder.DecodeStatus(503, Replica(""", "tags": {"weight": 2, "nosync": false, "dc": "east", "ratio": 1.5, "nofailover": true}"""), out _);
        Assert.Equal(status, again);
        Assert.NotEqual(status, again with { Tags = new TagSet([KeyValuePair.Create("dc", "west")]) });
    }

    [Fact]
    public void A_replication_state_that_is_not_text_is_left_unknown()
    {
        var status = PatroniDecoder.DecodeStatus(503, Replica(""", "replication_state": 7"""), out _);
        Assert.Null(status.ReplicationState);
        Assert.Equal("running", status.State);
    }

    [Fact]
    public void Unknown_fields_and_pause_false_are_ignored_and_the_replication_state_is_read()
    {
        var status = PatroniDecoder.DecodeStatus(503, Replica(""", "pause": false, "cluster_unlocked": true, "replication_state": "in archive recovery", "new_field": {"a": [1, 2]}"""), out _);
        Assert.Equal(new NodeStatus { HttpStatus = 503, Role = PatroniRole.Replica, RoleName = "replica", State = "running", Timeline = 3, ReplicationState = "in archive recovery" }, status);
    }

    private static byte[] Replica(string fields) =>
        Encoding.UTF8.GetBytes("""{"state": "running", "role": "replica", "timeline": 3""" + fields + "}");

    private static byte[] EditCluster(string fixture, Action<JsonArray> edit)
    {
        var root = JsonNode.Parse(PatroniFixtures.Load(fixture).Body)!;
        edit(root["members"]!.AsArray());
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }
}
