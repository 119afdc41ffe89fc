using System.Globalization;
using System.Text.RegularExpressions;

namespace PatroniAgent.Tests.Support;

/// <summary>
/// Parses Prometheus text exposition format 0.0.4 back, strictly: every sample belongs to a family
/// declared by HELP and TYPE lines before it, names and labels follow the format's grammar, and a
/// family is declared once. A line it cannot read fails the test with that line.
/// </summary>
public sealed partial class PrometheusText
{
    private readonly Dictionary<string, string> _types = [];
    private readonly List<(string Name, Dictionary<string, string> Labels, double Value)> _samples = [];

    public static PrometheusText Parse(string text)
    {
        var parsed = new PrometheusText();
        string? family = null;
        Assert.EndsWith("\n", text);
        foreach (var line in text.TrimEnd('\n').Split('\n'))
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                family = line.Split(' ')[2];
                Assert.Matches(NameRegex(), family);
                Assert.False(parsed._types.ContainsKey(family), $"{family} declared twice");
                continue;
            }
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                Assert.Equal(4, parts.Length);
                Assert.Equal(family, parts[2]);
                Assert.Contains(parts[3], new[] { "counter", "gauge", "histogram", "summary", "untyped" });
                parsed._types[parts[2]] = parts[3];
                continue;
            }
            var match = SampleRegex().Match(line);
            Assert.True(match.Success, $"not a sample line: {line}");
            string name = match.Groups["name"].Value;
            Assert.NotNull(family);
            Assert.True(name == family || (parsed._types[family] == "histogram" && name is var n
                && (n == family + "_bucket" || n == family + "_sum" || n == family + "_count")), $"{name} outside its family {family}");
            var labels = new Dictionary<string, string>();
            foreach (Match label in LabelRegex().Matches(match.Groups["labels"].Value))
            {
                labels.Add(label.Groups["key"].Value, label.Groups["value"].Value);
            }
            string value = match.Groups["value"].Value;
            parsed._samples.Add((name, labels, value == "+Inf" ? double.PositiveInfinity : double.Parse(value, CultureInfo.InvariantCulture)));
        }
        return parsed;
    }

    /// <summary>The declared type of a family.</summary>
    public string TypeOf(string family) => _types[family];

    /// <summary>The families declared.</summary>
    public IReadOnlyCollection<string> Families => _types.Keys;

    /// <summary>The samples of <paramref name="name"/> whose labels include <paramref name="labels"/>.</summary>
    public IEnumerable<(Dictionary<string, string> Labels, double Value)> Samples(string name, params (string Key, string Value)[] labels) =>
        _samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value))
            .Select(s => (s.Labels, s.Value));

    /// <summary>The value of the one sample of <paramref name="name"/> with exactly these labels; 0 when there is none (a counter not yet moved).</summary>
    public double Value(string name, params (string Key, string Value)[] labels)
    {
        var found = _samples.Where(s => s.Name == name && s.Labels.Count == labels.Length
            && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value)).ToList();
        Assert.True(found.Count <= 1, $"{name} has {found.Count} samples with these labels");
        return found.Count == 0 ? 0 : found[0].Value;
    }

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex NameRegex();

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>[-+]?(\d+(\.\d+)?([eE][-+]?\d+)?|Inf|NaN))$""")]
    private static partial Regex SampleRegex();

    [GeneratedRegex("""(?<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?<value>(\\.|[^"\\])*)",?""")]
    private static partial Regex LabelRegex();
}
