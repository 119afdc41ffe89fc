using System.Runtime.InteropServices;

namespace PatroniAgent.Server.Internal;

/// <summary>
/// The connections of one event loop that are still waiting for their request: a slot each, with the
/// bytes received so far in unmanaged memory. Slots are reused; the table only grows.
/// A slot's generation changes when it is freed, so a late event for an old connection is recognised.
/// </summary>
internal sealed unsafe class ConnectionTable : IDisposable
{
    private int[] _fd;
    private int[] _listener;
    private int[] _length;
    private int[] _generation;
    private PeerAddress[] _peer;
    private int[] _free;
    private int _freeCount;
    private byte* _buffers;
    private readonly int _slotSize;

    /// <param name="initialCapacity">Slots to start with.</param>
    /// <param name="slotSize">Bytes held per connection: the longest request of any listener.</param>
    public ConnectionTable(int initialCapacity, int slotSize)
    {
        _slotSize = slotSize;
        _fd = new int[initialCapacity];
        _listener = new int[initialCapacity];
        _length = new int[initialCapacity];
        _generation = new int[initialCapacity];
        _peer = new PeerAddress[initialCapacity];
        _free = new int[initialCapacity];
        _buffers = (byte*)NativeMemory.Alloc((nuint)initialCapacity * (nuint)slotSize);
        Array.Fill(_fd, -1);
        for (int i = 0; i < initialCapacity; i++)
        {
            _free[i] = initialCapacity - 1 - i;
        }
        _freeCount = initialCapacity;
    }

    /// <summary>Connections held now.</summary>
    public int Count => _fd.Length - _freeCount;

    public int Fd(int slot) => _fd[slot];
    public int Listener(int slot) => _listener[slot];
    public int Generation(int slot) => _generation[slot];
    public PeerAddress Peer(int slot) => _peer[slot];
    public bool IsHeld(int slot, int generation) => _generation[slot] == generation && _fd[slot] >= 0;

    /// <summary>The bytes received so far.</summary>
    public ReadOnlySpan<byte> Received(int slot) => new(_buffers + (long)slot * _slotSize, _length[slot]);

    /// <summary>Where the next bytes of <paramref name="slot"/> go, and how many fit below <paramref name="limit"/> bytes in all.</summary>
    public byte* FreeSpace(int slot, int limit, out int room)
    {
        room = limit - _length[slot];
        return _buffers + (long)slot * _slotSize + _length[slot];
    }

    public void Advance(int slot, int count) => _length[slot] += count;

    public int Add(int fd, int listener, ReadOnlySpan<byte> received, in PeerAddress peer)
    {
        if (_freeCount == 0)
        {
            Grow();
        }
        int slot = _free[--_freeCount];
        _fd[slot] = fd;
        _listener[slot] = listener;
        _peer[slot] = peer;
        _length[slot] = received.Length;
        received.CopyTo(new Span<byte>(_buffers + (long)slot * _slotSize, _slotSize));
        return slot;
    }

    public void Free(int slot)
    {
        _fd[slot] = -1;
        _generation[slot]++;
        _free[_freeCount++] = slot;
    }

    /// <summary>The descriptors of every held connection, for shutdown.</summary>
    public IEnumerable<int> HeldDescriptors()
    {
        for (int slot = 0; slot < _fd.Length; slot++)
        {
            if (_fd[slot] >= 0)
            {
                yield return _fd[slot];
            }
        }
    }

    private void Grow()
    {
        int old = _fd.Length;
        int size = old * 2;
        Array.Resize(ref _fd, size);
        Array.Resize(ref _listener, size);
        Array.Resize(ref _length, size);
        Array.Resize(ref _generation, size);
        Array.Resize(ref _peer, size);
        Array.Resize(ref _free, size);
        _buffers = (byte*)NativeMemory.Realloc(_buffers, (nuint)size * (nuint)_slotSize);
        Array.Fill(_fd, -1, old, size - old);
        for (int i = size - 1; i >= old; i--)
        {
            _free[_freeCount++] = i;
        }
    }

    public void Dispose()
    {
        NativeMemory.Free(_buffers);
        _buffers = null;
    }
}
