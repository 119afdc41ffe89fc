using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using PatroniAgent.Answers;
using PatroniAgent.Policy;
using PatroniAgent.Watcher;

namespace PatroniAgent.Control;

/// <summary>
/// The running agent's local control channel: a unix stream socket, mode 0660, so only root and the
/// agent's user and group can connect. One line per connection, one reply line:
/// <c>poll</c> (a role change: poll Patroni at once and closely through it, <see cref="RoleWatcher.RoleChanging"/>),
/// <c>override drain|maint [REASON]</c> and <c>override ready</c>
/// (set or clear the operator's override), and <c>wait MILLISECONDS override ...</c>, which replies once
/// every checker seen in the recent window has been answered with the override, or when the time is over,
/// and <c>checkers</c> (who checks: the table, a line per address).
/// Served on the thread pool, never on the check path;
/// bounded in line length, open connections and time per connection.
/// </summary>
public sealed partial class ControlChannel : IDisposable
{
    /// <summary>Longest request line, its end included.</summary>
    public const int MaxLineLength = 256;

    /// <summary>Connections served at once; more are answered with an error and closed.</summary>
    public const int MaxConnections = 8;

    /// <summary>How long a client has to send its line.</summary>
    public static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(2);

    private readonly string _path;
    private readonly RoleWatcher _watcher;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private Task _accepting = Task.CompletedTask;
    private int _open;

    public ControlChannel(string path, RoleWatcher watcher, ILogger logger)
    {
        _path = path;
        _watcher = watcher;
        _logger = logger;
    }

