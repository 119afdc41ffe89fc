namespace PatroniAgent.Patroni;

/// <summary>
/// Where <see cref="Watcher.RoleWatcher"/> gets the node's status from: one poll of the local Patroni
/// per call. <see cref="PatroniClient"/> asks the REST API; the property tests replay poll results
/// (answers, failures, timeouts) as data through the same watcher.
/// </summary>
public interface IPatroniPoller
{
    /// <summary>
    /// Polls once, on the calling thread: the watcher's own, which waits in it for Patroni's answer.
    /// Never throws but for cancellation by <paramref name="cancellationToken"/>.
    /// </summary>
    PollResult Poll(CancellationToken cancellationToken);
}
