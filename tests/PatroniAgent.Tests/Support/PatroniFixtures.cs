using System.Text.Json;
using PatroniAgent.Patroni;

namespace PatroniAgent.Tests.Support;

/// <summary>A recorded answer of a real Patroni (tests/PatroniAgent.Tests/Fixtures/patroni).</summary>
public sealed record PatroniFixture(string Name, string Request, int Status, byte[] Body);

public static class PatroniFixtures
{
    public static readonly string Directory = Path.Combine(AppContext.BaseDirectory, "Fixtures", "patroni");

    public static PatroniFixture Load(string name)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Directory, name + ".json")));
        var root = document.RootElement;
        return new PatroniFixture(
            name,
            root.GetProperty("request").GetString()!,
            root.GetProperty("status").GetInt32(),
            System.Text.Encoding.UTF8.GetBytes(root.GetProperty("body").GetRawText()));
    }

    /// <summary>The recorded answer <paramref name="name"/> decoded as the agent decodes Patroni's <c>GET /</c>.</summary>
    public static NodeStatus Decode(string name)
    {
        var recorded = Load(name);
        return PatroniDecoder.DecodeStatus(recorded.Status, recorded.Body, out _);
    }
}
