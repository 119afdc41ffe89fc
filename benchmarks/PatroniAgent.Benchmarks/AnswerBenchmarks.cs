using BenchmarkDotNet.Attributes;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Patroni;

namespace PatroniAgent.Benchmarks;

/// <summary>
/// The check path without the sockets: parse the agent-send line, select the pre-encoded answer of
/// the current snapshot and copy it into the send buffer, as the event loop does for every check.
/// </summary>
[MemoryDiagnoser]
public class AnswerBenchmarks
{
    private readonly byte[] _sendBuffer = new byte[512];
    private AnswerBoard _board = null!;

    /// <summary>A board serving the answers of the recorded Patroni 4.1.4 primary, fresh for the whole run.</summary>
    public static AnswerBoard PrimaryBoard()
    {
        var fixture = PatroniFixture.Load("v4.1.4-primary");
        var board = new AnswerBoard("down", TimeSpan.FromDays(1));
        board.PublishFresh(Snapshot.FromStatus(PatroniDecoder.DecodeStatus(fixture.Status, fixture.Body, out _), UnknownAnswer.Default));
        return board;
    }

    [GlobalSetup]
    public void Setup() => _board = PrimaryBoard();

    [Benchmark(Baseline = true, Description = "no agent-send (listener mode)")]
    public int ListenerMode() => Write(_board.Answer(AgentRequest.For(Mode.Primary), default));

    [Benchmark(Description = "\"primary\\n\"")]
    public int Primary() => Write(_board.Answer(AgentRequest.For(Mode.Primary), "primary\n"u8));

    [Benchmark(Description = "\"replica max-lag=16MB\\n\"")]
    public int ReplicaMaxLag() => Write(_board.Answer(AgentRequest.For(Mode.Primary), "replica max-lag=16MB\n"u8));

    [Benchmark(Description = "\"bogus\\n\" (down, unknown mode)")]
    public int UnknownMode() => Write(_board.Answer(AgentRequest.For(Mode.Primary), "bogus\n"u8));

    private int Write(ReadOnlySpan<byte> answer)
    {
        answer.CopyTo(_sendBuffer);
        return answer.Length;
    }
}
