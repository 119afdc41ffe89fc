using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;

namespace PatroniAgent.Patroni;

/// <summary>The outcome of one poll: a status, or the reason there is none.</summary>
public readonly record struct PollResult(NodeStatus? Status, string? Error)
{
    public static PollResult Failed(string error) => new(null, error);
}

/// <summary>
/// Reads the local node's status from Patroni's REST API: <c>GET /</c>, and for a replica also
/// <c>GET /cluster</c> for its lag, at most once per <see cref="LagRefresh"/>. One connection
/// handler, no per-request logging, bounded time and size.
/// </summary>
public sealed class PatroniClient : IPatroniPoller, IDisposable
{
    /// <summary>The largest answer read; Patroni's are a few kilobytes.</summary>
    public const int MaxBodyBytes = 1 << 20;

    /// <summary>
    /// How long a replica's lag is reused before <c>GET /cluster</c> is asked again. Patroni moves the
    /// leader's position there once per <c>loop_wait</c> (1 s at the least), so asking more often
    /// would only add load.
    /// </summary>
    public static readonly TimeSpan LagRefresh = TimeSpan.FromSeconds(1);

    private readonly HttpClient _http;
    private readonly Uri _baseUrl;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private byte[] _buffer = new byte[16 * 1024];
    private long? _lag;
    private long _lagReadAt;
    private bool _lagKnown;

    public PatroniClient(Uri baseUrl, TimeSpan timeout, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _baseUrl = baseUrl.AbsolutePath.EndsWith('/') ? baseUrl : new Uri(baseUrl.AbsoluteUri + "/");
        _timeout = timeout;
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = timeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public Uri BaseUrl => _baseUrl;

    /// <summary>Polls once. Never throws but for cancellation by <paramref name="cancellationToken"/>.</summary>
    public async Task<PollResult> PollAsync(CancellationToken cancellationToken)
    {
        NodeStatus status;
        string? memberName;
        try
        {
            var (code, body) = await GetAsync("", cancellationToken).ConfigureAwait(false);
            status = PatroniDecoder.DecodeStatus(code, body.Span, out memberName);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return PollResult.Failed(Describe(e));
        }
        if (status.Role != PatroniRole.Replica || !status.IsRunning)
        {
            _lagKnown = false;
            return new PollResult(status, null);
        }
        if (!_lagKnown || _time.GetElapsedTime(_lagReadAt) >= LagRefresh)
        {
            _lag = await ReadLagAsync(memberName, cancellationToken).ConfigureAwait(false);
            _lagReadAt = _time.GetTimestamp();
            _lagKnown = true;
        }
        return new PollResult(status with { LagBytes = _lag }, null);
    }

    /// <summary>This replica's lag from <c>GET /cluster</c>; null when Patroni does not tell it.</summary>
    private async Task<long?> ReadLagAsync(string? memberName, CancellationToken cancellationToken)
    {
        try
        {
            var (code, body) = await GetAsync("cluster", cancellationToken).ConfigureAwait(false);
            return code == 200 ? PatroniDecoder.DecodeLag(body.Span, memberName, _baseUrl) : null;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private async Task<(int Status, ReadOnlyMemory<byte> Body)> GetAsync(string path, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_baseUrl, path));
            request.Headers.Accept.ParseAdd("application/json");
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            int length = 0;
            while (true)
            {
                if (length > MaxBodyBytes)
                {
                    throw new PatroniAnswerException($"patroni answer larger than {MaxBodyBytes / 1024} kB");
                }
                if (length == _buffer.Length)
                {
                    Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, MaxBodyBytes + 1));
                }
                int read = await stream.ReadAsync(_buffer.AsMemory(length), timeout.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                length += read;
            }
            return ((int)response.StatusCode, _buffer.AsMemory(0, length));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer from patroni within {_timeout.TotalMilliseconds:0} ms");
        }
    }

    /// <summary>A short, stable reason for a failed poll, fit for a log line and an agent answer.</summary>
    private string Describe(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case PatroniAnswerException or TimeoutException:
                    return inner.Message;
                case SocketException { SocketErrorCode: SocketError.ConnectionRefused }:
                    return "patroni refused the connection";
                case SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData }:
                    return $"cannot resolve patroni host {_baseUrl.Host}";
                case SocketException socket:
                    return $"patroni unreachable: {socket.SocketErrorCode}";
                case AuthenticationException:
                    return "TLS handshake with patroni failed";
                case HttpIOException io:
                    return $"patroni answer cut short ({io.HttpRequestError})";
            }
        }
        return e is HttpRequestException http && http.HttpRequestError != HttpRequestError.Unknown
            ? $"patroni request failed ({http.HttpRequestError})"
            : "patroni request failed";
    }

    public void Dispose() => _http.Dispose();
}
