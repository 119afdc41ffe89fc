namespace PatroniAgent.Patroni;

/// <summary>The role a Patroni node reports, with both vocabularies folded together.</summary>
public enum PatroniRole
{
    /// <summary><c>primary</c> (Patroni 4) or <c>master</c> (Patroni 3 and older).</summary>
    Primary,
    Replica,
    /// <summary>The leader of a standby cluster: it replicates from elsewhere and takes no writes.</summary>
    StandbyLeader,
    /// <summary>Anything else, e.g. the cached <c>demoted</c>, <c>promoted</c> or <c>uninitialized</c>.</summary>
    Other,
}

/// <summary>
/// The facts of one answer of Patroni's <c>GET /</c> that decide the agent's replies. Two equal
/// values give the same replies, so a poll that changes nothing is recognised by equality.
/// </summary>
public sealed record NodeStatus
{
    /// <summary>HTTP status: 200 when the node holds the leader lock (outside standby clusters), else 503.</summary>
    public required int HttpStatus { get; init; }
    public required PatroniRole Role { get; init; }
    /// <summary>The role word as Patroni sent it, e.g. <c>master</c>.</summary>
    public required string RoleName { get; init; }
    /// <summary>PostgreSQL's state as Patroni sees it; only <c>running</c> serves traffic.</summary>
    public required string State { get; init; }
    public long? Timeline { get; init; }
    /// <summary>How many bytes of WAL this replica has still to replay, when known.</summary>
    public long? LagBytes { get; init; }
    /// <summary>
    /// How many of those bytes this replica has received but not yet replayed (<c>received_location</c>
    /// minus <c>replayed_location</c>), when Patroni gave both.
    /// </summary>
    public long? UnreplayedBytes { get; init; }
    public bool NoLoadBalance { get; init; }
    /// <summary>A synchronous standby: <c>sync_standby</c>.</summary>
    public bool SyncStandby { get; init; }
    /// <summary>A quorum standby: <c>quorum_standby</c> (Patroni 4).</summary>
    public bool QuorumStandby { get; init; }
    /// <summary>The replica's <c>replication_state</c> (<c>streaming</c>, <c>in archive recovery</c>; Patroni 3.0.4 and newer), when given.</summary>
    public string? ReplicationState { get; init; }
    /// <summary>The member's tags, each value as Patroni's health checks compare it.</summary>
    public TagSet Tags { get; init; } = TagSet.Empty;
    /// <summary>The cluster is in maintenance mode (<c>pause</c>): Patroni does not act on failures.</summary>
    public bool Paused { get; init; }
    /// <summary>The cluster's name, <c>patroni.scope</c>, when given.</summary>
    public string? Scope { get; init; }
    /// <summary>The member's name, <c>patroni.name</c> (Patroni 4; 3.x does not give it), when given.</summary>
    public string? Name { get; init; }

    public bool IsRunning => State == "running";

    /// <summary>How many bytes of WAL this replica has still to receive, when known: the lag without what it holds unreplayed.</summary>
    public long? UnreceivedBytes => LagBytes is { } lag ? Math.Max(0, lag - (UnreplayedBytes ?? 0)) : null;
}
