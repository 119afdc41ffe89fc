using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Http;

namespace PatroniAgent.HttpCheck;

/// <summary>
/// Reads an HTTP health check in the style of Patroni's REST API: <c>GET</c>, <c>HEAD</c> or
/// <c>OPTIONS</c> on a path that names the mode, e.g. <c>OPTIONS /primary HTTP/1.0</c> or
/// <c>GET /replica?lag=16MB HTTP/1.1</c>, read with <see cref="HttpRequestHead"/>. Allocates nothing.
/// </summary>
public static class HttpCheckParser
{
    /// <summary>The most bytes of a request, headers included, that are read.</summary>
    public const int MaxRequestLength = 2048;

    /// <summary>How long a connection may take to send its request; HTTP checks send it at once.</summary>
    public static readonly TimeSpan RequestWait = TimeSpan.FromSeconds(1);

    /// <summary>The paths of Patroni's health checks, for error messages (docs/http-checks.md has every spelling).</summary>
    public const string AcceptedPaths =
        "/primary, /replica, /read-only, /sync, /async, /quorum, /read-only-sync, /read-only-quorum, /standby-leader, /leader, /health, /liveness, /readiness";

    /// <summary>
    /// Parses what a client sent: the request line of a complete head. Lines may end with <c>\r\n</c>
    /// or <c>\n</c>. The path names the mode as in Patroni (<see cref="ModeOfPath"/>); of the query,
    /// <c>lag</c> (or <c>max-lag</c>; the last counts, percent-decoded), <c>mode</c> and the filters are read,
    /// the rest ignored.
    /// </summary>
    public static HttpCheckRequest Parse(ReadOnlySpan<byte> received)
    {
        if (!HttpRequestHead.IsComplete(received))
        {
            return Fail(HttpCheckMethod.Get, received.Length >= MaxRequestLength ? HttpCheckError.TooLarge : HttpCheckError.Incomplete);
        }
        if (!HttpRequestHead.TryReadRequestLine(received, out var line))
        {
            return Fail(HttpCheckMethod.Get, HttpCheckError.Malformed);
        }

        HttpCheckMethod method;
        if (line.Method.SequenceEqual("GET"u8)) method = HttpCheckMethod.Get;
        else if (line.Method.SequenceEqual("HEAD"u8)) method = HttpCheckMethod.Head;
        else if (line.Method.SequenceEqual("OPTIONS"u8)) method = HttpCheckMethod.Options;
        else return Fail(HttpCheckMethod.Get, HttpCheckError.MethodNotAllowed);

        if (ModeOfPath(line.Path) is not { } mode)
        {
            return Fail(method, HttpCheckError.UnknownPath);
        }

        long maxLag = AgentRequest.NoMaxLag;
        bool byReceived = false, filtered = false;
        long returnLag = AgentRequest.NoMaxLag, hold = AgentRequest.NoMaxLag;
        foreach (var parameter in line.Parameters)
        {
            if (CheckParameters.IsFilter(parameter.Name))
            {
                filtered = true;
            }
            else if (parameter.Name.SequenceEqual("return-lag"u8))
            {
                if (!CheckParameters.TryReadSize(parameter.Value, out returnLag))
                {
                    return Fail(method, HttpCheckError.InvalidLag);
                }
            }
            else if (parameter.Name.SequenceEqual("hold"u8))
            {
                if (!CheckParameters.TryReadMilliseconds(parameter.Value, out hold))
                {
                    return Fail(method, HttpCheckError.InvalidLag);
                }
            }
            else if (parameter.Name.SequenceEqual("mode"u8))
            {
                byReceived = CheckParameters.IsWriteMode(parameter.Value);
            }
            else if ((parameter.Name.SequenceEqual("lag"u8) || parameter.Name.SequenceEqual("max-lag"u8))
                && !CheckParameters.TryReadSize(parameter.Value, out maxLag))
            {
                return Fail(method, HttpCheckError.InvalidLag);
            }
        }
        return new HttpCheckRequest(method, mode, maxLag, HttpCheckError.None)
        {
            ByReceived = byReceived,
            Filters = filtered ? RangeOf(line.Query, received) : default,
            ReturnLag = returnLag,
            HoldMilliseconds = hold,
        };
    }

