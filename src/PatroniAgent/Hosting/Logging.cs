using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace PatroniAgent.Hosting;

/// <summary>Console logging: syslog-style priorities under systemd (journald adds the time), timestamps elsewhere.</summary>
public static class Logging
{
    public static ILoggerFactory Create(LogLevel level, IReadOnlyDictionary<string, string> environment) =>
        LoggerFactory.Create(builder =>
        {
            builder.SetMinimumLevel(level);
            if (environment.ContainsKey("JOURNAL_STREAM") || environment.ContainsKey("INVOCATION_ID"))
            {
                builder.AddSystemdConsole(o => o.IncludeScopes = false);
            }
            else
            {
                builder.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.IncludeScopes = false;
                    o.UseUtcTimestamp = true;
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                    o.ColorBehavior = LoggerColorBehavior.Disabled;
                });
            }
        });
}
