using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace PatroniAgent.LoadTest;

/// <summary>A recorded answer of Patroni's <c>GET /</c> (tests/PatroniAgent.Tests/Fixtures/patroni).</summary>
internal sealed record PatroniRecording(string Name, string Source, int Status, byte[] Body, string Role)
{
    public static PatroniRecording Load(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = document.RootElement;
        var body = root.GetProperty("body");
        return new PatroniRecording(
            Path.GetFileNameWithoutExtension(path),
            root.GetProperty("source").GetString() ?? "",
            root.GetProperty("status").GetInt32(),
            Encoding.UTF8.GetBytes(body.GetRawText()),
            body.GetProperty("role").GetString() ?? "");
    }
}

/// <summary>
/// Stands in for Patroni's REST API on 127.0.0.1: every request gets the recorded answer, as Patroni
/// sends it (HTTP/1.0, no Content-Length, the connection closed after the body). One blocking thread,
/// like Patroni's own server.
/// </summary>
internal sealed class StandInPatroni : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly byte[] _response;
    private readonly Thread _thread;
    private long _served;

    public StandInPatroni(PatroniRecording recording)
    {
        var reason = recording.Status == 200 ? "OK" : "Service Unavailable";
        var head = $"HTTP/1.0 {recording.Status} {reason}\r\nServer: BaseHTTP/0.6 Python/3.11\r\nContent-Type: application/json\r\n\r\n";
        _response = [.. Encoding.ASCII.GetBytes(head), .. recording.Body];
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
        _thread = new Thread(Serve) { IsBackground = true, Name = "stand-in-patroni" };
        _thread.Start();
    }

    public Uri Url => new($"http://{_listener.LocalEndPoint}/");

    /// <summary>Requests answered so far.</summary>
    public long Served => Interlocked.Read(ref _served);

    private void Serve()
    {
        var request = new byte[8192];
        while (true)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (SocketException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            using (client)
            {
                try
                {
                    client.ReceiveTimeout = 1000;
                    int have = 0;
                    while (have < request.Length && request.AsSpan(0, have).IndexOf("\r\n\r\n"u8) < 0)
                    {
                        int n = client.Receive(request, have, request.Length - have, SocketFlags.None);
                        if (n == 0)
                        {
                            break;
                        }
                        have += n;
                    }
                    client.Send(_response);
                    client.Shutdown(SocketShutdown.Send);
                    Interlocked.Increment(ref _served);
                }
                catch (SocketException)
                {
                    // The client went away or sent nothing: there is no one to answer.
                }
            }
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        _thread.Join(TimeSpan.FromSeconds(2));
    }
}
