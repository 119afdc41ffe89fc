using System.Text;
using Admin = PatroniAgent.AgentProtocol.Admin;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Patroni;
using PatroniAgent.Policy;
using PatroniAgent.Watcher;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Watcher;

/// <summary>
/// <see cref="RoleWatcher"/> and <see cref="AnswerBoard"/> together, against a stand-in Patroni, with a
/// manual clock for freshness: what checks are answered, which snapshot is served, and what is logged.
/// </summary>
[Collection(nameof(AllocationCollection))]
public class RoleWatcherTests
{
    private static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(3);

    // v4.1.4-replica with the v4.1.4-cluster answer (lag 0), in the order of ModeNames.All:
    // primary, replica, read-only, sync, async, standby-leader, leader, health, read-only-sync, quorum,
    // read-only-quorum, liveness, readiness.
    private static readonly string[] ReplicaAnswers =
    [
        "up maint #replica, lag 0 B\n",
        "up ready 100% #replica, lag 0 B\n",
        "up ready 100% #replica, lag 0 B\n",
        "up maint #async replica, lag 0 B\n",
        "up ready 100% #async replica, lag 0 B\n",
        "up maint #replica, lag 0 B\n",
        "up maint #replica, lag 0 B\n",
        "up ready 100% #replica, lag 0 B\n",
        "up maint #async replica, lag 0 B\n",
        "up maint #async replica, lag 0 B\n",
        "up maint #async replica, lag 0 B\n",
        "up ready 100% #patroni answers, postgres running, replica\n",
        "up ready 100% #replica, lag 0 B\n",
    ];

    private static readonly string[] PrimaryAnswers =
    [
        "up ready 100% #primary, timeline 1\n",
        "up maint #primary, timeline 1\n",
        "up ready 100% #primary, timeline 1\n",
        "up maint #primary, timeline 1\n",
        "up maint #primary, timeline 1\n",
        "up maint #primary, timeline 1\n",
        "up ready 100% #primary, timeline 1\n",
        "up ready 100% #primary, timeline 1\n",
        "up ready 100% #primary, timeline 1\n",
        "up maint #primary, timeline 1\n",
        "up ready 100% #primary, timeline 1\n",
        "up ready 100% #patroni answers, postgres running, primary\n",
        "up ready 100% #primary, timeline 1\n",
    ];

    private const string ReplicaLog = "patroni status: role replica, state running, HTTP 503, timeline 1; ready for: replica read-only async health liveness readiness";
    private const string PrimaryLog = "patroni status: role primary, state running, HTTP 200, timeline 1; ready for: primary read-only leader health read-only-sync read-only-quorum liveness readiness";
    private const string Refused = "patroni refused the connection";
    private const string NoAnswer = "no answer from patroni for 3s";

    /// <summary>
    /// What the answers <paramref name="fresh"/> (one line per mode) become once stale or unknown with
    /// <paramref name="reason"/>: ready gives the unknown words, maint stays maint, down stays down, each
    /// with the reason and the answer it replaces.
    /// </summary>
    private static string[] Stale(string[] fresh, string reason, string unknownWords = "down") =>
    [
        .. fresh.Select(line =>
        {
            int hash = line.IndexOf(" #", StringComparison.Ordinal);
            string words = line[..hash];
            string stale = words.StartsWith("down", StringComparison.Ordinal) ? "down" : words.Contains("maint") ? "up maint" : unknownWords;
            return $"{stale} #{reason}; was: {line[(hash + 2)..^1]}\n";
        }),
    ];

    private static string UnknownLog(string words, string reason) =>
        $"patroni state unknown, answering \"{words}\" where the node was ready and maint where it was maint: {reason}";

    [Fact]
    public async Task Before_the_first_poll_every_mode_waits()
    {
        await using var rig = new Rig();
        Assert.Equal(Enumerable.Repeat("down #waiting for the first answer from patroni\n", ModeNames.All.Length), rig.AllAnswers());
        Assert.Empty(rig.Log.Lines);
    }

    [Fact]
    public async Task The_first_poll_publishes_the_answers_of_a_replica_for_every_mode()
    {
        await using var rig = new Rig();
        rig.ServeReplica();

        Assert.True(rig.Poll());

        Assert.Equal(ReplicaAnswers, rig.AllAnswers());
        Assert.Equal(ReplicaAnswers, rig.AllAnswersByDefaultMode());
        Assert.Equal("up ready 100% #replica, lag 0 B\n", rig.Answer("replica max-lag=0\n"));
        Assert.Equal([(LogLevel.Information, ReplicaLog)], rig.Log.Lines);
    }

    [Fact]
    public async Task The_first_poll_publishes_the_answers_of_a_primary_for_every_mode()
    {
        await using var rig = new Rig();
        rig.Fake.Status(PatroniFixtures.Load("v4.1.4-primary"));

        Assert.True(rig.Poll());

        Assert.Equal(PrimaryAnswers, rig.AllAnswers());
        Assert.Equal(PrimaryAnswers, rig.AllAnswersByDefaultMode());
        Assert.Equal("up ready 100% #primary, timeline 1\n", rig.Answer("read-write\n"));
        Assert.Equal("up ready 100% #primary, timeline 1\n", rig.Answer("master\n"));
        Assert.Equal([(LogLevel.Information, PrimaryLog)], rig.Log.Lines);
    }

