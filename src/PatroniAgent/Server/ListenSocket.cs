using System.Net;
using System.Net.Sockets;

namespace PatroniAgent.Server;

/// <summary>
/// Opens a listening TCP socket. The IPv6 wildcard (<c>*</c> or <c>[::]</c> in the configuration) listens
/// on every IPv4 and IPv6 address with one dual-stack socket: IPv4 clients arrive as IPv4-mapped IPv6
/// addresses. On a host without IPv6 (booted with ipv6.disable=1) it listens on every IPv4 address instead.
/// </summary>
public static class ListenSocket
{
    /// <summary>A socket bound to <paramref name="endPoint"/> and listening, non-blocking.</summary>
    /// <param name="endPoint">The address and port; port 0 takes a free port.</param>
    /// <param name="backlog">The listen backlog asked of the kernel.</param>
    /// <param name="configure">Set on the socket before it is bound, e.g. its linger option.</param>
    /// <param name="purpose">What the socket is for, in the error message: "cannot listen{purpose} on ADDRESS".</param>
    /// <exception cref="SocketException">The socket cannot be bound; the message names the address.</exception>
    public static Socket Open(IPEndPoint endPoint, int backlog, Action<Socket>? configure = null, string purpose = "")
    {
        Socket socket;
        try
        {
            socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressFamilyNotSupported && endPoint.Address.Equals(IPAddress.IPv6Any))
        {
            return Open(new IPEndPoint(IPAddress.Any, endPoint.Port), backlog, configure, purpose);
        }
        try
        {
            if (endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }
            configure?.Invoke(socket);
            socket.Bind(endPoint);
            socket.Listen(backlog);
            socket.Blocking = false;
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new SocketException((int)e.SocketErrorCode, $"cannot listen{purpose} on {Show(endPoint)}: {e.Message}");
        }
    }

    /// <summary>An address as the configuration writes it: <c>*:PORT</c> for every address, <c>[::1]:PORT</c>, <c>10.0.0.1:PORT</c>.</summary>
    public static string Show(IPEndPoint endPoint) =>
        endPoint.Address.Equals(IPAddress.IPv6Any) ? $"*:{endPoint.Port}" : endPoint.ToString();
}
