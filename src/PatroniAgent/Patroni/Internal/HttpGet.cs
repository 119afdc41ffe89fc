using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace PatroniAgent.Patroni.Internal;

/// <summary>The status code of an answer and its body, which lies in a buffer the next GET reuses.</summary>
internal readonly record struct HttpAnswer(int Status, ReadOnlyMemory<byte> Body);

/// <summary>
/// HTTP/1.1 GETs over a blocking socket, one at a time, each on a connection of its own that ends
/// with the answer (<c>Connection: close</c>; Patroni's HTTP/1.0 server closes every connection
/// anyway). Everything a GET does waits at most until its deadline: the name lookup, the connect, and
/// each write and read, the TLS handshake's included. Bodies come by <c>Content-Length</c>, chunked,
/// or until the close, and are refused beyond the most given.
/// </summary>
internal sealed class HttpGet(int maxBodyBytes, SslClientAuthenticationOptions? tls)
{
    /// <summary>The most a status line and headers may take.</summary>
    private const int MaxHeadBytes = 64 * 1024;

    private static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;

    private byte[] _buffer = new byte[16 * 1024];
    private int _length;

    /// <summary>Whether the GET under way, or the last one, read any byte of an answer.</summary>
    public bool Answered { get; private set; }

    /// <summary>Gets <paramref name="url"/>; cancelling <paramref name="cancellationToken"/> closes the connection.</summary>
    /// <param name="authorization">The <c>Authorization</c> header's value; null to send none.</param>
    /// <param name="deadline">A <see cref="Stopwatch"/> timestamp: past it, the GET throws <see cref="TimeoutException"/>.</param>
    /// <exception cref="TimeoutException">The deadline passed.</exception>
    /// <exception cref="HttpGetException">The answer is not HTTP, is cut short, or is too large.</exception>
    /// <exception cref="SocketException">The name does not resolve, or the connection is refused or fails.</exception>
    /// <exception cref="IOException">The connection fails or TLS fails after the handshake.</exception>
    /// <exception cref="System.Security.Authentication.AuthenticationException">The TLS handshake failed.</exception>
    public HttpAnswer Get(Uri url, string? authorization, long deadline, CancellationToken cancellationToken)
    {
        Answered = false;
        _length = 0;
        var addresses = Resolve(url.DnsSafeHost, deadline, cancellationToken);
        using var socket = Connect(addresses, url.Port, deadline);
        using var cancel = cancellationToken.Register(static s => ((Socket)s!).Dispose(), socket);
        var timed = new DeadlineStream(socket, deadline);
        using Stream stream = tls is null ? timed : Handshake(timed);
        stream.Write(Request(url, authorization));
        return ReadAnswer(stream);
    }

