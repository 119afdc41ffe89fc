using System.Diagnostics;
using System.Runtime.InteropServices;

namespace PatroniAgent.LoadTest;

/// <summary>How a generator starts checks.</summary>
/// <param name="Clients">Closed loop: this many connections, each starting its next check as soon as the last one ended. 0 for open loop.</param>
/// <param name="Rate">Open loop: checks started per second on a fixed schedule, whatever the answers' pace. 0 for closed loop.</param>
/// <param name="Send">The agent-send line sent right after connecting (with its line end); empty to send nothing.</param>
/// <param name="Reset">Close with RST (SO_LINGER 0) as HAProxy does; otherwise a normal close.</param>
/// <param name="Timeout">A check without a whole line after this long fails.</param>
internal sealed record LoadShape(int Clients, double Rate, byte[] Send, bool Reset, TimeSpan Timeout)
{
    public bool ClosedLoop => Clients > 0;

    public string Describe() => (ClosedLoop ? $"closed loop, {Clients} clients" : $"open loop, {Rate:N0} checks/s")
        + $", agent-send {Quote(Send)}" + (Reset ? ", reset" : ", close");

    private static string Quote(byte[] send) => send.Length == 0 ? "none" : "\"" + System.Text.Encoding.ASCII.GetString(send).Replace("\n", "\\n").Replace("\r", "\\r") + "\"";
}

/// <summary>
/// One thread doing what HAProxy does for an agent check, on many connections at once: a non-blocking
/// connect, the agent-send line, read until a line end, close. Raw system calls and one epoll instance;
/// after its first answers nothing on this thread allocates, so it can share a process with the server it
/// measures. Latency runs from the check's connect to its whole line, as HAProxy times a check; in open
/// loop it is also kept from the check's scheduled time, which adds this thread's own delays.
/// </summary>
internal sealed unsafe class CheckGenerator : IDisposable
{
    private const int BufferSize = 256;
    private const int MaxEvents = 256;
    private const ulong TimerTag = ulong.MaxValue;

    private readonly Loopback _target;
    private readonly LoadShape _shape;
    private readonly int _slots;
    private readonly int[] _fd;
    private readonly long[] _startedAt;
    private readonly long[] _scheduledAt;
    private readonly int[] _received;
    private readonly bool[] _sent;
    private readonly int[] _free;
    private readonly byte* _buffers;
    private readonly byte* _send;
    private readonly byte* _events;
    private readonly int _epoll;
    private readonly long _timeoutTicks;
    private readonly long _periodTicks;
    private int _freeCount;
    private int _inFlight;
    private long _nextDue;
    private long _recordFrom = long.MaxValue;
    private long _stopAt = long.MaxValue;
    private long _completed;

