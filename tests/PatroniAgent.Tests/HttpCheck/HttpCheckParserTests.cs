using System.Text;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Http;
using PatroniAgent.HttpCheck;

namespace PatroniAgent.Tests.HttpCheck;

public class HttpCheckParserTests
{
    private static HttpCheckRequest Parse(string text) => HttpCheckParser.Parse(Encoding.Latin1.GetBytes(text));

    private static HttpCheckRequest Get(string target) => Parse($"GET {target} HTTP/1.1\r\nHost: db1:8009\r\n\r\n");

    [Theory]
    [InlineData("/", Mode.Primary)]
    [InlineData("/primary", Mode.Primary)]
    [InlineData("/master", Mode.Primary)]
    [InlineData("/read-write", Mode.Primary)]
    [InlineData("/leader", Mode.Leader)]
    [InlineData("/standby-leader", Mode.StandbyLeader)]
    [InlineData("/standby_leader", Mode.StandbyLeader)]
    [InlineData("/replica", Mode.Replica)]
    [InlineData("/read-only", Mode.ReadOnly)]
    [InlineData("/sync", Mode.Sync)]
    [InlineData("/synchronous", Mode.Sync)]
    [InlineData("/async", Mode.Async)]
    [InlineData("/asynchronous", Mode.Async)]
    [InlineData("/health", Mode.Health)]
    [InlineData("/quorum", Mode.Quorum)]
    [InlineData("/read-only-sync", Mode.ReadOnlySync)]
    [InlineData("/read-only-synchronous", Mode.ReadOnlySync)]
    [InlineData("/read-only-quorum", Mode.ReadOnlyQuorum)]
    [InlineData("/liveness", Mode.Liveness)]
    [InlineData("/liveness/x", Mode.Liveness)]
    [InlineData("/readiness", Mode.Readiness)]
    [InlineData("/primary/", Mode.Primary)]
    [InlineData("/primary/x", Mode.Primary)]
    [InlineData("//primary", Mode.Primary)]
    [InlineData("/primaryx", Mode.Primary)]
    [InlineData("/replicas", Mode.Replica)]
    [InlineData("/x/standby_leader/y", Mode.StandbyLeader)]
    [InlineData("/read-only-leader", Mode.Leader)]
    [InlineData("/read-only/", Mode.ReadOnly)]
    [InlineData("/healthz", Mode.Health)]
    [InlineData("primary", Mode.Primary)]
    [InlineData("http://db1:8009/primary", Mode.Primary)]
    public void The_path_names_the_mode_as_Patroni_routes_it(string path, Mode expected)
    {
        var request = Get(path);
        Assert.Equal(HttpCheckError.None, request.Error);
        Assert.Equal(HttpCheckMethod.Get, request.Method);
        Assert.Equal(expected, request.Mode);
        Assert.Equal(-1, request.MaxLag);
    }

    [Theory]
    [InlineData("//")]
    [InlineData("/Primary")]
    [InlineData("/PRIMARY")]
    [InlineData("/read_only")]
    [InlineData("/read%2Donly")]
    [InlineData("/sync/")]
    [InlineData("/quorums")]
    [InlineData("/read-only-syncx")]
    [InlineData("/Liveness")]
    [InlineData("/cluster")]
    [InlineData("/metrics")]
    [InlineData("*")]
    public void Other_paths_name_no_check(string target)
    {
        Assert.Equal(HttpCheckError.UnknownPath, Get(target).Error);
    }

