using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Configuration;
using PatroniAgent.Control;
using PatroniAgent.HttpCheck;
using PatroniAgent.Metrics;
using PatroniAgent.Server;
using PatroniAgent.Watcher;

namespace PatroniAgent.Hosting;

/// <summary>
/// The running agent: the watcher polling Patroni and the server answering agent checks and HTTP
/// health checks from the same answers, and the control socket, until SIGTERM or SIGINT. Under a <c>Type=notify</c> systemd unit it
/// tells systemd <c>READY=1</c> once every listener is bound and <c>STOPPING=1</c> when it begins to stop.
/// </summary>
public sealed partial class AgentHost : IDisposable
{
    /// <summary>The settings a reload applies; the others need a restart (their sockets, threads and files are set up at start).</summary>
    public static readonly IReadOnlySet<string> ReloadableKeys = new HashSet<string>
    {
        "allow", "patroni-url", "patroni-ca-file", "patroni-cert-file", "patroni-key-file", "patroni-auth-file",
        "poll-interval", "timeout", "stale-after", "unknown-answer", "log-level", "return-lag", "lag-hold", "metrics-checkers",
    };

    private AgentOptions _options;
    private readonly Func<AgentOptions>? _reload;
    private readonly LogLevelSwitch? _logLevel;
    private readonly ILogger _logger;
    private readonly RoleWatcher _watcher;
    private readonly AgentServer _server;
    private readonly MetricsServer? _metrics;
    private readonly AgentMetrics? _agentMetrics;
    private readonly ISystemdNotifier _systemd;
    private readonly ControlChannel _control;
    private readonly CancellationTokenSource _stopping = new();
    private Thread? _watching;

    /// <param name="options">The merged configuration.</param>
    /// <param name="loggers">Where the agent logs.</param>
    /// <param name="systemd">Told when the agent is ready, reloading and stopping; does nothing outside systemd.</param>
    /// <param name="reload">Reads the configuration again, for SIGHUP; throws <see cref="ConfigException"/> when it is invalid. Null ignores SIGHUP.</param>
    /// <param name="logLevel">The level <paramref name="loggers"/> log at, which a reload sets.</param>
    public AgentHost(AgentOptions options, ILoggerFactory loggers, ISystemdNotifier systemd, Func<AgentOptions>? reload = null, LogLevelSwitch? logLevel = null)
    {
        _options = options;
        _reload = reload;
        _logLevel = logLevel;
        _systemd = systemd;
        _logger = loggers.CreateLogger("patroni-agent");
        var poll = PollPath.Build(options, options.StaleAfter, loggers.CreateLogger("patroni-agent.watcher"));
        Board = poll.Board;
        Board.Gates.Configure(options.ReturnLagPercent, options.LagHold);
        _watcher = poll.Watcher;
        _control = new ControlChannel(options.ControlSocket, _watcher, loggers.CreateLogger("patroni-agent.control"));
        var listeners = options.Listeners
            .Select(l => new ListenerOptions(l.EndPoint, Board.For(l.Defaults), options.SendWait) { ResetAfterReply = true })
            .Concat(options.HttpListeners.Select(e => new ListenerOptions(e, Board.ForHttp(), HttpCheckParser.RequestWait)))
            .ToList();
        var serverOptions = new AgentServerOptions
        {
            Backlog = options.Backlog,
            MaxConnections = options.MaxConnections,
            Workers = options.Workers,
            Allow = options.Allow,
        };
        _server = new AgentServer(listeners, serverOptions, loggers.CreateLogger("patroni-agent.listener"));
        if (options.MetricsListeners.Count > 0)
        {
            _agentMetrics = new AgentMetrics(Board, _watcher, _server, AgentVersion.Text) { PerChecker = options.MetricsPerChecker };
            _metrics = new MetricsServer(options.MetricsListeners, _agentMetrics, loggers.CreateLogger("patroni-agent.metrics"));
        }
    }

    public AnswerBoard Board { get; }

    public AgentServer Server => _server;

    /// <summary>The metrics endpoint; null when no metrics-listen address is configured.</summary>
    public MetricsServer? Metrics => _metrics;

