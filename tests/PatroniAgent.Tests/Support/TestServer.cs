using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.HttpCheck;
using PatroniAgent.Patroni;
using PatroniAgent.Server;

namespace PatroniAgent.Tests.Support;

/// <summary>
/// An agent server on 127.0.0.1 ephemeral ports, answering from a board the test fills: an agent-check
/// listener per mode (resetting each connection after its reply, as the agent does), then the HTTP
/// health-check listeners asked for. Agent listeners wait 5 s for the
/// agent-send line unless told otherwise, so that a client slowed down by a busy machine is not
/// answered before its line arrives. Any source may connect unless an allow list is given.
/// </summary>
public sealed class TestServer : IDisposable
{
    private readonly int _agentListeners;

    public TestServer(
        Mode[] listenerModes, TimeSpan? sendWait = null, int maxConnections = 20000,
        int httpListeners = 0, TimeSpan? httpWait = null, TimeProvider? time = null,
        IReadOnlyList<IPNetwork>? allow = null, ILogger? logger = null, TimeSpan? refusalLogInterval = null)
    {
        _agentListeners = listenerModes.Length;
        Board = new AnswerBoard("down", TimeSpan.FromMinutes(5), time);
        var listeners = listenerModes
            .Select(m => new ListenerOptions(new IPEndPoint(IPAddress.Loopback, 0), Board.For(AgentRequest.For(m)), sendWait ?? TimeSpan.FromSeconds(5)) { ResetAfterReply = true })
            .Concat(Enumerable.Range(0, httpListeners)
                .Select(_ => new ListenerOptions(new IPEndPoint(IPAddress.Loopback, 0), Board.ForHttp(), httpWait ?? HttpCheckParser.RequestWait)))
            .ToList();
        var options = new AgentServerOptions
        {
            MaxConnections = maxConnections,
            Allow = allow ?? [],
            RefusalLogInterval = refusalLogInterval ?? new AgentServerOptions().RefusalLogInterval,
        };
        Server = new AgentServer(listeners, options, logger ?? NullLogger.Instance);
        Server.Start();
    }

    public AnswerBoard Board { get; }
    public AgentServer Server { get; }
    public IPEndPoint EndPoint => Server.EndPoints[0];

    /// <summary>The first HTTP health-check listener.</summary>
    public IPEndPoint HttpEndPoint => Server.EndPoints[_agentListeners];

    /// <summary>Serves the answers of a replica lagging <paramref name="lag"/> bytes (Patroni 4.1.4 recording).</summary>
    public TestServer WithReplica(long lag = 0) => With("v4.1.4-replica", status => status with { LagBytes = lag });

    /// <summary>Serves the answers of a primary on timeline 1 (Patroni 4.1.4 recording).</summary>
    public TestServer WithPrimary() => With("v4.1.4-primary", status => status);

    private TestServer With(string fixture, Func<NodeStatus, NodeStatus> change)
    {
        var status = change(PatroniFixtures.Decode(fixture));
        Board.PublishFresh(Snapshot.FromStatus(status, Board.Unknown));
        return this;
    }

    public void Dispose() => Server.Dispose();
}