    [Fact]
    public async Task An_unchanged_status_keeps_the_same_snapshot_and_refreshes_it()
    {
        await using var rig = new Rig();
        rig.ServeReplica();
        Assert.True(rig.Poll());
        var first = rig.Board.Current;

        rig.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(rig.Poll());
        Assert.Same(first, rig.Board.Current);

        // 4 s after the first publication but 2 s after the refresh: still fresh.
        rig.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.False(rig.Board.IsStale);
        Assert.Equal(ReplicaAnswers, rig.AllAnswers());

        rig.Time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.True(rig.Board.IsStale);
        Assert.Equal(Stale(ReplicaAnswers, NoAnswer)[(int)Mode.Replica], rig.Answer("replica\n"));

        Assert.True(rig.Poll());
        Assert.Same(first, rig.Board.Current);
        Assert.False(rig.Board.IsStale);
        Assert.Equal(ReplicaAnswers, rig.AllAnswers());
        Assert.Equal([(LogLevel.Information, ReplicaLog)], rig.Log.Lines);
        // Three GET / and two GET /cluster: the lag at the first poll and again at 5.5 s, past LagRefresh.
        Assert.Equal(5, rig.Fake.Requests);
    }

    [Fact]
    public async Task A_changed_status_publishes_a_new_snapshot_and_logs_one_line()
    {
        await using var rig = new Rig();
        rig.ServeReplica();
        Assert.True(rig.Poll());
        var replica = rig.Board.Current;

        rig.Fake.Status(PatroniFixtures.Load("v4.1.4-primary"));
        rig.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(rig.Poll());

        Assert.NotSame(replica, rig.Board.Current);
        Assert.Equal(PatroniRole.Primary, rig.Board.Current.Status!.Role);
        Assert.Equal(PrimaryAnswers, rig.AllAnswers());
        Assert.Equal([(LogLevel.Information, ReplicaLog), (LogLevel.Information, PrimaryLog)], rig.Log.Lines);

        // Polling the same primary again changes nothing and logs nothing.
        var primary = rig.Board.Current;
        Assert.True(rig.Poll());
        Assert.Same(primary, rig.Board.Current);
        Assert.Equal(2, rig.Log.Lines.Count);
    }

    [Fact]
    public async Task A_change_that_keeps_the_summary_publishes_without_a_log_line()
    {
        await using var rig = new Rig();
        rig.ServeReplica();
        Assert.True(rig.Poll());
        var before = rig.Board.Current;

        // The lag moves: new answers, same role, state and ready modes.
        rig.Fake.Set("/cluster", new FakeReply.Answer(200, Encoding.UTF8.GetBytes(
            """{"members": [{"name": "pg2", "role": "replica", "api_url": "http://127.0.2.2:8008/patroni", "replay_lag": 2048, "lag": 2048}]}""")));
        rig.Time.Advance(PatroniClient.LagRefresh);
        Assert.True(rig.Poll());

        Assert.NotSame(before, rig.Board.Current);
        Assert.Equal("up ready 100% #replica, lag 2 kB\n", rig.Answer("replica\n"));
        Assert.Equal("up drain #replica, lag 2 kB over max-lag\n", rig.Answer("replica max-lag=1kB\n"));
        Assert.Equal([(LogLevel.Information, ReplicaLog)], rig.Log.Lines);
    }

