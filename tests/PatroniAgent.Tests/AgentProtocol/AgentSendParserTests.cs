using System.Text;
using PatroniAgent.AgentProtocol;

namespace PatroniAgent.Tests.AgentProtocol;

public class AgentSendParserTests
{
    private static AgentRequest Parse(string text, Mode defaultMode = Mode.Primary) =>
        AgentSendParser.Parse(Encoding.Latin1.GetBytes(text), defaultMode);

    [Theory]
    [InlineData("primary\n", Mode.Primary)]
    [InlineData("master\n", Mode.Primary)]
    [InlineData("read-write\n", Mode.Primary)]
    [InlineData("RW\n", Mode.Primary)]
    [InlineData("replica\n", Mode.Replica)]
    [InlineData("Replica\r\n", Mode.Replica)]
    [InlineData("read-only\n", Mode.ReadOnly)]
    [InlineData("ro\n", Mode.ReadOnly)]
    [InlineData("SYNC\n", Mode.Sync)]
    [InlineData("async\n", Mode.Async)]
    [InlineData("standby-leader\n", Mode.StandbyLeader)]
    [InlineData("leader\n", Mode.Leader)]
    [InlineData("health\n", Mode.Health)]
    [InlineData("  \treplica  \n", Mode.Replica)]
    [InlineData("replica\rprimary\n", Mode.Replica)]
    [InlineData("replica", Mode.Replica)]
    public void The_first_word_names_the_mode(string line, Mode expected)
    {
        var request = Parse(line, Mode.Health);
        Assert.Equal(AgentRequestError.None, request.Error);
        Assert.Equal(expected, request.Mode);
        Assert.False(request.HasMaxLag);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    [InlineData("\r\n")]
    [InlineData("   \n")]
    public void An_empty_line_asks_for_the_listener_mode(string line)
    {
        var request = Parse(line, Mode.Replica);
        Assert.Equal(AgentRequestError.None, request.Error);
        Assert.Equal(Mode.Replica, request.Mode);
    }

    [Theory]
    [InlineData("replica max-lag=16MB\n", 16L << 20)]
    [InlineData("replica max-lag=16mb\n", 16L << 20)]
    [InlineData("replica MAX-LAG=1024\n", 1024)]
    [InlineData("replica lag=10kB\n", 10L << 10)]
    [InlineData("replica max-lag=0\n", 0)]
    [InlineData("replica max-lag=1G\n", 1L << 30)]
    [InlineData("replica max-lag=2TB\n", 2L << 40)]
    [InlineData("replica max-lag=5B\n", 5)]
    [InlineData("replica\tmax-lag=1MB max-lag=2MB\n", 2L << 20)]
    [InlineData("replica max-lag=9223372036854775807\n", long.MaxValue)]
    [InlineData("replica max-lag=9223372036854775800\n", long.MaxValue - 7)]
    [InlineData("replica max-lag=8388607TB\n", 8388607L << 40)]
    public void Max_lag_is_a_size_in_bytes(string line, long expected)
    {
        var request = Parse(line);
        Assert.Equal(AgentRequestError.None, request.Error);
        Assert.True(request.HasMaxLag);
        Assert.Equal(expected, request.MaxLag);
    }

    [Theory]
    [InlineData("writer\n", AgentRequestError.UnknownMode)]
    [InlineData("primaryx\n", AgentRequestError.UnknownMode)]
    [InlineData("replica foo=1\n", AgentRequestError.UnknownParameter)]
    [InlineData("replica max-lag\n", AgentRequestError.UnknownParameter)]
    [InlineData("replica =5\n", AgentRequestError.UnknownParameter)]
    [InlineData("replica max-lag=\n", AgentRequestError.InvalidMaxLag)]
    [InlineData("replica max-lag=abc\n", AgentRequestError.InvalidMaxLag)]
    [InlineData("replica max-lag=-1\n", AgentRequestError.InvalidMaxLag)]
    [InlineData("replica max-lag=16XB\n", AgentRequestError.InvalidMaxLag)]
    [InlineData("replica max-lag=99999999999999999999\n", AgentRequestError.InvalidMaxLag)]
    [InlineData("replica max-lag=9223372036854775808\n", AgentRequestError.InvalidMaxLag)]
    [InlineData("replica max-lag=8388608TB\n", AgentRequestError.InvalidMaxLag)]
    [InlineData("replica max-lag=9999999999TB\n", AgentRequestError.InvalidMaxLag)]
    [InlineData("repl\0ica\n", AgentRequestError.InvalidCharacters)]
    [InlineData("r\u00e9plica\n", AgentRequestError.InvalidCharacters)]
    [InlineData("\u0001\u0002\n", AgentRequestError.InvalidCharacters)]
    public void Unusable_lines_are_errors(string line, AgentRequestError expected)
    {
        Assert.Equal(expected, Parse(line).Error);
    }

    [Fact]
    public void A_full_buffer_without_a_line_end_is_too_long()
    {
        var received = Encoding.ASCII.GetBytes(new string('a', AgentSendParser.MaxLineLength));
        Assert.Equal(AgentRequestError.LineTooLong, AgentSendParser.Parse(received, Mode.Primary).Error);
        var justFits = Encoding.ASCII.GetBytes("replica" + new string(' ', AgentSendParser.MaxLineLength - 8) + "\n");
        Assert.Equal(Mode.Replica, AgentSendParser.Parse(justFits, Mode.Primary).Mode);
    }

    [Fact]
    public void Text_after_the_first_line_is_ignored()
    {
        var request = Parse("replica\ngarbage\0\u00ff\n");
        Assert.Equal(AgentRequestError.None, request.Error);
        Assert.Equal(Mode.Replica, request.Mode);
    }

    [Fact]
    public void Parsing_allocates_nothing()
    {
        var line = "replica max-lag=16MB\n"u8.ToArray();
        AgentSendParser.Parse(line, Mode.Primary);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            AgentSendParser.Parse(line, Mode.Primary);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
