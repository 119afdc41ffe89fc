namespace PatroniAgent.Server.Internal;

/// <summary>
/// When each waiting connection stops waiting for its request. Every connection of one queue waits the
/// same time, so deadlines arrive in order and a ring buffer is a priority queue. Entries of connections
/// that were answered earlier stay until they reach the head, where the event loop drops them.
/// </summary>
internal sealed class DeadlineQueue
{
    private Entry[] _entries;
    private int _head;
    private int _count;

    public DeadlineQueue(int initialCapacity) => _entries = new Entry[initialCapacity];

    public void Enqueue(int slot, int generation, long deadline)
    {
        if (_count == _entries.Length)
        {
            var larger = new Entry[_entries.Length * 2];
            for (int i = 0; i < _count; i++)
            {
                larger[i] = _entries[(_head + i) % _entries.Length];
            }
            _entries = larger;
            _head = 0;
        }
        _entries[(_head + _count) % _entries.Length] = new Entry(slot, generation, deadline);
        _count++;
    }

    /// <summary>The earliest entry, if any.</summary>
    public bool TryPeek(out int slot, out int generation, out long deadline)
    {
        var entry = _count > 0 ? _entries[_head] : default;
        (slot, generation, deadline) = (entry.Slot, entry.Generation, entry.Deadline);
        return _count > 0;
    }

    /// <summary>Removes the earliest entry.</summary>
    public void Dequeue()
    {
        _head = (_head + 1) % _entries.Length;
        _count--;
    }

    private readonly record struct Entry(int Slot, int Generation, long Deadline);
}
