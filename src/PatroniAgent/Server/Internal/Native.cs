using System.Runtime.InteropServices;

namespace PatroniAgent.Server.Internal;

/// <summary>
/// The Linux calls the event loop makes directly. Going through <see cref="System.Net.Sockets.Socket"/>
/// would allocate a Socket object for every accepted connection; these calls allocate nothing.
/// </summary>
internal static unsafe partial class Native
{
    private const string Libc = "libc";

    public const int EAGAIN = 11;
    public const int EINTR = 4;
    public const int ECONNABORTED = 103;
    public const int EMFILE = 24;
    public const int ENFILE = 23;
    public const int ENOBUFS = 105;
    public const int ENOMEM = 12;

    public const ushort AF_INET = 2;
    public const ushort AF_INET6 = 10;

    /// <summary>Room for any peer address accept4 can return (<c>sizeof(struct sockaddr_storage)</c>).</summary>
    public const int SockaddrStorageSize = 128;

    public const int SOL_SOCKET = 1;
    public const int SO_LINGER = 13;

    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;

    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;

    public const uint EPOLLIN = 0x001;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLEXCLUSIVE = 1u << 28;

    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_NOSIGNAL = 0x4000;

    /// <summary>
    /// The kernel's <c>struct epoll_event</c> is packed on x86-64 (12 bytes) and naturally aligned
    /// elsewhere (16 bytes); events are read at these offsets instead of through a C# struct.
    /// </summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    public static readonly int EpollDataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, byte* ev);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int epoll_wait(int epfd, byte* events, int maxevents, int timeout);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int accept4(int sockfd, nint addr, nint addrlen, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint recv(int sockfd, byte* buf, nint len, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint send(int sockfd, byte* buf, nint len, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int setsockopt(int sockfd, int level, int optname, byte* optval, int optlen);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint write(int fd, byte* buf, nint count);

    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>Makes the next <see cref="close"/> of <paramref name="fd"/> send a reset instead of a FIN (SO_LINGER on, 0 s).</summary>
    public static void ResetOnClose(int fd)
    {
        int* linger = stackalloc int[2];
        linger[0] = 1;
        linger[1] = 0;
        setsockopt(fd, SOL_SOCKET, SO_LINGER, (byte*)linger, 2 * sizeof(int));
    }

    /// <summary>Registers <paramref name="fd"/> for <paramref name="events"/> with <paramref name="data"/> as its tag.</summary>
    public static int EpollAdd(int epfd, int fd, uint events, ulong data)
    {
        byte* ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + EpollDataOffset) = data;
        return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, ev);
    }
}
