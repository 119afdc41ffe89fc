using System.Diagnostics.CodeAnalysis;
using PatroniAgent.AgentProtocol;

namespace PatroniAgent.Policy;

/// <summary>
/// An operator's override, set with <c>patroni-agent drain</c> or <c>maint</c>: every answer that would
/// be <c>ready</c> carries the admin word <paramref name="Admin"/> and the operator's reason instead.
/// </summary>
/// <param name="Admin"><see cref="Admin.Drain"/> or <see cref="Admin.Maint"/>.</param>
/// <param name="Reason">Printable ASCII without <c>#</c>, at most <see cref="MaxReasonLength"/> characters; may be empty.</param>
public sealed record OperatorOverride(Admin Admin, string Reason)
{
    /// <summary>Longest reason accepted: with the prefix it stays well inside a reply line.</summary>
    public const int MaxReasonLength = 120;

    /// <summary>The word that sets it on the command line, in the state file and on the control channel.</summary>
    public string Word => Admin == Admin.Drain ? "drain" : "maint";

    /// <summary>The reason as HAProxy shows it, e.g. <c>operator: disk replacement</c>.</summary>
    public string AnswerReason => Reason.Length == 0 ? $"operator: {Word}" : $"operator: {Reason}";

    /// <summary>The override as one line of text: the word, then the reason after a space.</summary>
    public override string ToString() => Reason.Length == 0 ? Word : $"{Word} {Reason}";

    /// <summary>
    /// Applies the override to <paramref name="answer"/>. Only a <c>ready</c> answer changes: <c>down</c>
    /// stays <c>down</c> and <c>maint</c> stays <c>maint</c> with its own reason, so an override never
    /// lets a node take traffic it would not take without it.
    /// </summary>
    public static AgentAnswer Apply(AgentAnswer answer, OperatorOverride? applied) =>
        applied is null || !answer.IsReady ? answer : new AgentAnswer(Health.Up, applied.Admin, null, applied.AnswerReason);

    /// <summary>Reads <c>drain [REASON]</c> or <c>maint [REASON]</c>; null with <paramref name="error"/> otherwise.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out OperatorOverride? parsed, [NotNullWhen(false)] out string? error)
    {
        int space = text.IndexOf(' ');
        string word = space < 0 ? text : text[..space];
        string reason = space < 0 ? "" : text[(space + 1)..];
        parsed = null;
        Admin? admin = word switch { "drain" => Admin.Drain, "maint" => Admin.Maint, _ => null };
        if (admin is null)
        {
            error = $"expected drain or maint, got \"{AnswerLine.Sanitize(word)}\"";
            return false;
        }
        error = CheckReason(reason);
        if (error is not null)
        {
            return false;
        }
        parsed = new OperatorOverride(admin.Value, reason);
        return true;
    }

    /// <summary>Why <paramref name="reason"/> cannot be used; null when it can.</summary>
    public static string? CheckReason(string reason)
    {
        if (reason.Length > MaxReasonLength)
        {
            return $"the reason is {reason.Length} characters long, at most {MaxReasonLength} are allowed";
        }
        foreach (char c in reason)
        {
            if (c == '#')
            {
                return "the reason must not contain #: HAProxy would read the text after it as a second reason";
            }
            if (c is < ' ' or > '~')
            {
                return "the reason must be printable ASCII text, without control characters or line breaks";
            }
        }
        return null;
    }
}
