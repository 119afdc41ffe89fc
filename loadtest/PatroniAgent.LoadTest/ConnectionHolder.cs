using System.Diagnostics;
using System.Runtime.InteropServices;

namespace PatroniAgent.LoadTest;

/// <summary>
/// Holds connections open on a target while the checks run: idle ones (connect, send nothing; when
/// answered, read, close and connect again) and silent ones (connect, send nothing, never read; when the
/// server closes, close and connect again). One thread, one epoll instance, at most 256 connects at once.
/// </summary>
internal sealed unsafe class ConnectionHolder : IDisposable
{
    private const int ConnectsAtOnce = 256;
    private const int MaxEvents = 256;

    private readonly Loopback _target;
    private readonly int _idle;
    private readonly int[] _fd;
    private readonly bool[] _connected;
    private readonly byte* _events;
    private readonly byte* _scratch;
    private readonly int _epoll;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private int _connecting;
    private int _held;
    private long _reconnects;
    private long _failures;

    public ConnectionHolder(Loopback target, int idle, int silent)
    {
        _target = target;
        _idle = idle;
        _fd = new int[idle + silent];
        Array.Fill(_fd, -1);
        _connected = new bool[idle + silent];
        _events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * Native.EpollEventSize));
        _scratch = (byte*)NativeMemory.Alloc(512);
        _epoll = Native.epoll_create1(Native.EPOLL_CLOEXEC);
        _thread = new Thread(Run) { IsBackground = true, Name = "connection-holder" };
    }

    /// <summary>Connections established and open right now.</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Connections made again after the server closed them.</summary>
    public long Reconnects => Volatile.Read(ref _reconnects);

    /// <summary>Connects that failed.</summary>
    public long Failures => Volatile.Read(ref _failures);

    /// <summary>Starts connecting; returns once all are held, or false after <paramref name="limit"/>.</summary>
    public bool Open(TimeSpan limit)
    {
        _thread.Start();
        var waited = Stopwatch.StartNew();
        while (Held < _fd.Length)
        {
            if (waited.Elapsed > limit)
            {
                return false;
            }
            Thread.Sleep(20);
        }
        return true;
    }

    private void Run()
    {
        int next = 0;
        while (!_stopping)
        {
            for (; next < _fd.Length && _connecting < ConnectsAtOnce; next++)
            {
                if (_fd[next] < 0)
                {
                    Connect(next);
                }
            }
            if (next == _fd.Length)
            {
                next = 0;
            }
            int n = Native.epoll_wait(_epoll, _events, MaxEvents, 10);
            for (int i = 0; i < n; i++)
            {
                byte* ev = _events + (long)i * Native.EpollEventSize;
                OnEvent((int)*(ulong*)(ev + Native.EpollDataOffset), *(uint*)ev);
            }
        }
    }

    private void Connect(int slot)
    {
        int fd = Native.socket(_target.Family, Native.SOCK_STREAM | Native.SOCK_NONBLOCK | Native.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            Interlocked.Increment(ref _failures);
            return;
        }
        if ((Native.connect(fd, _target.Address, _target.Length) != 0 && Native.Errno != Native.EINPROGRESS)
            || Native.EpollAdd(_epoll, fd, Native.EPOLLIN | Native.EPOLLOUT | Native.EPOLLRDHUP | Native.EPOLLET, (ulong)slot) != 0)
        {
            Native.close(fd);
            Interlocked.Increment(ref _failures);
            return;
        }
        _fd[slot] = fd;
        _connected[slot] = false;
        _connecting++;
    }

    private void OnEvent(int slot, uint events)
    {
        int fd = _fd[slot];
        if (fd < 0)
        {
            return;
        }
        if (!_connected[slot])
        {
            _connecting--;
            if ((events & (Native.EPOLLERR | Native.EPOLLHUP)) != 0)
            {
                Interlocked.Increment(ref _failures);
                Drop(slot);
                return;
            }
            _connected[slot] = true;
            Interlocked.Increment(ref _held);
        }
        bool idle = slot < _idle;
        if (idle && (events & Native.EPOLLIN) != 0)
        {
            while (Native.recv(fd, _scratch, 512, Native.MSG_DONTWAIT) > 0)
            {
            }
        }
        if ((events & (Native.EPOLLRDHUP | Native.EPOLLHUP | Native.EPOLLERR)) != 0)
        {
            Interlocked.Decrement(ref _held);
            Interlocked.Increment(ref _reconnects);
            Drop(slot);
        }
    }

    private void Drop(int slot)
    {
        Native.close(_fd[slot]);
        _fd[slot] = -1;
    }

    public void Dispose()
    {
        _stopping = true;
        if (_thread.IsAlive)
        {
            _thread.Join();
        }
        foreach (int fd in _fd)
        {
            if (fd >= 0)
            {
                Native.close(fd);
            }
        }
        Native.close(_epoll);
        NativeMemory.Free(_events);
        NativeMemory.Free(_scratch);
    }
}
