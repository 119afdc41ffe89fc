using System.Text;
using System.Text.RegularExpressions;
using PatroniAgent.AgentProtocol;

namespace PatroniAgent.Tests.Support;

/// <summary>
/// Reads the agent's replies as HAProxy does: an agent line's words end at the first <c>#</c> and are
/// separated by space, tab or comma, case-insensitively; an HTTP reply's status is its status line.
/// </summary>
public static partial class AnswerReading
{
    /// <summary>The longest reply line: the longest words, <c> #</c>, the longest reason, the newline.</summary>
    public static readonly int MaxLineLength = "up ready 100%".Length + " #".Length + AnswerLine.MaxReasonLength + 1;

    /// <summary>Whether HAProxy would read the admin word <c>ready</c> in this reply line.</summary>
    public static bool IsReady(ReadOnlySpan<byte> line)
    {
        string text = Encoding.Latin1.GetString(line);
        int hash = text.IndexOf('#');
        var words = (hash < 0 ? text : text[..hash]).Split([' ', '\t', ',', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries);
        return words.Any(word => word.Equals("ready", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// Why <paramref name="line"/> is not one well-formed reply (null when it is): one line of printable
    /// ASCII ending in <c>\n</c>, the words of a decision or <paramref name="unknownWords"/>, a reason of at
    /// most <see cref="AnswerLine.MaxReasonLength"/> characters.
    /// </summary>
    public static string? LineProblem(ReadOnlySpan<byte> line, string unknownWords)
    {
        string text = Encoding.Latin1.GetString(line);
        var match = ReplyLine().Match(text);
        if (!match.Success)
        {
            return $"not a reply line: {Escaped(text)}";
        }
        string words = match.Groups["words"].Value;
        if (!DecisionWords().IsMatch(words) && words != unknownWords)
        {
            return $"unexpected words '{words}' in {Escaped(text)}";
        }
        if (match.Groups["reason"].Length > AnswerLine.MaxReasonLength || line.Length > Math.Max(MaxLineLength, unknownWords.Length + 3 + AnswerLine.MaxReasonLength))
        {
            return $"reply longer than allowed: {line.Length} bytes";
        }
        return null;
    }

    /// <summary>The status code of an HTTP reply, and its body (empty for a HEAD reply).</summary>
    public static (int Status, string Body) ReadHttp(ReadOnlySpan<byte> reply)
    {
        string text = Encoding.Latin1.GetString(reply);
        var match = HttpReply().Match(text);
        Assert.True(match.Success, $"not an HTTP reply: {Escaped(text)}");
        int length = int.Parse(match.Groups["length"].Value, System.Globalization.CultureInfo.InvariantCulture);
        string body = match.Groups["body"].Value;
        Assert.True(body.Length == 0 || body.Length == length, $"Content-Length {length} but a body of {body.Length} bytes");
        return (int.Parse(match.Groups["status"].Value, System.Globalization.CultureInfo.InvariantCulture), body);
    }

    /// <summary>Bytes as printable text for a failure message: control and non-ASCII bytes as <c>\xNN</c>.</summary>
    public static string Escaped(ReadOnlySpan<byte> bytes) => Escaped(Encoding.Latin1.GetString(bytes));

    private static string Escaped(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            builder.Append(c is >= ' ' and <= '~' and not '\\' ? c.ToString() : $"\\x{(int)c:x2}");
        }
        return builder.ToString();
    }

    [GeneratedRegex(@"\A(?<words>[a-z0-9% ]+?)(?: #(?<reason>[\x20-\x7e]*))?\n\z")]
    private static partial Regex ReplyLine();

    [GeneratedRegex(@"\AHTTP/1\.1 (?<status>[0-9]{3}) [A-Za-z ]+\r\n(?:[A-Za-z-]+: [^\r\n]*\r\n)*?Content-Length: (?<length>[0-9]+)\r\n(?:[A-Za-z-]+: [^\r\n]*\r\n)*\r\n(?<body>[\s\S]*)\z")]
    private static partial Regex HttpReply();

    /// <summary>The words of a decision: ready with a weight of 10% to 100% (below 100% only for a weighted check), drain, maint, down.</summary>
    [GeneratedRegex(@"\A(up ready (100|[1-9]0)%|up drain|up maint|down)\z")]
    private static partial Regex DecisionWords();
}
