using System.Text.Json;
using PatroniAgent.Patroni;

namespace PatroniAgent.HaproxyConfig;

/// <summary>The members of a cluster as Patroni's <c>GET /cluster</c> lists them (3.x and 4.x answers alike).</summary>
public static class ClusterMembers
{
    /// <summary>
    /// Each member's name, host and PostgreSQL port: the host from its <c>host</c> field, else from its
    /// <c>api_url</c>; the port from its <c>port</c> field, else <paramref name="defaultPort"/>.
    /// </summary>
    /// <exception cref="PatroniAnswerException">The answer is not JSON, lists no member, or a member has no name or host.</exception>
    public static List<HaproxyMember> Decode(ReadOnlySpan<byte> clusterBody, int defaultPort)
    {
        ClusterBody cluster;
        try
        {
            cluster = JsonSerializer.Deserialize(clusterBody, PatroniJsonContext.Default.ClusterBody)
                ?? throw new PatroniAnswerException("patroni's /cluster answer is not a JSON object");
        }
        catch (JsonException)
        {
            throw new PatroniAnswerException("patroni's /cluster answer is not valid JSON");
        }
        var members = new List<HaproxyMember>();
        foreach (var member in cluster.Members ?? [])
        {
            if (member is null || string.IsNullOrEmpty(member.Name))
            {
                throw new PatroniAnswerException("patroni's /cluster answer has a member without a name");
            }
            string host = !string.IsNullOrEmpty(member.Host) ? member.Host
                : Uri.TryCreate(member.ApiUrl, UriKind.Absolute, out var api) && api.Host.Length > 0 ? api.Host.Trim('[', ']')
                : throw new PatroniAnswerException($"patroni's /cluster answer gives member {member.Name} neither a host nor an api_url");
            members.Add(new HaproxyMember(member.Name, host, Port(member.Port) ?? defaultPort));
        }
        if (members.Count == 0)
        {
            throw new PatroniAnswerException("patroni's /cluster answer lists no member");
        }
        return members;
    }

    private static int? Port(JsonElement port) =>
        port.ValueKind == JsonValueKind.Number && port.TryGetInt32(out int number) ? number : null;
}
