namespace PatroniAgent.HaproxyConfig;

/// <summary>
/// The choices of <c>patroni-agent haproxy-config</c> besides the members. The defaults are those of
/// the README's HAProxy section and of scripts/cluster.sh.
/// </summary>
public sealed record HaproxyConfigOptions
{
    /// <summary>Where the agent answers agent checks on every database host (its <c>listen</c>).</summary>
    public int AgentPort { get; init; } = 5555;

    /// <summary>Where the regular HTTP check asks: the agent's <c>http-listen</c>, or Patroni's own 8008.</summary>
    public int HttpCheckPort { get; init; } = 8009;

    /// <summary>The address the frontends and the stats page bind: <c>*</c> or an IP address.</summary>
    public string BindAddress { get; init; } = "*";

    public int ReadWritePort { get; init; } = 5000;
    public int ReadOnlyPort { get; init; } = 5001;
    public int SyncPort { get; init; } = 5002;
    public int AsyncPort { get; init; } = 5003;
    public int StatsPort { get; init; } = 7000;

    /// <summary>The most replay lag a replica of the read-only, sync and async backends may have, e.g. <c>16MB</c>.</summary>
    public string MaxLag { get; init; } = "16MB";

    /// <summary>Adds a frontend and backend of the synchronous standbys.</summary>
    public bool Sync { get; init; }

    /// <summary>Adds a frontend and backend of the asynchronous replicas.</summary>
    public bool Async { get; init; }
}
