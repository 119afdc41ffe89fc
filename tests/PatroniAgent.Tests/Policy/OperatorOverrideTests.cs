using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Patroni;
using PatroniAgent.Policy;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Policy;

/// <summary>
/// The operator's override on the recorded Patroni answers: only ready answers take the override's admin
/// word and reason; down and maint answers stay what they were, so no mode becomes ready through it.
/// </summary>
public class OperatorOverrideTests
{
    private static readonly OperatorOverride Maint = new(Admin.Maint, "disk replacement");
    private static readonly OperatorOverride Drain = new(Admin.Drain, "");

    /// <summary>
    /// Expected answers with the maint override, in the order primary, replica, read-only, sync, async, standby-leader,
    /// leader, health, read-only-sync, quorum, read-only-quorum, liveness, readiness.
    /// </summary>
    public static TheoryData<string, string[]> MaintTable => new()
    {
        {
            "v4.1.4-primary",
            ["up maint #operator: disk replacement", "up maint #primary, timeline 1", "up maint #operator: disk replacement", "up maint #primary, timeline 1",
             "up maint #primary, timeline 1", "up maint #primary, timeline 1", "up maint #operator: disk replacement", "up maint #operator: disk replacement",
             "up maint #operator: disk replacement", "up maint #primary, timeline 1", "up maint #operator: disk replacement", "up maint #operator: disk replacement",
             "up maint #operator: disk replacement"]
        },
        {
            "v3.0.2-replica",
            ["up maint #replica, lag unknown", "up maint #operator: disk replacement", "up maint #operator: disk replacement", "up maint #async replica, lag unknown",
             "up maint #operator: disk replacement", "up maint #replica, lag unknown", "up maint #replica, lag unknown", "up maint #operator: disk replacement",
             "up maint #async replica, lag unknown", "up maint #async replica, lag unknown", "up maint #async replica, lag unknown",
             "up maint #operator: disk replacement", "up maint #replica, lag unknown over 1 MB"]
        },
        { "v4.1.4-primary-postgres-killed", [.. Enumerable.Repeat("down #postgres unknown, primary", 11), "up maint #operator: disk replacement", "down #postgres unknown, primary"] },
        { "v4.1.4-replica-stopped-paused", [.. Enumerable.Repeat("down #postgres stopped, replica, paused", 11), "up maint #operator: disk replacement", "down #postgres stopped, replica, paused"] },
    };

    [Theory]
    [MemberData(nameof(MaintTable))]
    public void Maint_replaces_only_the_ready_answers(string fixture, string[] expected)
    {
        var status = PatroniFixtures.Decode(fixture);
        Assert.Equal(expected, ModeNames.All.Select(m => OperatorOverride.Apply(AnswerPolicy.Decide(status, m), Maint).ToString()));
    }

    [Theory]
    [InlineData("v4.1.4-primary")]
    [InlineData("v3.0.2-primary-paused")]
    [InlineData("v3.0.2-replica")]
    [InlineData("v4.1.4-replica-paused")]
    [InlineData("v4.1.4-primary-postgres-killed")]
    public void Drain_answers_drain_where_it_would_be_ready_and_never_adds_ready(string fixture)
    {
        var status = PatroniFixtures.Decode(fixture);
        foreach (var mode in ModeNames.All)
        {
            var plain = AnswerPolicy.Decide(status, mode);
            var overridden = OperatorOverride.Apply(plain, Drain);
            Assert.False(overridden.IsReady);
            Assert.Equal(plain.IsReady ? new AgentAnswer(Health.Up, Admin.Drain, null, "operator: drain") : plain, overridden);
        }
    }

    [Fact]
    public void No_override_changes_nothing()
    {
        var status = PatroniFixtures.Decode("v4.1.4-primary");
        Assert.Equal(AgentAnswer.Ready("primary, timeline 1"), OperatorOverride.Apply(AnswerPolicy.Decide(status, Mode.Primary), null));
    }

    [Fact]
    public void The_snapshot_encodes_the_override_for_agent_and_http_checks()
    {
        var snapshot = Snapshot.FromStatus(PatroniFixtures.Decode("v4.1.4-primary"), UnknownAnswer.Default, Maint);
        Assert.Equal("up maint #operator: disk replacement\n"u8.ToArray(), snapshot.Select(Mode.Primary, -1, out _));
        Assert.Equal(503, snapshot.SelectHttp(Mode.Primary, -1, out var kind).Status);
        Assert.Equal(AnswerKind.Maint, kind);
        Assert.Same(Maint, snapshot.Override);
    }

    [Theory]
    [InlineData("maint disk replacement", Admin.Maint, "disk replacement")]
    [InlineData("drain", Admin.Drain, "")]
    [InlineData("drain  two spaces", Admin.Drain, " two spaces")]
    public void Parses_the_word_and_the_reason(string text, Admin admin, string reason)
    {
        Assert.True(OperatorOverride.TryParse(text, out var parsed, out _));
        Assert.Equal(new OperatorOverride(admin, reason), parsed);
        Assert.Equal(text, parsed.ToString());
    }

    [Theory]
    [InlineData("ready", "expected drain or maint, got \"ready\"")]
    [InlineData("MAINT x", "expected drain or maint, got \"MAINT\"")]
    [InlineData("", "expected drain or maint, got \"\"")]
    [InlineData("maint a # b", "the reason must not contain #: HAProxy would read the text after it as a second reason")]
    [InlineData("maint tab\there", "the reason must be printable ASCII text, without control characters or line breaks")]
    [InlineData("maint caf\u00e9", "the reason must be printable ASCII text, without control characters or line breaks")]
    [InlineData("maint line\nup ready", "the reason must be printable ASCII text, without control characters or line breaks")]
    public void Refuses_other_words_and_bad_reasons(string text, string error)
    {
        Assert.False(OperatorOverride.TryParse(text, out var parsed, out var message));
        Assert.Null(parsed);
        Assert.Equal(error, message);
    }

    [Fact]
    public void Refuses_a_reason_longer_than_the_limit()
    {
        Assert.Null(OperatorOverride.CheckReason(new string('x', OperatorOverride.MaxReasonLength)));
        Assert.Equal("the reason is 121 characters long, at most 120 are allowed", OperatorOverride.CheckReason(new string('x', 121)));
    }
}
