using System.Net;
using System.Runtime.InteropServices;

namespace PatroniAgent.Tests.Support;

/// <summary>
/// A check client on bare system calls, which allocates nothing, so that allocation counts taken
/// while it runs belong to the server alone.
/// </summary>
public static unsafe partial class RawClient
{
    private const int AF_INET = 2;
    private const int SOCK_STREAM = 1;
    private const int SOCK_CLOEXEC = 0x80000;
    private const int MSG_NOSIGNAL = 0x4000;
    private const int ECONNRESET = 104;
    private const int EPIPE = 32;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int bind(int fd, byte* addr, int len);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int connect(int fd, byte* addr, int len);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(int fd, byte* buf, nint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(int fd, byte* buf, nint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    /// <summary>
    /// One check against an IPv4 endpoint, from <paramref name="source"/> (any port) when given; returns the
    /// reply's length in bytes, written into <paramref name="reply"/>.
    /// </summary>
    public static int Check(IPEndPoint endPoint, ReadOnlySpan<byte> request, Span<byte> reply, IPAddress? source = null)
    {
        int fd = Connect(endPoint, source);
        try
        {
            fixed (byte* s = request)
            {
                if (request.Length > 0 && send(fd, s, request.Length, MSG_NOSIGNAL) != request.Length)
                {
                    throw new InvalidOperationException("send failed");
                }
            }
            int length = 0;
            fixed (byte* r = reply)
            {
                while (length < reply.Length)
                {
                    nint n = recv(fd, r + length, reply.Length - length, 0);
                    if (n <= 0) break;
                    length += (int)n;
                }
            }
            return length;
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>
    /// Connects from <paramref name="source"/>, sends <paramref name="request"/> and tells whether the server
    /// reset the connection without sending a byte (a reset that comes at once can already fail the connect).
    /// </summary>
    public static bool IsResetUnanswered(IPEndPoint endPoint, ReadOnlySpan<byte> request, IPAddress source)
    {
        int fd = Connect(endPoint, source, resetIsAnAnswer: true);
        if (fd < 0)
        {
            return true;
        }
        try
        {
            fixed (byte* s = request)
            {
                if (send(fd, s, request.Length, MSG_NOSIGNAL) < 0)
                {
                    return Marshal.GetLastPInvokeError() is ECONNRESET or EPIPE;
                }
            }
            byte* buffer = stackalloc byte[64];
            nint n = recv(fd, buffer, 64, 0);
            return n < 0 && Marshal.GetLastPInvokeError() == ECONNRESET;
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>A connected descriptor; -1 when <paramref name="resetIsAnAnswer"/> and the connect failed with a reset.</summary>
    private static int Connect(IPEndPoint endPoint, IPAddress? source, bool resetIsAnAnswer = false)
    {
        byte* addr = stackalloc byte[16];
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool connected = fd >= 0;
        if (connected && source is not null)
        {
            Fill(addr, source, 0);
            connected = bind(fd, addr, 16) == 0;
        }
        if (connected)
        {
            Fill(addr, endPoint.Address, endPoint.Port);
            connected = connect(fd, addr, 16) == 0;
        }
        if (!connected)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (fd >= 0) close(fd);
            if (resetIsAnAnswer && errno == ECONNRESET) return -1;
            throw new InvalidOperationException($"connect failed: errno {errno}");
        }
        return fd;
    }

    private static void Fill(byte* addr, IPAddress address, int port)
    {
        new Span<byte>(addr, 16).Clear();
        *(ushort*)addr = AF_INET;
        addr[2] = (byte)(port >> 8);
        addr[3] = (byte)port;
        address.TryWriteBytes(new Span<byte>(addr + 4, 4), out _);
    }
}