    /// <summary>Binds the listeners, starts polling and tells systemd the agent is ready.</summary>
    public void Start()
    {
        _server.Start();
        var bound = _server.EndPoints;
        int agentListeners = _options.Listeners.Count;
        for (int i = 0; i < bound.Count; i++)
        {
            if (i < agentListeners)
            {
                LogAgentListener(_logger, Describe(_options.Listeners[i].EndPoint, bound[i]), _options.Listeners[i].Check);
            }
            else
            {
                LogHttpListener(_logger, Describe(_options.HttpListeners[i - agentListeners], bound[i]));
            }
        }
        if (_metrics is not null)
        {
            _metrics.Start();
            for (int i = 0; i < _metrics.EndPoints.Count; i++)
            {
                LogMetricsListener(_logger, Describe(_options.MetricsListeners[i], _metrics.EndPoints[i]));
            }
        }
        if (_options.Allow.Count == 0)
        {
            LogNoAllowList(_logger);
        }
        else
        {
            LogAllowList(_logger, string.Join(", ", _options.Allow));
        }
        var stored = OverrideFile.Read(_options.StateFile, out string? problem);
        if (problem is not null)
        {
            LogStateFileUnusable(_logger, problem);
        }
        else if (stored is not null)
        {
            LogStoredOverride(_logger, stored.ToString(), _options.StateFile);
        }
        _watcher.SetOverride(stored);
        StartControl();
        _watching = new Thread(() => _watcher.Run(_stopping.Token)) { IsBackground = true, Name = "patroni-watcher" };
        _watching.Start();
        LogStarted(_logger, _options.PatroniUrl, _options.PollInterval.TotalMilliseconds, _options.StaleAfter.TotalMilliseconds);
        Notify(ServiceState.Ready);
    }

    /// <summary>A bound address for the log, saying so when <c>*</c> could only listen on IPv4.</summary>
    private static string Describe(IPEndPoint configured, IPEndPoint bound) =>
        configured.Address.Equals(IPAddress.IPv6Any) && bound.AddressFamily == AddressFamily.InterNetwork
            ? $"{ListenSocket.Show(bound)} (IPv4 only: this host has no IPv6)"
            : ListenSocket.Show(bound);

    /// <summary>
    /// Opens the control socket. Without it the agent still serves every check, so a failure (no
    /// directory, another agent on it) is logged, not fatal: only notify, drain, maint and ready cannot
    /// reach this agent then.
    /// </summary>
    private void StartControl()
    {
        try
        {
            _control.Start();
        }
        catch (IOException e)
        {
            LogControlUnavailable(_logger, e.Message);
        }
    }

    /// <summary>Runs until SIGTERM, SIGINT or SIGQUIT, reloading the configuration on each SIGHUP; returns the exit code.</summary>
    public int RunUntilSignalled()
    {
        using var stop = new AutoResetEvent(false);
        using var hangUp = new AutoResetEvent(false);
        PosixSignalRegistration Handle(PosixSignal signal, AutoResetEvent raised) => PosixSignalRegistration.Create(signal, context =>
        {
            context.Cancel = true;
            raised.Set();
        });
        using var term = Handle(PosixSignal.SIGTERM, stop);
        using var interrupt = Handle(PosixSignal.SIGINT, stop);
        using var quit = Handle(PosixSignal.SIGQUIT, stop);
        using var reload = Handle(PosixSignal.SIGHUP, hangUp);
        Start();
        while (WaitHandle.WaitAny([stop, hangUp]) == 1)
        {
            Reload();
        }
        LogStopping(_logger);
        Stop();
        return 0;
    }

    /// <summary>
    /// Reads the configuration again and applies the settings that can change while running (<see
    /// cref="ReloadableKeys"/>), logging each change. An invalid configuration is refused and the running
    /// settings stay; a changed setting that needs a restart is named and keeps its running value. The
    /// Patroni TLS and auth files are read again even when their names did not change, for renewed certificates.
    /// </summary>
    public void Reload()
    {
        if (_reload is null)
        {
            return;
        }
        Notify(new ServiceState(string.Create(CultureInfo.InvariantCulture,
            $"RELOADING=1\nMONOTONIC_USEC={Stopwatch.GetElapsedTime(0).Ticks / TimeSpan.TicksPerMicrosecond}")));
        try
        {
            Apply(_reload());
        }
        catch (ConfigException e)
        {
            LogReloadRefused(_logger, e.Message);
        }
        Notify(ServiceState.Ready);
    }

