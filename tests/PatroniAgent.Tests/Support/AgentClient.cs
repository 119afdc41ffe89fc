using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PatroniAgent.Tests.Support;

/// <summary>Does what HAProxy does for one agent check: connect, optionally send a line, read the reply.</summary>
public static class AgentClient
{
    /// <summary>Connects, sends <paramref name="send"/> (if any) and reads until the server closes.</summary>
    public static async Task<string> CheckAsync(IPEndPoint endPoint, string? send = null, bool shutdownSend = false, int timeoutMs = 5000)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        // A blocking connect returns once the handshake is done, microseconds on loopback. An awaited one
        // can resume late on a busy test run, after the agent has answered a silent client and reset the
        // connection, and then fail the connect itself.
        socket.Connect(endPoint);
        if (send is not null)
        {
            await socket.SendAsync(Encoding.Latin1.GetBytes(send), cts.Token);
        }
        if (shutdownSend)
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        return await ReadToEndAsync(socket, cts.Token);
    }

    public static async Task<string> ReadToEndAsync(Socket socket, CancellationToken cancellationToken)
    {
        var reply = new MemoryStream();
        var buffer = new byte[512];
        while (true)
        {
            int n;
            try
            {
                n = await socket.ReceiveAsync(buffer, cancellationToken);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset && reply.Length > 0)
            {
                break;
            }
            if (n == 0)
            {
                break;
            }
            reply.Write(buffer, 0, n);
        }
        return Encoding.Latin1.GetString(reply.ToArray());
    }

    /// <summary>
    /// Connects (from <paramref name="source"/> when given), sends <paramref name="send"/>, reads all there is,
    /// and tells how the connection ended: "reset" or "closed".
    /// </summary>
    public static async Task<(string Reply, string End)> ReadUntilTheEndAsync(IPEndPoint endPoint, string send, IPAddress? source = null)
    {
        using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (source is not null)
        {
            socket.Bind(new IPEndPoint(source, 0));
        }
        try
        {
            // A reset that comes at once can already fail the send.
            socket.Connect(endPoint);
            if (send.Length > 0)
            {
                await socket.SendAsync(Encoding.ASCII.GetBytes(send));
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return ("", "reset");
        }
        var reply = new StringBuilder();
        var buffer = new byte[1024];
        using var timeout = new CancellationTokenSource(10_000);
        while (true)
        {
            int n;
            try
            {
                n = await socket.ReceiveAsync(buffer, timeout.Token);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                return (reply.ToString(), "reset");
            }
            if (n == 0)
            {
                return (reply.ToString(), "closed");
            }
            reply.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    /// <summary>Connects and resets the connection at once, as a client that gives up does.</summary>
    public static async Task ResetAsync(IPEndPoint endPoint, string? send = null)
    {
        using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(endPoint);
        if (send is not null)
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes(send));
        }
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }

    /// <summary>Checks until the answer is <paramref name="expected"/>, or fails with the last answer after 15 s.</summary>
    public static async Task EventuallyAsync(IPEndPoint endPoint, string send, string expected)
    {
        string last = "";
        await Eventually.WaitFor(
            async () =>
            {
                try
                {
                    last = await CheckAsync(endPoint, send);
                }
                catch (SocketException e)
                {
                    last = e.Message;
                }
                return last == expected;
            },
            TimeSpan.FromSeconds(15), () => $"expected {expected.TrimEnd()}, the last answer was {last.TrimEnd()}", TimeSpan.FromMilliseconds(20));
    }
}