    [Fact]
    public async Task After_a_failure_the_last_snapshot_is_served_until_stale_then_the_reason()
    {
        await using var rig = new Rig();
        rig.ServeReplica();
        Assert.True(rig.Poll());
        var good = rig.Board.Current;

        await rig.StopFakeAsync();
        rig.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(rig.Poll());
        Assert.Same(good, rig.Board.Current);
        Assert.Equal(ReplicaAnswers, rig.AllAnswers());

        rig.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(rig.Poll());
        Assert.Same(good, rig.Board.Current);
        Assert.Equal(ReplicaAnswers, rig.AllAnswers());

        // 3.5 s since the last good poll: the board itself refuses the old snapshot...
        rig.Time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Equal(Stale(ReplicaAnswers, NoAnswer), rig.AllAnswers());

        // ...and the next failed poll replaces it with the reason.
        Assert.False(rig.Poll());
        var unknown = rig.Board.Current;
        Assert.Null(unknown.Status);
        Assert.Equal(Refused, unknown.UnknownReason);
        Assert.Equal(Stale(ReplicaAnswers, Refused), rig.AllAnswers());
        Assert.Equal(Stale(ReplicaAnswers, Refused)[(int)Mode.Replica], rig.Answer("replica max-lag=16MB\n"));

        // More failures: same snapshot, nothing more logged; the unknown answer does not age.
        for (int i = 0; i < 3; i++)
        {
            rig.Time.Advance(TimeSpan.FromSeconds(1));
            Assert.False(rig.Poll());
            Assert.Same(unknown, rig.Board.Current);
        }
        rig.Time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(Stale(ReplicaAnswers, Refused), rig.AllAnswers());

        Assert.Equal(
        [
            (LogLevel.Information, ReplicaLog),
            (LogLevel.Warning, $"patroni poll failed: {Refused}; answering from the last status until it is stale"),
            (LogLevel.Error, UnknownLog("down", Refused)),
        ], rig.Log.Lines);

        // Recovery: the next good poll serves the status again, logged once.
        rig.RestartFake();
        rig.ServeReplica();
        Assert.True(rig.Poll());
        Assert.Equal(ReplicaAnswers, rig.AllAnswers());
        Assert.False(rig.Board.IsStale);
        Assert.True(rig.Poll());

        Assert.Equal(
        [
            (LogLevel.Information, ReplicaLog),
            (LogLevel.Warning, $"patroni poll failed: {Refused}; answering from the last status until it is stale"),
            (LogLevel.Error, UnknownLog("down", Refused)),
            (LogLevel.Information, $"patroni answers again (after: {Refused})"),
            (LogLevel.Information, ReplicaLog),
        ], rig.Log.Lines);
    }

    /// <summary>The faults of Patroni a poll can meet, each with the start of the reason the agent gives.</summary>
    public static TheoryData<string, string> PatroniFaults => new()
    {
        { "accepts, then never answers", "no answer from patroni within 1000 ms" },
        { "answers after the timeout", "no answer from patroni within 1000 ms" },
        { "HTTP 500 with a body", "patroni answered HTTP 500" },
        { "HTTP 500 without a body", "patroni answered HTTP 500" },
        { "HTTP 503 without a body", "patroni answer is not valid JSON" },
        { "truncated JSON", "patroni answer is not valid JSON" },
        { "an HTML error page", "patroni answer is not valid JSON" },
        { "a 3 MB body", "patroni answer larger than 1024 kB" },
        { "not HTTP", "patroni request failed (InvalidResponse)" },
    };

    private static FakeReply Fault(string fault)
    {
        var primary = PatroniFixtures.Load("v4.1.4-primary").Body;
        return fault switch
        {
            "accepts, then never answers" => new FakeReply.Silence(),
            "answers after the timeout" => new FakeReply.Delayed(TimeSpan.FromSeconds(3), new FakeReply.Answer(200, primary)),
            "HTTP 500 with a body" => new FakeReply.Answer(500, primary),
            "HTTP 500 without a body" => new FakeReply.Answer(500, []),
            "HTTP 503 without a body" => new FakeReply.Answer(503, []),
            "truncated JSON" => new FakeReply.Answer(200, primary[..(primary.Length / 2)]),
            "an HTML error page" => new FakeReply.Answer(200, "<html><body>502 Bad Gateway</body></html>"u8.ToArray(), "text/html"),
            "a 3 MB body" => new FakeReply.Answer(200, [.. Enumerable.Repeat((byte)' ', 3 << 20), .. primary]),
            "not HTTP" => new FakeReply.Raw("SSH-2.0-OpenSSH_9.2\r\n"u8.ToArray()),
            _ => throw new ArgumentOutOfRangeException(nameof(fault)),
        };
    }

    [Theory]
    [MemberData(nameof(PatroniFaults))]
    public async Task A_fault_of_patroni_keeps_the_last_answers_until_stale_then_gives_its_reason_then_recovers(string fault, string reason)
    {
        // 1 s, not less: the rig's first poll, before the fault, is the first GET of a fresh test process
        // when this class runs alone, and its start-up took more than 200 ms.
        await using var rig = new Rig(timeout: TimeSpan.FromSeconds(1));
        rig.Fake.Status(PatroniFixtures.Load("v4.1.4-primary"));
        Assert.True(rig.Poll());
        var good = rig.Board.Current;

        rig.Fake.Status(Fault(fault));
        for (int i = 0; i < 2; i++)
        {
            rig.Time.Advance(TimeSpan.FromSeconds(1));
            Assert.False(rig.Poll());
            Assert.Same(good, rig.Board.Current);
            Assert.Equal(PrimaryAnswers, rig.AllAnswers());
        }

        rig.Time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.False(rig.Poll());
        string given = rig.Board.Current.UnknownReason!;
        Assert.StartsWith(reason, given);
        Assert.Equal(Stale(PrimaryAnswers, given), rig.AllAnswers());

        rig.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(rig.Poll());

        rig.Fake.Status(PatroniFixtures.Load("v4.1.4-primary"));
        Assert.True(rig.Poll());
        Assert.Equal(PrimaryAnswers, rig.AllAnswers());
        Assert.Equal(
        [
            (LogLevel.Information, PrimaryLog),
            (LogLevel.Warning, $"patroni poll failed: {given}; answering from the last status until it is stale"),
            (LogLevel.Error, UnknownLog("down", given)),
            (LogLevel.Information, $"patroni answers again (after: {given})"),
            (LogLevel.Information, PrimaryLog),
        ], rig.Log.Lines);
    }

