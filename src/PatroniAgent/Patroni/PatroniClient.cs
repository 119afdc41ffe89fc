using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using PatroniAgent.Patroni.Internal;

namespace PatroniAgent.Patroni;

/// <summary>What made a poll fail, as the poll-error metric counts it.</summary>
public enum PollErrorKind
{
    /// <summary>No answer within the poll's timeout.</summary>
    Timeout,
    /// <summary>Patroni refused the connection: nothing listens.</summary>
    Refused,
    /// <summary>An HTTP-level failure: a status other than 200/503, 401, an answer too large or cut short, a protocol error.</summary>
    Http,
    /// <summary>An answer that is not a usable Patroni status: not JSON, wrong types, no state or role.</summary>
    Json,
    /// <summary>The TLS handshake or a certificate check failed, on either side.</summary>
    Tls,
    /// <summary>Patroni's host name does not resolve.</summary>
    Dns,
    /// <summary>Anything else, e.g. a network error other than a refusal.</summary>
    Other,
}

/// <summary>Where a replica's <see cref="NodeStatus.LagBytes"/> came from.</summary>
public enum LagSource
{
    /// <summary>No lag was measured: a primary's is 0, any other node's but a running replica's unknown, or Patroni did not tell it.</summary>
    None,
    /// <summary>The leader's <c>xlog.location</c> from its own <c>GET /</c> minus this replica's <c>replayed_location</c>.</summary>
    Leader,
    /// <summary>This member's <c>replay_lag</c>, else <c>lag</c>, in the local Patroni's <c>GET /cluster</c>.</summary>
    Cluster,
}

/// <summary>
/// The outcome of one poll: a status, or the reason there is none and what kind of failure it was
/// (<paramref name="ErrorKind"/> means nothing when there is a status). Where the lag came from and how
/// old it is are kept here, out of the status, so that a status that did not change stays equal.
/// </summary>
public readonly record struct PollResult(NodeStatus? Status, string? Error, PollErrorKind ErrorKind = PollErrorKind.Other)
{
    /// <summary>Where the status's lag came from.</summary>
    public LagSource LagSource { get; init; }

    /// <summary>
    /// How long ago, at the end of the poll, the agent read what the lag was measured against: the
    /// leader's position, or the <c>GET /cluster</c> answer (whose own lag Patroni may have computed up to
    /// <c>loop_wait</c> earlier). Zero when <see cref="LagSource"/> is <see cref="LagSource.None"/>.
    /// </summary>
    public TimeSpan LagAge { get; init; }

    public static PollResult Failed(string error, PollErrorKind kind = PollErrorKind.Other) => new(null, error, kind);
}

/// <summary>
/// Reads the local node's status from Patroni's REST API: <c>GET /</c>, and for a running replica also
/// <c>GET /cluster</c>, at most once per <see cref="LagRefresh"/>, for its lag and the leader's
/// <c>api_url</c>, and the leader's own <c>GET /</c>, at most once per <see cref="LeaderPositionRefresh"/>,
/// for the leader's current WAL position, which the lag is measured against. Each GET blocks the
/// caller's thread on a socket of its own (Internal/HttpGet): the watcher's thread wakes once per poll,
/// where an asynchronous client handed every step between threads. No per-request logging, bounded
/// time and size; not for use by two threads at once. Over https the server certificate and its
/// host name are always verified (against <see cref="PatroniAccess.TrustedRoots"/> when given), and a
/// failed handshake is told apart: our check of Patroni's certificate, or Patroni refusing ours.
/// </summary>
public sealed class PatroniClient : IPatroniPoller
{
    /// <summary>The largest answer read; Patroni's are a few kilobytes.</summary>
    public const int MaxBodyBytes = 1 << 20;

    /// <summary>
    /// How long a replica's lag is reused before <c>GET /cluster</c> is asked again. Patroni moves the
    /// leader's position there once per <c>loop_wait</c> (10 s by default), so asking more often would
    /// mostly add load: each request costs Patroni about as much as a poll (docs/performance.md).
    /// </summary>
    public static readonly TimeSpan LagRefresh = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long the leader's WAL position is reused before the leader's <c>GET /</c> is asked again:
    /// each request runs a query on the leader's PostgreSQL, for every replica's agent.
    /// </summary>
    public static readonly TimeSpan LeaderPositionRefresh = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a poll waits for the leader's answer. A leader that takes longer (a partitioned or
    /// overloaded one) answers in the background, for a later poll, while this poll publishes the local
    /// status without it: the local node's own state never waits on another host's.
    /// </summary>
    public static readonly TimeSpan LeaderWait = TimeSpan.FromMilliseconds(100);

