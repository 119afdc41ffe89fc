using BenchmarkDotNet.Attributes;
using PatroniAgent.AgentProtocol;

namespace PatroniAgent.Benchmarks;

/// <summary>Parsing the agent-send line HAProxy sends after connecting.</summary>
[MemoryDiagnoser]
public class ParserBenchmarks
{
    [Benchmark(Baseline = true, Description = "\"\" (nothing sent)")]
    public AgentRequest Empty() => AgentSendParser.Parse(default, AgentRequest.For(Mode.Primary));

    [Benchmark(Description = "\"primary\\n\"")]
    public AgentRequest Primary() => AgentSendParser.Parse("primary\n"u8, AgentRequest.For(Mode.Primary));

    [Benchmark(Description = "\"READ-ONLY\\r\\n\"")]
    public AgentRequest ReadOnlyUpperCase() => AgentSendParser.Parse("READ-ONLY\r\n"u8, AgentRequest.For(Mode.Primary));

    [Benchmark(Description = "\"replica max-lag=16MB\\n\"")]
    public AgentRequest ReplicaMaxLag() => AgentSendParser.Parse("replica max-lag=16MB\n"u8, AgentRequest.For(Mode.Primary));

    [Benchmark(Description = "\"health\\tlag=1GB\\n\"")]
    public AgentRequest HealthLagWithTab() => AgentSendParser.Parse("health\tlag=1GB\n"u8, AgentRequest.For(Mode.Primary));
}
