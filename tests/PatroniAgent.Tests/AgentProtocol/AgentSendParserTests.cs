using System.Text;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.AgentProtocol;

[Collection(nameof(AllocationCollection))]
public class AgentSendParserTests
{
    private static AgentRequest Parse(string text, Mode defaultMode = Mode.Primary) =>
        AgentSendParser.Parse(Encoding.Latin1.GetBytes(text), AgentRequest.For(defaultMode));

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
        Assert.Equal(AgentRequestError.LineTooLong, AgentSendParser.Parse(received, AgentRequest.For(Mode.Primary)).Error);
        var justFits = Encoding.ASCII.GetBytes("replica" + new string(' ', AgentSendParser.MaxLineLength - 8) + "\n");
        Assert.Equal(Mode.Replica, AgentSendParser.Parse(justFits, AgentRequest.For(Mode.Primary)).Mode);
    }

    [Fact]
    public void Text_after_the_first_line_is_ignored()
    {
        var request = Parse("replica\ngarbage\0\u00ff\n");
        Assert.Equal(AgentRequestError.None, request.Error);
        Assert.Equal(Mode.Replica, request.Mode);
    }

    private static readonly AgentRequest ListenerCheck =
        new(Mode.Replica, 16L << 20, AgentRequestError.None) { ReturnLag = 4L << 20, HoldMilliseconds = 30_000, Weighted = true, ByReceived = true };

    [Theory]
    [InlineData("", Mode.Replica, 16L << 20, 4L << 20, 30_000L, true, true)]
    [InlineData("\n", Mode.Replica, 16L << 20, 4L << 20, 30_000L, true, true)]
    [InlineData("read-only\n", Mode.ReadOnly, 16L << 20, 4L << 20, 30_000L, true, true)]
    [InlineData("replica max-lag=1MB\n", Mode.Replica, 1L << 20, 4L << 20, 30_000L, true, true)]
    [InlineData("replica hold=1s return-lag=0\n", Mode.Replica, 16L << 20, 0L, 1_000L, true, true)]
    [InlineData("replica weighted=no mode=apply\n", Mode.Replica, 16L << 20, 4L << 20, 30_000L, false, false)]
    public void A_line_keeps_the_listeners_lag_parameters_where_it_gives_none(
        string line, Mode mode, long maxLag, long returnLag, long hold, bool weighted, bool byReceived)
    {
        var request = AgentSendParser.Parse(Encoding.ASCII.GetBytes(line), ListenerCheck);

        Assert.Equal(new AgentRequest(mode, maxLag, AgentRequestError.None)
        {
            ReturnLag = returnLag, HoldMilliseconds = hold, Weighted = weighted, ByReceived = byReceived,
        }, request);
    }

    [Fact]
    public void A_line_that_cannot_be_used_fails_whatever_the_listener_gives()
    {
        Assert.Equal(new AgentRequest(Mode.Replica, AgentRequest.NoMaxLag, AgentRequestError.InvalidMaxLag),
            AgentSendParser.Parse("replica max-lag=x\n"u8, ListenerCheck));
        Assert.Equal(new AgentRequest(Mode.Replica, AgentRequest.NoMaxLag, AgentRequestError.UnknownMode),
            AgentSendParser.Parse("bogus\n"u8, ListenerCheck));
    }

    [Fact]
    public void Parsing_allocates_nothing()
    {
        var line = "replica max-lag=16MB\n"u8.ToArray();
        AgentSendParser.Parse(line, AgentRequest.For(Mode.Primary));
        Assert.Equal(0, Allocations.OnThisThread(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                AgentSendParser.Parse(line, AgentRequest.For(Mode.Primary));
            }
        }));
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("1024", 1024)]
    [InlineData("010", 8)]
    [InlineData("0x400", 1024)]
    [InlineData("0x1F", 31)]
    [InlineData("-0", 0)]
    [InlineData("-0x0", 0)]
    [InlineData("+5kB", 5120)]
    [InlineData("+0x10", 16)]
    [InlineData("1.5MB", 1572864)]
    [InlineData("16 MB", 16777216)]
    [InlineData(" 16MB ", 16777216)]
    [InlineData("\t16\tMB", 16777216)]
    [InlineData("1e3", 1000)]
    [InlineData("1E3", 1000)]
    [InlineData("1e+3", 1000)]
    [InlineData("1.5e3kB", 1536000)]
    [InlineData(".5", 0)]
    [InlineData("0.5", 0)]
    [InlineData("1.5", 2)]
    [InlineData("2.5", 2)]
    [InlineData("3.5", 4)]
    [InlineData("1.5B", 2)]
    [InlineData("4097.4kB", 4195738)]
    [InlineData("4097.5kB", 4195840)]
    [InlineData("0x10MB", 16777216)]
    [InlineData("0x10B", 267)]
    [InlineData("010kB", 8192)]
    [InlineData("016MB", 14680064)]
    [InlineData("010e1", 100)]
    [InlineData("010.5", 10)]
    [InlineData("0e3", 0)]
    [InlineData("-0.4", 0)]
    [InlineData("1e-3", 0)]
    [InlineData("0.3TB", 329638739968L)]
    [InlineData("1.1GB", 1180696576)]
    [InlineData("1.2345678MB", 1294336)]
    [InlineData("9223372036854775807", 9223372036854775807L)]
    [InlineData("0x7fffffffffffffff", 9223372036854775807L)]
    [InlineData("8388607TB", 9223370937343148032L)]
    [InlineData("99999999999999999999e-10", 10000000000L)]
    public void Lag_is_read_as_Patroni_reads_it(string text, long patroniParseInt)
    {
        Assert.Equal(patroniParseInt, Size(text));
    }

    [Theory]
    [InlineData("08")]
    [InlineData("09")]
    [InlineData("0x")]
    [InlineData("0X10")]
    [InlineData("1.")]
    [InlineData("-.5")]
    [InlineData("+.5")]
    [InlineData("1e")]
    [InlineData("1 6")]
    [InlineData("16 M B")]
    [InlineData("1TB.")]
    [InlineData("abc")]
    [InlineData("")]
    [InlineData("16XB")]
    public void Lag_that_Patroni_reads_as_None_is_invalid(string text)
    {
        Assert.Null(Size(text));
    }

    [Theory]
    [InlineData("-1", "-1")]
    [InlineData("-5kB", "-5120")]
    [InlineData("-0.6", "-1")]
    [InlineData("9223372036854775808", "9223372036854775808")]
    [InlineData("8388608TB", "9223372036854775808")]
    [InlineData("99999999999999999999", "99999999999999999999")]
    [InlineData("9223372036854775807B", "9223372036854775808")]
    [InlineData("9007199254740993kB", "9223372036854775808")]
    public void Lag_that_Patroni_reads_as_negative_or_beyond_a_long_is_invalid(string text, string patroniParseInt)
    {
        Assert.True(patroniParseInt.StartsWith('-') || System.Numerics.BigInteger.Parse(patroniParseInt) > long.MaxValue);
        Assert.Null(Size(text));
    }

    [Theory]
    [InlineData("16kb", "16kB", 16384)]
    [InlineData("16mb", "16MB", 16777216)]
    [InlineData("16M", "16MB", 16777216)]
    [InlineData("16 m", "16 MB", 16777216)]
    [InlineData("1.5g", "1.5GB", 1610612736)]
    [InlineData("2t", "2TB", 2199023255552L)]
    [InlineData("0x10K", "0x10kB", 16384)]
    [InlineData("5b", "5B", 5)]
    public void Lag_units_may_be_in_any_case_and_without_their_B_as_Patroni_reads_the_exact_unit(string text, string patroniText, long patroniParseInt)
    {
        Assert.Equal(patroniParseInt, Size(text));
        Assert.Equal(patroniParseInt, Size(patroniText));
    }

    [Fact]
    public void Parsing_a_fraction_allocates_nothing()
    {
        var line = "replica max-lag=1.5e3kB\n"u8.ToArray();
        AgentSendParser.Parse(line, AgentRequest.For(Mode.Primary));
        Assert.Equal(0, Allocations.OnThisThread(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                AgentSendParser.Parse(line, AgentRequest.For(Mode.Primary));
            }
        }));
    }

    private static long? Size(string text) => AgentSendParser.TryParseSize(Encoding.ASCII.GetBytes(text), out long bytes) ? bytes : null;
}