    /// <summary>
    /// Creates the socket and starts serving it. A socket file left by an agent that is gone is replaced;
    /// one that an agent still listens on, or a file that is not a socket, is an error.
    /// </summary>
    /// <exception cref="IOException">The socket cannot be created, with the reason.</exception>
    public void Start()
    {
        CreateDirectory();
        RemoveStaleSocket();
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(_path));
            File.SetUnixFileMode(_path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
            listener.Listen(MaxConnections);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            listener.Dispose();
            throw new IOException($"cannot create the control socket {_path}: {e.Message}", e);
        }
        _listener = listener;
        _accepting = Task.Run(AcceptAsync);
        LogListening(_logger, _path);
    }

    /// <summary>
    /// Creates the socket's directory when it is missing, as for an agent started by hand: under systemd,
    /// RuntimeDirectory= has made it. Mode 0755: the socket's own mode (0660) decides who may connect.
    /// </summary>
    private void CreateDirectory()
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(_path))!;
        if (Directory.Exists(directory))
        {
            return;
        }
        try
        {
            Directory.CreateDirectory(directory, DirectoryMode);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string why = e is UnauthorizedAccessException ? "permission denied" : e.Message;
            throw new IOException($"cannot create the directory {directory} of the control socket {_path}: {why}", e);
        }
    }

    /// <summary>rwxr-xr-x, for the directories the agent and its commands create.</summary>
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private void RemoveStaleSocket()
    {
        if (!Path.Exists(_path))
        {
            return;
        }
        if (!IsSocket(_path))
        {
            throw new IOException($"cannot create the control socket {_path}: the file exists and is not a socket");
        }
        if (ControlClient.TrySend(_path, "ping", out _, out _))
        {
            throw new IOException($"cannot create the control socket {_path}: another patroni-agent is listening on it");
        }
        File.Delete(_path);
    }

    /// <summary>
    /// Whether <paramref name="path"/> is a socket: opening a socket as a file fails with ENXIO, while a
    /// regular file or a directory opens (or fails otherwise), and is never deleted.
    /// </summary>
    private static bool IsSocket(string path)
    {
        const int NoSuchDeviceOrAddress = 6;
        try
        {
            using var handle = File.OpenHandle(path);
            return false;
        }
        catch (IOException e)
        {
            return e.HResult == NoSuchDeviceOrAddress;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private async Task AcceptAsync()
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener!.AcceptAsync(token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || token.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                LogAcceptFailed(_logger, e.Message);
                await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
                continue;
            }
            if (Interlocked.Increment(ref _open) > MaxConnections)
            {
                Interlocked.Decrement(ref _open);
                _ = ReplyAndCloseAsync(client, "error too many control connections at once, try again");
                continue;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            timeout.CancelAfter(ReadTimeout);
            string? line = await ReadLineAsync(client, timeout.Token).ConfigureAwait(false);
            string reply = line is null ? $"error no line within {ReadTimeout.TotalSeconds:0}s"
                : line.StartsWith("wait ", StringComparison.Ordinal) ? await WaitAsync(line).ConfigureAwait(false)
                : Handle(line);
            await ReplyAndCloseAsync(client, reply).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

    /// <summary>Reads up to the first line end; null when none arrives in time. A line too long is returned cut at one byte past the limit, to be refused.</summary>
    private static async Task<string?> ReadLineAsync(Socket client, CancellationToken token)
    {
        byte[] buffer = new byte[MaxLineLength + 1];
        int length = 0;
        try
        {
            while (length < buffer.Length)
            {
                int received = await client.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, token).ConfigureAwait(false);
                if (received == 0)
                {
                    break;
                }
                int end = Array.IndexOf(buffer, (byte)'\n', length, received);
                length += received;
                if (end >= 0)
                {
                    return Encoding.Latin1.GetString(buffer, 0, end);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException)
        {
            return null;
        }
        return Encoding.Latin1.GetString(buffer, 0, length);
    }

    /// <summary>Executes one request line and returns the reply line.</summary>
    public string Handle(string line)
    {
        if (line.Length >= MaxLineLength)
        {
            return $"error line longer than {MaxLineLength - 1} bytes";
        }
        if (line == "ping")
        {
            return "ok";
        }
        if (line == "checkers")
        {
            return DescribeCheckers(_watcher.Board);
        }
        if (line == "poll")
        {
            _watcher.RoleChanging();
            LogRoleChanging(_logger, _watcher.CurrentInterval.TotalMilliseconds, RoleWatcher.RoleChangeWindow.TotalSeconds);
            return "ok polling patroni now and through the role change";
        }
        if (line == "override ready")
        {
            _watcher.SetOverride(null);
            LogOverrideCleared(_logger);
            return "ok override cleared";
        }
        if (line.StartsWith("override ", StringComparison.Ordinal))
        {
            if (!OperatorOverride.TryParse(line["override ".Length..], out var applied, out var error))
            {
                return $"error {error}";
            }
            _watcher.SetOverride(applied);
            LogOverrideSet(_logger, applied.ToString());
            return $"ok override {applied.Word}";
        }
        return "error unknown request; expected ping, poll, override drain|maint [REASON], override ready or wait MILLISECONDS override ...";
    }

    /// <summary>How often a wait looks at the table of checkers.</summary>
    private static readonly TimeSpan WaitStep = TimeSpan.FromMilliseconds(10);

    /// <summary>The most checkers a wait's reply names; it counts them all.</summary>
    public const int MaxNamed = 50;

    /// <summary>
    /// <c>wait MILLISECONDS override ...</c>: applies the override, waits until the answers carry it, then
    /// until every checker seen in the recent window before the request has been answered from them.
    /// </summary>
    private async Task<string> WaitAsync(string line)
    {
        var parts = line.Split(' ', 3);
        if (parts.Length < 3 || !long.TryParse(parts[1], out long ms) || ms < 1 || ms > (long)TimeSpan.FromHours(1).TotalMilliseconds
            || !parts[2].StartsWith("override ", StringComparison.Ordinal))
        {
            return "error expected wait MILLISECONDS override ..., with 1 to 3600000 milliseconds";
        }
        var board = _watcher.Board;
        var time = board.Time;
        long requestedAt = time.GetTimestamp();
        long deadline = requestedAt + (long)(ms / 1000.0 * time.TimestampFrequency);
        string applied = Handle(parts[2]);
        if (!applied.StartsWith("ok", StringComparison.Ordinal))
        {
            return applied;
        }
        var target = _watcher.Override;
        long generation;
        while (true)
        {
            var current = board.Current;
            if (Equals(current.Override, target) || current.Status is null)
            {
                generation = current.Generation;
                break;
            }
            if (time.GetTimestamp() >= deadline)
            {
                return $"timeout the answers did not carry the override within {ms} ms (no poll of patroni ended)";
            }
            await Task.Delay(WaitStep, _stopping.Token).ConfigureAwait(false);
        }
        long window = Checkers.Window(time);
        while (true)
        {
            var hearing = Hearing.Of(board.Checkers.Snapshot(), generation, requestedAt, window);
            if (hearing.Expected.Count == 0)
            {
                return $"ok no checker seen in the last {Checkers.RecentWindow.TotalSeconds:0} s; nothing to wait for";
            }
            if (hearing.Complete)
            {
                double took = Math.Round(time.GetElapsedTime(requestedAt, hearing.LastHeardAt).TotalMilliseconds);
                return $"ok heard by {hearing.Heard.Count} of {hearing.Expected.Count} checkers in {took} ms: {Named(hearing.Heard, c => c.Address.ToString())}";
            }
            if (time.GetTimestamp() >= deadline)
            {
                long now = time.GetTimestamp();
                return $"timeout heard by {hearing.Heard.Count} of {hearing.Expected.Count} checkers; not by "
                    + Named(hearing.Missing, c => $"{c.Address} (last check {time.GetElapsedTime(c.LastCheck, now).TotalSeconds:0.0} s ago)");
            }
            await Task.Delay(WaitStep, _stopping.Token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The reply to <c>checkers</c>: <c>ok N</c>, then a line per checker of the table, the most recent first:
    /// its address, the mode and answer of its last check, its checks, how long ago it first and last
    /// checked, and since when it has the answers now served (or "not yet").
    /// </summary>
    public static string DescribeCheckers(AnswerBoard board)
    {
        var time = board.Time;
        long now = time.GetTimestamp();
        long current = board.Current.Generation;
        var checkers = board.Checkers.Snapshot();
        var text = new StringBuilder($"ok {checkers.Count}");
        foreach (var c in checkers)
        {
            string heard = c.Generation >= current ? $"for {Ago(c.HeardSince)}" : "not yet";
            text.Append('\n').Append(CultureInfo.InvariantCulture,
                $"{c.Address} asked {c.ModeName}, answered {AnswerKinds.Name(c.LastKind)}; {c.Checks} checks, the first {Ago(c.FirstCheck)} ago, the last {Ago(c.LastCheck)} ago; has the current answers {heard}");
        }
        return text.ToString();

        string Ago(long timestamp) => $"{time.GetElapsedTime(timestamp, now).TotalSeconds:0.0} s";
    }

    private static string Named(IReadOnlyList<Checker> checkers, Func<Checker, string> name) =>
        string.Join(' ', checkers.Take(MaxNamed).Select(name)) + (checkers.Count > MaxNamed ? $" and {checkers.Count - MaxNamed} more" : "");

    private static async Task ReplyAndCloseAsync(Socket client, string reply)
    {
        using (client)
        {
            try
            {
                using var timeout = new CancellationTokenSource(ReadTimeout);
                await client.SendAsync(Encoding.ASCII.GetBytes(reply + "\n"), SocketFlags.None, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                return;
            }
        }
    }

    /// <summary>Stops accepting, removes the socket file and waits briefly for the accept loop.</summary>
    public void Dispose()
    {
        if (_listener is null)
        {
            return;
        }
        _stopping.Cancel();
        _listener.Dispose();
        _accepting.Wait(TimeSpan.FromSeconds(2));
        File.Delete(_path);
        _listener = null;
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "control socket {Path} ready (mode 0660)")]
    private static partial void LogListening(ILogger logger, string path);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "role change notified through the control socket: polling patroni at once, then every {IntervalMs} ms for {WindowSeconds} s")]
    private static partial void LogRoleChanging(ILogger logger, double intervalMs, double windowSeconds);

    [LoggerMessage(EventId = 302, Level = LogLevel.Warning, Message = "operator override set: {Override}")]
    private static partial void LogOverrideSet(ILogger logger, string @override);

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning, Message = "operator override cleared")]
    private static partial void LogOverrideCleared(ILogger logger);

    [LoggerMessage(EventId = 304, Level = LogLevel.Warning, Message = "control socket accept failed: {Reason}")]
    private static partial void LogAcceptFailed(ILogger logger, string reason);
}
