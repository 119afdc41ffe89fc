using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using PatroniAgent.Patroni;
using PatroniAgent.Policy;
using PatroniAgent.Server;
using PatroniAgent.Watcher;

namespace PatroniAgent.Tests.Support;

/// <summary>An agent server on 127.0.0.1 ephemeral ports, answering from a board the test fills.</summary>
public sealed class TestServer : IDisposable
{
    public TestServer(Mode[] listenerModes, TimeSpan? sendWait = null, int maxConnections = 20000)
    {
        Board = new AnswerBoard("down", TimeSpan.FromMinutes(5));
        var listeners = listenerModes.Select(m => new ListenerOptions(new IPEndPoint(IPAddress.Loopback, 0), Board.For(m))).ToList();
        Server = new AgentServer(listeners, new AgentServerOptions
        {
            SendWait = sendWait ?? TimeSpan.FromMilliseconds(200),
            MaxConnections = maxConnections,
        }, NullLogger.Instance);
        Server.Start();
    }

    public AnswerBoard Board { get; }
    public AgentServer Server { get; }
    public IPEndPoint EndPoint => Server.EndPoints[0];

    /// <summary>Serves the answers of a replica lagging <paramref name="lag"/> bytes (Patroni 4.1.4 recording).</summary>
    public TestServer WithReplica(long lag = 0)
    {
        var recorded = PatroniFixtures.Load("v4.1.4-replica");
        var status = PatroniDecoder.DecodeStatus(recorded.Status, recorded.Body, out _) with { LagBytes = lag };
        Board.PublishFresh(Snapshot.FromStatus(status));
        return this;
    }

    public void Dispose() => Server.Dispose();
}
