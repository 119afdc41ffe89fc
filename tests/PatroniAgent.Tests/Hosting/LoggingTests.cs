using System.Text;
using Microsoft.Extensions.Logging;
using PatroniAgent.Hosting;

namespace PatroniAgent.Tests.Hosting;

public class LoggingTests
{
    [Fact]
    public void Under_systemd_a_line_starts_with_its_syslog_priority()
    {
        var output = new MemoryStream();
        using (var provider = new LineLoggerProvider(new LogWriter(output), journal: true))
        {
            var logger = provider.CreateLogger("patroni-agent.watcher");
            logger.Log(LogLevel.Warning, new EventId(2), "patroni poll failed: timeout", null, (s, _) => s);
            logger.Log(LogLevel.Information, new EventId(1), "patroni status: role primary", null, (s, _) => s);
            logger.Log(LogLevel.Error, new EventId(4), "state unknown", null, (s, _) => s);
        }
        Assert.Equal(
            "<4>patroni-agent.watcher[2] patroni poll failed: timeout\n" +
            "<6>patroni-agent.watcher[1] patroni status: role primary\n" +
            "<3>patroni-agent.watcher[4] state unknown\n",
            Encoding.UTF8.GetString(output.ToArray()));
    }

    [Fact]
    public void Elsewhere_a_line_starts_with_the_utc_time_and_the_level()
    {
        var output = new MemoryStream();
        using (var provider = new LineLoggerProvider(new LogWriter(output), journal: false))
        {
            provider.CreateLogger("patroni-agent").Log(LogLevel.Information, new EventId(200), "started", null, (s, _) => s);
        }
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info: patroni-agent\[200\] started\n$", Encoding.UTF8.GetString(output.ToArray()));
    }

    [Fact]
    public void An_event_is_one_line_even_with_line_breaks_and_an_exception()
    {
        var output = new MemoryStream();
        using (var provider = new LineLoggerProvider(new LogWriter(output), journal: true))
        {
            Exception thrown;
            try
            {
                throw new InvalidOperationException("bad\nthing");
            }
            catch (InvalidOperationException e)
            {
                thrown = e;
            }
            provider.CreateLogger("x").Log(LogLevel.Error, new EventId(102), "first\r\nsecond", thrown, (s, _) => s);
        }
        string text = Encoding.UTF8.GetString(output.ToArray());
        Assert.Single(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("<3>x[102] first  second System.InvalidOperationException: bad thing", text);
    }

    [Fact]
    public void A_blocked_output_never_blocks_the_caller_and_dropped_lines_are_counted()
    {
        using var output = new BlockedStream();
        using var writer = new LogWriter(output);
        for (int i = 0; i < LogWriter.Capacity + 500; i++)
        {
            writer.Write($"line {i}\n");
        }
        Assert.InRange(writer.Dropped, 499, 501);
        output.Release();
        SpinWait.SpinUntil(() => output.Text.Contains("line(s) dropped"), TimeSpan.FromSeconds(10));
        Assert.Contains("log: ", output.Text);
    }

    /// <summary>A stream whose first write blocks until <see cref="Release"/>, as a full pipe does.</summary>
    private sealed class BlockedStream : MemoryStream
    {
        private readonly ManualResetEventSlim _released = new();
        private readonly StringBuilder _text = new();

        public string Text
        {
            get { lock (_text) return _text.ToString(); }
        }

        public void Release() => _released.Set();

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _released.Wait();
            lock (_text)
            {
                _text.Append(Encoding.UTF8.GetString(buffer));
            }
        }

        protected override void Dispose(bool disposing)
        {
            _released.Set();
            base.Dispose(disposing);
        }
    }
}
