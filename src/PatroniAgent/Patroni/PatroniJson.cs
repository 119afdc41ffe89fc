using System.Text.Json;
using System.Text.Json.Serialization;

namespace PatroniAgent.Patroni;

/// <summary>The parts of Patroni's <c>GET /</c> body the agent reads.</summary>
internal sealed class StatusBody
{
    [JsonPropertyName("state")] public string? State { get; set; }
    [JsonPropertyName("role")] public string? Role { get; set; }
    [JsonPropertyName("timeline")] public long? Timeline { get; set; }
    [JsonPropertyName("xlog")] public XlogBody? Xlog { get; set; }
    [JsonPropertyName("sync_standby")] public bool? SyncStandby { get; set; }
    [JsonPropertyName("quorum_standby")] public bool? QuorumStandby { get; set; }
    [JsonPropertyName("replication_state")] public JsonElement ReplicationState { get; set; }
    [JsonPropertyName("tags")] public Dictionary<string, JsonElement>? Tags { get; set; }
    [JsonPropertyName("pause")] public bool? Pause { get; set; }
    [JsonPropertyName("patroni")] public PatroniInfo? Patroni { get; set; }
}

internal sealed class XlogBody
{
    [JsonPropertyName("location")] public long? Location { get; set; }
    [JsonPropertyName("received_location")] public long? ReceivedLocation { get; set; }
    [JsonPropertyName("replayed_location")] public long? ReplayedLocation { get; set; }
}

internal sealed class PatroniInfo
{
    [JsonPropertyName("version")] public string? Version { get; set; }
    [JsonPropertyName("scope")] public string? Scope { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
}

/// <summary>The parts of Patroni's <c>GET /cluster</c> body the agent reads.</summary>
internal sealed class ClusterBody
{
    [JsonPropertyName("members")] public List<ClusterMember>? Members { get; set; }
}

internal sealed class ClusterMember
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("role")] public string? Role { get; set; }
    [JsonPropertyName("api_url")] public string? ApiUrl { get; set; }
    /// <summary>The host of the member's PostgreSQL (from its conn_url), as haproxy-config writes it.</summary>
    [JsonPropertyName("host")] public string? Host { get; set; }
    /// <summary>The port of the member's PostgreSQL.</summary>
    [JsonPropertyName("port")] public JsonElement Port { get; set; }
    /// <summary>Bytes behind the leader (3.x and 4.x), or the text <c>unknown</c>.</summary>
    [JsonPropertyName("lag")] public JsonElement Lag { get; set; }
    /// <summary>Replay lag in bytes (4.1 and newer).</summary>
    [JsonPropertyName("replay_lag")] public JsonElement ReplayLag { get; set; }
}

[JsonSourceGenerationOptions(ReadCommentHandling = JsonCommentHandling.Disallow, MaxDepth = 32)]
[JsonSerializable(typeof(StatusBody))]
[JsonSerializable(typeof(ClusterBody))]
internal sealed partial class PatroniJsonContext : JsonSerializerContext;
