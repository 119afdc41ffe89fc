using PatroniAgent.AgentProtocol;
using PatroniAgent.Patroni;
using PatroniAgent.Policy;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Policy;

/// <summary>
/// The answer table of docs/answers.md, row by row, on the recorded answers of real Patroni 3.0.2
/// (role "master") and 4.1.4 (role "primary") nodes. Replicas get the lag their cluster reported (0).
/// </summary>
public class AnswerPolicyTests
{
    private const string PrimaryReady3 = "up ready 100% #primary, timeline 4";
    private const string PrimaryMaint3 = "up maint #primary, timeline 4";
    private const string PrimaryReady4 = "up ready 100% #primary, timeline 1";
    private const string PrimaryMaint4 = "up maint #primary, timeline 1";

    /// <summary>
    /// Expected answers in the order primary, replica, read-only, sync, async, standby-leader, leader, health,
    /// read-only-sync, quorum, read-only-quorum, liveness, readiness.
    /// </summary>
    public static TheoryData<string, string[]> FixtureTable => new()
    {
        { "v3.0.2-primary", [PrimaryReady3, PrimaryMaint3, PrimaryReady3, PrimaryMaint3, PrimaryMaint3, PrimaryMaint3, PrimaryReady3, PrimaryReady3, PrimaryReady3, PrimaryMaint3, PrimaryReady3, Live("primary"), PrimaryReady3] },
        { "v4.1.4-primary", [PrimaryReady4, PrimaryMaint4, PrimaryReady4, PrimaryMaint4, PrimaryMaint4, PrimaryMaint4, PrimaryReady4, PrimaryReady4, PrimaryReady4, PrimaryMaint4, PrimaryReady4, Live("primary"), PrimaryReady4] },
        { "v3.0.2-primary-paused", [.. Paused([PrimaryReady3, PrimaryMaint3, PrimaryReady3, PrimaryMaint3, PrimaryMaint3, PrimaryMaint3, PrimaryReady3, PrimaryReady3, PrimaryReady3, PrimaryMaint3, PrimaryReady3, Live("primary"), PrimaryReady3])] },
        { "v4.1.4-primary-paused", [.. Paused([PrimaryReady4, PrimaryMaint4, PrimaryReady4, PrimaryMaint4, PrimaryMaint4, PrimaryMaint4, PrimaryReady4, PrimaryReady4, PrimaryReady4, PrimaryMaint4, PrimaryReady4, Live("primary"), PrimaryReady4])] },
        { "v3.0.2-replica", Replica("") },
        { "v4.1.4-replica", Replica("") },
        { "v3.0.2-replica-paused", Replica(", paused") },
        { "v4.1.4-replica-paused", Replica(", paused") },
        { "v4.1.4-primary-postgres-killed", Down("postgres unknown, primary") },
        { "v3.0.2-primary-stopped-paused", Down("postgres stopped, primary, paused") },
        { "v4.1.4-primary-stopped-paused", Down("postgres stopped, primary, paused") },
        { "v3.0.2-replica-stopped-paused", Down("postgres stopped, replica, paused") },
        { "v4.1.4-replica-stopped-paused", Down("postgres stopped, replica, paused") },
    };

    [Theory]
    [InlineData("up ready 100%", "down", "down")]
    [InlineData("up ready 100%", "up maint", "up maint")]
    [InlineData("up drain", "down", "down")]
    [InlineData("up maint", "down", "up maint")]
    [InlineData("up maint", "stopped drain", "up maint")]
    [InlineData("down", "up maint", "down")]
    [InlineData(null, "down", "down")]
    [InlineData(null, "up maint 0%", "up maint 0%")]
    public void While_patroni_is_unknown_a_mode_keeps_maint_and_down_and_answers_the_unknown_words_where_it_was_ready(string? last, string unknownWords, string expected)
    {
        AgentAnswer? before = last switch
        {
            "up ready 100%" => AgentAnswer.Ready("x"),
            "up drain" => new AgentAnswer(Health.Up, Admin.Drain, null, "x"),
            "up maint" => AgentAnswer.Maint("x"),
            "down" => AgentAnswer.Down("x"),
            _ => null,
        };
        Assert.Equal(expected, AnswerPolicy.WordsWhenUnknown(before, unknownWords));
    }

    [Theory]
    [MemberData(nameof(FixtureTable))]
    public void Recorded_patroni_answers(string fixture, string[] expected)
    {
        var status = Decode(fixture);
        var actual = ModeNames.All.Select(mode => AnswerPolicy.Decide(status, mode).ToString()).ToArray();
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData("v3.0.2-primary")]
    [InlineData("v4.1.4-primary")]
    [InlineData("v3.0.2-primary-paused")]
    [InlineData("v4.1.4-primary-paused")]
    public void Both_vocabularies_make_the_primary_ready_for_writes(string fixture)
    {
        Assert.True(AnswerPolicy.Decide(Decode(fixture), Mode.Primary).IsReady);
    }

