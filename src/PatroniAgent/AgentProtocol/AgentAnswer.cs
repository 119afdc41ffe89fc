using System.Text;

namespace PatroniAgent.AgentProtocol;

/// <summary>HAProxy's health words: the server's operational state.</summary>
public enum Health { Up, Down }

/// <summary>HAProxy's admin words: whether the server takes traffic.</summary>
public enum Admin { Ready, Maint, Drain }

/// <summary>
/// One reply to an agent check: a health word, an optional admin word and weight, and a description.
/// HAProxy keeps the words a reply leaves out, so a reply always carries the health word and, when
/// the server may take traffic, the admin word and weight too.
/// </summary>
public readonly record struct AgentAnswer(Health Health, Admin? Admin, int? WeightPercent, string Reason)
{
    public bool IsReady => Health == Health.Up && Admin == AgentProtocol.Admin.Ready;

    public static AgentAnswer Ready(string reason) => new(Health.Up, AgentProtocol.Admin.Ready, 100, reason);
    public static AgentAnswer Maint(string reason) => new(Health.Up, AgentProtocol.Admin.Maint, null, reason);
    public static AgentAnswer Down(string reason) => new(Health.Down, null, null, reason);
    public static AgentAnswer Drain(string reason) => new(Health.Up, AgentProtocol.Admin.Drain, null, reason);

    /// <summary>The words before the description, e.g. <c>up ready 100%</c>.</summary>
    public string Words
    {
        get
        {
            var words = Health == Health.Up ? "up" : "down";
            if (Admin is { } admin)
            {
                words += admin switch { AgentProtocol.Admin.Ready => " ready", AgentProtocol.Admin.Maint => " maint", _ => " drain" };
            }
            if (WeightPercent is { } weight)
            {
                words += $" {weight}%";
            }
            return words;
        }
    }

    /// <summary>The complete reply line as sent to HAProxy.</summary>
    public byte[] Encode() => AnswerLine.Encode(Words, Reason);

    public override string ToString() => AnswerLine.Format(Words, Reason);
}

/// <summary>Builds the bytes of a reply line: words, then the reason after <c>#</c>, then a newline.</summary>
public static class AnswerLine
{
    /// <summary>Longest reason kept in a reply; HAProxy shows it in its stats and logs.</summary>
    public const int MaxReasonLength = 200;

    public static string Format(string words, string reason) =>
        reason.Length == 0 ? words : $"{words} #{Sanitize(reason)}";

    public static byte[] Encode(string words, string reason) => Encoding.ASCII.GetBytes(Format(words, reason) + "\n");

    /// <summary>An encoded reply line as text, without its newline, for people to read.</summary>
    public static string Text(ReadOnlySpan<byte> line) => Encoding.ASCII.GetString(line).TrimEnd('\n');

    /// <summary>
    /// Keeps a reason on one line of printable ASCII: text from Patroni or an operator must not end the
    /// line early or smuggle words into the reply.
    /// </summary>
    public static string Sanitize(string reason)
    {
        var text = reason.Length > MaxReasonLength ? reason[..MaxReasonLength] : reason;
        return string.Create(text.Length, text, static (span, source) =>
        {
            for (int i = 0; i < source.Length; i++)
            {
                char c = source[i];
                span[i] = c is >= ' ' and <= '~' ? c : '?';
            }
        });
    }
}
