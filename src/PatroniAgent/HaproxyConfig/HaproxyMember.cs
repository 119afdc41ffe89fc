namespace PatroniAgent.HaproxyConfig;

/// <summary>
/// One database host of the cluster as HAProxy addresses it: the Patroni member name (the HAProxy
/// server name), the host (an IP address or a DNS name) and the PostgreSQL port. Its agent listens
/// on the same host.
/// </summary>
public sealed record HaproxyMember(string Name, string Host, int PostgresPort);
