using System.Net;
using System.Numerics;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Server;

namespace PatroniAgent.Answers;

/// <summary>
/// Who checks this agent: per source address (one HAProxy, or one host), when it first and last checked,
/// how many checks it made, the mode and answer kind of its last check, and which published answers it
/// has heard. A fixed table filled on the check path without allocating; when it is full, a new address
/// takes the place of the one that checked least recently. Every listener's event loops write to it, so
/// a short lock guards each update; readers copy it out under the same lock.
/// </summary>
public sealed class Checkers
{
    /// <summary>How many addresses are kept by default.</summary>
    public const int DefaultCapacity = 4096;

    /// <summary>A checker counts as seen recently when it checked within this time, as HAProxy checking every few seconds does.</summary>
    public static readonly TimeSpan RecentWindow = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly Entry[] _slots;
    private readonly int _mask;
    private readonly int _capacity;
    private int _count;

    public Checkers(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)capacity * 2);
        _slots = new Entry[size];
        _mask = size - 1;
    }

    /// <summary>The addresses in the table now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>
    /// Records one check from <paramref name="peer"/> (not when its address is unknown) at the timestamp
    /// <paramref name="now"/>, in <paramref name="mode"/> (a <see cref="Mode"/>, or <see cref="CheckCounters.NoMode"/>),
    /// answered with <paramref name="kind"/> from the published answers of <paramref name="generation"/>.
    /// </summary>
    public void Record(in PeerAddress peer, int mode, AnswerKind kind, long generation, long now)
    {
        if (!peer.IsKnown)
        {
            return;
        }
        ulong high = peer.High, low = peer.Low;
        lock (_lock)
        {
            int slot = Find(high, low);
            if (slot < 0)
            {
                if (_count == _capacity)
                {
                    Remove(Oldest());
                }
                slot = Insert(high, low, now);
            }
            ref var entry = ref _slots[slot];
            entry.Last = now;
            entry.Checks++;
            entry.Mode = mode;
            entry.Kind = kind;
            if (generation > entry.Generation)
            {
                entry.Generation = generation;
                entry.HeardSince = now;
            }
        }
    }

    /// <summary>Every address in the table, the most recent checker first.</summary>
    public List<Checker> Snapshot()
    {
        var list = new List<Checker>();
        lock (_lock)
        {
            foreach (ref readonly var entry in _slots.AsSpan())
            {
                if (entry.Used)
                {
                    list.Add(new Checker(new PeerAddress(entry.High, entry.Low).ToIPAddress(), entry.First, entry.Last, entry.Checks, entry.Mode, entry.Kind, entry.Generation, entry.HeardSince));
                }
            }
        }
        list.Sort((a, b) => b.LastCheck.CompareTo(a.LastCheck));
        return list;
    }

    /// <summary><see cref="RecentWindow"/> in the timestamp units of <paramref name="time"/>.</summary>
    public static long Window(TimeProvider time) => (long)(RecentWindow.TotalSeconds * time.TimestampFrequency);

    private int Find(ulong high, ulong low)
    {
        for (int slot = Home(high, low); _slots[slot].Used; slot = (slot + 1) & _mask)
        {
            if (_slots[slot].High == high && _slots[slot].Low == low)
            {
                return slot;
            }
        }
        return -1;
    }

    private int Insert(ulong high, ulong low, long now)
    {
        int slot = Home(high, low);
        while (_slots[slot].Used)
        {
            slot = (slot + 1) & _mask;
        }
        _slots[slot] = new Entry { Used = true, High = high, Low = low, First = now, Generation = -1 };
        _count++;
        return slot;
    }

    private int Oldest()
    {
        int oldest = -1;
        for (int slot = 0; slot < _slots.Length; slot++)
        {
            if (_slots[slot].Used && (oldest < 0 || _slots[slot].Last < _slots[oldest].Last))
            {
                oldest = slot;
            }
        }
        return oldest;
    }

    /// <summary>Empties <paramref name="slot"/> and moves back the entries after it that would no longer be found (linear probing).</summary>
    private void Remove(int slot)
    {
        _slots[slot] = default;
        _count--;
        for (int next = (slot + 1) & _mask; _slots[next].Used; next = (next + 1) & _mask)
        {
            int home = Home(_slots[next].High, _slots[next].Low);
            bool between = slot <= next ? slot < home && home <= next : slot < home || home <= next;
            if (!between)
            {
                _slots[slot] = _slots[next];
                _slots[next] = default;
                slot = next;
            }
        }
    }

    private int Home(ulong high, ulong low) => (int)((high * 0x9E3779B97F4A7C15UL ^ low * 0xC2B2AE3D27D4EB4FUL) >> 32) & _mask;

    private struct Entry
    {
        public bool Used;
        public ulong High;
        public ulong Low;
        public long First;
        public long Last;
        public long Checks;
        public int Mode;
        public AnswerKind Kind;
        public long Generation;
        public long HeardSince;
    }
}

/// <summary>
/// One checker as <see cref="Checkers.Snapshot"/> copies it: timestamps are the agent's
/// <see cref="TimeProvider"/> timestamps; <see cref="Mode"/> is a <see cref="AgentProtocol.Mode"/>, or
/// <see cref="CheckCounters.NoMode"/> for a request that could not be used.
/// </summary>
public sealed record Checker(
    IPAddress Address, long FirstCheck, long LastCheck, long Checks, int Mode, AnswerKind LastKind, long Generation, long HeardSince)
{
    /// <summary>The mode's name, or <c>none</c>.</summary>
    public string ModeName => Mode == CheckCounters.NoMode ? "none" : ModeNames.Name((Mode)Mode);
}
