using System.Text;
using PatroniAgent.Http;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Http;

[Collection(nameof(AllocationCollection))]
public class HttpRequestHeadTests
{
    private static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

    private static string Text(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n\r\n", true)]
    [InlineData("GET / HTTP/1.1\n\n", true)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n\r\n", true)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n", false)]
    [InlineData("GET / HTTP/1.1\r\n\r", false)]
    [InlineData("", false)]
    public void A_head_is_complete_once_an_empty_line_ends_it(string text, bool complete)
    {
        Assert.Equal(complete, HttpRequestHead.IsComplete(Bytes(text)));
    }

    [Theory]
    [InlineData("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET /metrics?x=1 HTTP/1.1\nHost: a\n\n")]
    public void The_request_line_is_read_into_method_target_and_version_whichever_the_line_end(string text)
    {
        Assert.True(HttpRequestHead.TryReadRequestLine(Bytes(text), out var line));
        Assert.Equal("GET", Text(line.Method));
        Assert.Equal("/metrics?x=1", Text(line.Target));
        Assert.Equal("HTTP/1.1", Text(line.Version));
    }

    [Theory]
    [InlineData("/replica", "/replica", "")]
    [InlineData("/replica?", "/replica", "")]
    [InlineData("/replica?lag=1MB", "/replica", "lag=1MB")]
    [InlineData("/replica?a=1?b=2", "/replica", "a=1?b=2")]
    [InlineData("*", "*", "")]
    public void The_target_is_split_into_path_and_query_at_its_first_question_mark(string target, string path, string query)
    {
        Assert.True(HttpRequestHead.TryReadRequestLine(Bytes($"OPTIONS {target} HTTP/1.0\r\n\r\n"), out var line));
        Assert.Equal(path, Text(line.Path));
        Assert.Equal(query, Text(line.Query));
    }

    [Fact]
    public void Query_parameters_are_read_in_order_as_sent_and_one_without_an_equals_sign_has_an_empty_value()
    {
        Assert.True(HttpRequestHead.TryReadRequestLine(Bytes("GET /x?lag=16MB&&flag&a=b=c&lag=%31& HTTP/1.1\r\n\r\n"), out var line));
        var read = new List<string>();
        foreach (var parameter in line.Parameters)
        {
            read.Add($"{Text(parameter.Name)}|{Text(parameter.Value)}");
        }
        Assert.Equal(["lag|16MB", "|", "flag|", "a|b=c", "lag|%31"], read);
    }

    [Fact]
    public void A_target_without_a_query_has_no_parameters()
    {
        Assert.True(HttpRequestHead.TryReadRequestLine(Bytes("GET /x HTTP/1.1\r\n\r\n"), out var line));
        foreach (var parameter in line.Parameters)
        {
            Assert.Fail($"read {Text(parameter.Name)}");
        }
    }

    [Theory]
    [InlineData("\r\n\r\n")]
    [InlineData("hello\r\n\r\n")]
    [InlineData("GET /metrics\r\n\r\n")]
    [InlineData("GET  /metrics HTTP/1.1\r\n\r\n")]
    [InlineData(" /metrics HTTP/1.1\r\n\r\n")]
    [InlineData("GET /metrics  HTTP/1.1\r\n\r\n")]
    [InlineData("GET /metrics HTTP/1.1 \r\n\r\n")]
    [InlineData("GET /metrics SPDY/3\r\n\r\n")]
    [InlineData("GET /metrics HTTP/1.2\r\n\r\n")]
    [InlineData("GET /metrics http/1.1\r\n\r\n")]
    [InlineData("GET /metrics HTTP/1.1\rX\r\n\r\n")]
    [InlineData("G(T /metrics HTTP/1.1\r\n\r\n")]
    [InlineData("G\u00c9T /metrics HTTP/1.1\r\n\r\n")]
    [InlineData("GET /metrics\t HTTP/1.1\r\n\r\n")]
    [InlineData("GET /m\u00e9trics HTTP/1.1\r\n\r\n")]
    [InlineData("GET /metrics\u007f HTTP/1.1\r\n\r\n")]
    public void A_line_that_is_not_a_token_a_visible_target_and_HTTP_1_0_or_1_1_is_refused(string text)
    {
        Assert.False(HttpRequestHead.TryReadRequestLine(Bytes(text), out _));
    }

    [Fact]
    public void A_request_line_that_has_not_ended_is_refused()
    {
        Assert.False(HttpRequestHead.TryReadRequestLine(Bytes("GET /metrics HTTP/1.1"), out _));
    }

    [Fact]
    public void Reading_a_head_and_its_parameters_allocates_nothing()
    {
        var head = Bytes("GET /replica?lag=16MB&max-lag=1 HTTP/1.1\r\nHost: db1\r\n\r\n");
        int parameters = 0;
        Assert.Equal(0, Allocations.OnThisThread(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                if (HttpRequestHead.IsComplete(head) && HttpRequestHead.TryReadRequestLine(head, out var line) && line.Path.Length > 0)
                {
                    foreach (var parameter in line.Parameters)
                    {
                        parameters += parameter.Value.Length;
                    }
                }
            }
        }));
        Assert.Equal(5000, parameters);
    }
}
