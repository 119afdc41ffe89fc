using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PatroniAgent.Tests.Support;

/// <summary>What the stand-in Patroni does with a request.</summary>
public abstract record FakeReply
{
    /// <summary>An HTTP/1.0 answer like Patroni's: no Content-Length, the body ends at close.</summary>
    public sealed record Answer(int Status, byte[] Body, string ContentType = "application/json") : FakeReply;
    /// <summary>Accepts, reads the request, never answers.</summary>
    public sealed record Silence : FakeReply;
    /// <summary>Answers after a delay.</summary>
    public sealed record Delayed(TimeSpan Delay, FakeReply Then) : FakeReply;
    /// <summary>Sends raw bytes and closes.</summary>
    public sealed record Raw(byte[] Bytes) : FakeReply;

    public static FakeReply From(PatroniFixture fixture) => new Answer(fixture.Status, fixture.Body);
}

/// <summary>
/// A stand-in for Patroni's REST API on 127.0.0.1: answers each path with what the test set, and
/// counts requests. Stopping it makes the port refuse connections.
/// </summary>
public sealed class FakePatroni : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, FakeReply> _replies = new();
    private readonly Task _accepting;
    private int _requests;
    private int _disposed;

    public FakePatroni(int port = 0)
    {
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = Task.Run(AcceptLoop);
    }

    public int Port { get; }
    public Uri Url => new($"http://127.0.0.1:{Port}");
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Sets the reply to <c>GET /</c>.</summary>
    public FakePatroni Status(FakeReply reply) => Set("/", reply);

    public FakePatroni Status(PatroniFixture fixture) => Set("/", FakeReply.From(fixture));

    public FakePatroni Set(string path, FakeReply reply)
    {
        lock (_replies)
        {
            _replies[path] = reply;
        }
        return this;
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            _ = Task.Run(() => Serve(client));
        }
    }

    private async Task Serve(Socket client)
    {
        using var _ = client;
        try
        {
            var request = new StringBuilder();
            var buffer = new byte[4096];
            while (!request.ToString().Contains("\r\n\r\n"))
            {
                int n = await client.ReceiveAsync(buffer, _stop.Token);
                if (n == 0) return;
                request.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
            Interlocked.Increment(ref _requests);
            string path = request.ToString().Split(' ')[1];
            FakeReply? reply;
            lock (_replies)
            {
                _replies.TryGetValue(path, out reply);
            }
            await Send(client, reply ?? new FakeReply.Answer(404, "{}"u8.ToArray()));
        }
        catch (Exception)
        {
        }
    }

    private async Task Send(Socket client, FakeReply reply)
    {
        switch (reply)
        {
            case FakeReply.Answer answer:
                var head = $"HTTP/1.0 {answer.Status} X\r\nServer: BaseHTTP/0.6 Python/3.11\r\nContent-Type: {answer.ContentType}\r\n\r\n";
                await client.SendAsync(Encoding.ASCII.GetBytes(head).Concat(answer.Body).ToArray(), _stop.Token);
                break;
            case FakeReply.Silence:
                await Task.Delay(Timeout.Infinite, _stop.Token);
                break;
            case FakeReply.Delayed delayed:
                await Task.Delay(delayed.Delay, _stop.Token);
                await Send(client, delayed.Then);
                break;
            case FakeReply.Raw raw:
                await client.SendAsync(raw.Bytes, _stop.Token);
                break;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
