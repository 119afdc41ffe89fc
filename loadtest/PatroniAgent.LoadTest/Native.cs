using System.Runtime.InteropServices;

namespace PatroniAgent.LoadTest;

/// <summary>The Linux calls the load generator makes directly, so that a check allocates nothing.</summary>
internal static unsafe partial class Native
{
    private const string Libc = "libc";

    public const int EAGAIN = 11;
    public const int EINTR = 4;
    public const int EINPROGRESS = 115;
    public const int ECONNRESET = 104;

    public const int SOCK_STREAM = 1;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SO_ERROR = 4;
    public const int SO_LINGER = 13;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_NOSIGNAL = 0x4000;

    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLET = 1u << 31;

    public const int CLOCK_MONOTONIC = 1;
    public const int TFD_NONBLOCK = 0x800;
    public const int TFD_CLOEXEC = 0x80000;
    public const int TFD_TIMER_ABSTIME = 1;
    public const int RLIMIT_NOFILE = 7;

    /// <summary>The kernel's <c>struct epoll_event</c>: packed on x86-64 (12 bytes), naturally aligned elsewhere (16).</summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    public static readonly int EpollDataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int connect(int fd, byte* address, int length);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, void* value, int length);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, void* value, int* length);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint recv(int fd, byte* buffer, nint length, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint send(int fd, byte* buffer, nint length, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint read(int fd, byte* buffer, nint length);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, byte* ev);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int epoll_wait(int epfd, byte* events, int maxevents, int timeout);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int timerfd_create(int clockid, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int timerfd_settime(int fd, int flags, long* newValue, long* oldValue);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int getrlimit(int resource, ulong* limits);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int setrlimit(int resource, ulong* limits);

    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>Registers <paramref name="fd"/> for <paramref name="events"/> with <paramref name="tag"/>.</summary>
    public static int EpollAdd(int epfd, int fd, uint events, ulong tag)
    {
        byte* ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + EpollDataOffset) = tag;
        return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, ev);
    }

    /// <summary>Makes a close send RST instead of FIN (SO_LINGER with a zero timeout), as HAProxy does after a check.</summary>
    public static void LingerZero(int fd)
    {
        int* linger = stackalloc int[2];
        linger[0] = 1;
        linger[1] = 0;
        setsockopt(fd, SOL_SOCKET, SO_LINGER, linger, 2 * sizeof(int));
    }

    /// <summary>The pending error of a socket whose connect failed.</summary>
    public static int SocketError(int fd)
    {
        int error = 0;
        int length = sizeof(int);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
        return error;
    }

    /// <summary>Raises the soft limit of open descriptors to the hard limit; returns the soft limit now in force.</summary>
    public static ulong RaiseDescriptorLimit()
    {
        ulong* limits = stackalloc ulong[2];
        if (getrlimit(RLIMIT_NOFILE, limits) != 0)
        {
            return 0;
        }
        if (limits[0] < limits[1])
        {
            limits[0] = limits[1];
            setrlimit(RLIMIT_NOFILE, limits);
            getrlimit(RLIMIT_NOFILE, limits);
        }
        return limits[0];
    }
}