    /// <summary>
    /// The mode a path names, as Patroni routes its health checks: <c>/</c> is <c>/primary</c>;
    /// <c>/liveness</c> and <c>/readiness</c> by their first segment; then by the first of these words the
    /// path contains: standby leader, leader, primary (master, read-write), replica, read-only (without
    /// sync or quorum), health; else only the exact paths of the standby checks. Null for any other path.
    /// </summary>
    public static Mode? ModeOfPath(ReadOnlySpan<byte> path)
    {
        if (path.SequenceEqual("/"u8)) return Mode.Primary;
        var segment = path.TrimStart((byte)'/');
        int slash = segment.IndexOf((byte)'/');
        segment = slash < 0 ? segment : segment[..slash];
        if (segment.SequenceEqual("liveness"u8)) return Mode.Liveness;
        if (segment.SequenceEqual("readiness"u8)) return Mode.Readiness;
        if (path.IndexOf("standby_leader"u8) >= 0 || path.IndexOf("standby-leader"u8) >= 0) return Mode.StandbyLeader;
        if (path.IndexOf("leader"u8) >= 0) return Mode.Leader;
        if (path.IndexOf("master"u8) >= 0 || path.IndexOf("primary"u8) >= 0 || path.IndexOf("read-write"u8) >= 0) return Mode.Primary;
        if (path.IndexOf("replica"u8) >= 0) return Mode.Replica;
        if (path.IndexOf("read-only"u8) >= 0 && path.IndexOf("sync"u8) < 0 && path.IndexOf("quorum"u8) < 0) return Mode.ReadOnly;
        if (path.IndexOf("health"u8) >= 0) return Mode.Health;
        if (path.SequenceEqual("/sync"u8) || path.SequenceEqual("/synchronous"u8)) return Mode.Sync;
        if (path.SequenceEqual("/quorum"u8)) return Mode.Quorum;
        if (path.SequenceEqual("/async"u8) || path.SequenceEqual("/asynchronous"u8)) return Mode.Async;
        if (path.SequenceEqual("/read-only-quorum"u8)) return Mode.ReadOnlyQuorum;
        if (path.SequenceEqual("/read-only-sync"u8) || path.SequenceEqual("/read-only-synchronous"u8)) return Mode.ReadOnlySync;
        return null;
    }

    /// <summary>The HTTP status a request that cannot be answered gets.</summary>
    public static int ErrorStatus(HttpCheckError error) => error switch
    {
        HttpCheckError.Malformed or HttpCheckError.Incomplete or HttpCheckError.TooLarge or HttpCheckError.InvalidLag => 400,
        HttpCheckError.UnknownPath => 503,
        HttpCheckError.MethodNotAllowed => 405,
        _ => throw new ArgumentOutOfRangeException(nameof(error)),
    };

    /// <summary>Why a request cannot be answered, as the reason of its reply line.</summary>
    public static string ErrorReason(HttpCheckError error) => error switch
    {
        HttpCheckError.Malformed => "not an HTTP/1.0 or HTTP/1.1 request line",
        HttpCheckError.Incomplete => "request headers cut short",
        HttpCheckError.TooLarge => $"request headers longer than {MaxRequestLength} bytes",
        HttpCheckError.InvalidLag => "invalid lag, return-lag or hold in the query, expected a size such as 16MB or a duration such as 10s",
        HttpCheckError.UnknownPath => $"unknown path, expected one of: {AcceptedPaths}",
        HttpCheckError.MethodNotAllowed => "method not allowed, expected GET, HEAD or OPTIONS",
        _ => throw new ArgumentOutOfRangeException(nameof(error)),
    };

    /// <summary>Where <paramref name="part"/>, a slice of <paramref name="whole"/>, lies in it.</summary>
    private static Range RangeOf(ReadOnlySpan<byte> part, ReadOnlySpan<byte> whole)
    {
        int start = (int)Unsafe.ByteOffset(ref MemoryMarshal.GetReference(whole), ref MemoryMarshal.GetReference(part));
        return start..(start + part.Length);
    }

    private static HttpCheckRequest Fail(HttpCheckMethod method, HttpCheckError error) => new(method, default, AgentRequest.NoMaxLag, error);
}
