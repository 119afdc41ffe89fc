using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using PatroniAgent.Server.Internal;

namespace PatroniAgent.Server;

/// <summary>
/// One listener: an address, what it answers, and how long a connection may take to send a whole
/// request before it is answered with what it sent.
/// </summary>
public sealed record ListenerOptions(IPEndPoint EndPoint, IAnswerSource Answers, TimeSpan RequestWait)
{
    /// <summary>
    /// Close each connection with a reset (SO_LINGER 0) once its reply is written, instead of a FIN. For
    /// one-line protocols whose client resets the connection itself right after reading the line, as
    /// HAProxy does with agent checks: no FIN exchange, no TIME_WAIT, the least work for the kernel. A
    /// reply lost on the wire is then not retransmitted; the client sees a reset without a line.
    /// </summary>
    public bool ResetAfterReply { get; init; }
}

/// <summary>How the server accepts and holds connections.</summary>
public sealed record AgentServerOptions
{
    /// <summary>The listen backlog asked of the kernel (which caps it at net.core.somaxconn).</summary>
    public int Backlog { get; init; } = 4096;

    /// <summary>Connections held at once (waiting for their request); past it, the longest waiting is answered to make room.</summary>
    public int MaxConnections { get; init; } = 20000;

    /// <summary>Event-loop threads; each accepts from every listener.</summary>
    public int Workers { get; init; } = 1;

    /// <summary>
    /// The source prefixes allowed to connect to every listener; empty (the default) allows any address.
    /// Connections from elsewhere are reset at once, unanswered, and counted in <see cref="AgentServer.Refused"/>.
    /// </summary>
    public IReadOnlyList<IPNetwork> Allow { get; init; } = [];

    /// <summary>
    /// The least time between two log lines about refused connections: the first refusal is logged at
    /// once, the ones after it as one count per interval.
    /// </summary>
    public TimeSpan RefusalLogInterval { get; init; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// The TCP server HAProxy's checks connect to. It knows nothing of Patroni nor of the protocols: every
/// connection gets the reply its listener's <see cref="IAnswerSource"/> returns for what the client sent.
/// </summary>
public sealed class AgentServer : IDisposable
{
    private readonly IReadOnlyList<ListenerOptions> _listeners;
    private readonly AgentServerOptions _options;
    private readonly ILogger _logger;
    private readonly List<Socket> _sockets = [];
    private readonly List<EventLoop> _loops = [];
    private readonly RefusalLog _refusals;

    public AgentServer(IReadOnlyList<ListenerOptions> listeners, AgentServerOptions options, ILogger logger)
    {
        if (listeners.Count == 0)
        {
            throw new ArgumentException("at least one listener is needed", nameof(listeners));
        }
        _listeners = listeners;
        _options = options;
        _logger = logger;
        _refusals = new RefusalLog(options.RefusalLogInterval, logger);
    }

    /// <summary>The bound addresses, in the order of the listeners (with the actual port where 0 was asked).</summary>
    public IReadOnlyList<IPEndPoint> EndPoints => _sockets.Select(s => (IPEndPoint)s.LocalEndPoint!).ToList();

    /// <summary>Checks answered so far.</summary>
    public long Answered => _loops.Sum(l => l.Answered);

    /// <summary>
    /// Connections answered before their request was complete (as at the end of their wait), to make room
    /// for a new connection once <see cref="AgentServerOptions.MaxConnections"/> were held.
    /// </summary>
    public long Evicted => _loops.Sum(l => l.Evicted);

    /// <summary>Connections held open at the end of the event loops' last turns, waiting for their request.</summary>
    public int Held => _loops.Sum(l => l.Held);

    /// <summary>Connections reset unanswered because their source is not in <see cref="AgentServerOptions.Allow"/>.</summary>
    public long Refused => _refusals.Count;

    /// <summary>Bytes allocated by the event-loop threads, which run the whole check path.</summary>
    public long AllocatedBytes => _loops.Sum(l => l.AllocatedBytes);

    /// <summary>Binds every listener and starts the event loops.</summary>
    /// <exception cref="SocketException">A listener cannot be bound; the message names its address.</exception>
    public void Start()
    {
        var bound = new BoundListener[_listeners.Count];
        for (int i = 0; i < _listeners.Count; i++)
        {
            var socket = Bind(_listeners[i]);
            _sockets.Add(socket);
            bound[i] = new BoundListener(
                (int)socket.SafeHandle.DangerousGetHandle(), _listeners[i].Answers, _listeners[i].RequestWait, _listeners[i].ResetAfterReply);
        }
        var allow = _options.Allow.Count == 0 ? null : new AllowList(_options.Allow);
        int perLoop = Math.Max(1, _options.MaxConnections / _options.Workers);
        for (int i = 0; i < _options.Workers; i++)
        {
            _loops.Add(new EventLoop(i, bound, perLoop, allow, _refusals, _logger));
        }
        foreach (var loop in _loops)
        {
            loop.Start();
        }
    }

    private Socket Bind(ListenerOptions listener) =>
        // Accepted connections inherit the listening socket's linger setting: no call per connection.
        ListenSocket.Open(listener.EndPoint, _options.Backlog,
            listener.ResetAfterReply ? static socket => socket.LingerState = new LingerOption(true, 0) : null);

    /// <summary>
    /// Replaces the allow list (a reload): connections accepted from now on are checked against
    /// <paramref name="allow"/>; empty allows any address.
    /// </summary>
    public void SetAllow(IReadOnlyList<IPNetwork> allow)
    {
        var list = allow.Count == 0 ? null : new AllowList(allow);
        foreach (var loop in _loops)
        {
            loop.SetAllow(list);
        }
    }

    /// <summary>Stops accepting, ends the event loops and closes the listeners and held connections.</summary>
    public void Stop()
    {
        foreach (var loop in _loops)
        {
            loop.Stop();
            loop.Dispose();
        }
        _loops.Clear();
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }
        _sockets.Clear();
    }

    public void Dispose() => Stop();
}
