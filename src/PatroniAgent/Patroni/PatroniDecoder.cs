using System.Text.Json;

namespace PatroniAgent.Patroni;

/// <summary>A Patroni answer the agent cannot use; the message is the reason HAProxy is shown.</summary>
/// <param name="message">The reason.</param>
/// <param name="kind">What failed, for the poll-error metric: the answer's content by default.</param>
public sealed class PatroniAnswerException(string message, PollErrorKind kind = PollErrorKind.Json) : Exception(message)
{
    /// <summary>What failed, for the poll-error metric.</summary>
    public PollErrorKind Kind { get; } = kind;
}

/// <summary>Turns Patroni's REST answers into <see cref="NodeStatus"/>, rejecting what it cannot trust.</summary>
public static class PatroniDecoder
{
    /// <summary>Decodes an answer of <c>GET /</c>. Lag is left unknown: it comes from the leader or <c>GET /cluster</c>.</summary>
    /// <exception cref="PatroniAnswerException">The answer is not a usable Patroni status.</exception>
    public static NodeStatus DecodeStatus(int httpStatus, ReadOnlySpan<byte> body, out string? memberName) =>
        DecodeStatus(httpStatus, body, out memberName, out _);

    /// <summary>Decodes an answer of <c>GET /</c>, and gives the replica's <c>xlog.replayed_location</c> when Patroni sent it.</summary>
    /// <exception cref="PatroniAnswerException">The answer is not a usable Patroni status.</exception>
    public static NodeStatus DecodeStatus(int httpStatus, ReadOnlySpan<byte> body, out string? memberName, out long? replayedLocation)
    {
        if (httpStatus is not (200 or 503))
        {
            throw new PatroniAnswerException($"patroni answered HTTP {httpStatus}", PollErrorKind.Http);
        }
        var parsed = Deserialize(body, PatroniJsonContext.Default.StatusBody);
        if (string.IsNullOrEmpty(parsed.State) || string.IsNullOrEmpty(parsed.Role))
        {
            throw new PatroniAnswerException("patroni answer has no state or role");
        }
        memberName = parsed.Patroni?.Name;
        replayedLocation = parsed.Xlog?.ReplayedLocation is { } location && location >= 0 ? location : null;
        var role = ParseRole(parsed.Role);
        return new NodeStatus
        {
            HttpStatus = httpStatus,
            Role = role,
            RoleName = parsed.Role,
            State = parsed.State,
            Timeline = parsed.Timeline,
            LagBytes = role == PatroniRole.Primary ? 0 : null,
            UnreplayedBytes = parsed.Xlog is { ReceivedLocation: { } received, ReplayedLocation: { } replayed } && received >= replayed ? received - replayed : null,
            NoLoadBalance = IsTrue(parsed.Tags, "noloadbalance"),
            SyncStandby = parsed.SyncStandby == true,
            QuorumStandby = parsed.QuorumStandby == true,
            ReplicationState = parsed.ReplicationState.ValueKind == JsonValueKind.String ? TextOf(parsed.ReplicationState, "replication_state") : null,
            Tags = Tags(parsed.Tags),
            Paused = parsed.Pause == true,
            Scope = parsed.Patroni?.Scope,
            Name = parsed.Patroni?.Name,
        };
    }

    /// <summary>
    /// Finds this member's replay lag in an answer of <c>GET /cluster</c>: by the member name when
    /// Patroni gave one (4.x), else by the member whose <c>api_url</c> has the polled host and port.
    /// </summary>
    public static long? DecodeLag(ReadOnlySpan<byte> clusterBody, string? memberName, Uri patroniUrl)
    {
        var cluster = Deserialize(clusterBody, PatroniJsonContext.Default.ClusterBody);
        foreach (var member in cluster.Members ?? [])
        {
            if (member is null || !IsSelf(member, memberName, patroniUrl))
            {
                continue;
            }
            return Bytes(member.ReplayLag) ?? Bytes(member.Lag);
        }
        return null;
    }

    /// <summary>
    /// The leader's REST URL in an answer of <c>GET /cluster</c>: the <c>api_url</c> of the member whose
    /// role is <c>leader</c>, when the answer also lists this member and the leader is another one. A
    /// standby cluster's <c>standby_leader</c> has no primary's position to read and is not named.
    /// </summary>
    public static Uri? DecodeLeader(ReadOnlySpan<byte> clusterBody, string? memberName, Uri patroniUrl)
    {
        var cluster = Deserialize(clusterBody, PatroniJsonContext.Default.ClusterBody);
        bool listed = false;
        Uri? leader = null;
        foreach (var member in cluster.Members ?? [])
        {
            if (member is null)
            {
                continue;
            }
            if (IsSelf(member, memberName, patroniUrl))
            {
                listed = true;
            }
            else if (member.Role == "leader"
                && Uri.TryCreate(member.ApiUrl, UriKind.Absolute, out var api)
                && (api.Scheme == Uri.UriSchemeHttp || api.Scheme == Uri.UriSchemeHttps))
            {
                leader = api;
            }
        }
        return listed ? leader : null;
    }

