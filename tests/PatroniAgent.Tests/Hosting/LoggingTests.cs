using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PatroniAgent.Hosting;
using PatroniAgent.Configuration;

namespace PatroniAgent.Tests.Hosting;

/// <summary>
/// The console logger as the agent sets it up: the terminal formatter's lines, and the queue that
/// keeps a stalled standard error from holding up the caller. The systemd and JSON formats are read
/// off the published binary (<c>PublishedBinaryTests</c>).
/// </summary>
[Collection(nameof(StandardErrorCollection))]
public class LoggingTests
{
    private static string Format(LogLevel level, string category, int eventId, string message, Exception? exception = null)
    {
        var output = new StringWriter();
        new TerminalFormatter().Write(new LogEntry<string>(level, category, new EventId(eventId), message, exception, (s, _) => s), null, output);
        return output.ToString();
    }

    [Fact]
    public void On_a_terminal_a_line_starts_with_the_utc_time_and_the_level()
    {
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info: patroni-agent\[200\] started\n$", Format(LogLevel.Information, "patroni-agent", 200, "started"));
        Assert.Matches(@"Z warn: patroni-agent.watcher\[2\] patroni poll failed: timeout\n$", Format(LogLevel.Warning, "patroni-agent.watcher", 2, "patroni poll failed: timeout"));
        Assert.Matches(@"Z fail: x\[4\] state unknown\n$", Format(LogLevel.Error, "x", 4, "state unknown"));
    }

    [Fact]
    public void An_event_is_one_line_even_with_line_breaks_and_an_exception()
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
        string text = Format(LogLevel.Error, "x", 102, "first\r\nsecond", thrown);

        Assert.Single(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(" fail: x[102] first  second System.InvalidOperationException: bad thing", text);
    }

    /// <summary>The agent's console logger, writing to <paramref name="stderr"/> instead of the test process's standard error.</summary>
    private static ILoggerFactory LoggingTo(TextWriter stderr, LogLevelSwitch level)
    {
        var saved = Console.Error;
        Console.SetError(stderr);
        try
        {
            return Logging.Create(level, LogFormat.Text, new Dictionary<string, string>());
        }
        finally
        {
            Console.SetError(saved);
        }
    }

    [Fact]
    public void A_blocked_output_never_blocks_the_caller_and_the_dropped_lines_are_counted()
    {
        using var output = new BlockedWriter();
        var loggers = LoggingTo(output, new LogLevelSwitch(LogLevel.Information));
        var logger = loggers.CreateLogger("patroni-agent.watcher");

        var logging = new Thread(() =>
        {
            for (int i = 0; i < Logging.QueueLength + 500; i++)
            {
                logger.LogWarning("line {Number}", i);
            }
        });
        logging.Start();
        Assert.True(logging.Join(TimeSpan.FromSeconds(30)), "logging blocked on a stalled standard error");

        // The console logger says how many it dropped with the next line it queues.
        output.Release();
        Assert.True(SpinWait.SpinUntil(() => output.Text.Contains($"line {Logging.QueueLength - 1}\n"), TimeSpan.FromSeconds(30)), output.Text);
        logger.LogWarning("after");
        loggers.Dispose();
        Assert.Contains("message(s) dropped because of queue size limit", output.Text);
        Assert.Matches(@"Z warn: patroni-agent.watcher\[0\] line 0\n", output.Text);
        Assert.EndsWith("Z warn: patroni-agent.watcher[0] after\n", output.Text);
    }

    [Fact]
    public void A_clean_stop_writes_every_line_still_queued_and_the_level_applies_at_once()
    {
        using var output = new BlockedWriter();
        var level = new LogLevelSwitch(LogLevel.Information);
        var loggers = LoggingTo(output, level);
        var logger = loggers.CreateLogger("patroni-agent");
        for (int i = 0; i < 100; i++)
        {
            logger.LogInformation("line {Number}", i);
        }
        logger.LogDebug("hidden");
        level.Set(LogLevel.Debug);
        logger.LogDebug("shown");

        output.Release();
        loggers.Dispose();
        string[] lines = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(101, lines.Length);
        Assert.EndsWith("info: patroni-agent[0] line 99", lines[99]);
        Assert.EndsWith("dbug: patroni-agent[0] shown", lines[100]);
    }

    /// <summary>A standard error whose writes block until <see cref="Release"/>, as a full pipe does.</summary>
    private sealed class BlockedWriter : TextWriter
    {
        private readonly ManualResetEventSlim _released = new();
        private readonly StringBuilder _text = new();

        public override Encoding Encoding => Encoding.UTF8;

        public string Text
        {
            get { lock (_text) return _text.ToString(); }
        }

        public void Release() => _released.Set();

        public override void Write(char value) => Write(value.ToString());

        public override void Write(string? value)
        {
            _released.Wait();
            lock (_text)
            {
                _text.Append(value);
            }
        }

        protected override void Dispose(bool disposing)
        {
            _released.Set();
            base.Dispose(disposing);
        }
    }
}

/// <summary>Tests that swap the process's standard error for a moment run one at a time.</summary>
[CollectionDefinition(nameof(StandardErrorCollection), DisableParallelization = true)]
public sealed class StandardErrorCollection;
