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
    /// <summary>The limit of <see cref="Mode.Readiness"/> when the check gives none: Patroni's default maximum_lag_on_failover.</summary>
    public const long ReadinessMaxLag = 1024 * 1024;

    /// <summary>
    /// Decides the answer for <paramref name="mode"/>. <paramref name="maxLag"/> is the check's limit in
    /// bytes (none: the mode's own, which only <see cref="Mode.Readiness"/> has); <paramref name="byReceived"/>
    /// measures the lag by the WAL received instead of replayed (readiness's <c>mode=write</c>).
    /// </summary>
    public static AgentAnswer Decide(NodeStatus status, Mode mode, long? maxLag = null, bool byReceived = false)
    {
        bool lockedPrimary = status.Role == PatroniRole.Primary && status.HttpStatus == 200;
        bool leader = lockedPrimary || status.Role == PatroniRole.StandbyLeader;
        string self = Describe(status);
        if (mode == Mode.Liveness)
        {
            return AgentAnswer.Ready(With(status, $"patroni answers, postgres {status.State}, {RoleWord(status)}"));
        }
        if (!status.IsRunning)
        {
            return AgentAnswer.Down(With(status, $"postgres {status.State}, {RoleWord(status)}"));
        }
        return mode switch
        {
            Mode.Primary => lockedPrimary ? AgentAnswer.Ready(self) : AgentAnswer.Maint(self),
            Mode.Replica => ReplicaRule(status, maxLag, "replica"),
            Mode.ReadOnly => leader ? AgentAnswer.Ready(self) : ReplicaRule(status, maxLag, "replica"),
            Mode.Sync => StandbyRule(status, maxLag, status.SyncStandby),
            Mode.Async => StandbyRule(status, maxLag, !status.SyncStandby && !status.QuorumStandby),
            Mode.Quorum => StandbyRule(status, maxLag, status.QuorumStandby),
            Mode.ReadOnlySync => leader ? AgentAnswer.Ready(self) : StandbyRule(status, maxLag, status.SyncStandby),
            Mode.ReadOnlyQuorum => leader ? AgentAnswer.Ready(self) : StandbyRule(status, maxLag, status.QuorumStandby),
            Mode.StandbyLeader => status.Role == PatroniRole.StandbyLeader ? AgentAnswer.Ready(self) : AgentAnswer.Maint(self),
            Mode.Leader => leader ? AgentAnswer.Ready(self) : AgentAnswer.Maint(self),
            Mode.Health => AgentAnswer.Ready(self),
            Mode.Readiness => leader ? AgentAnswer.Ready(self) : ReadinessRule(status, maxLag, byReceived),
            _ => throw new ArgumentOutOfRangeException(nameof(mode)),
        };
    }

    /// <summary>
    /// Whether <paramref name="mode"/>'s ready answer on this status comes from the rules of a replica,
    /// whose <c>replication_state=</c> filter applies (Patroni applies it to no leader).
    /// </summary>
    public static bool IsReplicaAnswer(NodeStatus status, Mode mode) =>
        status.Role == PatroniRole.Replica && status.IsRunning
        && mode is Mode.Replica or Mode.ReadOnly or Mode.Sync or Mode.Async or Mode.Quorum or Mode.ReadOnlySync or Mode.ReadOnlyQuorum;

    /// <summary>
    /// Whether the check's <c>tag_KEY=VALUE</c> filters apply to <paramref name="mode"/>: Patroni ignores
    /// them on the writer and leader checks, and on liveness and readiness.
    /// </summary>
    public static bool TakesTagFilters(Mode mode) =>
        mode is not (Mode.Primary or Mode.Leader or Mode.StandbyLeader or Mode.Liveness or Mode.Readiness);

    /// <summary>
    /// The answer of a check with a lag limit while its replica is held out: its lag passed the limit and
    /// has not yet stayed low for long enough. Drain, as over the limit, where <paramref name="within"/>
    /// (the answer within the limit) would take traffic; otherwise that answer.
    /// </summary>
    public static AgentAnswer HeldOut(AgentAnswer within) =>
        within.IsReady ? AgentAnswer.Drain($"{within.Reason}, held out after passing max-lag") : within;

    /// <summary>The answer of a check whose tag or replication-state filter this node does not match.</summary>
    public static AgentAnswer Unmatched(NodeStatus status, string filter) => AgentAnswer.Maint(With(status, $"{Describe(status)}, not {filter}"));

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

    private static AgentAnswer StandbyRule(NodeStatus status, long? maxLag, bool isKind)
    {
        string kind = status.SyncStandby ? "sync replica" : status.QuorumStandby ? "quorum replica" : "async replica";
        var regardlessOfLag = ReplicaRule(status, null, kind);
        return regardlessOfLag.IsReady && !isKind ? AgentAnswer.Maint(regardlessOfLag.Reason) : ReplicaRule(status, maxLag, kind);
    }

    private static AgentAnswer ReadinessRule(NodeStatus status, long? maxLag, bool byReceived)
    {
        if (status.Role != PatroniRole.Replica)
        {
            return AgentAnswer.Maint(Describe(status));
        }
        if (status.ReplicationState is { } state && state != "streaming")
        {
            return AgentAnswer.Maint(With(status, $"replica, {state}, not streaming"));
        }
        long? lag = byReceived ? status.UnreceivedBytes : status.LagBytes;
        string measured = byReceived ? "write lag" : "lag";
        string shown = lag is { } bytes ? FormatBytes(bytes) : "unknown";
        if (lag is not { } known || known > (maxLag ?? ReadinessMaxLag))
        {
            string limit = maxLag is null ? FormatBytes(ReadinessMaxLag) : "max-lag";
            return AgentAnswer.Maint(With(status, $"replica, {measured} {shown} over {limit}"));
        }
        return AgentAnswer.Ready(With(status, $"replica, {measured} {shown}"));
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
            return AgentAnswer.Drain(With(status, $"{kind}, {lag} over max-lag"));
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
