using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace PatroniAgent.LoadTest;

/// <summary>
/// A loopback address as a native <c>sockaddr</c>. The load test sends to loopback only: any other
/// address is refused here, where every connection's address comes from.
/// </summary>
internal sealed unsafe class Loopback : IDisposable
{
    public Loopback(IPEndPoint endPoint)
    {
        if (!IPAddress.IsLoopback(endPoint.Address))
        {
            throw new UsageException($"{endPoint} is not a loopback address; the load test only connects to 127.0.0.0/8 or ::1");
        }
        EndPoint = endPoint;
        bool v6 = endPoint.AddressFamily == AddressFamily.InterNetworkV6;
        Family = v6 ? 10 : 2;
        Length = v6 ? 28 : 16;
        Address = (byte*)NativeMemory.AllocZeroed((nuint)Length);
        *(ushort*)Address = (ushort)Family;
        Address[2] = (byte)(endPoint.Port >> 8);
        Address[3] = (byte)endPoint.Port;
        endPoint.Address.TryWriteBytes(new Span<byte>(Address + (v6 ? 8 : 4), v6 ? 16 : 4), out _);
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>AF_INET or AF_INET6.</summary>
    public int Family { get; }

    public byte* Address { get; }

    public int Length { get; }

    /// <summary>A port on 127.0.0.1 that nothing listens on right now.</summary>
    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public override string ToString() => EndPoint.ToString();

    public void Dispose() => NativeMemory.Free(Address);
}
