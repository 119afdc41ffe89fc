using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using PatroniAgent.Http;
using PatroniAgent.Server;

namespace PatroniAgent.Metrics;

/// <summary>
/// The metrics endpoint: <c>GET /metrics</c> (Prometheus text) and <c>GET /status</c> (JSON), on its own
/// thread with blocking sockets, apart from the check event loops. One request per connection, served
/// one connection at a time: a scrape is rare and cheap, and a slow or hostile client holds the endpoint
/// for at most <see cref="RequestTimeout"/>. Requests are bounded in size and time; anything else gets
/// 400, 404, 405, 408 or 431, and the connection is closed after every reply.
/// </summary>
public sealed partial class MetricsServer : IDisposable
{
    /// <summary>The largest request read (request line and headers); a longer one gets 431.</summary>
    public const int MaxRequestBytes = 8192;

    /// <summary>How long a client may take to send its whole request, and to take the reply.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(2);

    private static readonly TimeSpan AcceptPoll = TimeSpan.FromMilliseconds(200);

    private readonly IReadOnlyList<IPEndPoint> _endPoints;
    private readonly AgentMetrics _metrics;
    private readonly ILogger _logger;
    private readonly List<Socket> _sockets = [];
    private readonly byte[] _buffer = new byte[MaxRequestBytes];
    private Thread? _thread;
    private volatile bool _stopping;

    public MetricsServer(IReadOnlyList<IPEndPoint> endPoints, AgentMetrics metrics, ILogger logger)
    {
        _endPoints = endPoints;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>The bound addresses (with the actual port where 0 was asked).</summary>
    public IReadOnlyList<IPEndPoint> EndPoints => _sockets.Select(s => (IPEndPoint)s.LocalEndPoint!).ToList();

    /// <summary>Binds every address and starts serving.</summary>
    /// <exception cref="SocketException">An address cannot be bound; the message names it.</exception>
    public void Start()
    {
        foreach (var endPoint in _endPoints)
        {
            try
            {
                // Served by a thread that waits in Select and then accepts: blocking, as sockets are made.
                var socket = ListenSocket.Open(endPoint, 64, purpose: " for metrics");
                socket.Blocking = true;
                _sockets.Add(socket);
            }
            catch (SocketException)
            {
                Stop();
                throw;
            }
        }
        _thread = new Thread(Run) { IsBackground = true, Name = "metrics" };
        _thread.Start();
    }

    /// <summary>Stops serving (after the request in progress, if any) and closes the listeners.</summary>
    public void Stop()
    {
        _stopping = true;
        _thread?.Join();
        _thread = null;
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }
        _sockets.Clear();
    }

    public void Dispose() => Stop();

    private void Run()
    {
        var ready = new List<Socket>(_sockets.Count);
        while (!_stopping)
        {
            try
            {
                ready.Clear();
                ready.AddRange(_sockets);
                Socket.Select(ready, null, null, AcceptPoll);
                foreach (var listener in ready)
                {
                    using var client = listener.Accept();
                    Serve(client);
                }
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TooManyOpenSockets)
            {
                // Out of descriptors: the pending connection stays readable, so pause instead of spinning on it.
                LogClientError(_logger, e.SocketErrorCode.ToString());
                Thread.Sleep(AcceptPoll);
            }
            catch (SocketException e)
            {
                LogClientError(_logger, e.SocketErrorCode.ToString());
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogUnexpected(_logger, e);
            }
        }
    }

    private void Serve(Socket client)
    {
        client.NoDelay = true;
        client.SendTimeout = (int)RequestTimeout.TotalMilliseconds;
        var deadline = DateTime.UtcNow + RequestTimeout;
        int length = 0;
        while (!HttpRequestHead.IsComplete(_buffer.AsSpan(0, length)))
        {
            if (length == _buffer.Length)
            {
                Reply(client, 431, "text/plain", "request larger than 8 KiB\n", head: false);
                return;
            }
            int left = (int)(deadline - DateTime.UtcNow).TotalMilliseconds;
            if (left <= 0)
            {
                Reply(client, 408, "text/plain", "request not complete in time\n", head: false);
                return;
            }
            client.ReceiveTimeout = left;
            int read;
            try
            {
                read = client.Receive(_buffer, length, _buffer.Length - length, SocketFlags.None);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
            {
                Reply(client, 408, "text/plain", "request not complete in time\n", head: false);
                return;
            }
            if (read == 0)
            {
                return;
            }
            length += read;
        }
        Respond(client, _buffer.AsSpan(0, length));
    }

    private void Respond(Socket client, ReadOnlySpan<byte> head)
    {
        if (!HttpRequestHead.TryReadRequestLine(head, out var line) || !line.Target.StartsWith("/"u8))
        {
            Reply(client, 400, "text/plain", "expected GET /metrics or GET /status\n", head: false);
            return;
        }
        bool isHead = line.Method.SequenceEqual("HEAD"u8);
        bool isMetrics = line.Path.SequenceEqual("/metrics"u8);
        if (!isMetrics && !line.Path.SequenceEqual("/status"u8))
        {
            Reply(client, 404, "text/plain", "not found; try /metrics or /status\n", head: isHead);
            return;
        }
        if (!isHead && !line.Method.SequenceEqual("GET"u8))
        {
            Reply(client, 405, "text/plain", "only GET and HEAD\n", head: false, allow: "GET, HEAD");
            return;
        }
        if (isMetrics)
        {
            Reply(client, 200, AgentMetrics.PrometheusContentType, _metrics.WritePrometheus(), head: isHead);
        }
        else
        {
            string json = JsonSerializer.Serialize(_metrics.Status(), StatusJsonContext.Default.StatusPage) + "\n";
            Reply(client, 200, "application/json", json, head: isHead);
        }
    }

    private static void Reply(Socket client, int status, string contentType, string body, bool head, string? allow = null)
    {
        var reply = new HttpReply(status, contentType, Encoding.UTF8.GetBytes(body), allow, cacheControl: "no-store");
        client.Send(head ? reply.Head : reply.Bytes);
        client.Shutdown(SocketShutdown.Both);
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Debug, Message = "metrics client connection failed: {Error}")]
    private static partial void LogClientError(ILogger logger, string error);

    [LoggerMessage(EventId = 401, Level = LogLevel.Error, Message = "unexpected error in the metrics endpoint")]
    private static partial void LogUnexpected(ILogger logger, Exception exception);
}
