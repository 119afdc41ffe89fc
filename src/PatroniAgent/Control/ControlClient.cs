using System.Net.Sockets;
using System.Text;

namespace PatroniAgent.Control;

/// <summary>Sends one request line to a running agent's <see cref="ControlChannel"/> and reads its reply line.</summary>
public static class ControlClient
{
    /// <summary>The whole exchange, connecting included, takes at most this long: Patroni waits for its callback.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    /// <summary>The longest reply read: a wait's lists the checkers.</summary>
    private const int MaxReplyLength = 64 << 10;

    /// <summary>
    /// Sends <paramref name="request"/>; true with the agent's <paramref name="reply"/> when it answered,
    /// false with <paramref name="problem"/> (no agent, no permission, no answer in time) otherwise.
    /// The exchange takes at most <paramref name="limit"/>, <see cref="Timeout"/> by default.
    /// </summary>
    public static bool TrySend(string socketPath, string request, out string reply, out string problem, TimeSpan? limit = null)
    {
        reply = "";
        problem = "";
        var within = limit ?? Timeout;
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var timeout = new CancellationTokenSource(within);
        try
        {
            socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), timeout.Token).AsTask().GetAwaiter().GetResult();
            socket.SendAsync(Encoding.ASCII.GetBytes(request + "\n"), SocketFlags.None, timeout.Token).AsTask().GetAwaiter().GetResult();
            var buffer = new byte[MaxReplyLength];
            int length = 0;
            while (length < buffer.Length)
            {
                int received = socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, timeout.Token).AsTask().GetAwaiter().GetResult();
                if (received == 0)
                {
                    break;
                }
                length += received;
            }
            reply = Encoding.ASCII.GetString(buffer, 0, length).TrimEnd('\n');
            return true;
        }
        catch (SocketException e)
        {
            problem = e.SocketErrorCode switch
            {
                SocketError.AddressNotAvailable or SocketError.ConnectionRefused => "the agent is not running (nothing listens on it)",
                SocketError.AccessDenied => "permission denied (root and the agent's user and group may use it)",
                _ => e.Message,
            };
        }
        catch (OperationCanceledException)
        {
            problem = $"the agent did not answer within {within.TotalSeconds:0.###}s";
        }
        catch (ArgumentException e)
        {
            problem = e.Message;
        }
        return false;
    }
}
