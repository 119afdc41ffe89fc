using PatroniAgent.AgentProtocol;
using PatroniAgent.Patroni;
using PatroniAgent.Policy;

namespace PatroniAgent.Answers;

/// <summary>
/// Patroni's filters of a health check, <c>replication_state=STATE</c> and <c>tag_KEY=VALUE</c>, checked
/// against the node's status without allocating: a node passes when it has every tag with the value
/// asked and the replication state asked. As in Patroni, tags do not count on the writer and leader
/// checks, and the replication state counts only where the answer comes from a replica's rules.
/// </summary>
public static class CheckFilters
{
    /// <summary>
    /// Whether <paramref name="status"/> passes the filters among <paramref name="parameters"/>: the words
    /// of an agent-send line, or with <paramref name="query"/> the parameters of an HTTP query.
    /// </summary>
    public static bool Pass(ReadOnlySpan<byte> parameters, bool query, NodeStatus status, Mode mode)
    {
        bool tagsApply = AnswerPolicy.TakesTagFilters(mode);
        bool stateApplies = AnswerPolicy.IsReplicaAnswer(status, mode);
        Span<byte> key = stackalloc byte[CheckParameters.MaxValueLength];
        Span<byte> value = stackalloc byte[CheckParameters.MaxValueLength];
        var rest = parameters;
        while (!rest.IsEmpty)
        {
            int split = query ? rest.IndexOf((byte)'&') : rest.IndexOfAny((byte)' ', (byte)'\t');
            var parameter = split < 0 ? rest : rest[..split];
            rest = split < 0 ? default : rest[(split + 1)..];
            int eq = parameter.IndexOf((byte)'=');
            if (eq <= 0 || !CheckParameters.TryDecode(parameter[..eq], key, out int keyLength) || !CheckParameters.IsFilter(key[..keyLength]))
            {
                continue;
            }
            bool fits = CheckParameters.TryDecode(parameter[(eq + 1)..], value, out int valueLength);
            var name = key[..keyLength];
            var wanted = value[..valueLength];
            bool passes = name.StartsWith("tag_"u8)
                ? !tagsApply || (fits && status.Tags.Matches(name[4..], wanted))
                : !stateApplies || (fits && status.ReplicationState is { } state && System.Text.Ascii.Equals(wanted, state));
            if (!passes)
            {
                return false;
            }
        }
        return true;
    }
}
