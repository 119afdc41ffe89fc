namespace PatroniAgent.Server.Internal;

/// <summary>
/// When each waiting connection stops waiting for its agent-send line. Every connection waits the same
/// time, so deadlines arrive in order and a ring buffer is a priority queue. Entries of connections
/// that were answered earlier stay until they come due and are then skipped by their generation.
/// </summary>
internal sealed class DeadlineQueue
{
    private Entry[] _entries;
    private int _head;
    private int _count;

    public DeadlineQueue(int initialCapacity) => _entries = new Entry[initialCapacity];

    public int Count => _count;

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

    /// <summary>The earliest deadline, if any.</summary>
    public bool TryPeek(out long deadline)
    {
        deadline = _count > 0 ? _entries[_head].Deadline : 0;
        return _count > 0;
    }

    /// <summary>Takes the earliest entry if it is due at <paramref name="now"/>.</summary>
    public bool TryDequeueDue(long now, out int slot, out int generation)
    {
        if (_count == 0 || _entries[_head].Deadline > now)
        {
            slot = generation = 0;
            return false;
        }
        var entry = _entries[_head];
        _head = (_head + 1) % _entries.Length;
        _count--;
        slot = entry.Slot;
        generation = entry.Generation;
        return true;
    }

    private readonly record struct Entry(int Slot, int Generation, long Deadline);
}