    public static TheoryData<string> EveryFixture => new(
        Directory.GetFiles(PatroniFixtures.Directory, "*.json")
            .Select(Path.GetFileNameWithoutExtension)
            .Where(name => !name!.EndsWith("-cluster"))
            .Select(name => name!));

    [Theory]
    [MemberData(nameof(EveryFixture))]
    public void Only_a_running_lock_holding_primary_is_ready_for_writes(string fixture)
    {
        var status = Decode(fixture);
        bool mayWrite = status.HttpStatus == 200 && status.State == "running" && status.Role == PatroniRole.Primary;
        Assert.Equal(mayWrite, AnswerPolicy.Decide(status, Mode.Primary).IsReady);
    }

    public static TheoryData<string, NodeStatus, string[]> SyntheticTable => new()
    {
        {
            "standby leader",
            Statuses.Running(PatroniRole.StandbyLeader, "standby_leader"),
            ["up maint #standby leader, timeline 7", "up maint #standby leader, timeline 7", "up ready 100% #standby leader, timeline 7",
             "up maint #standby leader, timeline 7", "up maint #standby leader, timeline 7", "up ready 100% #standby leader, timeline 7",
             "up ready 100% #standby leader, timeline 7", "up ready 100% #standby leader, timeline 7",
             "up ready 100% #standby leader, timeline 7", "up maint #standby leader, timeline 7", "up ready 100% #standby leader, timeline 7",
             Live("standby leader"), "up ready 100% #standby leader, timeline 7"]
        },
        {
            "primary that lost the leader lock",
            Statuses.Running(PatroniRole.Primary, "primary", http: 503),
            ["up maint #primary without the leader lock", "up maint #primary without the leader lock", "up maint #primary without the leader lock",
             "up maint #primary without the leader lock", "up maint #primary without the leader lock", "up maint #primary without the leader lock",
             "up maint #primary without the leader lock", "up ready 100% #primary without the leader lock",
             "up maint #primary without the leader lock", "up maint #primary without the leader lock", "up maint #primary without the leader lock",
             Live("primary"), "up maint #primary without the leader lock"]
        },
        {
            "synchronous replica",
            Statuses.Running(PatroniRole.Replica, "replica") with { SyncStandby = true },
            ["up maint #replica, lag 2 kB", "up ready 100% #replica, lag 2 kB", "up ready 100% #replica, lag 2 kB",
             "up ready 100% #sync replica, lag 2 kB", "up maint #sync replica, lag 2 kB", "up maint #replica, lag 2 kB",
             "up maint #replica, lag 2 kB", "up ready 100% #replica, lag 2 kB",
             "up ready 100% #sync replica, lag 2 kB", "up maint #sync replica, lag 2 kB", "up maint #sync replica, lag 2 kB",
             Live("replica"), "up ready 100% #replica, lag 2 kB"]
        },
        {
            "quorum replica",
            Statuses.Running(PatroniRole.Replica, "replica") with { QuorumStandby = true },
            ["up maint #replica, lag 2 kB", "up ready 100% #replica, lag 2 kB", "up ready 100% #replica, lag 2 kB",
             "up maint #quorum replica, lag 2 kB", "up maint #quorum replica, lag 2 kB", "up maint #replica, lag 2 kB",
             "up maint #replica, lag 2 kB", "up ready 100% #replica, lag 2 kB",
             "up maint #quorum replica, lag 2 kB", "up ready 100% #quorum replica, lag 2 kB", "up ready 100% #quorum replica, lag 2 kB",
             Live("replica"), "up ready 100% #replica, lag 2 kB"]
        },
        {
            "noloadbalance replica",
            Statuses.Running(PatroniRole.Replica, "replica") with { NoLoadBalance = true },
            ["up maint #replica, lag 2 kB", "up maint #replica, noloadbalance", "up maint #replica, noloadbalance",
             "up maint #async replica, noloadbalance", "up maint #async replica, noloadbalance", "up maint #replica, lag 2 kB",
             "up maint #replica, lag 2 kB", "up ready 100% #replica, lag 2 kB",
             "up maint #async replica, noloadbalance", "up maint #async replica, noloadbalance", "up maint #async replica, noloadbalance",
             Live("replica"), "up ready 100% #replica, lag 2 kB"]
        },
        {
            "cached role while postgres is down",
            Statuses.Running(PatroniRole.Other, "demoted") with { State = "crashed" },
            Down("postgres crashed, role demoted")
        },
        {
            "running node with an unknown role",
            Statuses.Running(PatroniRole.Other, "uninitialized"),
            ["up maint #role uninitialized", "up maint #role uninitialized", "up maint #role uninitialized",
             "up maint #role uninitialized", "up maint #role uninitialized", "up maint #role uninitialized",
             "up maint #role uninitialized", "up ready 100% #role uninitialized",
             "up maint #role uninitialized", "up maint #role uninitialized", "up maint #role uninitialized",
             "up ready 100% #patroni answers, postgres running, role uninitialized", "up maint #role uninitialized"]
        },
    };