    [Fact]
    public async Task Checks_are_answered_from_the_last_snapshot_while_a_poll_hangs()
    {
        await using var rig = new Rig(timeout: TimeSpan.FromSeconds(30));
        rig.Fake.Status(PatroniFixtures.Load("v4.1.4-primary"));
        Assert.True(rig.Poll());
        rig.Fake.Status(new FakeReply.Silence());

        var hanging = Task.Run(rig.Poll);
        await Eventually.WaitFor(() => rig.Fake.Requests == 2, TimeSpan.FromSeconds(10));
        Assert.False(hanging.IsCompleted);
        Assert.Equal(PrimaryAnswers, rig.AllAnswers());

        // The bound holds while the poll still hangs: past stale-after no check gets the old answers.
        rig.Time.Advance(StaleAfter + TimeSpan.FromMilliseconds(1));
        Assert.False(hanging.IsCompleted);
        Assert.Equal(Stale(PrimaryAnswers, NoAnswer), rig.AllAnswers());
    }

    [Fact]
    public async Task Recovery_before_stale_keeps_the_snapshot_and_logs_once()
    {
        await using var rig = new Rig();
        rig.ServeReplica();
        Assert.True(rig.Poll());
        var good = rig.Board.Current;

        rig.Fake.Status(new FakeReply.Answer(500, []));
        rig.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(rig.Poll());
        Assert.False(rig.Poll());
        Assert.Equal(ReplicaAnswers, rig.AllAnswers());

        rig.ServeReplica();
        Assert.True(rig.Poll());
        Assert.True(rig.Poll());

        Assert.Same(good, rig.Board.Current);
        Assert.Equal(
        [
            (LogLevel.Information, ReplicaLog),
            (LogLevel.Warning, "patroni poll failed: patroni answered HTTP 500; answering from the last status until it is stale"),
            (LogLevel.Information, "patroni answers again (after: patroni answered HTTP 500)"),
        ], rig.Log.Lines);
    }

    [Fact]
    public async Task A_new_failure_reason_replaces_the_unknown_answer()
    {
        await using var rig = new Rig();
        rig.ServeReplica();
        Assert.True(rig.Poll());

        rig.Fake.Status(new FakeReply.Answer(500, []));
        rig.Time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(rig.Poll());
        Assert.Equal(Stale(ReplicaAnswers, "patroni answered HTTP 500"), rig.AllAnswers());

        rig.Fake.Status(new FakeReply.Answer(200, "{\"state\": \"running\"}"u8.ToArray()));
        Assert.False(rig.Poll());
        Assert.False(rig.Poll());
        // The second reason still keeps each mode's answer from the last known status.
        Assert.Equal(Stale(ReplicaAnswers, "patroni answer has no state or role"), rig.AllAnswers());

        Assert.Equal(
        [
            (LogLevel.Information, ReplicaLog),
            (LogLevel.Warning, "patroni poll failed: patroni answered HTTP 500; answering from the last status until it is stale"),
            (LogLevel.Error, UnknownLog("down", "patroni answered HTTP 500")),
            (LogLevel.Warning, "patroni poll failed: patroni answer has no state or role; answering from the last status until it is stale"),
            (LogLevel.Error, UnknownLog("down", "patroni answer has no state or role")),
        ], rig.Log.Lines);
    }

    [Fact]
    public async Task Without_any_good_poll_the_reason_replaces_the_waiting_answer_after_stale_after()
    {
        await using var rig = new Rig(unknownWords: "up maint");
        await rig.StopFakeAsync();

        Assert.False(rig.Poll());
        Assert.Equal(Enumerable.Repeat("up maint #waiting for the first answer from patroni\n", ModeNames.All.Length), rig.AllAnswers());

        rig.Time.Advance(StaleAfter);
        Assert.False(rig.Poll());
        Assert.Equal(Enumerable.Repeat($"up maint #{Refused}\n", ModeNames.All.Length), rig.AllAnswers());
        Assert.Equal(
        [
            (LogLevel.Warning, $"patroni poll failed: {Refused}; answering from the last status until it is stale"),
            (LogLevel.Error, UnknownLog("up maint", Refused)),
        ], rig.Log.Lines);
    }

    // ---- AnswerBoard on its own ----

