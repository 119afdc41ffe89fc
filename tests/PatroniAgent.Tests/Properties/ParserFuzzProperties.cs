using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.HttpCheck;
using PatroniAgent.Patroni;
using PatroniAgent.Policy;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Properties;

/// <summary>
/// Fuzzing by properties: the agent-send parser, the HTTP check parser and the Patroni decoder fed random
/// bytes and mutations of real inputs. The parsers agree with <see cref="ReferenceParsers"/>; the decoder
/// throws nothing but the <see cref="PatroniAnswerException"/> it documents and agrees with an independent
/// reading of the JSON; and no reply is ready unless the decision for what was asked, on what Patroni
/// said, is ready: read-write only for a running primary with the lock.
/// </summary>
public class ParserFuzzProperties
{
    private static readonly byte[][] AgentLines =
    [
        .. new[]
        {
            "primary\n", "master\n", "read-write\r\n", "rw\n", "replica max-lag=16MB\n", "replica lag=0\n", "read-only max-lag=1kB\n",
            "sync\tmax-lag=2GB\n", "async MAX-LAG=3t\n", "standby-leader\n", "leader\n", "health\n", "ro", "  replica  \n", "\n", "",
            "replica max-lag=16MB return-lag=8MB hold=30s weighted=yes\n", "readiness mode=write lag=1MB\n",
            "replica tag_dc=east replication_state=streaming\n", "quorum HOLD=500ms Weighted=off\n",
        }.Select(Encoding.ASCII.GetBytes),
    ];

    private static readonly byte[][] HttpRequests =
    [
        .. new[]
        {
            "OPTIONS /primary HTTP/1.0\r\n\r\n", "GET /primary HTTP/1.1\r\nHost: 10.0.0.1:8009\r\nUser-Agent: HAProxy\r\n\r\n",
            "HEAD /master HTTP/1.1\r\n\r\n", "GET /replica?lag=16MB HTTP/1.1\r\nConnection: close\r\n\r\n",
            "GET /read-only?max-lag=1kB&x=1 HTTP/1.0\n\n", "OPTIONS /sync?lag=0 HTTP/1.1\r\n\r\n", "GET /asynchronous HTTP/1.1\r\n\r\n",
            "GET /standby_leader HTTP/1.1\r\n\r\n", "GET /leader HTTP/1.1\r\n\r\n", "GET /health HTTP/1.1\r\n\r\n", "OPTIONS / HTTP/1.0\r\n\r\n",
            "GET /replica?lag=16MB&return-lag=8MB&hold=10s HTTP/1.1\r\n\r\n", "GET /readiness?mode=write&lag=1MB HTTP/1.1\r\n\r\n",
            "GET /read-only-sync?tag_dc=east&replication_state=in%20archive%20recovery HTTP/1.1\r\n\r\n",
        }.Select(Encoding.ASCII.GetBytes),
    ];

