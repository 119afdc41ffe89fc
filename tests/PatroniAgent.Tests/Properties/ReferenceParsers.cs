using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;
using PatroniAgent.AgentProtocol;
using PatroniAgent.HttpCheck;

namespace PatroniAgent.Tests.Properties;

/// <summary>
/// The agent-send and HTTP check grammars of docs/answers.md and docs/http-checks.md written a second
/// time, plainly (strings, regular expressions, big integers), as the oracle the allocation-free parsers
/// are fuzzed against.
/// </summary>
public static partial class ReferenceParsers
{
    private static readonly Dictionary<string, Mode> ModeWords = new()
    {
        ["primary"] = Mode.Primary, ["master"] = Mode.Primary, ["read-write"] = Mode.Primary, ["rw"] = Mode.Primary,
        ["replica"] = Mode.Replica, ["read-only"] = Mode.ReadOnly, ["ro"] = Mode.ReadOnly, ["sync"] = Mode.Sync,
        ["async"] = Mode.Async, ["standby-leader"] = Mode.StandbyLeader, ["leader"] = Mode.Leader, ["health"] = Mode.Health,
    };

    private static readonly Dictionary<string, Mode> Paths = new()
    {
        ["/"] = Mode.Primary, ["/primary"] = Mode.Primary, ["/master"] = Mode.Primary, ["/read-write"] = Mode.Primary, ["/replica"] = Mode.Replica,
        ["/read-only"] = Mode.ReadOnly, ["/read_only"] = Mode.ReadOnly, ["/sync"] = Mode.Sync, ["/synchronous"] = Mode.Sync,
        ["/async"] = Mode.Async, ["/asynchronous"] = Mode.Async, ["/standby-leader"] = Mode.StandbyLeader,
        ["/standby_leader"] = Mode.StandbyLeader, ["/leader"] = Mode.Leader, ["/health"] = Mode.Health,
    };

    private static readonly Dictionary<string, int> UnitShifts = new()
    {
        [""] = 0, ["b"] = 0, ["k"] = 10, ["kb"] = 10, ["m"] = 20, ["mb"] = 20, ["g"] = 30, ["gb"] = 30, ["t"] = 40, ["tb"] = 40,
    };

    /// <summary>The request an agent-send line makes: the line ends at the first CR or LF.</summary>
    public static AgentRequest AgentSend(byte[] received, Mode listenerMode)
    {
        int end = Array.FindIndex(received, b => b is (byte)'\n' or (byte)'\r');
        if (end < 0 && received.Length >= AgentSendParser.MaxLineLength)
        {
            return new AgentRequest(listenerMode, AgentRequest.NoMaxLag, AgentRequestError.LineTooLong);
        }
        var line = end < 0 ? received : received[..end];
        if (line.Any(b => b != '\t' && (b < 0x20 || b > 0x7e)))
        {
            return new AgentRequest(listenerMode, AgentRequest.NoMaxLag, AgentRequestError.InvalidCharacters);
        }
        var words = Encoding.ASCII.GetString(line).Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0)
        {
            return new AgentRequest(listenerMode, AgentRequest.NoMaxLag, AgentRequestError.None);
        }
        if (!ModeWords.TryGetValue(words[0].ToLowerInvariant(), out var mode))
        {
            return new AgentRequest(listenerMode, AgentRequest.NoMaxLag, AgentRequestError.UnknownMode);
        }
        long maxLag = AgentRequest.NoMaxLag;
        foreach (var word in words.Skip(1))
        {
            var parameter = Parameter().Match(word);
            if (!parameter.Success || parameter.Groups["key"].Value.ToLowerInvariant() is not ("max-lag" or "lag"))
            {
                return new AgentRequest(mode, AgentRequest.NoMaxLag, AgentRequestError.UnknownParameter);
            }
            if (Size(parameter.Groups["value"].Value) is not { } size)
            {
                return new AgentRequest(mode, AgentRequest.NoMaxLag, AgentRequestError.InvalidMaxLag);
            }
            maxLag = size;
        }
        return new AgentRequest(mode, maxLag, AgentRequestError.None);
    }

    /// <summary>The request an HTTP check makes: its request line, once the head has ended with an empty line.</summary>
    public static HttpCheckRequest Http(byte[] received)
    {
        string text = Encoding.Latin1.GetString(received);
        if (!text.Contains("\n\n", StringComparison.Ordinal) && !text.Contains("\n\r\n", StringComparison.Ordinal))
        {
            return Fail(HttpCheckMethod.Get, received.Length >= HttpCheckParser.MaxRequestLength ? HttpCheckError.TooLarge : HttpCheckError.Incomplete);
        }
        string line = text[..text.IndexOf('\n', StringComparison.Ordinal)];
        if (line.EndsWith('\r'))
        {
            line = line[..^1];
        }
        var request = RequestLine().Match(line);
        if (!request.Success)
        {
            return Fail(HttpCheckMethod.Get, HttpCheckError.Malformed);
        }
        HttpCheckMethod method;
        switch (request.Groups["method"].Value)
        {
            case "GET": method = HttpCheckMethod.Get; break;
            case "HEAD": method = HttpCheckMethod.Head; break;
            case "OPTIONS": method = HttpCheckMethod.Options; break;
            default: return Fail(HttpCheckMethod.Get, HttpCheckError.MethodNotAllowed);
        }
        string target = request.Groups["target"].Value;
        int question = target.IndexOf('?', StringComparison.Ordinal);
        if (!Paths.TryGetValue(question < 0 ? target : target[..question], out var mode))
        {
            return Fail(method, HttpCheckError.UnknownPath);
        }
        long maxLag = AgentRequest.NoMaxLag;
        foreach (var parameter in question < 0 ? [] : target[(question + 1)..].Split('&'))
        {
            int eq = parameter.IndexOf('=', StringComparison.Ordinal);
            if ((eq < 0 ? parameter : parameter[..eq]) is not ("lag" or "max-lag"))
            {
                continue;
            }
            if (eq < 0 || Size(parameter[(eq + 1)..]) is not { } size)
            {
                return Fail(method, HttpCheckError.InvalidLag);
            }
            maxLag = size;
        }
        return new HttpCheckRequest(method, mode, maxLag, HttpCheckError.None);
    }

    /// <summary>Digits and a unit of powers of 1024, case-insensitive; null when it is not one or does not fit a long.</summary>
    public static long? Size(string text)
    {
        var match = SizeText().Match(text);
        if (!match.Success)
        {
            return null;
        }
        var bytes = BigInteger.Parse(match.Groups["digits"].Value, System.Globalization.CultureInfo.InvariantCulture) << UnitShifts[match.Groups["unit"].Value.ToLowerInvariant()];
        return bytes <= long.MaxValue ? (long)bytes : null;
    }

    private static HttpCheckRequest Fail(HttpCheckMethod method, HttpCheckError error) => new(method, default, AgentRequest.NoMaxLag, error);

    [GeneratedRegex(@"\A(?<key>[^=]+)=(?<value>.*)\z", RegexOptions.Singleline)]
    private static partial Regex Parameter();

    [GeneratedRegex(@"\A(?<method>[!#$%&'*+\-.^_`|~0-9A-Za-z]+) (?<target>[\x21-\x7e]+) HTTP/1\.[01]\z")]
    private static partial Regex RequestLine();

    [GeneratedRegex(@"\A(?<digits>[0-9]+)(?<unit>[bB]|[kKmMgGtT][bB]?)?\z")]
    private static partial Regex SizeText();
}
