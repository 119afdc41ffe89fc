using System.Globalization;

namespace PatroniAgent.LoadTest;

/// <summary>A plain-text table: the first column left-aligned, the others right-aligned.</summary>
internal sealed class Table(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public void Add(params string[] cells) => _rows.Add(cells);

    public void Print(TextWriter output)
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, _rows.Select(r => i < r.Length ? r[i].Length : 0).DefaultIfEmpty(0).Max())).ToArray();
        output.WriteLine(Format(headers, widths));
        output.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in _rows)
        {
            output.WriteLine(Format(row, widths));
        }
        output.WriteLine();
    }

    private static string Format(string[] cells, int[] widths) =>
        string.Join("  ", widths.Select((w, i) => i < cells.Length ? (i == 0 ? cells[i].PadRight(w) : cells[i].PadLeft(w)) : new string(' ', w))).TrimEnd();
}

/// <summary>How figures are printed.</summary>
internal static class Show
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Nanoseconds, printed as microseconds.</summary>
    public static string Nanos(double nanoseconds) => (nanoseconds / 1000).ToString(nanoseconds < 100_000 ? "0.0" : "N0", Invariant);

    /// <summary>Microseconds.</summary>
    public static string Micros(double? micros) => micros is { } v && double.IsFinite(v) ? v.ToString(v < 100 ? "0.00" : "N0", Invariant) : "-";

    public static string Count(double value) => value.ToString("N0", Invariant);

    public static string Ratio(double? ratio) => ratio is { } r && double.IsFinite(r) ? r.ToString("0.00", Invariant) + "x" : "-";

    public static string Megabytes(long? bytes) => bytes is { } b ? (b / 1048576.0).ToString("0.0", Invariant) : "-";

    public static string Fixed(double value, string format) => value.ToString(format, Invariant);
}
