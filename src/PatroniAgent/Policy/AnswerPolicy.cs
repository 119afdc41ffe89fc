using System.Globalization;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Patroni;

namespace PatroniAgent.Policy;

/// <summary>
/// The decision: what a node answers in each mode, as a pure function of one fresh Patroni status.
/// The full table is in docs/answers.md. Staleness and unreachability are decided by the watcher,
/// which then answers <see cref="WordsWhenUnknown"/>.
/// </summary>
public static class AnswerPolicy
{
    /// <summary>Decides the answer for <paramref name="mode"/>; <paramref name="maxLag"/> is in bytes.</summary>
    public static AgentAnswer Decide(NodeStatus status, Mode mode, long? maxLag = null)
    {
        if (!status.IsRunning)
        {
            return AgentAnswer.Down(With(status, $"postgres {status.State}, {RoleWord(status)}"));
        }
        bool lockedPrimary = status.Role == PatroniRole.Primary && status.HttpStatus == 200;
        bool leader = lockedPrimary || status.Role == PatroniRole.StandbyLeader;
        string self = Describe(status);
        return mode switch
        {
            Mode.Primary => lockedPrimary ? AgentAnswer.Ready(self) : AgentAnswer.Maint(self),
            Mode.Replica => ReplicaRule(status, maxLag, "replica"),
            Mode.ReadOnly => leader ? AgentAnswer.Ready(self) : ReplicaRule(status, maxLag, "replica"),
            Mode.Sync => SyncRule(status, maxLag, wantSynchronous: true),
            Mode.Async => SyncRule(status, maxLag, wantSynchronous: false),
            Mode.StandbyLeader => status.Role == PatroniRole.StandbyLeader ? AgentAnswer.Ready(self) : AgentAnswer.Maint(self),
            Mode.Leader => leader ? AgentAnswer.Ready(self) : AgentAnswer.Maint(self),
            Mode.Health => AgentAnswer.Ready(self),
            _ => throw new ArgumentOutOfRangeException(nameof(mode)),
        };
    }

    /// <summary>
    /// The words a mode answers while Patroni's state is unknown (no poll within stale-after), given its
    /// last answer from a known status: the configured <paramref name="unknownWords"/> (never ready) where
    /// the node took the backend's traffic (ready or drain) or was never known; <c>up maint</c> where it
    /// was kept out in maint, so that it stays in HAProxy's MAINT, from which a later <c>ready</c> brings
    /// it back at once instead of through the DOWN server's rise checks; <c>down</c> where it was down.
    /// </summary>
    public static string WordsWhenUnknown(AgentAnswer? last, string unknownWords) => last switch
    {
        { Health: Health.Down } => "down",
        { Admin: Admin.Maint } => "up maint",
        _ => unknownWords,
    };

    /// <summary>Whether <paramref name="mode"/> on this status depends on the max-lag of the check.</summary>
    public static bool DependsOnLag(NodeStatus status, Mode mode) =>
        Decide(status, mode).IsReady && !Decide(status, mode, (status.LagBytes ?? 0) - 1).IsReady;

    private static AgentAnswer SyncRule(NodeStatus status, long? maxLag, bool wantSynchronous)
    {
        string kind = status.Synchronous ? "sync replica" : "async replica";
        var regardlessOfLag = ReplicaRule(status, null, kind);
        if (regardlessOfLag.IsReady && status.Synchronous != wantSynchronous)
        {
            return AgentAnswer.Maint(regardlessOfLag.Reason);
        }
        return ReplicaRule(status, maxLag, kind);
    }

    private static AgentAnswer ReplicaRule(NodeStatus status, long? maxLag, string kind)
    {
        if (status.Role != PatroniRole.Replica)
        {
            return AgentAnswer.Maint(Describe(status));
        }
        if (status.NoLoadBalance)
        {
            return AgentAnswer.Maint(With(status, $"{kind}, noloadbalance"));
        }
        string lag = status.LagBytes is { } bytes ? $"lag {FormatBytes(bytes)}" : "lag unknown";
        if (maxLag is { } limit && (status.LagBytes is not { } known || known > limit))
        {
            return AgentAnswer.Maint(With(status, $"{kind}, {lag} over max-lag"));
        }
        return AgentAnswer.Ready(With(status, $"{kind}, {lag}"));
    }

    /// <summary>How the node presents itself in a reason, e.g. <c>primary, timeline 4</c>.</summary>
    private static string Describe(NodeStatus status)
    {
        string text = status.Role switch
        {
            PatroniRole.Primary when status.HttpStatus != 200 => "primary without the leader lock",
            PatroniRole.Primary => Timeline("primary", status),
            PatroniRole.StandbyLeader => Timeline("standby leader", status),
            PatroniRole.Replica => status.LagBytes is { } bytes ? $"replica, lag {FormatBytes(bytes)}" : "replica, lag unknown",
            _ => RoleWord(status),
        };
        return With(status, text);
    }

    private static string RoleWord(NodeStatus status) => status.Role switch
    {
        PatroniRole.Primary => "primary",
        PatroniRole.StandbyLeader => "standby leader",
        PatroniRole.Replica => "replica",
        _ => $"role {status.RoleName}",
    };

    private static string Timeline(string role, NodeStatus status) =>
        status.Timeline is { } tl ? string.Create(CultureInfo.InvariantCulture, $"{role}, timeline {tl}") : role;

    private static string With(NodeStatus status, string text) => status.Paused ? text + ", paused" : text;

    /// <summary>Bytes in PostgreSQL's units (powers of 1024): <c>0 B</c>, <c>12 kB</c>, <c>1.5 MB</c>.</summary>
    public static string FormatBytes(long bytes)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB", "PB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        string number = unit == 0 || value >= 10
            ? Math.Floor(value).ToString("0", CultureInfo.InvariantCulture)
            : (Math.Floor(value * 10) / 10).ToString("0.#", CultureInfo.InvariantCulture);
        return $"{number} {units[unit]}";
    }
}
