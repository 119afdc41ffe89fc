using System.Text;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.HttpCheck;
using PatroniAgent.Patroni;
using PatroniAgent.Policy;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Answers;

/// <summary>
/// A <see cref="Snapshot"/> answers exactly what <see cref="AnswerPolicy.Decide"/> decides, for every
/// mode and max-lag, without deciding again per check.
/// </summary>
public class SnapshotTests
{
    private const long SixteenMB = 16L << 20;

    public static TheoryData<string> StatusFixtures => new(
        Directory.GetFiles(PatroniFixtures.Directory, "*.json")
            .Select(path => Path.GetFileNameWithoutExtension(path))
            .Where(name => !name.EndsWith("-cluster", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal));

    /// <summary>Statuses not recorded: other roles, synchronous and noloadbalance replicas.</summary>
    public static TheoryData<string> SyntheticNames => new(Synthetic.Keys.Order(StringComparer.Ordinal));

    private static readonly Dictionary<string, NodeStatus> Synthetic = new()
    {
        ["standby leader"] = Statuses.Running(PatroniRole.StandbyLeader, "standby_leader"),
        ["primary without the lock"] = Statuses.Running(PatroniRole.Primary, "primary") with { LagBytes = 0 },
        ["demoted"] = Statuses.Running(PatroniRole.Other, "demoted") with { State = "stopped" },
        ["uninitialized running"] = Statuses.Running(PatroniRole.Other, "uninitialized"),
        ["sync replica"] = Statuses.Running(PatroniRole.Replica, "replica") with { SyncStandby = true },
        ["noloadbalance replica"] = Statuses.Running(PatroniRole.Replica, "replica") with { NoLoadBalance = true },
        ["paused sync replica"] = Statuses.Running(PatroniRole.Replica, "replica") with { SyncStandby = true, Paused = true },
    };

    [Theory]
    [MemberData(nameof(StatusFixtures))]
    public void Without_max_lag_every_mode_answers_the_decision_of_a_recorded_status(string fixture)
    {
        var status = PatroniFixtures.Decode(fixture);
        AssertSelectWithoutMaxLag(status);
        if (status.Role == PatroniRole.Replica)
        {
            AssertSelectWithoutMaxLag(status with { LagBytes = 0 });
            AssertSelectWithoutMaxLag(status with { LagBytes = 5000 });
        }
    }

    [Theory]
    [MemberData(nameof(SyntheticNames))]
    public void Without_max_lag_every_mode_answers_the_decision_of_a_synthetic_status(string name)
    {
        AssertSelectWithoutMaxLag(Synthetic[name]);
        AssertSelectWithoutMaxLag(Synthetic[name] with { LagBytes = null });
    }

    [Fact]
    public void The_decided_answers_are_kept_per_mode()
    {
        var status = PatroniFixtures.Decode("v4.1.4-primary");
        var snapshot = Snapshot.FromStatus(status, UnknownAnswer.Default);
        Assert.Same(status, snapshot.Status);
        Assert.Null(snapshot.UnknownReason);
        Assert.Equal(ModeNames.All.Select(mode => AnswerPolicy.Decide(status, mode)), snapshot.Decided!);
    }

    private static readonly long[] Lags = [0, 1, 4096, SixteenMB, SixteenMB + 1, 3L << 30];

    private static readonly string[] RecordedReplicas = ["v3.0.2-replica", "v4.1.4-replica", "v3.0.2-replica-paused", "v4.1.4-replica-paused"];

    public static TheoryData<string, long> ReplicasWithLag
    {
        get
        {
            var data = new TheoryData<string, long>();
            foreach (var fixture in RecordedReplicas)
            {
                foreach (long lag in Lags)
                {
                    data.Add(fixture, lag);
                }
            }
            return data;
        }
    }

    /// <summary>Every replica status of the tests with a known lag L, and L.</summary>
    private static IEnumerable<(string Name, NodeStatus Status, long Lag)> KnownLagCases()
    {
        foreach (var fixture in RecordedReplicas)
        {
            foreach (long lag in Lags)
            {
                yield return (fixture, PatroniFixtures.Decode(fixture) with { LagBytes = lag }, lag);
            }
        }
        foreach (var (name, status) in Synthetic.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            foreach (long lag in new long[] { 0, 4096, SixteenMB + 1 })
            {
                yield return (name, status with { LagBytes = lag }, lag);
            }
        }
    }

    /// <summary>max-lag 0, L-1, L, L+1 and 16 MB; a negative one means "no max-lag" to Select and is left out.</summary>
    private static IEnumerable<long> MaxLags(long lag) =>
        new[] { 0, lag - 1, lag, lag + 1, SixteenMB }.Where(m => m >= 0).Distinct();

    [Theory]
    [MemberData(nameof(ReplicasWithLag))]
    public void With_max_lag_every_mode_takes_the_decision_of_a_replica_with_known_lag(string fixture, long lag)
    {
        // The words (health, admin, weight) are what HAProxy acts on: they must always match.
        var status = PatroniFixtures.Decode(fixture) with { LagBytes = lag };
        Assert.Equal(PatroniRole.Replica, status.Role);
        var snapshot = Snapshot.FromStatus(status, UnknownAnswer.Default);
        foreach (long maxLag in MaxLags(lag))
        {
            foreach (var mode in ModeNames.All)
            {
                var decided = AnswerPolicy.Decide(status, mode, maxLag);
                string line = Text(snapshot.Select(mode, maxLag, out _));
                Assert.StartsWith(decided.Words + " #", line);
                Assert.Equal(decided.IsReady, line.StartsWith("up ready", StringComparison.Ordinal));
            }
        }
    }

    [Fact]
    public void With_max_lag_every_mode_answers_exactly_the_line_of_the_decision()
    {
        // Select(mode, maxLag) must be byte for byte AnswerPolicy.Decide(status, mode, maxLag).Encode(),
        // for recorded replicas with lag L set and for synthetic statuses, with max-lag 0, L-1, L, L+1, 16 MB.
        var mismatches = new List<string>();
        int compared = 0;
        foreach (var (name, status, lag) in KnownLagCases())
        {
            var snapshot = Snapshot.FromStatus(status, UnknownAnswer.Default);
            foreach (long maxLag in MaxLags(lag))
            {
                foreach (var mode in ModeNames.All)
                {
                    string expected = Text(AnswerPolicy.Decide(status, mode, maxLag).Encode());
                    string actual = Text(snapshot.Select(mode, maxLag, out _));
                    compared++;
                    if (expected != actual)
                    {
                        mismatches.Add($"{name}, lag {lag}, {ModeNames.Name(mode)} max-lag={maxLag}: expected \"{expected.TrimEnd()}\", got \"{actual.TrimEnd()}\"");
                    }
                }
            }
        }
        Assert.True(compared > 1000, $"only {compared} comparisons");
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {compared} answers differ:\n" + string.Join("\n", mismatches.Take(60)));
    }

    [Fact]
    public void Over_max_lag_a_lagging_replica_says_so()
    {
        var status = PatroniFixtures.Decode("v4.1.4-replica") with { LagBytes = 20L << 20 };
        var snapshot = Snapshot.FromStatus(status, UnknownAnswer.Default);
        Assert.Equal("up drain #replica, lag 20 MB over max-lag\n", Text(snapshot.Select(Mode.Replica, SixteenMB, out _)));
        Assert.Equal("up drain #replica, lag 20 MB over max-lag\n", Text(snapshot.Select(Mode.ReadOnly, SixteenMB, out _)));
        Assert.Equal("up drain #async replica, lag 20 MB over max-lag\n", Text(snapshot.Select(Mode.Async, SixteenMB, out _)));
        Assert.Equal("up ready 100% #replica, lag 20 MB\n", Text(snapshot.Select(Mode.Replica, 20L << 20, out _)));
        Assert.Equal("up ready 100% #replica, lag 20 MB\n", Text(snapshot.Select(Mode.Health, 0, out _)));
        Assert.Equal("up maint #replica, lag 20 MB\n", Text(snapshot.Select(Mode.Primary, 0, out _)));
    }

    [Theory]
    [MemberData(nameof(StatusFixtures))]
    public void Unknown_lag_with_any_max_lag_is_not_ready_in_replica_modes(string fixture)
    {
        var status = PatroniFixtures.Decode(fixture);
        if (status.Role != PatroniRole.Replica)
        {
            Assert.NotNull(status.LagBytes);
            return;
        }
        Assert.Null(status.LagBytes);
        var snapshot = Snapshot.FromStatus(status, UnknownAnswer.Default);
        foreach (long maxLag in new long[] { 0, 1, SixteenMB, long.MaxValue })
        {
            foreach (var mode in new[] { Mode.Replica, Mode.ReadOnly, Mode.Sync, Mode.Async })
            {
                string line = Text(snapshot.Select(mode, maxLag, out _));
                Assert.False(line.StartsWith("up ready", StringComparison.Ordinal), $"{mode} max-lag {maxLag}: {line}");
                if (status.IsRunning)
                {
                    Assert.Matches("^up (maint|drain) #", line);
                    Assert.Contains("lag unknown", line);
                }
                else
                {
                    Assert.StartsWith("down #postgres stopped, replica", line);
                }
            }
        }
    }

    [Fact]
    public void Unknown_lag_over_max_lag_reasons()
    {
        var snapshot = Snapshot.FromStatus(PatroniFixtures.Decode("v4.1.4-replica"), UnknownAnswer.Default);
        Assert.Equal("up drain #replica, lag unknown over max-lag\n", Text(snapshot.Select(Mode.Replica, SixteenMB, out _)));
        Assert.Equal("up drain #replica, lag unknown over max-lag\n", Text(snapshot.Select(Mode.ReadOnly, 0, out _)));
        Assert.Equal("up drain #async replica, lag unknown over max-lag\n", Text(snapshot.Select(Mode.Async, long.MaxValue, out _)));
        // Without max-lag, unknown lag does not keep a replica out.
        Assert.Equal("up ready 100% #replica, lag unknown\n", Text(snapshot.Select(Mode.Replica, -1, out _)));
    }

    [Fact]
    public void An_unknown_snapshot_answers_its_words_and_reason_in_every_mode_whatever_the_max_lag()
    {
        var snapshot = Snapshot.Unknown(UnknownAnswer.Default, "x");
        Assert.Null(snapshot.Status);
        Assert.Null(snapshot.Decided);
        Assert.Equal("x", snapshot.UnknownReason);
        foreach (var mode in ModeNames.All)
        {
            foreach (long maxLag in new long[] { -1, 0, 1, SixteenMB, long.MaxValue })
            {
                Assert.Equal("down #x\n", Text(snapshot.Select(mode, maxLag, out _)));
            }
        }
    }

    [Fact]
    public void An_unknown_snapshot_keeps_its_reason_on_one_line()
    {
        var snapshot = Snapshot.Unknown(UnknownAnswer.Default with { Words = "up maint" }, "patroni said\nup ready");
        Assert.Equal("up maint #patroni said?up ready\n", Text(snapshot.Select(Mode.Primary, -1, out _)));
    }

    [Theory]
    [MemberData(nameof(StatusFixtures))]
    public void The_HTTP_reply_of_every_mode_is_200_when_ready_else_503_with_the_reply_line_as_body(string fixture)
    {
        var status = PatroniFixtures.Decode(fixture) with { LagBytes = 4096 };
        var snapshot = Snapshot.FromStatus(status, UnknownAnswer.Default);
        foreach (var mode in ModeNames.All)
        {
            foreach (long maxLag in new long[] { -1, 0, 4096 })
            {
                var decided = AnswerPolicy.Decide(status, mode, maxLag < 0 ? null : maxLag);
                var response = snapshot.SelectHttp(mode, maxLag, out var kind);
                string line = Text(snapshot.Select(mode, maxLag, out _));
                Assert.Equal(decided.IsReady ? 200 : 503, response.Status);
                Assert.Equal(AnswerKinds.Of(decided), kind);
                Assert.EndsWith($"\r\nContent-Length: {line.Length}\r\nConnection: close\r\n\r\n{line}", Text(response.For(HttpCheckMethod.Get)));
                Assert.EndsWith("\r\n\r\n", Text(response.For(HttpCheckMethod.Head)));
                Assert.Equal(Text(response.For(HttpCheckMethod.Get)), Text(response.For(HttpCheckMethod.Head)) + line);
                Assert.Equal(Text(response.For(HttpCheckMethod.Get)), Text(response.For(HttpCheckMethod.Options)));
            }
        }
    }

    [Fact]
    public void An_unknown_snapshot_answers_HTTP_503_with_its_line_in_every_mode()
    {
        var snapshot = Snapshot.Unknown(UnknownAnswer.Default with { Words = "maint" }, "x");
        foreach (var mode in ModeNames.All)
        {
            var response = snapshot.SelectHttp(mode, 0, out var kind);
            Assert.Equal(503, response.Status);
            Assert.Equal(AnswerKind.Unknown, kind);
            Assert.StartsWith("HTTP/1.1 503 Service Unavailable\r\n", Text(response.For(HttpCheckMethod.Get)));
            Assert.EndsWith("\r\n\r\nmaint #x\n", Text(response.For(HttpCheckMethod.Get)));
        }
    }

    private static void AssertSelectWithoutMaxLag(NodeStatus status)
    {
        var snapshot = Snapshot.FromStatus(status, UnknownAnswer.Default);
        foreach (var mode in ModeNames.All)
        {
            Assert.Equal(Text(AnswerPolicy.Decide(status, mode).Encode()), Text(snapshot.Select(mode, -1, out _)));
        }
    }

    private static string Text(ReadOnlySpan<byte> bytes) => Encoding.ASCII.GetString(bytes);
}