    private void Apply(AgentOptions next)
    {
        var before = ConfigLoader.Describe(_options);
        var after = ConfigLoader.Describe(next);
        int changes = 0;
        for (int i = 0; i < before.Count; i++)
        {
            (string key, string was) = before[i];
            string now = after[i].Value;
            if (was == now)
            {
                continue;
            }
            changes++;
            if (ReloadableKeys.Contains(key))
            {
                LogReloaded(_logger, key, was, now);
            }
            else
            {
                LogNeedsRestart(_logger, key, was, now);
            }
        }
        if (changes == 0)
        {
            LogReloadUnchanged(_logger);
        }
        _options = _options with
        {
            Allow = next.Allow,
            PatroniUrl = next.PatroniUrl,
            PatroniCaFile = next.PatroniCaFile,
            PatroniCertFile = next.PatroniCertFile,
            PatroniKeyFile = next.PatroniKeyFile,
            PatroniAuthFile = next.PatroniAuthFile,
            PatroniAccess = next.PatroniAccess,
            PollInterval = next.PollInterval,
            Timeout = next.Timeout,
            StaleAfter = next.StaleAfter,
            UnknownAnswer = next.UnknownAnswer,
            LogLevel = next.LogLevel,
            ReturnLagPercent = next.ReturnLagPercent,
            LagHold = next.LagHold,
            MetricsPerChecker = next.MetricsPerChecker,
        };
        if (_agentMetrics is not null)
        {
            _agentMetrics.PerChecker = _options.MetricsPerChecker;
        }
        Board.Gates.Configure(_options.ReturnLagPercent, _options.LagHold);
        _logLevel?.Set(_options.LogLevel);
        _server.SetAllow(_options.Allow);
        _watcher.Reconfigure(PollPath.ClientOf(_options), _options.PollInterval, _options.StaleAfter, _options.UnknownAnswer);
    }

    /// <summary>Tells systemd the agent is stopping (the first time only), stops polling and closes the listeners.</summary>
    public void Stop()
    {
        if (!_stopping.IsCancellationRequested)
        {
            Notify(ServiceState.Stopping);
        }
        _stopping.Cancel();
        _metrics?.Stop();
        _control.Dispose();
        _server.Stop();
        _watching?.Join(TimeSpan.FromSeconds(5));
    }

    /// <summary>
    /// Sends one state to systemd. A notification that cannot be sent (a missing or foreign socket in
    /// NOTIFY_SOCKET) is logged and changes nothing else: the agent keeps serving checks.
    /// </summary>
    private void Notify(ServiceState state)
    {
        try
        {
            _systemd.Notify(state);
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            LogNotifyFailed(_logger, state.ToString(), e.Message);
        }
    }

    public void Dispose()
    {
        Stop();
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "patroni-agent started: polling {Url} every {IntervalMs} ms, stale after {StaleMs} ms")]
    private static partial void LogStarted(ILogger logger, Uri url, double intervalMs, double staleMs);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "patroni-agent stopping")]
    private static partial void LogStopping(ILogger logger);

    [LoggerMessage(EventId = 202, Level = LogLevel.Information, Message = "listening for agent checks on {EndPoint}, default mode {Mode}")]
    private static partial void LogAgentListener(ILogger logger, string endPoint, string mode);

    [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "listening for HTTP health checks on {EndPoint}")]
    private static partial void LogHttpListener(ILogger logger, string endPoint);

    [LoggerMessage(EventId = 207, Level = LogLevel.Information, Message = "serving metrics on http://{EndPoint}/metrics and /status")]
    private static partial void LogMetricsListener(ILogger logger, string endPoint);

    [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "no allow list: checks accepted from any address")]
    private static partial void LogNoAllowList(ILogger logger);

    [LoggerMessage(EventId = 205, Level = LogLevel.Information, Message = "allow list: checks accepted only from {Prefixes}")]
    private static partial void LogAllowList(ILogger logger, string prefixes);

    [LoggerMessage(EventId = 210, Level = LogLevel.Error, Message = "{Problem}; notify, drain, maint and ready cannot reach this agent, checks are served as usual")]
    private static partial void LogControlUnavailable(ILogger logger, string problem);

    [LoggerMessage(EventId = 208, Level = LogLevel.Error, Message = "{Problem}")]
    private static partial void LogStateFileUnusable(ILogger logger, string problem);

    [LoggerMessage(EventId = 209, Level = LogLevel.Warning, Message = "operator override from {Path}: {Override}")]
    private static partial void LogStoredOverride(ILogger logger, string @override, string path);

    [LoggerMessage(EventId = 211, Level = LogLevel.Information, Message = "reload: {Key} {Before} -> {After}")]
    private static partial void LogReloaded(ILogger logger, string key, string before, string after);

    [LoggerMessage(EventId = 212, Level = LogLevel.Warning, Message = "reload: {Key} {Before} -> {After} needs a restart; running with {Before} until then")]
    private static partial void LogNeedsRestart(ILogger logger, string key, string before, string after);

    [LoggerMessage(EventId = 213, Level = LogLevel.Information, Message = "reload: the configuration is unchanged")]
    private static partial void LogReloadUnchanged(ILogger logger);

    [LoggerMessage(EventId = 214, Level = LogLevel.Error, Message = "reload refused, the running settings stay: {Problem}")]
    private static partial void LogReloadRefused(ILogger logger, string problem);

    [LoggerMessage(EventId = 206, Level = LogLevel.Warning, Message = "cannot tell systemd {State} through NOTIFY_SOCKET: {Reason}")]
    private static partial void LogNotifyFailed(ILogger logger, string state, string reason);
}
