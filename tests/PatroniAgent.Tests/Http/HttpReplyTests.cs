using System.Text;
using PatroniAgent.Http;

namespace PatroniAgent.Tests.Http;

public class HttpReplyTests
{
    private static string Text(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);

    [Fact]
    public void The_reply_is_the_status_line_the_headers_and_the_body()
    {
        var reply = new HttpReply(200, "text/plain", "up ready 100%\n"u8);
        Assert.Equal(200, reply.Status);
        Assert.Equal(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\nConnection: close\r\n\r\nup ready 100%\n",
            Text(reply.Bytes));
    }

    [Fact]
    public void The_reply_to_HEAD_has_the_head_only_with_the_Content_Length_of_the_body()
    {
        var reply = new HttpReply(503, "application/json", "{}\n"u8);
        Assert.Equal(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 3\r\nConnection: close\r\n\r\n",
            Text(reply.Head));
        Assert.Equal(Text(reply.Bytes), Text(reply.Head) + "{}\n");
    }

    [Fact]
    public void Allow_and_Cache_Control_follow_Content_Length_when_given()
    {
        var reply = new HttpReply(405, "text/plain", "only GET and HEAD\n"u8, allow: "GET, HEAD", cacheControl: "no-store");
        Assert.Equal(
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 18\r\nAllow: GET, HEAD\r\nCache-Control: no-store\r\nConnection: close\r\n\r\nonly GET and HEAD\n",
            Text(reply.Bytes));
    }

    [Fact]
    public void Content_Length_counts_the_bytes_of_the_body()
    {
        var reply = new HttpReply(200, "text/plain", "d\u00e9j\u00e0\n"u8);
        Assert.Contains("\r\nContent-Length: 7\r\n", Text(reply.Head));
    }

    [Theory]
    [InlineData(200, "OK")]
    [InlineData(400, "Bad Request")]
    [InlineData(404, "Not Found")]
    [InlineData(405, "Method Not Allowed")]
    [InlineData(408, "Request Timeout")]
    [InlineData(431, "Request Header Fields Too Large")]
    [InlineData(503, "Service Unavailable")]
    public void Every_status_the_agent_sends_has_its_reason_phrase(int status, string reason)
    {
        Assert.StartsWith($"HTTP/1.1 {status} {reason}\r\n", Text(new HttpReply(status, "text/plain", default).Bytes));
    }

    [Fact]
    public void A_status_the_agent_does_not_send_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new HttpReply(302, "text/plain", default));
    }
}