    [Fact]
    public void A_published_snapshot_turns_stale_after_stale_after()
    {
        var time = new ManualTime();
        var board = new AnswerBoard("down", StaleAfter, time);
        board.PublishFresh(Snapshot.FromStatus(PatroniFixtures.Decode("v4.1.4-primary"), UnknownAnswer.Default));
        Assert.Equal("up ready 100% #primary, timeline 1\n", Answer(board, Mode.Primary, "primary\n"));

        time.Advance(StaleAfter);
        Assert.False(board.IsStale);
        Assert.Equal("up ready 100% #primary, timeline 1\n", Answer(board, Mode.Primary, "primary\n"));

        time.Advance(TimeSpan.FromTicks(1));
        Assert.True(board.IsStale);
        foreach (var mode in ModeNames.All)
        {
            Assert.Equal(Stale(PrimaryAnswers, NoAnswer)[(int)mode], Answer(board, mode, ""));
            Assert.Equal(Stale(PrimaryAnswers, NoAnswer)[(int)mode], Answer(board, Mode.Health, ModeNames.Name(mode) + " max-lag=16MB\n"));
        }
        // Read-write never answers ready from a stale snapshot, whatever word it is asked with.
        foreach (var line in new[] { "", "\n", "primary\n", "master\n", "read-write\n", "rw\r\n", "PRIMARY" })
        {
            Assert.DoesNotContain("ready", Answer(board, Mode.Primary, line));
        }

        // A new publication is fresh again for stale-after.
        board.PublishFresh(board.Current);
        Assert.Equal("up ready 100% #primary, timeline 1\n", Answer(board, Mode.Primary, "primary\n"));
    }

    [Fact]
    public void A_slow_answer_is_fresh_for_stale_after_from_when_its_poll_was_sent()
    {
        var time = new ManualTime();
        var poller = new ScriptedPoller(time);
        var board = new AnswerBoard("down", StaleAfter, time);
        var watcher = new RoleWatcher(poller, board, TimeSpan.FromSeconds(1), StaleAfter, NullLogger.Instance, time);
        poller.Then(new PollResult(PatroniFixtures.Decode("v4.1.4-primary"), null), TimeSpan.FromSeconds(2));

        Assert.True(watcher.PollOnce(CancellationToken.None));
        Assert.Equal("up ready 100% #primary, timeline 1\n", Answer(board, Mode.Primary, ""));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("up ready 100% #primary, timeline 1\n", Answer(board, Mode.Primary, ""));
        time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal("down #no answer from patroni for 3s; was: primary, timeline 1\n", Answer(board, Mode.Primary, ""));
    }

    [Fact]
    public void Stale_answers_stay_maint_where_the_node_was_maint_and_are_never_ready()
    {
        var time = new ManualTime();
        var board = new AnswerBoard("down", StaleAfter, time);
        board.PublishFresh(Snapshot.FromStatus(PatroniFixtures.Decode("v3.0.2-replica"), board.Unknown));
        time.Advance(StaleAfter + TimeSpan.FromTicks(1));

        const string Reason = "no answer from patroni for 3s; was: ";
        string[] expected =
        [
            $"up maint #{Reason}replica, lag unknown\n",
            $"down #{Reason}replica, lag unknown\n",
            $"down #{Reason}replica, lag unknown\n",
            $"up maint #{Reason}async replica, lag unknown\n",
            $"down #{Reason}async replica, lag unknown\n",
            $"up maint #{Reason}replica, lag unknown\n",
            $"up maint #{Reason}replica, lag unknown\n",
            $"down #{Reason}replica, lag unknown\n",
            $"up maint #{Reason}async replica, lag unknown\n",
            $"up maint #{Reason}async replica, lag unknown\n",
            $"up maint #{Reason}async replica, lag unknown\n",
            $"down #{Reason}patroni answers, postgres running, replica\n",
            $"up maint #{Reason}replica, lag unknown over 1 MB\n",
        ];
        Assert.Equal(expected, ModeNames.All.Select(mode => Answer(board, mode, "")));
        Assert.Equal($"down #{Reason}replica, lag unknown over max-lag\n", Answer(board, Mode.Replica, "replica max-lag=16MB\n"));
        Assert.Equal(AnswerKind.Unknown, board.CurrentAnswer(Mode.Primary).Kind);
        Assert.Equal(503, AnswerReading.ReadHttp(board.AnswerHttp("GET /replica HTTP/1.1\r\n\r\n"u8)).Status);
    }

    [Fact]
    public void The_stale_answer_names_fractional_stale_after()
    {
        var time = new ManualTime();
        var board = new AnswerBoard("up maint", TimeSpan.FromMilliseconds(1500), time);
        board.PublishFresh(Snapshot.FromStatus(PatroniFixtures.Decode("v3.0.2-primary"), board.Unknown));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("up maint #no answer from patroni for 1.5s; was: primary, timeline 4\n", Answer(board, Mode.Primary, ""));
    }

    [Fact]
    public void An_unknown_snapshot_does_not_age()
    {
        var time = new ManualTime();
        var board = new AnswerBoard("down", StaleAfter, time);
        board.PublishFresh(Snapshot.FromStatus(PatroniFixtures.Decode("v4.1.4-primary"), UnknownAnswer.Default));
        board.PublishUnknown(Snapshot.Unknown(UnknownAnswer.Default, Refused));
        time.Advance(TimeSpan.FromHours(1));
        Assert.False(board.IsStale);
        Assert.Equal($"down #{Refused}\n", Answer(board, Mode.Primary, "primary\n"));
    }

