using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace PatroniAgent.Server.Internal;

/// <summary>
/// A bound listening socket, what it answers, how long its connections may take to send a request, and
/// whether its connections already end with a reset (SO_LINGER 0 inherited from the listening socket).
/// </summary>
internal readonly record struct BoundListener(int Fd, IAnswerSource Answers, TimeSpan RequestWait, bool ResetsOnClose);

/// <summary>
/// One thread running one epoll instance: accepts connections on every listener, reads each
/// connection's request (or waits for it, up to its listener's wait), writes the answer, closes.
/// Nothing on this path allocates; a connection costs an accept, a read or two, a write and a close.
/// accept4 fills a preallocated peer address, passed with the request to the listener's answers; with an
/// allow list, a connection from outside it is closed at once with a reset, before anything is read.
/// </summary>
internal sealed unsafe partial class EventLoop : IDisposable
{
    private const int MaxEvents = 256;
    private const int AcceptBatch = 64;
    private const ulong ListenerTag = 1UL << 62;
    private const ulong WakeTag = 1UL << 63;
    private static readonly long PauseOnExhaustion = Stopwatch.Frequency / 20;

    private readonly Listener[] _listeners;
    private readonly DeadlineQueue[] _deadlines;
    private readonly long[] _queueWaits;
    private readonly int _maxConnections;
    private volatile AllowList? _allow;
    private readonly RefusalLog _refusals;
    private readonly ILogger _logger;
    private readonly ConnectionTable _table;
    private readonly int _epoll;
    private readonly int _wake;
    private readonly byte* _events;
    private readonly byte* _scratch;
    private readonly byte* _peer;
    private readonly int* _peerLength;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private long _acceptPausedUntil;
    private long _answered;
    private long _evicted;
    private int _held;
    private long _allocatedBytes;