    private static readonly byte[][] StatusBodies =
    [
        .. Directory.GetFiles(PatroniFixtures.Directory, "*.json")
            .Where(path => !path.EndsWith("-cluster.json", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(path => PatroniFixtures.Load(Path.GetFileNameWithoutExtension(path)).Body),
        .. PatroniAnswers.Usable.Sample(30, new Rnd(20261201UL), 40).Select(answer => answer.Bytes),
        """{"state": "running", "role": "replica", "timeline": 3, "sync_standby": true, "tags": {"noloadbalance": "false", "nofailover": true}, "patroni": {"version": "4.1.4", "scope": "demo4", "name": "pg2"}}"""u8.ToArray(),
    ];

    private static readonly byte[][] ClusterBodies =
    [
        PatroniFixtures.Load("v3.0.2-cluster").Body,
        PatroniFixtures.Load("v4.1.4-cluster").Body,
    ];

    private static readonly Gen<Mode> Modes = Gen.Elements(ModeNames.All);

    /// <summary>A snapshot to answer from: a fresh one of a usable answer, or the unknown one.</summary>
    public sealed record Source(PatroniAnswer? Answer)
    {
        public NodeStatus? Status => Answer?.ToPollResult().Status;

        public override string ToString() => Answer?.ToString() ?? "no good poll yet";
    }

    private static readonly Gen<Source> Sources = Gen.Frequency(
        (8, PatroniAnswers.Usable.Select(answer => new Source(answer))),
        (2, PatroniAnswers.RunningPrimaries.Select(answer => new Source(answer))),
        (1, Gen.Constant(new Source(null))));

    [ReplayableProperty(MaxTest = 4000)]
    public Property The_agent_send_parser_agrees_with_the_grammar_and_never_makes_a_wrong_ready() =>
        Prop.ForAll(Mutations.Of(AgentLines), Modes.ToArbitrary(), Sources.ToArbitrary(), (input, listenerMode, source) =>
        {
            var request = AgentSendParser.Parse(input.Bytes, AgentRequest.For(listenerMode));
            Assert.Equal(ReferenceParsers.AgentSend(input.Bytes, listenerMode), request);

            var board = Board(source);
            var reply = board.Answer(AgentRequest.For(listenerMode), input.Bytes);
            Assert.Null(AnswerReading.LineProblem(reply, "down"));
            bool ready = AnswerReading.IsReady(reply);
            Assert.Equal(request.Error == AgentRequestError.None
                && IsReady(source, request.Mode, request.MaxLag, request.ByReceived, input.Bytes[request.Filters], query: false), ready);
            Assert.False(ready && request.Mode == Mode.Primary && source.Answer?.MayTakeWrites != true, $"read-write ready: {AnswerReading.Escaped(reply)}");
        });

    [ReplayableProperty(MaxTest = 4000)]
    public Property The_HTTP_check_parser_agrees_with_the_grammar_and_never_makes_a_wrong_200() =>
        Prop.ForAll(Mutations.Of(HttpRequests), Sources.ToArbitrary(), (input, source) =>
        {
            var request = HttpCheckParser.Parse(input.Bytes);
            Assert.Equal(ReferenceParsers.Http(input.Bytes), request);

            var board = Board(source);
            var (status, body) = AnswerReading.ReadHttp(board.AnswerHttp(input.Bytes));
            if (request.Error != HttpCheckError.None)
            {
                Assert.Equal(HttpCheckParser.ErrorStatus(request.Error), status);
                return;
            }
            bool ready = IsReady(source, request.Mode, request.MaxLag, request.ByReceived, input.Bytes[request.Filters], query: true);
            Assert.Equal(ready ? 200 : 503, status);
            Assert.False(status == 200 && request.Mode == Mode.Primary && source.Answer?.MayTakeWrites != true, $"read-write HTTP 200: {body}");
            Assert.Equal(request.Method == HttpCheckMethod.Head, body.Length == 0);
        });

    [ReplayableProperty(MaxTest = 4000)]
    public Property The_decoder_throws_only_its_own_exception_and_reads_state_and_role_as_the_JSON_says() =>
        Prop.ForAll(Mutations.Of(StatusBodies), PatroniAnswers.HttpStatuses.ToArbitrary(), (input, httpStatus) =>
        {
            NodeStatus status;
            try
            {
                status = PatroniDecoder.DecodeStatus(httpStatus, input.Bytes, out _);
            }
            catch (PatroniAnswerException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                return;
            }

            var (state, role) = StateAndRole(input.Bytes);
            Assert.Equal(httpStatus, status.HttpStatus);
            Assert.Equal(state, status.State);
            Assert.Equal(role, status.RoleName);

            bool mayTakeWrites = httpStatus == 200 && state == "running" && role is "primary" or "master";
            var board = new AnswerBoard("down", TimeSpan.FromSeconds(3), new ManualTime());
            board.PublishFresh(Snapshot.FromStatus(status, UnknownAnswer.Default));
            Assert.Equal(mayTakeWrites, AnswerReading.IsReady(board.Answer(AgentRequest.For(Mode.Primary), "primary\n"u8)));
            foreach (var mode in ModeNames.All)
            {
                Assert.Null(AnswerReading.LineProblem(board.Answer(AgentRequest.For(mode), []), "down"));
            }
        });

    [ReplayableProperty(MaxTest = 2000)]
    public Property The_lag_decoder_throws_only_its_own_exception_and_gives_no_negative_lag() =>
        Prop.ForAll(Mutations.Of(ClusterBodies), Gen.Elements<string?>(null, "pg2", "pg3", "").ToArbitrary(), (input, member) =>
        {
            long? lag;
            try
            {
                lag = PatroniDecoder.DecodeLag(input.Bytes, member, new Uri("http://127.0.2.2:8008"));
            }
            catch (PatroniAnswerException)
            {
                return;
            }
            Assert.True(lag is null or >= 0, $"lag {lag}");
        });

    private static AnswerBoard Board(Source source)
    {
        var board = new AnswerBoard("down", TimeSpan.FromSeconds(3), new ManualTime());
        if (source.Status is { } status)
        {
            board.PublishFresh(Snapshot.FromStatus(status, UnknownAnswer.Default));
        }
        return board;
    }

    private static bool IsReady(Source source, Mode mode, long maxLag, bool byReceived, byte[] filters, bool query) =>
        source.Status is { } status && AnswerPolicy.Decide(status, mode, maxLag >= 0 ? maxLag : null, byReceived).IsReady
        && ReferenceParsers.PassesFilters(Encoding.Latin1.GetString(filters), query, status, mode);

    /// <summary>The state and role of a body as an independent JSON reading finds them: the last of each key wins.</summary>
    private static (string? State, string? Role) StateAndRole(byte[] body)
    {
        using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 32 });
        string? state = null, role = null;
        foreach (var property in document.RootElement.EnumerateObject())
        {
            if (property.NameEquals("state"))
            {
                state = property.Value.GetString();
            }
            else if (property.NameEquals("role"))
            {
                role = property.Value.GetString();
            }
        }
        return (state, role);
    }
}
