using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace PatroniAgent.Hosting;

/// <summary>
/// Logging to standard error, one line per event: with a syslog priority prefix under systemd
/// (journald adds the time), with a UTC timestamp elsewhere. The agent logs a few lines per change,
/// so a small writer of its own replaces the console logger's options and dependency-injection
/// machinery, which took 7 ms of a 17 ms start in the native binary.
/// </summary>
public static class Logging
{
    /// <param name="level">The least severe level logged; a reload may change it.</param>
    /// <param name="environment">The process environment, which says whether journald reads standard error.</param>
    public static ILoggerFactory Create(LogLevelSwitch level, IReadOnlyDictionary<string, string> environment)
    {
        bool journal = environment.ContainsKey("JOURNAL_STREAM") || environment.ContainsKey("INVOCATION_ID");
        var writer = new LogWriter(Console.OpenStandardError());
        var factory = new LoggerFactory([], level);
        // Added, not passed to the constructor: the factory disposes only the providers added to it, and
        // disposing the provider writes the lines still waiting (the last ones before an exit).
        factory.AddProvider(new LineLoggerProvider(writer, journal));
        return factory;
    }
}

/// <summary>
/// The least severe level logged, as the filter options of a <see cref="LoggerFactory"/>: the factory
/// applies a new level to every logger it made as soon as <see cref="Set"/> is called.
/// </summary>
public sealed class LogLevelSwitch(LogLevel level) : IOptionsMonitor<LoggerFilterOptions>
{
    private readonly List<Action<LoggerFilterOptions, string?>> _listeners = [];
    private volatile LoggerFilterOptions _current = new() { MinLevel = level };

    public LogLevel Level => _current.MinLevel;

    public LoggerFilterOptions CurrentValue => _current;

    public LoggerFilterOptions Get(string? name) => _current;

    public void Set(LogLevel level)
    {
        _current = new LoggerFilterOptions { MinLevel = level };
        Action<LoggerFilterOptions, string?>[] listeners;
        lock (_listeners)
        {
            listeners = [.. _listeners];
        }
        foreach (var listener in listeners)
        {
            listener(_current, null);
        }
    }

    public IDisposable OnChange(Action<LoggerFilterOptions, string?> listener)
    {
        lock (_listeners)
        {
            _listeners.Add(listener);
        }
        return new Subscription(this, listener);
    }

    private sealed class Subscription(LogLevelSwitch owner, Action<LoggerFilterOptions, string?> listener) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._listeners)
            {
                owner._listeners.Remove(listener);
            }
        }
    }
}

/// <summary>Formats each event as one line: <c>&lt;6&gt;category[id] message</c> or <c>2026-12-01T17:39:56.123Z info: category[id] message</c>.</summary>
public sealed class LineLoggerProvider(LogWriter writer, bool journal) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new LineLogger(categoryName, writer, journal);

    public void Dispose() => writer.Dispose();

    private sealed class LineLogger(string category, LogWriter writer, bool journal) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            var line = new StringBuilder(160);
            if (journal)
            {
                line.Append('<').Append(Priority(logLevel)).Append('>');
            }
            else
            {
                line.Append(DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ ", System.Globalization.CultureInfo.InvariantCulture))
                    .Append(Label(logLevel)).Append(": ");
            }
            line.Append(category).Append('[').Append(eventId.Id).Append("] ").Append(formatter(state, exception));
            if (exception is not null)
            {
                line.Append(' ').Append(exception);
            }
            line.Replace('\r', ' ').Replace('\n', ' ').Append('\n');
            writer.Write(line.ToString());
        }
    }

    /// <summary>The syslog priority journald reads from a <c>&lt;N&gt;</c> prefix.</summary>
    public static int Priority(LogLevel level) => level switch
    {
        LogLevel.Critical => 2,
        LogLevel.Error => 3,
        LogLevel.Warning => 4,
        LogLevel.Information => 6,
        _ => 7,
    };

    public static string Label(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        _ => "crit",
    };
}

/// <summary>
/// Writes lines on a thread of its own, so that a stalled log reader (a full pipe, a slow journal)
/// never holds up the watcher or a listener. At most <see cref="Capacity"/> lines wait; past that,
/// lines are dropped and the count of dropped lines is written once the writer catches up.
/// </summary>
public sealed class LogWriter : IDisposable
{
    public const int Capacity = 1024;

    private readonly Stream _output;
    private readonly BlockingCollection<string> _lines = new(Capacity);
    private readonly Thread _thread;
    private long _dropped;

    public LogWriter(Stream output)
    {
        _output = output;
        _thread = new Thread(Drain) { IsBackground = true, Name = "log-writer" };
        _thread.Start();
    }

    /// <summary>Lines dropped so far because <see cref="Capacity"/> lines were waiting.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void Write(string line)
    {
        try
        {
            if (_lines.TryAdd(line))
            {
                return;
            }
        }
        catch (InvalidOperationException)
        {
            // Stopped: nothing is written any more.
        }
        Interlocked.Increment(ref _dropped);
    }

    private void Drain()
    {
        long reported = 0;
        foreach (var line in _lines.GetConsumingEnumerable())
        {
            try
            {
                long dropped = Dropped;
                if (dropped != reported)
                {
                    WriteRaw($"log: {dropped - reported} line(s) dropped while the log output was blocked\n");
                    reported = dropped;
                }
                WriteRaw(line);
            }
            catch (IOException)
            {
                Interlocked.Increment(ref _dropped);
            }
        }
    }

    private void WriteRaw(string line)
    {
        _output.Write(Encoding.UTF8.GetBytes(line));
        _output.Flush();
    }

    /// <summary>Writes what is waiting (for at most 2 s, the output may be stalled) and stops.</summary>
    public void Dispose()
    {
        _lines.CompleteAdding();
        _thread.Join(TimeSpan.FromSeconds(2));
    }
}