    public CheckGenerator(Loopback target, LoadShape shape, double rateShare)
    {
        _target = target;
        _shape = shape;
        _slots = shape.ClosedLoop ? shape.Clients : (int)Math.Clamp(rateShare * shape.Timeout.TotalSeconds + 64, 64, 8192);
        _fd = new int[_slots];
        _startedAt = new long[_slots];
        _scheduledAt = new long[_slots];
        _received = new int[_slots];
        _sent = new bool[_slots];
        _free = new int[_slots];
        _buffers = (byte*)NativeMemory.Alloc((nuint)(_slots * BufferSize));
        _send = (byte*)NativeMemory.Alloc((nuint)Math.Max(1, shape.Send.Length));
        shape.Send.CopyTo(new Span<byte>(_send, shape.Send.Length));
        _events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * Native.EpollEventSize));
        _epoll = Native.epoll_create1(Native.EPOLL_CLOEXEC);
        _timeoutTicks = (long)(shape.Timeout.TotalSeconds * Stopwatch.Frequency);
        _periodTicks = shape.ClosedLoop ? 0 : (long)(Stopwatch.Frequency / rateShare);
        for (int i = 0; i < _slots; i++)
        {
            _fd[i] = -1;
            _free[_freeCount++] = i;
        }
        Latency = new LatencyHistogram();
        FromSchedule = new LatencyHistogram();
        Lateness = new LatencyHistogram();
        Answers = new AnswerTally();
        Errors = new ErrorTally();
    }

    /// <summary>Latencies, from connect to line, of the checks started since <see cref="RecordFrom"/>.</summary>
    public LatencyHistogram Latency { get; }

    /// <summary>Open loop: latencies from each check's scheduled time to its line.</summary>
    public LatencyHistogram FromSchedule { get; }

    /// <summary>Open loop: how late each measured check started after its scheduled time (this thread's own delay).</summary>
    public LatencyHistogram Lateness { get; }

    /// <summary>Answers of the checks started since <see cref="RecordFrom"/>.</summary>
    public AnswerTally Answers { get; }

    /// <summary>Failed checks, warm-up included.</summary>
    public ErrorTally Errors { get; }

    /// <summary>Checks with a whole line, started since <see cref="RecordFrom"/>.</summary>
    public long Completed => Volatile.Read(ref _completed);

    /// <summary>Checks started at or after <paramref name="timestamp"/> are measured; earlier ones are warm-up.</summary>
    public void RecordFrom(long timestamp) => Volatile.Write(ref _recordFrom, timestamp);

    /// <summary>No check starts at or after <paramref name="timestamp"/>; the thread ends once the last one has.</summary>
    public void StopAt(long timestamp) => Volatile.Write(ref _stopAt, Math.Min(Volatile.Read(ref _stopAt), timestamp));

    /// <summary>Runs until <see cref="StopAt"/> has passed and no check is in flight (or the in-flight ones time out).</summary>
    public void Run()
    {
        int timer = -1;
        if (!_shape.ClosedLoop)
        {
            timer = StartTimer();
        }
        long lastSweep = Stopwatch.GetTimestamp();
        try
        {
            while (true)
            {
                long now = Stopwatch.GetTimestamp();
                long stopAt = Volatile.Read(ref _stopAt);
                if (_shape.ClosedLoop && now < stopAt)
                {
                    for (int starting = _freeCount; starting > 0; starting--)
                    {
                        Start(_free[--_freeCount], 0);
                    }
                }
                if (now >= stopAt && _inFlight == 0)
                {
                    break;
                }
                if (now - lastSweep > Stopwatch.Frequency / 50)
                {
                    ExpireTimeouts(now);
                    lastSweep = now;
                }
                // In closed loop a slot is still free here only when its check failed at once: retry it after 1 ms.
                int n = Native.epoll_wait(_epoll, _events, MaxEvents, _shape.ClosedLoop && _freeCount > 0 && now < stopAt ? 1 : 10);
                for (int i = 0; i < n; i++)
                {
                    byte* ev = _events + (long)i * Native.EpollEventSize;
                    ulong tag = *(ulong*)(ev + Native.EpollDataOffset);
                    if (tag == TimerTag)
                    {
                        OnTimer(timer);
                    }
                    else
                    {
                        OnEvent((int)tag, *(uint*)ev);
                    }
                }
            }
        }
        finally
        {
            if (timer >= 0)
            {
                Native.close(timer);
            }
        }
    }

    private int StartTimer()
    {
        // An absolute timer on the schedule's own times (Stopwatch reads CLOCK_MONOTONIC on Linux) never wakes
        // before a check is due. A relative one, started a moment before the schedule, could wake just short
        // of a due time and leave that check to the next expiry, a whole period late.
        int timer = Native.timerfd_create(Native.CLOCK_MONOTONIC, Native.TFD_NONBLOCK | Native.TFD_CLOEXEC);
        _nextDue = Stopwatch.GetTimestamp() + _periodTicks;
        long period = Nanoseconds(_periodTicks);
        long first = (long)((Int128)_nextDue * 1_000_000_000 / Stopwatch.Frequency);
        long* spec = stackalloc long[4];
        spec[0] = period / 1_000_000_000;
        spec[1] = period % 1_000_000_000;
        spec[2] = first / 1_000_000_000;
        spec[3] = first % 1_000_000_000;
        Native.timerfd_settime(timer, Native.TFD_TIMER_ABSTIME, spec, null);
        Native.EpollAdd(_epoll, timer, Native.EPOLLIN, TimerTag);
        return timer;
    }

    private void OnTimer(int timer)
    {
        ulong expirations;
        Native.read(timer, (byte*)&expirations, sizeof(ulong));
        long now = Stopwatch.GetTimestamp();
        long stopAt = Volatile.Read(ref _stopAt);
        while (_nextDue <= now && _nextDue < stopAt)
        {
            if (_freeCount == 0)
            {
                Errors.Record(CheckError.GeneratorBehind);
            }
            else
            {
                Start(_free[--_freeCount], _nextDue);
            }
            _nextDue += _periodTicks;
        }
    }

    /// <summary>Starts a check in <paramref name="slot"/>; <paramref name="scheduledAt"/> is its time in the open-loop schedule, else 0.</summary>
    private void Start(int slot, long scheduledAt)
    {
        long now = Stopwatch.GetTimestamp();
        _startedAt[slot] = now;
        _scheduledAt[slot] = scheduledAt == 0 ? now : scheduledAt;
        if (scheduledAt != 0 && scheduledAt >= Volatile.Read(ref _recordFrom))
        {
            Lateness.Record(Nanoseconds(now - scheduledAt));
        }
        _received[slot] = 0;
        _sent[slot] = false;
        int fd = Native.socket(_target.Family, Native.SOCK_STREAM | Native.SOCK_NONBLOCK | Native.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            Fail(slot, CheckError.Socket);
            return;
        }
        _fd[slot] = fd;
        _inFlight++;
        if (_shape.Reset)
        {
            Native.LingerZero(fd);
        }
        if (Native.connect(fd, _target.Address, _target.Length) != 0 && Native.Errno != Native.EINPROGRESS)
        {
            Fail(slot, CheckError.Connect);
            return;
        }
        if (Native.EpollAdd(_epoll, fd, Native.EPOLLIN | Native.EPOLLOUT | Native.EPOLLRDHUP | Native.EPOLLET, (ulong)slot) != 0)
        {
            Fail(slot, CheckError.Socket);
        }
    }

    private void OnEvent(int slot, uint events)
    {
        int fd = _fd[slot];
        if (fd < 0)
        {
            return;
        }
        if (!_sent[slot])
        {
            // A reset may follow an answer already received (a server that closes without reading): read it first.
            if ((events & Native.EPOLLERR) != 0 && Native.SocketError(fd) is not (0 or Native.ECONNRESET))
            {
                Fail(slot, CheckError.Connect);
                return;
            }
            _sent[slot] = true;
            if (_shape.Send.Length > 0)
            {
                Native.send(fd, _send, _shape.Send.Length, Native.MSG_NOSIGNAL | Native.MSG_DONTWAIT);
            }
        }
        if ((events & (Native.EPOLLIN | Native.EPOLLRDHUP | Native.EPOLLHUP | Native.EPOLLERR)) != 0)
        {
            Read(slot, fd);
        }
    }

    private void Read(int slot, int fd)
    {
        byte* buffer = _buffers + (long)slot * BufferSize;
        while (true)
        {
            int have = _received[slot];
            nint n = Native.recv(fd, buffer + have, BufferSize - have, 0);
            if (n > 0)
            {
                var line = new ReadOnlySpan<byte>(buffer + have, (int)n);
                int end = line.IndexOfAny((byte)'\n', (byte)'\r');
                _received[slot] = have + (int)n;
                if (end >= 0)
                {
                    Complete(slot, new ReadOnlySpan<byte>(buffer, have + end));
                    return;
                }
                if (_received[slot] == BufferSize)
                {
                    Fail(slot, CheckError.LineTooLong);
                    return;
                }
                continue;
            }
            if (n == 0)
            {
                Fail(slot, have == 0 ? CheckError.ClosedWithoutAnswer : CheckError.IncompleteLine);
                return;
            }
            int errno = Native.Errno;
            if (errno == Native.EAGAIN)
            {
                return;
            }
            if (errno != Native.EINTR)
            {
                Fail(slot, errno == Native.ECONNRESET ? CheckError.Reset : CheckError.Connect);
                return;
            }
        }
    }

    private void Complete(int slot, ReadOnlySpan<byte> line)
    {
        long now = Stopwatch.GetTimestamp();
        if (_scheduledAt[slot] >= Volatile.Read(ref _recordFrom))
        {
            Latency.Record(Nanoseconds(now - _startedAt[slot]));
            if (!_shape.ClosedLoop)
            {
                FromSchedule.Record(Nanoseconds(now - _scheduledAt[slot]));
            }
            Answers.Record(line);
            Volatile.Write(ref _completed, _completed + 1);
        }
        Close(slot);
    }

    private static long Nanoseconds(long ticks) => ticks * 1_000_000_000 / Stopwatch.Frequency;

    private void Fail(int slot, CheckError error)
    {
        Errors.Record(error);
        Close(slot);
    }

    private void Close(int slot)
    {
        if (_fd[slot] >= 0)
        {
            Native.close(_fd[slot]);
            _fd[slot] = -1;
            _inFlight--;
        }
        _free[_freeCount++] = slot;
    }

    private void ExpireTimeouts(long now)
    {
        for (int slot = 0; slot < _slots; slot++)
        {
            if (_fd[slot] >= 0 && now - _startedAt[slot] > _timeoutTicks)
            {
                Fail(slot, CheckError.Timeout);
            }
        }
    }

    public void Dispose()
    {
        for (int slot = 0; slot < _slots; slot++)
        {
            if (_fd[slot] >= 0)
            {
                Native.close(_fd[slot]);
            }
        }
        Native.close(_epoll);
        NativeMemory.Free(_buffers);
        NativeMemory.Free(_send);
        NativeMemory.Free(_events);
    }
}
