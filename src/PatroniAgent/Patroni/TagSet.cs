using System.Text;

namespace PatroniAgent.Patroni;

/// <summary>
/// A member's tags as Patroni's health checks compare them with <c>tag_KEY=VALUE</c>: a string tag by
/// its text, any other by its JSON text in lower case (<c>true</c>, <c>1</c>). Kept as UTF-8 too, so
/// that a check is matched without allocating. Two sets with the same tags are equal.
/// </summary>
public sealed class TagSet : IEquatable<TagSet>
{
    public static readonly TagSet Empty = new([]);

    private readonly (string Key, string Value, byte[] KeyBytes, byte[] ValueBytes)[] _tags;

    public TagSet(IEnumerable<KeyValuePair<string, string>> tags)
    {
        _tags = [.. tags
            .OrderBy(t => t.Key, StringComparer.Ordinal)
            .Select(t => (t.Key, t.Value, Encoding.UTF8.GetBytes(t.Key), Encoding.UTF8.GetBytes(t.Value)))];
    }

    /// <summary>The tags, ordered by key.</summary>
    public IEnumerable<KeyValuePair<string, string>> All => _tags.Select(t => KeyValuePair.Create(t.Key, t.Value));

    /// <summary>Whether the tag <paramref name="key"/> is set to <paramref name="value"/>, both UTF-8.</summary>
    public bool Matches(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        foreach (var tag in _tags)
        {
            if (key.SequenceEqual(tag.KeyBytes))
            {
                return value.SequenceEqual(tag.ValueBytes);
            }
        }
        return false;
    }

    public bool Equals(TagSet? other) =>
        other is not null && other._tags.Length == _tags.Length
        && _tags.Zip(other._tags).All(p => p.First.Key == p.Second.Key && p.First.Value == p.Second.Value);

    public override bool Equals(object? obj) => Equals(obj as TagSet);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var tag in _tags)
        {
            hash.Add(tag.Key);
            hash.Add(tag.Value);
        }
        return hash.ToHashCode();
    }

    public override string ToString() => string.Join(", ", _tags.Select(t => $"{t.Key}={t.Value}"));
}