    /// <summary>
    /// The primary's current WAL position in an answer of its own <c>GET /</c>: <c>xlog.location</c>
    /// when it answers 200 as a running <c>primary</c> or <c>master</c>, else null.
    /// </summary>
    /// <exception cref="PatroniAnswerException">The answer is not JSON Patroni would send.</exception>
    public static long? DecodeLeaderPosition(int httpStatus, ReadOnlySpan<byte> body)
    {
        if (httpStatus != 200)
        {
            return null;
        }
        var parsed = Deserialize(body, PatroniJsonContext.Default.StatusBody);
        bool primary = parsed.State == "running" && parsed.Role is { } role && ParseRole(role) == PatroniRole.Primary;
        return primary && parsed.Xlog?.Location is { } location && location >= 0 ? location : null;
    }

    public static PatroniRole ParseRole(string role) => role switch
    {
        "primary" or "master" => PatroniRole.Primary,
        "replica" => PatroniRole.Replica,
        "standby_leader" => PatroniRole.StandbyLeader,
        _ => PatroniRole.Other,
    };

    private static T Deserialize<T>(ReadOnlySpan<byte> body, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        try
        {
            return JsonSerializer.Deserialize(body, type) ?? throw new PatroniAnswerException("patroni answer is not a JSON object");
        }
        catch (JsonException e)
        {
            var where = e.BytePositionInLine is { } pos ? $" at byte {pos}" : "";
            throw new PatroniAnswerException($"patroni answer is not valid JSON{where}");
        }
    }

    private static bool IsSelf(ClusterMember member, string? memberName, Uri patroniUrl)
    {
        if (memberName is not null)
        {
            return member.Name == memberName;
        }
        return Uri.TryCreate(member.ApiUrl, UriKind.Absolute, out var api)
            && string.Equals(api.Host, patroniUrl.Host, StringComparison.OrdinalIgnoreCase)
            && api.Port == patroniUrl.Port;
    }

    private static long? Bytes(JsonElement value) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long bytes) && bytes >= 0 ? bytes : null;

    /// <summary>
    /// The tags as Patroni's <c>tag_KEY=VALUE</c> filter compares them: a string by its text, true, false
    /// and numbers by their JSON text in lower case; null, objects and arrays match no filter and are left out.
    /// </summary>
    private static TagSet Tags(Dictionary<string, JsonElement>? tags)
    {
        if (tags is null || tags.Count == 0)
        {
            return TagSet.Empty;
        }
        var kept = new List<KeyValuePair<string, string>>();
        foreach (var (name, value) in tags)
        {
            string? text = value.ValueKind switch
            {
                JsonValueKind.String => TextOf(value, $"tag {name}"),
                JsonValueKind.True or JsonValueKind.False or JsonValueKind.Number => value.GetRawText().ToLowerInvariant(),
                _ => null,
            };
            if (text is not null)
            {
                kept.Add(KeyValuePair.Create(name, text));
            }
        }
        return new TagSet(kept);
    }

    /// <summary>A tag is set when it is true, a non-zero number, or a string other than a no-like word.</summary>
    private static bool IsTrue(Dictionary<string, JsonElement>? tags, string name)
    {
        if (tags is null || !tags.TryGetValue(name, out var value))
        {
            return false;
        }
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.Number => !value.TryGetDouble(out double d) || d != 0,
            JsonValueKind.String => TextOf(value, $"tag {name}").Trim().ToLowerInvariant() is not ("" or "false" or "no" or "off" or "0" or "n" or "f"),
            _ => false,
        };
    }

    /// <summary>
    /// A string kept as raw JSON (a tag, the replication state): text that is not valid UTF-8 (or a lone
    /// surrogate escape) is only found here; it makes the answer unusable, as it does in any other field.
    /// </summary>
    private static string TextOf(JsonElement value, string what)
    {
        try
        {
            return value.GetString() ?? "";
        }
        catch (InvalidOperationException)
        {
            throw new PatroniAnswerException($"patroni answer has invalid text in {what}");
        }
    }
}
