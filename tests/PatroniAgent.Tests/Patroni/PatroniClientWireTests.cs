using System.Net;
using System.Net.Sockets;
using System.Text;
using PatroniAgent.Patroni;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Patroni;

/// <summary>
/// <see cref="PatroniClient"/>'s HTTP on the wire, against the stand-in Patroni answering bytes a test
/// writes: the request it sends, the framings of an answer it reads, and the ends it gives a server that
/// does not speak HTTP or never takes the connection.
/// </summary>
public sealed class PatroniClientWireTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(5);

    private static byte[] Chunked(byte[] body, int pieces, string end = "0\r\n\r\n")
    {
        var text = new MemoryStream();
        text.Write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"u8);
        int size = (body.Length + pieces - 1) / pieces;
        for (int at = 0; at < body.Length; at += size)
        {
            int length = Math.Min(size, body.Length - at);
            text.Write(Encoding.ASCII.GetBytes($"{length:x};piece={at}\r\n"));
            text.Write(body, at, length);
            text.Write("\r\n"u8);
        }
        text.Write(Encoding.ASCII.GetBytes(end));
        return text.ToArray();
    }

    private static FakePatroni Answering(byte[] reply, bool close = true) => new FakePatroni().Status(new FakeReply.Raw(reply, close));

    [Fact]
    public async Task The_request_is_a_plain_get_that_closes_the_connection()
    {
        await using var patroni = new FakePatroni().Set("/api/", new FakeReply.Answer(503, "{}"u8.ToArray()));
        var client = new PatroniClient(new Uri(patroni.Url, "/api/"), Generous);

        client.Poll(CancellationToken.None);

        Assert.Equal($"GET /api/ HTTP/1.1\r\nHost: {patroni.Url.Authority}\r\nAccept: application/json\r\nConnection: close\r\n\r\n", patroni.LastRequest);
    }

    [Fact]
    public async Task A_chunked_answer_is_read()
    {
        await using var patroni = Answering(Chunked(PatroniFixtures.Load("v4.1.4-primary").Body, pieces: 7, end: "0\r\nX-Trailer: yes\r\n\r\n"));
        var client = new PatroniClient(patroni.Url, Generous);

        var result = client.Poll(CancellationToken.None);

        Assert.Null(result.Error);
        Assert.Equal("primary", result.Status!.RoleName);
        Assert.Equal(1, result.Status.Timeline);
    }

    [Fact]
    public async Task A_chunked_answer_without_its_last_chunk_is_cut_short()
    {
        await using var patroni = Answering(Chunked(PatroniFixtures.Load("v4.1.4-primary").Body, pieces: 3, end: ""));
        var client = new PatroniClient(patroni.Url, Generous);

        Assert.Equal(new PollResult(null, "patroni answer cut short (ResponseEnded)", PollErrorKind.Http), client.Poll(CancellationToken.None));
    }

    [Fact]
    public async Task A_chunked_answer_larger_than_the_limit_is_refused()
    {
        await using var patroni = Answering(Chunked(new byte[PatroniClient.MaxBodyBytes + 1], pieces: 2));
        var client = new PatroniClient(patroni.Url, Generous);

        Assert.Equal(new PollResult(null, "patroni answer larger than 1024 kB", PollErrorKind.Http), client.Poll(CancellationToken.None));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\n{}")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n{}")]
    [InlineData("HTTP/2 200\r\n\r\n{}")]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n{}")]
    public async Task A_head_that_does_not_frame_a_body_is_not_http(string reply)
    {
        await using var patroni = Answering(Encoding.ASCII.GetBytes(reply));
        var client = new PatroniClient(patroni.Url, Generous);

        Assert.Equal(new PollResult(null, "patroni request failed (InvalidResponse)", PollErrorKind.Http), client.Poll(CancellationToken.None));
    }

    [Fact]
    public async Task A_server_of_another_protocol_is_told_apart_without_waiting_for_the_timeout()
    {
        await using var patroni = Answering("SSH-2.0-OpenSSH_9.2\r\n"u8.ToArray(), close: false);
        var client = new PatroniClient(patroni.Url, TimeSpan.FromMinutes(5));

        Assert.Equal(new PollResult(null, "patroni request failed (InvalidResponse)", PollErrorKind.Http), client.Poll(new CancellationTokenSource(Generous).Token));
    }

    /// <summary>
    /// A listener whose accept queue is full drops the client's SYN, so its connect waits: the poll ends at
    /// its timeout, long before the caller's token (whose cancellation would be an exception) or the kernel's
    /// own connect timeout.
    /// </summary>
    [Fact]
    public async Task A_connection_never_taken_ends_at_the_timeout()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        var fillers = new List<Socket>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                fillers.Add(filler);
                try
                {
                    await filler.ConnectAsync(listener.LocalEndPoint!).WaitAsync(TimeSpan.FromMilliseconds(300));
                }
                catch (TimeoutException)
                {
                }
            }
            var client = new PatroniClient(new Uri($"http://{listener.LocalEndPoint}/"), TimeSpan.FromMilliseconds(200));

            var result = client.Poll(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);

            Assert.Equal(new PollResult(null, "no answer from patroni within 200 ms", PollErrorKind.Timeout), result);
        }
        finally
        {
            fillers.ForEach(s => s.Dispose());
        }
    }
}
