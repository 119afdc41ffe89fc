using System.Net.Sockets;
using Microsoft.Extensions.Hosting.Systemd;
using PatroniAgent.Hosting;

namespace PatroniAgent.Commands;

/// <summary><c>patroni-agent run</c>: serves checks until SIGTERM or SIGINT, logging to standard error.</summary>
public static class RunCommand
{
    /// <summary>Returns 0 after a clean stop, 1 when a listener cannot be bound.</summary>
    public static int Run(Invocation run)
    {
        var options = run.Line.Options;
        var logLevel = new LogLevelSwitch(options.LogLevel);
        using var loggers = Logging.Create(logLevel, options.LogFormat, run.Context.Environment);
        try
        {
            using var host = new AgentHost(options, loggers, new SystemdNotifier(), run.ReadAgain, logLevel);
            return host.RunUntilSignalled();
        }
        catch (SocketException e)
        {
            run.Context.Error.WriteLine($"patroni-agent: {e.Message}");
            return 1;
        }
    }
}