    /// <summary>
    /// The watcher publishes the unknown answer exactly when the old snapshot has gone stale. A check
    /// running at that moment must get the stale answer or the unknown answer, never the old snapshot's
    /// "ready". The clock below runs the publication between the check's read of the snapshot and its
    /// read of the freshness bound, which is what another thread may do.
    /// </summary>
    [Fact]
    public void A_check_racing_the_unknown_publication_never_serves_the_stale_snapshot()
    {
        var time = new HookedTime();
        var board = new AnswerBoard("down", StaleAfter, time);
        board.PublishFresh(Snapshot.FromStatus(PatroniFixtures.Decode("v4.1.4-primary"), UnknownAnswer.Default));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(Stale(PrimaryAnswers, NoAnswer)[(int)Mode.Primary], Answer(board, Mode.Primary, "primary\n"));

        time.OnNextTimestamp = () => board.PublishUnknown(Snapshot.Unknown(UnknownAnswer.Default, Refused));
        string answer = Answer(board, Mode.Primary, "primary\n");

        Assert.Contains(answer, new[] { Stale(PrimaryAnswers, NoAnswer)[(int)Mode.Primary], $"down #{Refused}\n" });
    }

    // ---- Run with the real clock ----

    [Fact]
    public async Task Run_brings_a_change_to_the_board_within_a_second_and_stops_on_cancellation()
    {
        await using var fake = new FakePatroni();
        fake.Status(PatroniFixtures.Load("v4.1.4-replica"));
        fake.Set("/cluster", FakeReply.From(PatroniFixtures.Load("v4.1.4-cluster")));
        var client = new PatroniClient(fake.Url, TimeSpan.FromSeconds(10));
        var board = new AnswerBoard("down", StaleAfter);
        var log = new ListLogger();
        var watcher = new RoleWatcher(client, board, TimeSpan.FromMilliseconds(50), StaleAfter, log);
        using var cts = new CancellationTokenSource();

        var run = Task.Run(() => watcher.Run(cts.Token));
        await Eventually.WaitFor(() => Answer(board, Mode.Replica, "") == "up ready 100% #replica, lag 0 B\n", TimeSpan.FromSeconds(5));

        fake.Status(PatroniFixtures.Load("v4.1.4-primary"));
        await Eventually.WaitFor(() => Answer(board, Mode.Primary, "") == "up ready 100% #primary, timeline 1\n", TimeSpan.FromSeconds(10));
        Assert.Equal("up maint #primary, timeline 1\n", Answer(board, Mode.Replica, ""));

        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([(LogLevel.Information, ReplicaLog), (LogLevel.Information, PrimaryLog)], log.Lines);

        // Stopped: no more requests.
        int requests = fake.Requests;
        await Task.Delay(150);
        Assert.Equal(requests, fake.Requests);
    }