    [Theory]
    [MemberData(nameof(SyntheticTable))]
    public void Roles_and_states_not_recorded(string name, NodeStatus status, string[] expected)
    {
        Assert.NotEmpty(name);
        Assert.Equal(expected, ModeNames.All.Select(mode => AnswerPolicy.Decide(status, mode).ToString()).ToArray());
    }

    [Theory]
    [InlineData("starting")]
    [InlineData("stopping")]
    [InlineData("restarting")]
    [InlineData("creating replica")]
    [InlineData("start failed")]
    [InlineData("restart failed (running)")]
    [InlineData("Running")]
    public void A_primary_that_is_not_running_is_down_in_every_mode(string state)
    {
        var status = Statuses.Running(PatroniRole.Primary, "primary", http: 200) with { State = state };
        foreach (var mode in ModeNames.All.Where(m => m != Mode.Liveness))
        {
            var answer = AnswerPolicy.Decide(status, mode);
            Assert.Equal(Health.Down, answer.Health);
            Assert.False(answer.IsReady);
            Assert.Equal($"postgres {state}, primary", answer.Reason);
        }
    }

    [Theory]
    [InlineData(Mode.Replica, "replica")]
    [InlineData(Mode.ReadOnly, "replica")]
    [InlineData(Mode.Async, "async replica")]
    public void Max_lag_takes_a_lagging_replica_out(Mode mode, string kind)
    {
        var status = Statuses.Running(PatroniRole.Replica, "replica") with { LagBytes = 20L << 20 };
        Assert.Equal($"up ready 100% #{kind}, lag 20 MB", AnswerPolicy.Decide(status, mode, 20L << 20).ToString());
        Assert.Equal($"up drain #{kind}, lag 20 MB over max-lag", AnswerPolicy.Decide(status, mode, 16L << 20).ToString());
        Assert.Equal($"up drain #{kind}, lag unknown over max-lag", AnswerPolicy.Decide(status with { LagBytes = null }, mode, 16L << 20).ToString());
        Assert.Equal($"up ready 100% #{kind}, lag unknown", AnswerPolicy.Decide(status with { LagBytes = null }, mode).ToString());
    }

    [Fact]
    public void Max_lag_does_not_apply_to_the_leader_in_read_only_mode()
    {
        var status = Statuses.Running(PatroniRole.Primary, "primary", http: 200);
        Assert.True(AnswerPolicy.Decide(status, Mode.ReadOnly, 0).IsReady);
        var replica = Statuses.Running(PatroniRole.Replica, "replica");
        Assert.False(AnswerPolicy.Decide(replica, Mode.ReadOnly, 0).IsReady);
    }

    [Theory]
    [InlineData(0, "0 B")]
    [InlineData(1023, "1023 B")]
    [InlineData(1024, "1 kB")]
    [InlineData(1536, "1.5 kB")]
    [InlineData(16L << 20, "16 MB")]
    [InlineData((3L << 30) + (1L << 29), "3.5 GB")]
    [InlineData(5L << 50, "5 PB")]
    [InlineData(5000L << 50, "5000 PB")]
    public void Lag_is_shown_in_postgres_units(long bytes, string expected)
    {
        Assert.Equal(expected, AnswerPolicy.FormatBytes(bytes));
    }

    [Fact]
    public void Reasons_from_patroni_cannot_break_the_answer_line()
    {
        var status = Statuses.Running(PatroniRole.Other, "evil\nup ready 100% #x") with { State = "running" };
        var line = System.Text.Encoding.ASCII.GetString(AnswerPolicy.Decide(status, Mode.Primary).Encode());
        Assert.Equal("up maint #role evil?up ready 100% #x\n", line);
    }

    private static NodeStatus Decode(string fixture)
    {
        var status = PatroniFixtures.Decode(fixture);
        return status.Role == PatroniRole.Replica ? status with { LagBytes = 0 } : status;
    }

    /// <summary>Down in every mode but liveness, which says Patroni answers.</summary>
    private static string[] Down(string reason) =>
        [.. ModeNames.All.Select(mode => mode == Mode.Liveness ? $"up ready 100% #patroni answers, {reason}" : $"down #{reason}")];

    private static string Live(string role) => $"up ready 100% #patroni answers, postgres running, {role}";

    private static IEnumerable<string> Paused(string[] answers) => answers.Select(a => a + ", paused");

    private static string[] Replica(string suffix) =>
    [
        $"up maint #replica, lag 0 B{suffix}", $"up ready 100% #replica, lag 0 B{suffix}", $"up ready 100% #replica, lag 0 B{suffix}",
        $"up maint #async replica, lag 0 B{suffix}", $"up ready 100% #async replica, lag 0 B{suffix}", $"up maint #replica, lag 0 B{suffix}",
        $"up maint #replica, lag 0 B{suffix}", $"up ready 100% #replica, lag 0 B{suffix}",
        $"up maint #async replica, lag 0 B{suffix}", $"up maint #async replica, lag 0 B{suffix}", $"up maint #async replica, lag 0 B{suffix}",
        $"up ready 100% #patroni answers, postgres running, replica{suffix}", $"up ready 100% #replica, lag 0 B{suffix}",
    ];
}
