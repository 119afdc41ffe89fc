using System.Text;

namespace PatroniAgent.LoadTest;

/// <summary>The distinct answer lines seen and how often. Counting a line seen before allocates nothing.</summary>
internal sealed class AnswerTally
{
    private const int MaxDistinct = 32;
    private readonly List<(byte[] Line, long Count)> _lines = [];

    /// <summary>Answers that did not fit in the table of distinct lines.</summary>
    public long Other { get; private set; }

    public IEnumerable<(string Line, long Count)> Lines =>
        _lines.Select(l => (Encoding.ASCII.GetString(l.Line), l.Count)).OrderByDescending(l => l.Count);

    public void Record(ReadOnlySpan<byte> line)
    {
        for (int i = 0; i < _lines.Count; i++)
        {
            if (line.SequenceEqual(_lines[i].Line))
            {
                _lines[i] = (_lines[i].Line, _lines[i].Count + 1);
                return;
            }
        }
        if (_lines.Count < MaxDistinct)
        {
            _lines.Add((line.ToArray(), 1));
        }
        else
        {
            Other++;
        }
    }

    public void Add(AnswerTally other)
    {
        foreach (var (line, count) in other._lines)
        {
            int i = _lines.FindIndex(l => l.Line.AsSpan().SequenceEqual(line));
            if (i >= 0)
            {
                _lines[i] = (_lines[i].Line, _lines[i].Count + count);
            }
            else
            {
                _lines.Add((line, count));
            }
        }
        Other += other.Other;
    }

    /// <summary>Answers other than <paramref name="expected"/> (a whole line, newline excluded).</summary>
    public long CountOtherThan(string expected) => Other + _lines.Where(l => Encoding.ASCII.GetString(l.Line) != expected).Sum(l => l.Count);
}

/// <summary>What went wrong with a check.</summary>
internal enum CheckError
{
    /// <summary>socket() or epoll_ctl() failed (out of descriptors or memory).</summary>
    Socket,
    /// <summary>The connection was refused or could not be made.</summary>
    Connect,
    /// <summary>The server reset the connection before a whole line came.</summary>
    Reset,
    /// <summary>The server closed without sending anything.</summary>
    ClosedWithoutAnswer,
    /// <summary>The server sent bytes without a line end, then closed: HAProxy ignores such a reply.</summary>
    IncompleteLine,
    /// <summary>No whole line within 255 bytes.</summary>
    LineTooLong,
    /// <summary>No whole line within the check timeout.</summary>
    Timeout,
    /// <summary>The generator had no free slot for an open-loop check that was due.</summary>
    GeneratorBehind,
}

/// <summary>Counts of failed checks by kind.</summary>
internal sealed class ErrorTally
{
    private readonly long[] _counts = new long[Enum.GetValues<CheckError>().Length];

    public long Total => _counts.Sum();

    public void Record(CheckError error) => _counts[(int)error]++;

    public void Add(ErrorTally other)
    {
        for (int i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }
    }

    public override string ToString() =>
        Total == 0 ? "none" : string.Join(", ", Enum.GetValues<CheckError>().Where(e => _counts[(int)e] > 0).Select(e => $"{e} {_counts[(int)e]}"));
}
