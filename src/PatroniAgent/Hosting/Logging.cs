using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using PatroniAgent.Configuration;

namespace PatroniAgent.Hosting;

/// <summary>
/// Logging to standard error through Microsoft.Extensions.Logging.Console, one line per event: under
/// systemd its systemd formatter (a syslog priority prefix; journald adds the time), on a terminal
/// <see cref="TerminalFormatter"/> (a UTC time and the level), or its JSON formatter for log shippers.
/// The console logger writes on a thread of its own from a queue of <see cref="QueueLength"/> lines
/// that drops, and counts, what a stalled log reader leaves no room for: a slow journal or a full pipe
/// never holds up the watcher or a listener. Disposing the factory writes the lines still queued.
/// </summary>
public static class Logging
{
    /// <summary>The most lines waiting for a slow standard error; past it, lines are dropped.</summary>
    public const int QueueLength = 1024;

    /// <summary>The timestamp of terminal and JSON lines.</summary>
    public const string TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";

    /// <param name="level">The least severe level logged; a reload may change it.</param>
    /// <param name="format">Text or JSON lines.</param>
    /// <param name="environment">The process environment, which says whether journald reads standard error.</param>
    public static ILoggerFactory Create(LogLevelSwitch level, LogFormat format, IReadOnlyDictionary<string, string> environment)
    {
        if (format == LogFormat.Json)
        {
            // The JSON formatter's options (the timestamp) are set through dependency injection, which
            // costs the start about 9 ms; the text formatters need none of it.
            return LoggerFactory.Create(builder =>
            {
                builder.Services.AddSingleton<IOptionsMonitor<LoggerFilterOptions>>(level);
                builder.AddJsonConsole(options =>
                {
                    options.UseUtcTimestamp = true;
                    options.TimestampFormat = TimestampFormat;
                });
                builder.Services.Configure<ConsoleLoggerOptions>(Configure);
            });
        }
        bool journal = environment.ContainsKey("JOURNAL_STREAM") || environment.ContainsKey("INVOCATION_ID");
        var options = new ConsoleLoggerOptions();
        Configure(options);
        // Without formatters of its own the provider makes its built-in ones, the systemd one among them.
        options.FormatterName = journal ? ConsoleFormatterNames.Systemd : TerminalFormatter.FormatterName;
        var console = new ConsoleLoggerProvider(new FixedOptions(options), journal ? null : [new TerminalFormatter()]);
        var factory = new LoggerFactory([], level);
        // Added, not passed to the constructor: the factory disposes only the providers added to it, and
        // disposing the provider writes the lines still waiting (the last ones before an exit).
        factory.AddProvider(console);
        return factory;
    }

    private static void Configure(ConsoleLoggerOptions options)
    {
        options.LogToStandardErrorThreshold = LogLevel.Trace;
        options.QueueFullMode = ConsoleLoggerQueueFullMode.DropWrite;
        options.MaxQueueLength = QueueLength;
    }

    /// <summary>The console logger's options, set once at start.</summary>
    private sealed class FixedOptions(ConsoleLoggerOptions options) : IOptionsMonitor<ConsoleLoggerOptions>
    {
        public ConsoleLoggerOptions CurrentValue => options;

        public ConsoleLoggerOptions Get(string? name) => options;

        public IDisposable? OnChange(Action<ConsoleLoggerOptions, string?> listener) => null;
    }
}

/// <summary>
/// The console logger's formatter for a terminal: one line an event,
/// <c>2026-12-01T17:39:56.123Z info: category[id] message</c>, an exception on the same line.
/// </summary>
public sealed class TerminalFormatter() : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "patroni-agent-terminal";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        string message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (logEntry.Exception is not null)
        {
            message += " " + logEntry.Exception;
        }
        textWriter.Write(DateTime.UtcNow.ToString(Logging.TimestampFormat, CultureInfo.InvariantCulture));
        textWriter.Write(' ');
        textWriter.Write(Label(logEntry.LogLevel));
        textWriter.Write(": ");
        textWriter.Write(logEntry.Category);
        textWriter.Write('[');
        textWriter.Write(logEntry.EventId.Id);
        textWriter.Write("] ");
        textWriter.Write(message.Replace('\r', ' ').Replace('\n', ' '));
        textWriter.Write('\n');
    }

    /// <summary>The level as the console logger's simple formatter writes it.</summary>
    private static string Label(LogLevel level) => level switch
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
