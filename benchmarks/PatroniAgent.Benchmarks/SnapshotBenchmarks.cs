using BenchmarkDotNet.Attributes;
using PatroniAgent.Answers;
using PatroniAgent.Patroni;
using PatroniAgent.Watcher;

namespace PatroniAgent.Benchmarks;

/// <summary>
/// The work of a poll whose answer changed: decode Patroni's <c>GET /</c> body, then decide and encode
/// every mode's answer (a poll with an unchanged answer stops after the decoding). Recorded answers of Patroni 3.0.2 (role <c>master</c>) and 4.1.4 (<c>primary</c>).
/// </summary>
[MemoryDiagnoser]
public class SnapshotBenchmarks
{
    private PatroniFixture _fixture = null!;
    private NodeStatus _status = null!;

    [ParamsSource(nameof(Fixtures))]
    public string Fixture { get; set; } = "";

    public static IEnumerable<string> Fixtures => PatroniFixture.Names;

    [GlobalSetup]
    public void Setup()
    {
        _fixture = PatroniFixture.Load(Fixture);
        _status = PatroniDecoder.DecodeStatus(_fixture.Status, _fixture.Body, out _);
    }

    [Benchmark(Description = "PatroniDecoder.DecodeStatus")]
    public NodeStatus Decode() => PatroniDecoder.DecodeStatus(_fixture.Status, _fixture.Body, out _);

    [Benchmark(Description = "Snapshot.FromStatus")]
    public Snapshot Build() => Snapshot.FromStatus(_status, UnknownAnswer.Default);
}