    /// <summary>The oldest leader position a poll measures the lag against; past it, the lag is <c>GET /cluster</c>'s.</summary>
    public static readonly TimeSpan LeaderPositionMaxAge = 2 * LeaderPositionRefresh;

    private readonly HttpGet _get;
    private readonly string? _authorization;
    private readonly Uri _baseUrl;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly PatroniAccess _access;
    private string? _certificateProblem;
    private bool _certificateAccepted;
    private long? _clusterLag;
    private long? _clusterReadAt;
    private Uri? _leaderUrl;
    private bool _leaderFailed;
    private long? _leaderPosition;
    private long _leaderReadAt;
    private long? _leaderAskedAt;
    private Task<long?>? _leaderRead;
    private Uri? _leaderReadUrl;
    private HttpGet? _leaderGet;
    private string? _leaderGetHost;
    private readonly TimeSpan _leaderWait;

    /// <param name="leaderWait">How long a poll waits for the leader's <c>GET /</c>; <see cref="LeaderWait"/> by default.</param>
    public PatroniClient(Uri baseUrl, TimeSpan timeout, TimeProvider? time = null, PatroniAccess? access = null, TimeSpan? leaderWait = null)
    {
        _time = time ?? TimeProvider.System;
        _leaderWait = leaderWait ?? LeaderWait;
        _access = access ?? PatroniAccess.None;
        _baseUrl = baseUrl.AbsolutePath.EndsWith('/') ? baseUrl : new Uri(baseUrl.AbsoluteUri + "/");
        _timeout = timeout;
        _authorization = _access.Authorization?.ToString();
        _get = new HttpGet(MaxBodyBytes, _baseUrl.Scheme == Uri.UriSchemeHttps ? TlsOptions(_access, _baseUrl.DnsSafeHost, CheckServerCertificate) : null);
    }

    public Uri BaseUrl => _baseUrl;