    public EventLoop(int id, BoundListener[] listeners, int maxConnections, AllowList? allow, RefusalLog refusals, ILogger logger)
    {
        // Deadlines arrive in order only among connections that wait the same time: one queue per distinct wait.
        var waits = new List<long>();
        _listeners = new Listener[listeners.Length];
        for (int i = 0; i < listeners.Length; i++)
        {
            long wait = (long)(listeners[i].RequestWait.TotalSeconds * Stopwatch.Frequency);
            if (!waits.Contains(wait))
            {
                waits.Add(wait);
            }
            _listeners[i] = new Listener(
                listeners[i].Fd, listeners[i].Answers, listeners[i].Answers.MaxRequestLength, wait, waits.IndexOf(wait), listeners[i].ResetsOnClose);
        }
        _deadlines = waits.Select(_ => new DeadlineQueue(8192)).ToArray();
        _queueWaits = [.. waits];
        int slotSize = _listeners.Max(l => l.MaxRequestLength);
        _maxConnections = maxConnections;
        _allow = allow;
        _refusals = refusals;
        _logger = logger;
        _table = new ConnectionTable(Math.Min(1024, maxConnections), slotSize);
        _events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * Native.EpollEventSize));
        _scratch = (byte*)NativeMemory.Alloc((nuint)slotSize);
        _peer = (byte*)NativeMemory.Alloc(Native.SockaddrStorageSize);
        _peerLength = (int*)NativeMemory.Alloc(sizeof(int));
        _epoll = Check(Native.epoll_create1(Native.EPOLL_CLOEXEC), "epoll_create1");
        _wake = Check(Native.eventfd(0, Native.EFD_CLOEXEC | Native.EFD_NONBLOCK), "eventfd");
        Check(Native.EpollAdd(_epoll, _wake, Native.EPOLLIN, WakeTag), "epoll_ctl");
        AddListeners();
        _thread = new Thread(Run) { IsBackground = true, Name = $"agent-loop-{id}" };
    }

    /// <summary>Checks answered by this loop.</summary>
    public long Answered => Volatile.Read(ref _answered);

    /// <summary>Connections answered before their request was complete, to make room for a new one.</summary>
    public long Evicted => Volatile.Read(ref _evicted);

    /// <summary>The allow list of the connections accepted from now on; null allows any address.</summary>
    public void SetAllow(AllowList? allow) => _allow = allow;

    /// <summary>Connections this loop holds open waiting for their request, as of its last turn.</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Bytes this loop's thread has allocated, as of its last turn; flat in steady state.</summary>
    public long AllocatedBytes => Volatile.Read(ref _allocatedBytes);

    public void Start() => _thread.Start();

    /// <summary>Ends the loop and closes the connections it still holds.</summary>
    public void Stop()
    {
        _stopping = true;
        ulong one = 1;
        Native.write(_wake, (byte*)&one, sizeof(ulong));
        if (_thread.IsAlive)
        {
            _thread.Join();
        }
        foreach (int fd in _table.HeldDescriptors())
        {
            Native.close(fd);
        }
    }

    private void Run()
    {
        while (!_stopping)
        {
            int n = Native.epoll_wait(_epoll, _events, MaxEvents, NextTimeout());
            if (n < 0)
            {
                int errno = Native.Errno;
                if (errno != Native.EINTR)
                {
                    LogLoopError(_logger, "epoll_wait", errno);
                    Thread.Sleep(10);
                }
                continue;
            }
            for (int i = 0; i < n; i++)
            {
                byte* ev = _events + (long)i * Native.EpollEventSize;
                ulong tag = *(ulong*)(ev + Native.EpollDataOffset);
                try
                {
                    if ((tag & WakeTag) != 0)
                    {
                        continue;
                    }
                    if ((tag & ListenerTag) != 0)
                    {
                        AcceptAll((int)(tag & 0xffff));
                    }
                    else
                    {
                        OnReadable((int)(uint)tag, (int)(tag >> 32));
                    }
                }
                catch (Exception e)
                {
                    LogUnexpected(_logger, e);
                }
            }
            ExpireDeadlines();
            _refusals.Report(Stopwatch.GetTimestamp());
            Volatile.Write(ref _held, _table.Count);
            Volatile.Write(ref _allocatedBytes, GC.GetAllocatedBytesForCurrentThread());
        }
    }

    private int NextTimeout()
    {
        long next = long.MaxValue;
        foreach (var queue in _deadlines)
        {
            if (queue.TryPeek(out _, out _, out long deadline))
            {
                next = Math.Min(next, deadline);
            }
        }
        if (_acceptPausedUntil != 0)
        {
            next = Math.Min(next, _acceptPausedUntil);
        }
        next = Math.Min(next, _refusals.NextReport);
        if (next == long.MaxValue)
        {
            return -1;
        }
        long ticks = next - Stopwatch.GetTimestamp();
        return ticks <= 0 ? 0 : (int)Math.Min(int.MaxValue, (ticks * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency);
    }

    private void AcceptAll(int listener)
    {
        var allow = _allow;
        for (int i = 0; i < AcceptBatch; i++)
        {
            *_peerLength = Native.SockaddrStorageSize;
            int fd = Native.accept4(_listeners[listener].Fd, (nint)_peer, (nint)_peerLength, Native.SOCK_NONBLOCK | Native.SOCK_CLOEXEC);
            if (fd < 0)
            {
                int errno = Native.Errno;
                if (errno is Native.EINTR or Native.ECONNABORTED)
                {
                    continue;
                }
                if (errno is Native.EMFILE or Native.ENFILE or Native.ENOBUFS or Native.ENOMEM)
                {
                    PauseAccepting(errno);
                }
                else if (errno != Native.EAGAIN)
                {
                    LogLoopError(_logger, "accept4", errno);
                }
                return;
            }
            var peer = PeerBytes();
            if (allow is not null && !allow.Allows(peer))
            {
                Refuse(fd, listener, peer);
                continue;
            }
            OnAccepted(fd, listener, PeerAddress.From(peer));
        }
    }

    /// <summary>The address bytes of the peer accept4 just returned: 4 for IPv4, 16 for IPv6, none for any other family.</summary>
    private ReadOnlySpan<byte> PeerBytes()
    {
        ushort family = *(ushort*)_peer;
        if (family == Native.AF_INET && *_peerLength >= 8)
        {
            return new ReadOnlySpan<byte>(_peer + 4, 4);
        }
        if (family == Native.AF_INET6 && *_peerLength >= 24)
        {
            return new ReadOnlySpan<byte>(_peer + 8, 16);
        }
        return default;
    }

    /// <summary>
    /// Closes a connection from outside the allow list unanswered and unread, with a reset: the client
    /// learns nothing but that it may not connect, and the kernel keeps no TIME_WAIT for it.
    /// </summary>
    private void Refuse(int fd, int listener, ReadOnlySpan<byte> peer)
    {
        if (!_listeners[listener].ResetsOnClose)
        {
            Native.ResetOnClose(fd);
        }
        _refusals.Add(peer, Stopwatch.GetTimestamp());
        Native.close(fd);
    }

    /// <summary>
    /// Out of descriptors or memory: the pending connection stays in the backlog and epoll would report
    /// it again at once, so the listeners leave this loop's epoll until the pause is over.
    /// </summary>
    private void PauseAccepting(int errno)
    {
        LogAcceptPaused(_logger, errno);
        foreach (var listener in _listeners)
        {
            Native.epoll_ctl(_epoll, Native.EPOLL_CTL_DEL, listener.Fd, null);
        }
        _acceptPausedUntil = Stopwatch.GetTimestamp() + PauseOnExhaustion;
    }

    private void AddListeners()
    {
        for (int i = 0; i < _listeners.Length; i++)
        {
            Check(Native.EpollAdd(_epoll, _listeners[i].Fd, Native.EPOLLIN | Native.EPOLLEXCLUSIVE, ListenerTag | (uint)i), "epoll_ctl");
        }
    }

    private void OnAccepted(int fd, int listener, in PeerAddress peer)
    {
        ref readonly var from = ref _listeners[listener];
        nint n = Native.recv(fd, _scratch, from.MaxRequestLength, 0);
        if (n > 0)
        {
            var received = new ReadOnlySpan<byte>(_scratch, (int)n);
            if (n == from.MaxRequestLength || from.Answers.IsComplete(received))
            {
                Reply(fd, listener, received, peer);
            }
            else
            {
                Wait(fd, listener, received, peer);
            }
        }
        else if (n == 0 || from.Wait == 0)
        {
            Reply(fd, listener, default, peer);
        }
        else if (Native.Errno == Native.EAGAIN)
        {
            Wait(fd, listener, default, peer);
        }
        else
        {
            Native.close(fd);
        }
    }

    /// <summary>
    /// Holds a connection until its request is complete. Only waiting takes a slot, so a check whose line
    /// came with its connection is answered whatever is held. With every slot taken, the connection that
    /// has waited longest is answered at once, as its deadline would have: connections held open by the
    /// thousand cannot keep a new check waiting, and each of them still gets an answer.
    /// </summary>
    private void Wait(int fd, int listener, ReadOnlySpan<byte> received, in PeerAddress peer)
    {
        if (_table.Count >= _maxConnections)
        {
            AnswerLongestWaiting();
        }
        int slot = _table.Add(fd, listener, received, peer);
        int generation = _table.Generation(slot);
        if (Native.EpollAdd(_epoll, fd, Native.EPOLLIN | Native.EPOLLRDHUP, ((ulong)(uint)generation << 32) | (uint)slot) != 0)
        {
            Release(slot);
            return;
        }
        ref readonly var from = ref _listeners[listener];
        _deadlines[from.Queue].Enqueue(slot, generation, Stopwatch.GetTimestamp() + from.Wait);
    }

    private void OnReadable(int slot, int generation)
    {
        if (!_table.IsHeld(slot, generation))
        {
            return;
        }
        ref readonly var from = ref _listeners[_table.Listener(slot)];
        byte* into = _table.FreeSpace(slot, from.MaxRequestLength, out int room);
        nint n = Native.recv(_table.Fd(slot), into, room, 0);
        if (n > 0)
        {
            _table.Advance(slot, (int)n);
            if (n == room || from.Answers.IsComplete(_table.Received(slot)))
            {
                ReplyAndRelease(slot);
            }
        }
        else if (n == 0)
        {
            ReplyAndRelease(slot);
        }
        else if (Native.Errno != Native.EAGAIN)
        {
            Release(slot);
        }
    }

    private void ExpireDeadlines()
    {
        if (_acceptPausedUntil != 0 && Stopwatch.GetTimestamp() >= _acceptPausedUntil)
        {
            _acceptPausedUntil = 0;
            AddListeners();
        }
        long now = Stopwatch.GetTimestamp();
        foreach (var queue in _deadlines)
        {
            while (queue.TryPeek(out int slot, out int generation, out long deadline))
            {
                bool held = _table.IsHeld(slot, generation);
                if (held && deadline > now)
                {
                    break;
                }
                queue.Dequeue();
                if (held)
                {
                    ReplyAndRelease(slot);
                }
            }
        }
    }

    private void AnswerLongestWaiting()
    {
        int oldest = -1;
        long oldestSince = long.MaxValue;
        for (int q = 0; q < _deadlines.Length; q++)
        {
            var queue = _deadlines[q];
            while (queue.TryPeek(out int slot, out int generation, out long deadline))
            {
                if (_table.IsHeld(slot, generation))
                {
                    if (deadline - _queueWaits[q] < oldestSince)
                    {
                        (oldest, oldestSince) = (q, deadline - _queueWaits[q]);
                    }
                    break;
                }
                queue.Dequeue();
            }
        }
        if (oldest >= 0 && _deadlines[oldest].TryPeek(out int held, out _, out _))
        {
            _deadlines[oldest].Dequeue();
            _evicted++;
            ReplyAndRelease(held);
        }
    }

    private void ReplyAndRelease(int slot)
    {
        int fd = _table.Fd(slot);
        int listener = _table.Listener(slot);
        var received = _table.Received(slot);
        var peer = _table.Peer(slot);
        _table.Free(slot);
        Reply(fd, listener, received, peer);
    }

    private void Release(int slot)
    {
        int fd = _table.Fd(slot);
        _table.Free(slot);
        Native.close(fd);
    }

    private void Reply(int fd, int listener, ReadOnlySpan<byte> received, in PeerAddress peer)
    {
        try
        {
            var answer = _listeners[listener].Answers.Answer(received, peer);
            fixed (byte* p = answer)
            {
                Native.send(fd, p, answer.Length, Native.MSG_NOSIGNAL | Native.MSG_DONTWAIT);
            }
            _answered++;
        }
        finally
        {
            Native.close(fd);
        }
    }

    private static int Check(int result, string call) =>
        result >= 0 ? result : throw new InvalidOperationException($"{call} failed: errno {Native.Errno}");

    public void Dispose()
    {
        Native.close(_epoll);
        Native.close(_wake);
        _table.Dispose();
        NativeMemory.Free(_events);
        NativeMemory.Free(_scratch);
        NativeMemory.Free(_peer);
        NativeMemory.Free(_peerLength);
    }

    /// <summary>A listener as the loop serves it: its wait in stopwatch ticks, the deadline queue of that wait, whether its connections end with a reset.</summary>
    private readonly record struct Listener(int Fd, IAnswerSource Answers, int MaxRequestLength, long Wait, int Queue, bool ResetsOnClose);

    [LoggerMessage(EventId = 100, Level = LogLevel.Error, Message = "agent listener: {Call} failed with errno {Errno}")]
    private static partial void LogLoopError(ILogger logger, string call, int errno);

    [LoggerMessage(EventId = 101, Level = LogLevel.Error, Message = "agent listener: out of descriptors or memory (errno {Errno}), accepting paused for 50 ms")]
    private static partial void LogAcceptPaused(ILogger logger, int errno);

    [LoggerMessage(EventId = 102, Level = LogLevel.Error, Message = "agent listener: unexpected error, connection closed")]
    private static partial void LogUnexpected(ILogger logger, Exception exception);
}
