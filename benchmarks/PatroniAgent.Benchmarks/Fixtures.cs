using System.Reflection;
using System.Text;
using System.Text.Json;

namespace PatroniAgent.Benchmarks;

/// <summary>
/// A recorded answer of a real Patroni, embedded from tests/PatroniAgent.Tests/Fixtures/patroni
/// (the file, with its <c>source</c> note, is the test suite's own).
/// </summary>
public sealed record PatroniFixture(string Name, string Source, int Status, byte[] Body)
{
    /// <summary>The recordings the benchmarks decode: both role vocabularies, a primary and a replica each.</summary>
    public static readonly string[] Names = ["v3.0.2-primary", "v3.0.2-replica", "v4.1.4-primary", "v4.1.4-replica"];

    public static PatroniFixture Load(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name + ".json")
            ?? throw new FileNotFoundException($"fixture {name} is not embedded");
        using var document = JsonDocument.Parse(stream);
        var root = document.RootElement;
        return new PatroniFixture(
            name,
            root.GetProperty("source").GetString()!,
            root.GetProperty("status").GetInt32(),
            Encoding.UTF8.GetBytes(root.GetProperty("body").GetRawText()));
    }
}