    private static SslClientAuthenticationOptions TlsOptions(PatroniAccess access, string host, RemoteCertificateValidationCallback check)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = host,
            RemoteCertificateValidationCallback = check,
            ClientCertificateContext = access.ClientCertificate,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
        if (access.TrustedRoots is { } roots)
        {
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
                DisableCertificateDownloads = true,
            };
            policy.CustomTrustStore.AddRange(roots);
            options.CertificateChainPolicy = policy;
        }
        return options;
    }

    /// <summary>
    /// Accepts Patroni's certificate only when the TLS layer found no error in its chain and host name,
    /// and notes why it refused one, for <see cref="Describe"/>: a name that does not match a trusted
    /// certificate, dates out of range, or else (a chain to no trusted root, no certificate) not trusted.
    /// </summary>
    private bool CheckServerCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        _certificateProblem = errors switch
        {
            SslPolicyErrors.None => null,
            SslPolicyErrors.RemoteCertificateNameMismatch => "patroni TLS certificate is for another host",
            _ when chain is not null && chain.ChainStatus.Any(s => s.Status.HasFlag(X509ChainStatusFlags.NotTimeValid))
                => "patroni TLS certificate expired or not yet valid",
            _ => "patroni TLS certificate not trusted",
        };
        _certificateAccepted = errors == SslPolicyErrors.None;
        return _certificateAccepted;
    }

    /// <summary>Polls once, blocking the calling thread. Never throws but for cancellation by <paramref name="cancellationToken"/>.</summary>
    public PollResult Poll(CancellationToken cancellationToken)
    {
        NodeStatus status;
        string? memberName;
        long? replayed;
        try
        {
            var (code, body) = Get("", cancellationToken);
            RefuseUnauthorized(code);
            status = PatroniDecoder.DecodeStatus(code, body.Span, out memberName, out replayed);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        catch (Exception e)
        {
            var (error, kind) = Describe(e);
            return PollResult.Failed(error, kind);
        }
        if (status.Role != PatroniRole.Replica || !status.IsRunning)
        {
            _clusterReadAt = null;
            _leaderUrl = null;
            _leaderPosition = null;
            return new PollResult(status, null);
        }
        bool clusterRead = false;
        if (_clusterReadAt is not { } readAt || _time.GetElapsedTime(readAt) >= LagRefresh)
        {
            _leaderFailed = false;
            RefreshCluster(memberName, cancellationToken);
            clusterRead = true;
        }
        if (_leaderUrl is { } leader && !_leaderFailed && _leaderRead is null
            && (_leaderAskedAt is not { } askedAt || _time.GetElapsedTime(askedAt) >= LeaderPositionRefresh))
        {
            _leaderAskedAt = _time.GetTimestamp();
            _leaderReadUrl = leader;
            _leaderRead = Task.Run(() => ReadLeaderPosition(leader, cancellationToken), cancellationToken);
            WaitForLeader(_leaderRead, cancellationToken);
        }
        if (_leaderRead is { IsCompleted: true } read)
        {
            TakeLeaderRead(read, memberName, clusterRead, cancellationToken);
        }
        if (_leaderPosition is { } position && replayed is { } replayedLocation
            && _time.GetElapsedTime(_leaderReadAt) <= LeaderPositionMaxAge)
        {
            return new PollResult(status with { LagBytes = Math.Max(0, position - replayedLocation) }, null)
            {
                LagSource = LagSource.Leader,
                LagAge = _time.GetElapsedTime(_leaderReadAt),
            };
        }
        if (_clusterLag is { } lag)
        {
            return new PollResult(status with { LagBytes = lag }, null)
            {
                LagSource = LagSource.Cluster,
                LagAge = _time.GetElapsedTime(_clusterReadAt!.Value),
            };
        }
        return new PollResult(status, null);
    }

    /// <summary>Waits up to <see cref="_leaderWait"/> for the leader's answer; it may go on in the background.</summary>
    private void WaitForLeader(Task read, CancellationToken cancellationToken)
    {
        try
        {
            read.Wait(_leaderWait, cancellationToken);
        }
        catch (AggregateException)
        {
        }
    }

    /// <summary>
    /// Takes a finished read of the leader's position, unless the leader changed while it ran. A failed
    /// read leaves the leader unasked until the next <see cref="LagRefresh"/> and reads the cluster again
    /// (when this poll has not), which may name a new leader.
    /// </summary>
    private void TakeLeaderRead(Task<long?> read, string? memberName, bool clusterRead, CancellationToken cancellationToken)
    {
        _leaderRead = null;
        cancellationToken.ThrowIfCancellationRequested();
        if (_leaderReadUrl != _leaderUrl)
        {
            return;
        }
        long? position = read.IsCompletedSuccessfully ? read.Result : null;
        if (position is null)
        {
            _leaderFailed = true;
            _leaderPosition = null;
            if (!clusterRead)
            {
                RefreshCluster(memberName, cancellationToken);
            }
        }
        else
        {
            _leaderPosition = position;
            _leaderReadAt = _leaderAskedAt!.Value;
        }
    }

    /// <summary>
    /// Reads <c>GET /cluster</c> for this replica's lag and the leader's URL. A leader that failed stays
    /// failed, not asked again until the next <see cref="LagRefresh"/>, unless the answer names another.
    /// </summary>
    private void RefreshCluster(string? memberName, CancellationToken cancellationToken)
    {
        var before = _leaderUrl;
        (_clusterLag, _leaderUrl) = ReadClusterView(memberName, cancellationToken);
        _clusterReadAt = _time.GetTimestamp();
        if (_leaderUrl != before)
        {
            _leaderFailed = false;
            _leaderPosition = null;
        }
    }

    /// <summary>
    /// Patroni's <c>GET /cluster</c> answer, for commands that list the members: read once, blocking the
    /// calling thread, with the same access, limits and reasons as a poll.
    /// </summary>
    /// <exception cref="PatroniAnswerException">No answer, or one other than HTTP 200; the message is the reason.</exception>
    public byte[] ReadCluster(CancellationToken cancellationToken)
    {
        int code;
        ReadOnlyMemory<byte> body;
        try
        {
            (code, body) = Get("cluster", cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            var (error, kind) = Describe(e);
            throw new PatroniAnswerException(error, kind);
        }
        RefuseUnauthorized(code);
        if (code != 200)
        {
            throw new PatroniAnswerException(string.Create(CultureInfo.InvariantCulture, $"patroni answered HTTP {code}"), PollErrorKind.Http);
        }
        return body.ToArray();
    }

    private void RefuseUnauthorized(int code)
    {
        if (code == 401)
        {
            throw new PatroniAnswerException(_access.Authorization is null
                ? "patroni answered 401 (basic auth required)"
                : "patroni answered 401 (basic auth rejected)", PollErrorKind.Http);
        }
    }

    /// <summary>This replica's lag and the leader's URL from <c>GET /cluster</c>; null for what Patroni does not tell.</summary>
    private (long? Lag, Uri? Leader) ReadClusterView(string? memberName, CancellationToken cancellationToken)
    {
        try
        {
            var (code, body) = Get("cluster", cancellationToken);
            return code == 200
                ? (PatroniDecoder.DecodeLag(body.Span, memberName, _baseUrl), PatroniDecoder.DecodeLeader(body.Span, memberName, _baseUrl))
                : (null, null);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, null);
        }
    }

    /// <summary>
    /// The leader's current WAL position from its own <c>GET /</c>, with the local Patroni's access and
    /// timeout; null when it does not answer within the timeout, or not as a running primary.
    /// </summary>
    private long? ReadLeaderPosition(Uri leader, CancellationToken cancellationToken)
    {
        try
        {
            var (code, body) = LeaderGet(leader).Get(leader, _authorization, Deadline(), cancellationToken);
            return PatroniDecoder.DecodeLeaderPosition(code, body.Span);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        catch (Exception)
        {
            return null;
        }
    }

    /// <summary>The GETs to the leader: over https, its certificate verified for its own host name.</summary>
    private HttpGet LeaderGet(Uri leader)
    {
        string host = leader.Scheme == Uri.UriSchemeHttps ? leader.DnsSafeHost : "";
        if (_leaderGet is null || _leaderGetHost != host)
        {
            _leaderGet = new HttpGet(MaxBodyBytes, host.Length > 0 ? TlsOptions(_access, host, static (_, _, _, errors) => errors == SslPolicyErrors.None) : null);
            _leaderGetHost = host;
        }
        return _leaderGet;
    }

    private long Deadline() => Stopwatch.GetTimestamp() + (long)(_timeout.TotalSeconds * Stopwatch.Frequency);

    /// <summary>
    /// One GET below the base URL. Throws <see cref="TimeoutException"/> once the timeout has passed,
    /// and names a client certificate Patroni did not take: a request whose server certificate we accepted
    /// that ends before the first byte of an answer ends the way a TLS server refusing the client's
    /// certificate ends it (an alert or a reset in the handshake or, with TLS 1.3, where the server checks
    /// the client's certificate after the client's side of the handshake is done, on the first read; or
    /// a close).
    /// </summary>
    private HttpAnswer Get(string path, CancellationToken cancellationToken)
    {
        long deadline = Deadline();
        _certificateProblem = null;
        _certificateAccepted = false;
        try
        {
            return _get.Get(new Uri(_baseUrl, path), _authorization, deadline, cancellationToken);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException || (e is not HttpGetException && Stopwatch.GetTimestamp() >= deadline))
        {
            throw new TimeoutException($"no answer from patroni within {_timeout.TotalMilliseconds:0} ms");
        }
        catch (Exception e) when (_certificateAccepted && !_get.Answered
            && e is AuthenticationException or IOException or SocketException or HttpGetException { Failure: HttpGetFailure.CutShort })
        {
            throw new PatroniAnswerException(_access.ClientCertificate is null
                ? "patroni demands a client certificate"
                : "patroni refused our client certificate", PollErrorKind.Tls);
        }
    }

    /// <summary>A short, stable reason for a failed poll, fit for a log line and an agent answer, and its kind.</summary>
    private (string Error, PollErrorKind Kind) Describe(Exception e)
    {
        if (_certificateProblem is not null)
        {
            return (_certificateProblem, PollErrorKind.Tls);
        }
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case PatroniAnswerException answer:
                    return (answer.Message, answer.Kind);
                case HttpGetException http:
                    return ("patroni " + http.Message, PollErrorKind.Http);
                case TimeoutException:
                    return (inner.Message, PollErrorKind.Timeout);
                case SocketException { SocketErrorCode: SocketError.ConnectionRefused }:
                    return ("patroni refused the connection", PollErrorKind.Refused);
                case SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData }:
                    return ($"cannot resolve patroni host {_baseUrl.Host}", PollErrorKind.Dns);
                case SocketException socket:
                    return ($"patroni unreachable: {socket.SocketErrorCode}", PollErrorKind.Other);
                case AuthenticationException:
                    return ("TLS handshake with patroni failed", PollErrorKind.Tls);
            }
        }
        return e is IOException
            ? ("patroni connection failed", PollErrorKind.Other)
            : ("patroni request failed", PollErrorKind.Other);
    }

}
