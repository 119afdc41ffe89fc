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

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int connect(int fd, byte* addr, int len);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(int fd, byte* buf, nint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(int fd, byte* buf, nint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    /// <summary>One check against an IPv4 endpoint; returns the reply's length in bytes, written into <paramref name="reply"/>.</summary>
    public static int Check(IPEndPoint endPoint, ReadOnlySpan<byte> request, Span<byte> reply)
    {
        byte* addr = stackalloc byte[16];
        new Span<byte>(addr, 16).Clear();
        *(ushort*)addr = AF_INET;
        addr[2] = (byte)(endPoint.Port >> 8);
        addr[3] = (byte)endPoint.Port;
        endPoint.Address.TryWriteBytes(new Span<byte>(addr + 4, 4), out _);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, addr, 16) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (fd >= 0) close(fd);
            throw new InvalidOperationException($"connect failed: errno {errno}");
        }
        try
        {
            fixed (byte* s = request)
            {
                if (request.Length > 0 && send(fd, s, request.Length, 0) != request.Length)
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
}