    [Theory]
    [InlineData("GET", HttpCheckMethod.Get)]
    [InlineData("HEAD", HttpCheckMethod.Head)]
    [InlineData("OPTIONS", HttpCheckMethod.Options)]
    public void GET_HEAD_and_OPTIONS_are_checks(string method, HttpCheckMethod expected)
    {
        var request = Parse($"{method} /replica HTTP/1.1\r\n\r\n");
        Assert.Equal(HttpCheckError.None, request.Error);
        Assert.Equal(expected, request.Method);
        Assert.Equal(Mode.Replica, request.Mode);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    [InlineData("TRACE")]
    [InlineData("CONNECT")]
    [InlineData("get")]
    [InlineData("Head")]
    public void Other_methods_are_not_allowed(string method)
    {
        Assert.Equal(HttpCheckError.MethodNotAllowed, Parse($"{method} /primary HTTP/1.1\r\n\r\n").Error);
    }

    [Fact]
    public void A_method_not_allowed_on_an_unknown_path_is_not_allowed()
    {
        Assert.Equal(HttpCheckError.MethodNotAllowed, Parse("POST /nowhere HTTP/1.1\r\n\r\n").Error);
    }

    [Fact]
    public void HEAD_on_an_unknown_path_keeps_its_method_so_the_reply_has_no_body()
    {
        var request = Parse("HEAD /nowhere HTTP/1.1\r\n\r\n");
        Assert.Equal(HttpCheckError.UnknownPath, request.Error);
        Assert.Equal(HttpCheckMethod.Head, request.Method);
    }

    [Theory]
    [InlineData("OPTIONS /primary HTTP/1.0\r\n\r\n", HttpCheckMethod.Options, Mode.Primary)]
    [InlineData("OPTIONS / HTTP/1.0\r\n\r\n", HttpCheckMethod.Options, Mode.Primary)]
    [InlineData("GET /primary HTTP/1.0\r\n\r\n", HttpCheckMethod.Get, Mode.Primary)]
    [InlineData("GET /replica HTTP/1.0\n\n", HttpCheckMethod.Get, Mode.Replica)]
    [InlineData("GET /replica HTTP/1.1\r\n\n", HttpCheckMethod.Get, Mode.Replica)]
    [InlineData("HEAD /sync HTTP/1.1\r\nHost: 10.0.0.1:8009\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n", HttpCheckMethod.Head, Mode.Sync)]
    [InlineData("GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-empty:\r\n\r\n", HttpCheckMethod.Get, Mode.Health)]
    [InlineData("OPTIONS /leader HTTP/1.1\r\nhost: x\r\n\r\nbody after the head", HttpCheckMethod.Options, Mode.Leader)]
    public void HTTP_1_0_and_1_1_with_and_without_headers(string text, HttpCheckMethod method, Mode mode)
    {
        var request = Parse(text);
        Assert.Equal(HttpCheckError.None, request.Error);
        Assert.Equal(method, request.Method);
        Assert.Equal(mode, request.Mode);
    }

    [Theory]
    [InlineData("/replica?lag=16MB", 16L << 20)]
    [InlineData("/replica?lag=1048576", 1L << 20)]
    [InlineData("/replica?max-lag=1kB", 1024)]
    [InlineData("/replica?lag=0", 0)]
    [InlineData("/read-only?replication_state=streaming&lag=2GB", 2L << 30)]
    [InlineData("/async?lag=1MB&lag=2MB", 2L << 20)]
    [InlineData("/sync?lag=5B&tag_zone=a", 5)]
    [InlineData("/replica?&lag=7&", 7)]
    public void Lag_in_the_query_is_a_size_in_bytes(string target, long expected)
    {
        var request = Get(target);
        Assert.Equal(HttpCheckError.None, request.Error);
        Assert.Equal(expected, request.MaxLag);
    }

    [Theory]
    [InlineData("/replica?lag=16%20MB", 16777216)]
    [InlineData("/replica?lag=16+MB", 16777216)]
    [InlineData("/replica?lag=+5kB", 5120)]
    [InlineData("/replica?lag=%2B5kB", 5120)]
    [InlineData("/replica?lag=%31%30", 10)]
    [InlineData("/replica?lag=0x400", 1024)]
    [InlineData("/replica?lag=1.5MB", 1572864)]
    [InlineData("/replica?lag=1e3", 1000)]
    public void Lag_in_the_query_is_percent_decoded_and_read_as_Patroni_reads_it(string target, long patroniParseInt)
    {
        var request = Get(target);
        Assert.Equal(HttpCheckError.None, request.Error);
        Assert.Equal(patroniParseInt, request.MaxLag);
    }

    [Theory]
    [InlineData("/replica?")]
    [InlineData("/replica?x=1")]
    [InlineData("/replica?LAG=1MB")]
    [InlineData("/replica?lagging=1MB")]
    [InlineData("/replica?replication_state=streaming")]
    [InlineData("/replica?tag_zone=a&mode=write")]
    public void Other_query_parameters_are_ignored(string target)
    {
        var request = Get(target);
        Assert.Equal(HttpCheckError.None, request.Error);
        Assert.Equal(Mode.Replica, request.Mode);
        Assert.Equal(-1, request.MaxLag);
    }

    [Theory]
    [InlineData("/replica?lag=")]
    [InlineData("/replica?lag")]
    [InlineData("/replica?lag=16XB")]
    [InlineData("/replica?lag=-1")]
    [InlineData("/replica?lag=%")]
    [InlineData("/replica?lag=16%2")]
    [InlineData("/replica?max-lag=a")]
    [InlineData("/replica?lag=99999999999999999999")]
    [InlineData("/replica?lag=1MB&lag=x")]
    public void A_lag_that_is_not_a_size_is_a_bad_request(string target)
    {
        Assert.Equal(HttpCheckError.InvalidLag, Get(target).Error);
    }

    [Fact]
    public void A_bad_lag_on_an_unknown_path_is_not_found()
    {
        Assert.Equal(HttpCheckError.UnknownPath, Get("/nowhere?lag=x").Error);
    }

    [Theory]
    [InlineData("GET /primary\r\n\r\n")]
    [InlineData("GET /primary HTTP/2.0\r\n\r\n")]
    [InlineData("GET /primary HTTP/1.2\r\n\r\n")]
    [InlineData("GET /primary http/1.1\r\n\r\n")]
    [InlineData("GET /primary HTTP/1.1 \r\n\r\n")]
    [InlineData("GET  /primary HTTP/1.1\r\n\r\n")]
    [InlineData("GET /pri mary HTTP/1.1\r\n\r\n")]
    [InlineData(" GET /primary HTTP/1.1\r\n\r\n")]
    [InlineData("GET\t/primary HTTP/1.1\r\n\r\n")]
    [InlineData("G(T /primary HTTP/1.1\r\n\r\n")]
    [InlineData("GET /prim\u00e4ry HTTP/1.1\r\n\r\n")]
    [InlineData("\r\n\r\n")]
    [InlineData("\n\n")]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]
    [InlineData("\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003\n\n")]
    public void A_request_line_that_is_not_HTTP_1_is_a_bad_request(string text)
    {
        Assert.Equal(HttpCheckError.Malformed, Parse(text).Error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("GET /primary HTTP/1.1")]
    [InlineData("GET /primary HTTP/1.1\r\n")]
    [InlineData("GET /primary HTTP/1.1\r\nHost: x\r\n")]
    [InlineData("GET /primary HTTP/1.1\r\nHost: x\r\n\r")]
    [InlineData("primary\n")]
    public void Without_the_empty_line_that_ends_the_head_a_request_is_incomplete(string text)
    {
        Assert.False(HttpRequestHead.IsComplete(Encoding.Latin1.GetBytes(text)));
        Assert.Equal(HttpCheckError.Incomplete, Parse(text).Error);
    }

    [Theory]
    [InlineData("GET /primary HTTP/1.1\r\n\r\n")]
    [InlineData("GET /primary HTTP/1.1\n\n")]
    [InlineData("GET /primary HTTP/1.1\r\nHost: x\r\n\r\n")]
    [InlineData("GET /primary HTTP/1.1\nHost: x\n\n")]
    public void The_empty_line_completes_a_request(string text)
    {
        Assert.True(HttpRequestHead.IsComplete(Encoding.Latin1.GetBytes(text)));
    }

    [Fact]
    public void A_head_that_fills_the_request_limit_without_ending_is_too_large()
    {
        var text = "GET /primary HTTP/1.1\r\nX-Padding: " + new string('a', HttpCheckParser.MaxRequestLength);
        var bytes = Encoding.ASCII.GetBytes(text)[..HttpCheckParser.MaxRequestLength];
        Assert.Equal(HttpCheckError.TooLarge, HttpCheckParser.Parse(bytes).Error);
        Assert.Equal(HttpCheckError.Incomplete, HttpCheckParser.Parse(bytes[..^1]).Error);
    }

    [Fact]
    public void A_head_of_exactly_the_request_limit_is_answered()
    {
        const string start = "GET /primary HTTP/1.1\r\nX-Padding: ";
        var text = start + new string('a', HttpCheckParser.MaxRequestLength - start.Length - 4) + "\r\n\r\n";
        Assert.Equal(HttpCheckParser.MaxRequestLength, text.Length);
        Assert.Equal(HttpCheckError.None, Parse(text).Error);
    }

    [Theory]
    [InlineData(HttpCheckError.Malformed, 400)]
    [InlineData(HttpCheckError.Incomplete, 400)]
    [InlineData(HttpCheckError.TooLarge, 400)]
    [InlineData(HttpCheckError.InvalidLag, 400)]
    [InlineData(HttpCheckError.UnknownPath, 503)]
    [InlineData(HttpCheckError.MethodNotAllowed, 405)]
    public void Each_error_has_its_status(HttpCheckError error, int status)
    {
        Assert.Equal(status, HttpCheckParser.ErrorStatus(error));
        Assert.NotEmpty(HttpCheckParser.ErrorReason(error));
    }
}
