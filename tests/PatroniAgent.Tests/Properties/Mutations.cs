using System.Text;
using FsCheck;
using FsCheck.Fluent;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Properties;

/// <summary>Bytes to feed a parser, printed as escaped text so that a failure shows what was sent.</summary>
public sealed record Input(byte[] Bytes, string How)
{
    public override string ToString() => $"{How}: \"{AnswerReading.Escaped(Bytes)}\" ({Bytes.Length} bytes)";
}

/// <summary>
/// Fuzzing inputs: random bytes, and valid inputs mutated by bit flips, truncation, insertion, deletion,
/// duplication, huge numbers, deep nesting, NUL, control and non-ASCII bytes, one or more at a time.
/// </summary>
public static class Mutations
{
    /// <summary>Byte strings that parsers tend to trip over.</summary>
    private static readonly byte[][] Troublemakers =
    [
        [0], [0xff], [0xfe, 0xff], [0xc3, 0xa9], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xef, 0xbb, 0xbf],
        "\r"u8.ToArray(), "\n"u8.ToArray(), "\r\n"u8.ToArray(), "\n\n"u8.ToArray(), " "u8.ToArray(), "\t"u8.ToArray(), "="u8.ToArray(),
        "#"u8.ToArray(), "?"u8.ToArray(), "&"u8.ToArray(), "%00"u8.ToArray(), "\""u8.ToArray(), "\\"u8.ToArray(), "\\u0000"u8.ToArray(),
        "\\ud800"u8.ToArray(), "{"u8.ToArray(), "}"u8.ToArray(), "["u8.ToArray(), "]"u8.ToArray(), ","u8.ToArray(), ":"u8.ToArray(),
        "null"u8.ToArray(), "true"u8.ToArray(), "-"u8.ToArray(), "0"u8.ToArray(), "-1"u8.ToArray(), "1e400"u8.ToArray(), "1.5"u8.ToArray(),
        "9223372036854775807"u8.ToArray(), "9223372036854775808"u8.ToArray(), "99999999999999999999999999999999"u8.ToArray(),
        "8388607TB"u8.ToArray(), "8388608TB"u8.ToArray(), "primary"u8.ToArray(), "master"u8.ToArray(), "running"u8.ToArray(),
        "ready"u8.ToArray(), "max-lag="u8.ToArray(), "lag="u8.ToArray(), "HTTP/1.1"u8.ToArray(), "/primary"u8.ToArray(),
        "\"state\":\"running\""u8.ToArray(), "\"role\":\"primary\""u8.ToArray(),
    ];

    private static readonly Gen<byte[]> Inserted = Gen.Frequency(
        (3, Gen.Elements(Troublemakers)),
        (1, Gen.Choose(0, 255).Select(b => (byte)b).ArrayOf()),
        (1, from count in Gen.Choose(1, 300)
            from open in Gen.Elements("[", "{\"a\":")
            select Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(open, count)))));

    /// <summary>One mutation of <paramref name="input"/>, named for the failure report.</summary>
    private static Gen<(byte[] Bytes, string How)> MutateOnce(byte[] input)
    {
        var position = Gen.Choose(0, input.Length);
        var mutations = new List<Gen<(byte[], string)>>
        {
            from at in position
            from bytes in Inserted
            select (Insert(input, at, bytes), $"insert at {at}"),
            from at in position
            select (input[..at], $"truncate to {at}"),
            from at in Gen.Choose(0, 2 * input.Length)
            select ((byte[])[.. input, .. input[..Math.Min(at, input.Length)]], "duplicate the start at the end"),
            from depth in Gen.Choose(1, 2000)
            select (Nest(input, depth), $"nest {depth} deep"),
        };
        if (input.Length > 0)
        {
            var inside = Gen.Choose(0, input.Length - 1);
            mutations.Add(
                from at in inside
                from bit in Gen.Choose(0, 7)
                select (Flip(input, at, bit), $"flip bit {bit} of byte {at}"));
            mutations.Add(
                from at in inside
                from length in Gen.Choose(1, 16)
                select (Delete(input, at, length), $"delete {length} at {at}"));
            mutations.Add(
                from at in inside
                from length in Gen.Choose(1, 32)
                select (Insert(input, at, input[at..Math.Min(input.Length, at + length)]), $"duplicate {length} at {at}"));
            mutations.Add(
                from at in inside
                from b in Gen.Elements<byte>(0, 0x7f, 0x80, 0xff, (byte)'\n', (byte)'\r', (byte)' ', (byte)'"')
                select (Replace(input, at, b), $"set byte {at} to 0x{b:x2}"));
            mutations.Add(
                from number in Gen.Elements("9223372036854775807", "9223372036854775808", "99999999999999999999999", "-9223372036854775809", "1e400", "-0", "18446744073709551616")
                select (ReplaceNumbers(input, number), $"numbers become {number}"));
        }
        int[] quotes = [.. Enumerable.Range(0, input.Length).Where(i => input[i] == (byte)'"')];
        if (quotes.Length > 0)
        {
            mutations.Add(
                from quote in Gen.Elements(quotes)
                from bytes in Inserted
                select (Insert(input, quote + 1, bytes), $"insert after the quote at {quote}"));
        }
        return Gen.OneOf(mutations);
    }

    /// <summary>Up to four mutations of one of <paramref name="seeds"/> in a row, or random bytes.</summary>
    public static Arbitrary<Input> Of(byte[][] seeds) =>
        Gen.Frequency(
            (8, from seed in Gen.Elements(seeds)
                from count in Gen.Choose(1, 4)
                from mutated in Chain(seed, count, "")
                select new Input(mutated.Bytes, mutated.How.TrimStart(' ', ','))),
            (1, Gen.Elements(seeds).Select(seed => new Input(seed, "unchanged"))),
            (1, Gen.Choose(0, 255).Select(b => (byte)b).ArrayOf().Select(bytes => new Input(bytes, "random bytes"))))
        .ToArbitrary();

    private static Gen<(byte[] Bytes, string How)> Chain(byte[] input, int count, string how) =>
        count == 0
            ? Gen.Constant((input, how))
            : MutateOnce(input).SelectMany(next => Chain(next.Bytes, count - 1, $"{how}, {next.How}"));

    private static byte[] Insert(byte[] input, int at, byte[] bytes) => [.. input[..at], .. bytes, .. input[at..]];

    private static byte[] Delete(byte[] input, int at, int length) => [.. input[..at], .. input[Math.Min(input.Length, at + length)..]];

    private static byte[] Flip(byte[] input, int at, int bit)
    {
        var copy = (byte[])input.Clone();
        copy[at] ^= (byte)(1 << bit);
        return copy;
    }

    private static byte[] Replace(byte[] input, int at, byte b)
    {
        var copy = (byte[])input.Clone();
        copy[at] = b;
        return copy;
    }

    private static byte[] Nest(byte[] input, int depth) =>
        [.. Encoding.ASCII.GetBytes(new string('[', depth)), .. input, .. Encoding.ASCII.GetBytes(new string(']', depth))];

    private static byte[] ReplaceNumbers(byte[] input, string number) =>
        Encoding.Latin1.GetBytes(System.Text.RegularExpressions.Regex.Replace(Encoding.Latin1.GetString(input), "[0-9]+", number));
}