    [Fact]
    public async Task Run_stops_promptly_while_a_poll_waits_for_patroni()
    {
        await using var fake = new FakePatroni();
        fake.Status(new FakeReply.Silence());
        var client = new PatroniClient(fake.Url, TimeSpan.FromSeconds(30));
        var board = new AnswerBoard("down", StaleAfter);
        var log = new ListLogger();
        var watcher = new RoleWatcher(client, board, TimeSpan.FromMilliseconds(50), StaleAfter, log);
        using var cts = new CancellationTokenSource();

        var run = Task.Run(() => watcher.Run(cts.Token));
        await Eventually.WaitFor(() => fake.Requests == 1, TimeSpan.FromSeconds(5));
        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(2));
        Assert.Empty(log.Lines);
        Assert.Equal("down #waiting for the first answer from patroni\n", Answer(board, Mode.Primary, ""));
    }

    [Fact]
    public async Task Run_stops_without_crashing_when_a_poll_cut_short_by_the_stop_fails_otherwise()
    {
        using var cts = new CancellationTokenSource();
        var poller = new FailingOnStop(cts);
        var watcher = new RoleWatcher(poller, new AnswerBoard("down", StaleAfter), TimeSpan.FromMilliseconds(50), StaleAfter, new ListLogger());

        await Task.Run(() => watcher.Run(cts.Token)).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(cts.IsCancellationRequested);
    }

    /// <summary>A poll that the stop interrupts and that then fails with an answer error, as a 404 read at the moment of a SIGTERM does.</summary>
    private sealed class FailingOnStop(CancellationTokenSource stop) : IPatroniPoller
    {
        public PollResult Poll(CancellationToken cancellationToken)
        {
            stop.Cancel();
            throw new PatroniAnswerException("patroni answered HTTP 404", PollErrorKind.Http);
        }
    }

    [Fact]
    public async Task Run_stops_promptly_while_it_waits_for_the_next_poll()
    {
        await using var running = new RunningWatcher("v4.1.4-primary");
        await Eventually.WaitFor(() => Answer(running.Board, Mode.Primary, "") == "up ready 100% #primary, timeline 1\n", TimeSpan.FromSeconds(5));
        await running.StopAsync();
        Assert.Equal(1, running.Fake.Requests);
    }

    [Fact]
    public async Task An_override_rebuilds_the_snapshot_at_the_next_poll_and_ready_clears_it()
    {
        await using var rig = new Rig();
        rig.Fake.Status(PatroniFixtures.Load("v4.1.4-primary"));
        Assert.True(rig.Poll());
        var plain = rig.Board.Current;

        rig.Watcher.SetOverride(new OperatorOverride(Admin.Maint, "disk replacement"));
        Assert.True(rig.Poll());
        Assert.NotSame(plain, rig.Board.Current);
        Assert.Equal("up maint #operator: disk replacement\n", rig.Answer("primary\n"));
        Assert.Equal("up maint #primary, timeline 1\n", rig.Answer("replica\n"));
        var overridden = rig.Board.Current;
        Assert.True(rig.Poll());
        Assert.Same(overridden, rig.Board.Current);

        rig.Watcher.SetOverride(null);
        Assert.True(rig.Poll());
        Assert.Equal(PrimaryAnswers, rig.AllAnswers());
        Assert.Equal(
            [(LogLevel.Information, PrimaryLog),
             (LogLevel.Information, "patroni status: role primary, state running, HTTP 200, timeline 1; ready for: none; operator override: maint disk replacement"),
             (LogLevel.Information, PrimaryLog)],
            rig.Log.Lines);
    }

    [Fact]
    public async Task Checks_under_an_override_allocate_nothing()
    {
        await using var rig = new Rig();
        rig.Fake.Status(PatroniFixtures.Load("v4.1.4-primary"));
        rig.Watcher.SetOverride(new OperatorOverride(Admin.Drain, "kernel update"));
        Assert.True(rig.Poll());
        byte[] primary = Encoding.ASCII.GetBytes("primary\n");
        byte[] expected = Encoding.ASCII.GetBytes("up drain #operator: kernel update\n");
        Assert.True(rig.Board.Answer(AgentRequest.For(Mode.Health), primary).SequenceEqual(expected));
        Assert.Equal(503, rig.Board.Current.SelectHttp(Mode.Primary, -1, out _).Status);
        rig.Board.AnswerHttp("GET /primary HTTP/1.1\r\n\r\n"u8);

        Assert.Equal(0, Allocations.OnThisThread(() =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                rig.Board.Answer(AgentRequest.For(Mode.Health), primary);
                rig.Board.AnswerHttp("GET /primary HTTP/1.1\r\n\r\n"u8);
            }
        }));
    }

    [Fact]
    public async Task An_override_set_while_patroni_fails_applies_to_the_last_answers_without_making_them_fresher()
    {
        await using var rig = new Rig();
        rig.Fake.Status(PatroniFixtures.Load("v4.1.4-primary"));
        Assert.True(rig.Poll());
        await rig.StopFakeAsync();
        rig.Time.Advance(TimeSpan.FromSeconds(2));

        rig.Watcher.SetOverride(new OperatorOverride(Admin.Drain, "kernel update"));
        Assert.False(rig.Poll());
        Assert.Equal("up drain #operator: kernel update\n", rig.Answer("primary\n"));

        rig.Time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Equal($"down #{NoAnswer}; was: operator: kernel update\n", rig.Answer("primary\n"));
    }

    [Fact]
    public async Task PollNow_cuts_a_long_wait_short()
    {
        await using var running = new RunningWatcher("v4.1.4-primary");
        await Eventually.WaitFor(() => running.Fake.Requests == 1, TimeSpan.FromSeconds(5));
        running.Watcher.PollNow();
        await Eventually.WaitFor(() => running.Fake.Requests == 2, TimeSpan.FromSeconds(5));
        running.Watcher.PollNow();
        await Eventually.WaitFor(() => running.Fake.Requests == 3, TimeSpan.FromSeconds(5));
        await running.StopAsync();
        Assert.Equal(3, running.Fake.Requests);
    }

    [Fact]
    public void A_role_change_polls_every_20ms_for_5s_then_at_the_poll_interval_again()
    {
        var time = new ManualTime();
        var watcher = new RoleWatcher(new ScriptedPoller(time), new AnswerBoard("down", StaleAfter, time),
            TimeSpan.FromSeconds(1), StaleAfter, new ListLogger(), time);
        Assert.Equal(TimeSpan.FromSeconds(1), watcher.CurrentInterval);

        watcher.RoleChanging();
        Assert.Equal(TimeSpan.FromMilliseconds(20), watcher.CurrentInterval);
        time.Advance(TimeSpan.FromSeconds(3));
        watcher.RoleChanging();
        time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.Equal(TimeSpan.FromMilliseconds(20), watcher.CurrentInterval);
        time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(TimeSpan.FromSeconds(1), watcher.CurrentInterval);
    }

    [Fact]
    public void A_role_change_keeps_a_poll_interval_shorter_than_20ms()
    {
        var time = new ManualTime();
        var watcher = new RoleWatcher(new ScriptedPoller(time), new AnswerBoard("down", StaleAfter, time),
            TimeSpan.FromMilliseconds(10), StaleAfter, new ListLogger(), time);
        watcher.RoleChanging();
        Assert.Equal(TimeSpan.FromMilliseconds(10), watcher.CurrentInterval);
    }

    [Fact]
    public async Task A_role_change_keeps_polling_after_the_first_poll()
    {
        await using var running = new RunningWatcher("v4.1.4-replica");
        await Eventually.WaitFor(() => Answer(running.Board, Mode.Replica, "").StartsWith("up ready", StringComparison.Ordinal), TimeSpan.FromSeconds(5));
        int before = running.Fake.Requests;
        running.Watcher.RoleChanging();
        await Eventually.WaitFor(() => running.Fake.Requests >= before + 4, TimeSpan.FromSeconds(4));
        running.Fake.Status(PatroniFixtures.Load("v4.1.4-primary"));
        await Eventually.WaitFor(() => Answer(running.Board, Mode.Primary, "").StartsWith("up ready", StringComparison.Ordinal), TimeSpan.FromSeconds(4));
    }

    // ---- helpers ----

    private static string Answer(AnswerBoard board, Mode mode, string received) =>
        Encoding.ASCII.GetString(board.Answer(AgentRequest.For(mode), Encoding.ASCII.GetBytes(received)));

    /// <summary>A manual clock that runs an action once, inside the next read of the time.</summary>
    private sealed class HookedTime : ManualTime
    {
        public Action? OnNextTimestamp { get; set; }

        public override long GetTimestamp()
        {
            var hook = OnNextTimestamp;
            OnNextTimestamp = null;
            hook?.Invoke();
            return base.GetTimestamp();
        }
    }

    /// <summary>A watcher running on the real clock with a 5-minute poll interval, against a fake Patroni serving a fixture.</summary>
    private sealed class RunningWatcher : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _run;

        public RunningWatcher(string fixture)
        {
            Fake.Status(PatroniFixtures.Load(fixture));
            Watcher = new RoleWatcher(new PatroniClient(Fake.Url, TimeSpan.FromSeconds(1)), Board, TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(5), new ListLogger());
            _run = Task.Run(() => Watcher.Run(_stop.Token));
        }

        public FakePatroni Fake { get; } = new();
        public AnswerBoard Board { get; } = new("down", TimeSpan.FromMinutes(5));
        public RoleWatcher Watcher { get; }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await _run.WaitAsync(TimeSpan.FromSeconds(2));
        }

        public async ValueTask DisposeAsync()
        {
            if (!_run.IsCompleted)
            {
                await StopAsync();
            }
            _stop.Dispose();
            await Fake.DisposeAsync();
        }
    }

    /// <summary>A fake Patroni, a client, a board and a watcher on a manual clock.</summary>
    private sealed class Rig : IAsyncDisposable
    {
        private readonly int _port;

        public Rig(string unknownWords = "down", TimeSpan? timeout = null)
        {
            Fake = new FakePatroni();
            _port = Fake.Port;
            Board = new AnswerBoard(unknownWords, StaleAfter, Time);
            Watcher = new RoleWatcher(new PatroniClient(Fake.Url, timeout ?? TimeSpan.FromSeconds(2), Time), Board, TimeSpan.FromSeconds(1), StaleAfter, Log, Time);
        }

        public FakePatroni Fake { get; private set; }
        public ManualTime Time { get; } = new();
        public ListLogger Log { get; } = new();
        public AnswerBoard Board { get; }
        public RoleWatcher Watcher { get; }
        private bool _stopped;

        public void ServeReplica()
        {
            Fake.Status(PatroniFixtures.Load("v4.1.4-replica"));
            Fake.Set("/cluster", FakeReply.From(PatroniFixtures.Load("v4.1.4-cluster")));
        }

        public bool Poll() => Watcher.PollOnce(CancellationToken.None);

        public async Task StopFakeAsync()
        {
            await Fake.DisposeAsync();
            _stopped = true;
        }

        /// <summary>A new fake on the same port, as when Patroni comes back.</summary>
        public void RestartFake()
        {
            Fake = new FakePatroni(_port);
            _stopped = false;
        }

        public string Answer(string received) => RoleWatcherTests.Answer(Board, Mode.Health, received);

        public string[] AllAnswers() =>
            [.. ModeNames.All.Select(mode => RoleWatcherTests.Answer(Board, Mode.Health, ModeNames.Name(mode) + "\n"))];

        public string[] AllAnswersByDefaultMode() =>
            [.. ModeNames.All.Select(mode => RoleWatcherTests.Answer(Board, mode, ""))];

        public async ValueTask DisposeAsync()
        {
            if (!_stopped)
            {
                await Fake.DisposeAsync();
            }
        }
    }
}
