using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;
using PatroniAgent.AgentProtocol;
using PatroniAgent.HttpCheck;
using PatroniAgent.Patroni;

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
        ["replica"] = Mode.Replica, ["read-only"] = Mode.ReadOnly, ["ro"] = Mode.ReadOnly, ["sync"] = Mode.Sync, ["synchronous"] = Mode.Sync,
        ["async"] = Mode.Async, ["asynchronous"] = Mode.Async, ["standby-leader"] = Mode.StandbyLeader, ["standby_leader"] = Mode.StandbyLeader,
        ["leader"] = Mode.Leader, ["health"] = Mode.Health, ["read-only-sync"] = Mode.ReadOnlySync, ["read-only-synchronous"] = Mode.ReadOnlySync,
        ["quorum"] = Mode.Quorum, ["read-only-quorum"] = Mode.ReadOnlyQuorum, ["liveness"] = Mode.Liveness, ["readiness"] = Mode.Readiness,
    };

    /// <summary>Patroni's routing of a health-check path (patroni/api.py, do_GET and parse_request); null for no check.</summary>
    private static Mode? Route(string path)
    {
        string first = path.TrimStart('/').Split('/')[0];
        if (path == "/") return Mode.Primary;
        if (first == "liveness") return Mode.Liveness;
        if (first == "readiness") return Mode.Readiness;
        if (path.Contains("standby_leader") || path.Contains("standby-leader")) return Mode.StandbyLeader;
        if (path.Contains("leader")) return Mode.Leader;
        if (path.Contains("master") || path.Contains("primary") || path.Contains("read-write")) return Mode.Primary;
        if (path.Contains("replica")) return Mode.Replica;
        if (path.Contains("read-only") && !path.Contains("sync") && !path.Contains("quorum")) return Mode.ReadOnly;
        if (path.Contains("health")) return Mode.Health;
        return path switch
        {
            "/sync" or "/synchronous" => Mode.Sync,
            "/quorum" => Mode.Quorum,
            "/async" or "/asynchronous" => Mode.Async,
            "/read-only-quorum" => Mode.ReadOnlyQuorum,
            "/read-only-sync" or "/read-only-synchronous" => Mode.ReadOnlySync,
            _ => null,
        };
    }

    private static bool IsFilter(string key) => key == "replication_state" || key.StartsWith("tag_", StringComparison.Ordinal);

    private static readonly char[] PythonWhitespace = ['\t', '\n', '\v', '\f', '\r', '\x1c', '\x1d', '\x1e', '\x1f', ' '];

    private static readonly Dictionary<string, string> UnitNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["B"] = "B", ["k"] = "kB", ["kB"] = "kB", ["M"] = "MB", ["MB"] = "MB", ["G"] = "GB", ["GB"] = "GB", ["T"] = "TB", ["TB"] = "TB",
    };

    private static readonly Dictionary<string, double> BytesPerUnit = new()
    {
        ["B"] = 1, ["kB"] = 1024, ["MB"] = 1024 * 1024, ["GB"] = 1024 * 1024 * 1024, ["TB"] = 1024.0 * 1024 * 1024 * 1024,
    };

    private static readonly Dictionary<string, string> RoundOrder = new() { ["TB"] = "GB", ["GB"] = "MB", ["MB"] = "kB", ["kB"] = "B" };

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
        bool byReceived = false, weighted = false;
        long returnLag = AgentRequest.NoMaxLag, hold = AgentRequest.NoMaxLag;
        Range filters = default;
        foreach (Match word in Word().Matches(Encoding.ASCII.GetString(line)).Skip(1))
        {
            var parameter = Parameter().Match(word.Value);
            string key = parameter.Groups["key"].Value;
            if (parameter.Success && IsFilter(key))
            {
                filters = (filters.Equals(default) ? word.Index : filters.Start.Value)..(word.Index + word.Length);
            }
            else if (parameter.Success && key.Equals("mode", StringComparison.OrdinalIgnoreCase))
            {
                byReceived = UnquotePlus(parameter.Groups["value"].Value) == "write";
            }
            else if (parameter.Success && key.ToLowerInvariant() is "return-lag" or "hold" or "weighted")
            {
                string value = parameter.Groups["value"].Value;
                bool read = key.ToLowerInvariant() switch
                {
                    "return-lag" => Size(value) is { } size && (returnLag = size) >= 0,
                    "hold" => Milliseconds(value) is { } ms && (hold = ms) >= 0,
                    _ => value.ToLowerInvariant() is "yes" or "true" or "on" or "1" or "no" or "false" or "off" or "0",
                };
                if (!read)
                {
                    return new AgentRequest(mode, AgentRequest.NoMaxLag, AgentRequestError.InvalidValue);
                }
                weighted = key.Equals("weighted", StringComparison.OrdinalIgnoreCase) ? value.ToLowerInvariant() is "yes" or "true" or "on" or "1" : weighted;
            }
            else if (!parameter.Success || key.ToLowerInvariant() is not ("max-lag" or "lag"))
            {
                return new AgentRequest(mode, AgentRequest.NoMaxLag, AgentRequestError.UnknownParameter);
            }
            else if (Size(parameter.Groups["value"].Value) is not { } size)
            {
                return new AgentRequest(mode, AgentRequest.NoMaxLag, AgentRequestError.InvalidMaxLag);
            }
            else
            {
                maxLag = size;
            }
        }
        return new AgentRequest(mode, maxLag, AgentRequestError.None)
        {
            ByReceived = byReceived, Filters = filters, ReturnLag = returnLag, HoldMilliseconds = hold, Weighted = weighted,
        };
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
        if (Route(question < 0 ? target : target[..question]) is not { } mode)
        {
            return Fail(method, HttpCheckError.UnknownPath);
        }
        long maxLag = AgentRequest.NoMaxLag;
        bool byReceived = false, filtered = false;
        long returnLag = AgentRequest.NoMaxLag, hold = AgentRequest.NoMaxLag;
        string query = question < 0 ? "" : target[(question + 1)..];
        foreach (var parameter in query.Length == 0 ? [] : query.Split('&'))
        {
            int eq = parameter.IndexOf('=', StringComparison.Ordinal);
            string key = eq < 0 ? parameter : parameter[..eq];
            string value = eq < 0 ? "" : parameter[(eq + 1)..];
            if (IsFilter(key))
            {
                filtered = true;
            }
            else if (key == "mode")
            {
                byReceived = UnquotePlus(value) == "write";
            }
            else if (key == "return-lag")
            {
                if (Size(UnquotePlus(value)) is not { } size)
                {
                    return Fail(method, HttpCheckError.InvalidLag);
                }
                returnLag = size;
            }
            else if (key == "hold")
            {
                if (Milliseconds(UnquotePlus(value)) is not { } ms)
                {
                    return Fail(method, HttpCheckError.InvalidLag);
                }
                hold = ms;
            }
            else if (key is "lag" or "max-lag")
            {
                if (Size(UnquotePlus(value)) is not { } size)
                {
                    return Fail(method, HttpCheckError.InvalidLag);
                }
                maxLag = size;
            }
        }
        int queryStart = request.Groups["target"].Index + question + 1;
        return new HttpCheckRequest(method, mode, maxLag, HttpCheckError.None)
        {
            ByReceived = byReceived,
            Filters = filtered ? queryStart..(queryStart + query.Length) : default,
            ReturnLag = returnLag,
            HoldMilliseconds = hold,
        };
    }

    /// <summary>
    /// Whether <paramref name="status"/> passes Patroni's filters among <paramref name="parameters"/> (an HTTP
    /// query, or agent-send words), as patroni/api.py's do_GET applies them: tags on every check but the
    /// writer and leader ones (and liveness, readiness), the replication state where a replica's rule decides.
    /// </summary>
    public static bool PassesFilters(string parameters, bool query, NodeStatus status, Mode mode)
    {
        var tags = status.Tags.All.ToDictionary(t => t.Key, t => t.Value);
        bool tagsCount = mode is not (Mode.Primary or Mode.Leader or Mode.StandbyLeader or Mode.Liveness or Mode.Readiness);
        bool stateCounts = status.Role == PatroniRole.Replica && status.IsRunning && mode is Mode.Replica or Mode.ReadOnly or Mode.Sync or Mode.Async
            or Mode.Quorum or Mode.ReadOnlySync or Mode.ReadOnlyQuorum;
        foreach (string parameter in parameters.Split(query ? ['&'] : [' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = parameter.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }
            string key = UnquotePlus(parameter[..eq]);
            string value = UnquotePlus(parameter[(eq + 1)..]);
            bool tooLong = Encoding.Latin1.GetByteCount(key) > CheckParameters.MaxValueLength || Encoding.Latin1.GetByteCount(value) > CheckParameters.MaxValueLength;
            if (key.StartsWith("tag_", StringComparison.Ordinal))
            {
                if (tagsCount && (tooLong || !tags.TryGetValue(key[4..], out var tag) || Encoding.UTF8.GetBytes(tag).AsSpan().SequenceEqual(Encoding.Latin1.GetBytes(value)) == false))
                {
                    return false;
                }
            }
            else if (key == "replication_state" && stateCounts && (tooLong || status.ReplicationState != value))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>A duration of at most 10 minutes, in milliseconds: 1 to 9 digits and ms, s or m; null otherwise.</summary>
    private static long? Milliseconds(string text)
    {
        var match = DurationText().Match(text);
        if (!match.Success)
        {
            return null;
        }
        long value = long.Parse(match.Groups["n"].Value, System.Globalization.CultureInfo.InvariantCulture);
        long ms = value * match.Groups["unit"].Value switch { "ms" => 1, "s" => 1000, _ => 60_000 };
        return ms <= 600_000 ? ms : null;
    }

    /// <summary>
    /// Patroni's <c>parse_int(value, 'B')</c> (patroni/utils.py: <c>strtol</c>, <c>strtod</c>, <c>rint</c>,
    /// <c>convert_to_base_unit</c>) with the agent's units in any case and without their B; null when Patroni
    /// reads None, or the size is negative or does not fit a long.
    /// </summary>
    public static long? Size(string text)
    {
        string value = text.Trim(PythonWhitespace);
        object? val = null;
        string unit = value;
        foreach (var (regex, radix) in new[] { (HexInteger(), 16), (OctalInteger(), 8), (DecimalInteger(), 10) })
        {
            var match = regex.Match(value);
            if (match.Success)
            {
                val = Integer(match.Value, radix);
                unit = value[match.Length..];
                break;
            }
        }
        if (val is null && unit.StartsWith('.') || unit.Length > 0 && unit[0] is '.' or 'e' or 'E')
        {
            var match = DecimalFraction().Match(value);
            val = match.Success ? double.Parse(match.Value, CultureInfo.InvariantCulture) : null;
            unit = value[match.Length..];
        }
        if (val is null)
        {
            return null;
        }

        unit = unit.Trim(PythonWhitespace);
        double rounded;
        if (unit.Length == 0)
        {
            if (val is BigInteger integer)
            {
                return integer >= 0 && integer <= long.MaxValue ? (long)integer : null;
            }
            rounded = Rint((double)val);
        }
        else
        {
            if (!UnitNames.TryGetValue(unit, out var name))
            {
                return null;
            }
            double converted = (val is BigInteger integer ? double.Parse(integer.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) : (double)val) * BytesPerUnit[name];
            if (RoundOrder.TryGetValue(name, out var smaller))
            {
                converted = Rint(converted / BytesPerUnit[smaller]) * BytesPerUnit[smaller];
            }
            rounded = Rint(converted);
        }
        return double.IsFinite(rounded) && new BigInteger(rounded) is var bytes && bytes >= 0 && bytes <= long.MaxValue ? (long)bytes : null;
    }

    private static BigInteger Integer(string text, int radix)
    {
        string digits = text.TrimStart('+', '-');
        digits = radix == 16 ? digits[2..] : digits;
        var magnitude = digits.Aggregate(BigInteger.Zero, (sum, digit) => sum * radix + Convert.ToInt32(digit.ToString(), 16));
        return text.StartsWith('-') ? -magnitude : magnitude;
    }

    private static double Rint(double value)
    {
        double ret = Math.Round(value, MidpointRounding.ToEven);
        return Math.Abs(ret - value) == 0.5 ? 2.0 * Math.Round(value / 2.0, MidpointRounding.ToEven) : ret;
    }

    /// <summary>Python's <c>urllib.parse.unquote_plus</c>, a char for each byte.</summary>
    private static string UnquotePlus(string value) =>
        PercentEscape().Replace(value.Replace('+', ' '), escape => ((char)Convert.ToByte(escape.Value[1..], 16)).ToString());

    private static HttpCheckRequest Fail(HttpCheckMethod method, HttpCheckError error) => new(method, default, AgentRequest.NoMaxLag, error);

    [GeneratedRegex(@"\A(?<key>[^=]+)=(?<value>.*)\z", RegexOptions.Singleline)]
    private static partial Regex Parameter();

    [GeneratedRegex(@"\A(?<n>[0-9]{1,9})(?<unit>ms|s|m)\z")]
    private static partial Regex DurationText();

    [GeneratedRegex(@"[^ \t]+")]
    private static partial Regex Word();

    [GeneratedRegex(@"\A(?<method>[!#$%&'*+\-.^_`|~0-9A-Za-z]+) (?<target>[\x21-\x7e]+) HTTP/1\.[01]\z")]
    private static partial Regex RequestLine();

    [GeneratedRegex(@"\A[-+]?0x[0-9a-fA-F]+")]
    private static partial Regex HexInteger();

    [GeneratedRegex(@"\A[-+]?0[0-7]*")]
    private static partial Regex OctalInteger();

    [GeneratedRegex(@"\A[-+]?(0|[1-9][0-9]*)")]
    private static partial Regex DecimalInteger();

    [GeneratedRegex(@"\A[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?")]
    private static partial Regex DecimalFraction();

    [GeneratedRegex("%[0-9A-Fa-f]{2}")]
    private static partial Regex PercentEscape();
}