    private static IPAddress[] Resolve(string host, long deadline, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host, out var address))
        {
            return [address];
        }
        var lookup = Dns.GetHostAddressesAsync(host, cancellationToken);
        if (!((IAsyncResult)lookup).AsyncWaitHandle.WaitOne(Milliseconds(deadline)))
        {
            throw new TimeoutException();
        }
        var found = lookup.GetAwaiter().GetResult();
        return found.Length > 0 ? found : throw new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>Connects to the first of <paramref name="addresses"/> that takes the connection.</summary>
    private static Socket Connect(IPAddress[] addresses, int port, long deadline)
    {
        SocketException? failure = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                // A blocking connect waits at most the send timeout (SO_SNDTIMEO) on Linux.
                Limit(socket, deadline);
                socket.Connect(address, port);
                return socket;
            }
            catch (SocketException e)
            {
                socket.Dispose();
                failure = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw failure ?? new SocketException((int)SocketError.HostNotFound);
    }

    private SslStream Handshake(DeadlineStream timed)
    {
        var stream = new SslStream(timed, leaveInnerStreamOpen: false);
        try
        {
            stream.AuthenticateAsClient(tls!);
            return stream;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private static byte[] Request(Uri url, string? authorization)
    {
        var text = new StringBuilder(256)
            .Append(CultureInfo.InvariantCulture, $"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nAccept: application/json\r\n");
        if (authorization is not null)
        {
            text.Append(CultureInfo.InvariantCulture, $"Authorization: {authorization}\r\n");
        }
        return Encoding.ASCII.GetBytes(text.Append("Connection: close\r\n\r\n").ToString());
    }

    private HttpAnswer ReadAnswer(Stream stream)
    {
        // The status line is read as soon as it is complete, so that a server speaking another protocol is
        // told apart at once; the head is complete once a blank line follows it.
        int status = 0;
        int statusEnd;
        int headEnd;
        while (true)
        {
            var received = _buffer.AsSpan(0, _length);
            statusEnd = received.IndexOf("\r\n"u8);
            if (status == 0 && statusEnd >= 0)
            {
                status = ParseStatusLine(received[..statusEnd]);
            }
            if ((headEnd = received.IndexOf(HeadEnd)) >= 0)
            {
                break;
            }
            if (_length >= MaxHeadBytes)
            {
                throw Invalid();
            }
            if (!Fill(stream, Math.Min(_length + 1, MaxHeadBytes)))
            {
                throw CutShort();
            }
        }
        // The header lines lie between the status line's CRLF and the blank line; there may be none.
        var (contentLength, chunked) = ParseHeaders(statusEnd < headEnd ? _buffer.AsSpan(statusEnd + 2, headEnd - statusEnd - 2) : []);
        int bodyStart = headEnd + HeadEnd.Length;
        if (status is (>= 100 and < 200) or 204 or 304)
        {
            return new HttpAnswer(status, ReadOnlyMemory<byte>.Empty);
        }
        if (chunked)
        {
            return new HttpAnswer(status, ReadChunked(stream, bodyStart));
        }
        if (contentLength is { } declared)
        {
            if (declared > maxBodyBytes)
            {
                throw TooLarge();
            }
            int end = bodyStart + (int)declared;
            if (!Fill(stream, end))
            {
                throw CutShort();
            }
            return new HttpAnswer(status, _buffer.AsMemory(bodyStart, (int)declared));
        }
        while (Fill(stream, _length + 1))
        {
            if (_length - bodyStart > maxBodyBytes)
            {
                throw TooLarge();
            }
        }
        return new HttpAnswer(status, _buffer.AsMemory(bodyStart, _length - bodyStart));
    }

    /// <summary>Decodes a chunked body in place: each chunk's data moves down over the chunk lines before it.</summary>
    private ReadOnlyMemory<byte> ReadChunked(Stream stream, int bodyStart)
    {
        int read = bodyStart;
        int written = bodyStart;
        while (true)
        {
            int lineEnd = ReadLine(stream, read);
            var sizeText = _buffer.AsSpan(read, lineEnd - read);
            int extension = sizeText.IndexOf((byte)';');
            if (extension >= 0)
            {
                sizeText = sizeText[..extension];
            }
            if (!int.TryParse(Encoding.ASCII.GetString(sizeText).Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int size) || size < 0)
            {
                throw Invalid();
            }
            read = lineEnd + 2;
            if (size == 0)
            {
                while ((lineEnd = ReadLine(stream, read)) != read)
                {
                    read = lineEnd + 2;
                }
                return _buffer.AsMemory(bodyStart, written - bodyStart);
            }
            if (written - bodyStart + size > maxBodyBytes)
            {
                throw TooLarge();
            }
            if (!Fill(stream, read + size + 2))
            {
                throw CutShort();
            }
            if (!_buffer.AsSpan(read + size, 2).SequenceEqual("\r\n"u8))
            {
                throw Invalid();
            }
            Buffer.BlockCopy(_buffer, read, _buffer, written, size);
            written += size;
            read += size + 2;
            Buffer.BlockCopy(_buffer, read, _buffer, written, _length - read);
            _length -= read - written;
            read = written;
        }
    }

    /// <summary>The index of the CR of the line that starts at <paramref name="start"/>, reading until it is complete.</summary>
    private int ReadLine(Stream stream, int start)
    {
        const int MaxLine = 4096;
        int end;
        while ((end = _buffer.AsSpan(start, _length - start).IndexOf("\r\n"u8)) < 0)
        {
            if (_length - start > MaxLine)
            {
                throw Invalid();
            }
            if (!Fill(stream, _length + 1))
            {
                throw CutShort();
            }
        }
        return start + end;
    }

    /// <summary>
    /// Reads until the buffer holds <paramref name="needed"/> bytes; false when the connection ended first.
    /// The buffer grows to at most the largest body and head, plus room to find where the body ends.
    /// </summary>
    private bool Fill(Stream stream, int needed)
    {
        while (_length < needed)
        {
            if (_length == _buffer.Length)
            {
                int most = maxBodyBytes + MaxHeadBytes + 8 * 1024;
                if (_buffer.Length >= most)
                {
                    throw TooLarge();
                }
                Array.Resize(ref _buffer, Math.Min(Math.Max(_buffer.Length * 2, needed), most));
            }
            int read = stream.Read(_buffer, _length, _buffer.Length - _length);
            if (read == 0)
            {
                return false;
            }
            Answered = true;
            _length += read;
        }
        return true;
    }

    /// <summary>The status code of an HTTP/1.x status line, e.g. <c>HTTP/1.0 200 OK</c>.</summary>
    private static int ParseStatusLine(ReadOnlySpan<byte> line)
    {
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || !char.IsAsciiDigit((char)line[7]) || line[8] != ' '
            || !int.TryParse(line.Slice(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out int status) || status < 100
            || (line.Length > 12 && line[12] != ' '))
        {
            throw Invalid();
        }
        return status;
    }

    /// <summary>The body's framing, from the header lines (CRLF between them, none after the last).</summary>
    private static (long? ContentLength, bool Chunked) ParseHeaders(ReadOnlySpan<byte> headers)
    {
        long? contentLength = null;
        bool chunked = false;
        var rest = headers;
        while (!rest.IsEmpty)
        {
            int end = rest.IndexOf("\r\n"u8);
            var line = end < 0 ? rest : rest[..end];
            rest = end < 0 ? [] : rest[(end + 2)..];
            int colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                throw Invalid();
            }
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(" \t"u8);
            if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long length) || contentLength is { } earlier && earlier != length)
                {
                    throw Invalid();
                }
                contentLength = length;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                chunked = Encoding.ASCII.GetString(value).Split(',').Last().Trim().Equals("chunked", StringComparison.OrdinalIgnoreCase);
            }
        }
        return (contentLength, chunked);
    }

    /// <summary>
    /// A socket's stream whose every read and write waits at most until the deadline, the reads and
    /// writes of a TLS handshake over it included: a server that trickles its bytes cannot stretch a GET.
    /// </summary>
    private sealed class DeadlineStream(Socket socket, long deadline) : NetworkStream(socket)
    {
        private void Limit() => HttpGet.Limit(Socket, deadline);

        public override int Read(byte[] buffer, int offset, int count)
        {
            Limit();
            return base.Read(buffer, offset, count);
        }

        public override int Read(Span<byte> buffer)
        {
            Limit();
            return base.Read(buffer);
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            Limit();
            base.Write(buffer, offset, count);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Limit();
            base.Write(buffer);
        }
    }

    /// <summary>Bounds the next blocking call on <paramref name="socket"/> by the time left.</summary>
    private static void Limit(Socket socket, long deadline)
    {
        int left = Milliseconds(deadline);
        socket.SendTimeout = left;
        socket.ReceiveTimeout = left;
    }

    /// <summary>The whole milliseconds left until <paramref name="deadline"/>, at least 1.</summary>
    private static int Milliseconds(long deadline)
    {
        long ticks = deadline - Stopwatch.GetTimestamp();
        if (ticks <= 0)
        {
            throw new TimeoutException();
        }
        return (int)Math.Clamp((ticks * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency, 1, int.MaxValue);
    }

    private HttpGetException TooLarge() => new(HttpGetFailure.TooLarge, $"answer larger than {maxBodyBytes / 1024} kB");

    private static HttpGetException CutShort() => new(HttpGetFailure.CutShort, "answer cut short (ResponseEnded)");

    private static HttpGetException Invalid() => new(HttpGetFailure.NotHttp, "request failed (InvalidResponse)");
}

/// <summary>How an answer failed to be HTTP/1.x that <see cref="HttpGet"/> can read.</summary>
internal enum HttpGetFailure
{
    /// <summary>A status line or head that is not HTTP/1.x, or a body it cannot frame.</summary>
    NotHttp,
    /// <summary>The connection ended before the head or the body was complete.</summary>
    CutShort,
    /// <summary>The head or the body is larger than allowed.</summary>
    TooLarge,
}

/// <summary>An answer <see cref="HttpGet"/> cannot use; <see cref="Failure"/> says how, the message in a few words.</summary>
internal sealed class HttpGetException(HttpGetFailure failure, string message) : Exception(message)
{
    public HttpGetFailure Failure { get; } = failure;
}
