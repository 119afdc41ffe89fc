using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Control;
using PatroniAgent.Patroni;
using PatroniAgent.Server;
using PatroniAgent.Watcher;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Control;

/// <summary>
/// The control socket in process: its file mode, what each request line does to the watcher, and how
/// bad lines, silent clients, too many clients and leftover socket files are handled.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class ControlChannelTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("patroni-agent-channel-").FullName;
    private readonly FakePatroni _patroni = new();
    private RoleWatcher? _watcher;
    private ControlChannel? _channel;
    private readonly ListLogger _log = new();

    private string SocketPath => Path.Combine(_directory, "control.sock");

    private RoleWatcher Watcher => _watcher!;

    public Task InitializeAsync()
    {
        _watcher = new RoleWatcher(new PatroniClient(_patroni.Url, TimeSpan.FromSeconds(1)), new AnswerBoard("down", TimeSpan.FromSeconds(3)), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3), _log);
        _channel = new ControlChannel(SocketPath, _watcher, _log);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _channel?.Dispose();
        await _patroni.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void The_socket_is_only_for_its_owner_and_group_and_is_removed_on_dispose()
    {
        _channel!.Start();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(SocketPath));
        _channel.Dispose();
        Assert.False(File.Exists(SocketPath));
    }

    [Fact]
    public void Override_lines_set_and_clear_the_watchers_override()
    {
        _channel!.Start();
        Assert.Equal("ok override maint", Send("override maint disk replacement"));
        Assert.Equal("maint disk replacement", Watcher.Override?.ToString());
        Assert.Equal("ok override drain", Send("override drain"));
        Assert.Equal("drain", Watcher.Override?.ToString());
        Assert.Equal("ok override cleared", Send("override ready"));
        Assert.Null(Watcher.Override);
        Assert.Equal("ok", Send("ping"));
    }

    [Fact]
    public void Poll_starts_the_role_change_window()
    {
        _channel!.Start();
        Assert.NotEqual(RoleWatcher.RoleChangeInterval, Watcher.CurrentInterval);
        Assert.Equal("ok polling patroni now and through the role change", Send("poll"));
        Assert.Equal(RoleWatcher.RoleChangeInterval, Watcher.CurrentInterval);
    }

    [Theory]
    [InlineData("reboot", "error unknown request; expected ping, poll, override drain|maint [REASON], override ready or wait MILLISECONDS override ...")]
    [InlineData("", "error unknown request; expected ping, poll, override drain|maint [REASON], override ready or wait MILLISECONDS override ...")]
    [InlineData("override ready now", "error expected drain or maint, got \"ready\"")]
    [InlineData("override up ready", "error expected drain or maint, got \"up\"")]
    [InlineData("override maint a # up ready 100%", "error the reason must not contain #: HAProxy would read the text after it as a second reason")]
    [InlineData("override maint \u0001", "error the reason must be printable ASCII text, without control characters or line breaks")]
    public void Bad_lines_get_an_error_and_change_nothing(string line, string reply)
    {
        _channel!.Start();
        Send("override drain kept");
        Assert.Equal(reply, Send(line));
        Assert.Equal("drain kept", Watcher.Override?.ToString());
    }

    [Fact]
    public async Task A_line_longer_than_the_limit_is_refused()
    {
        _channel!.Start();
        using var socket = Connect();
        await socket.SendAsync(Encoding.ASCII.GetBytes("override maint " + new string('x', ControlChannel.MaxLineLength) + "\n"));
        Assert.Equal($"error line longer than {ControlChannel.MaxLineLength - 1} bytes\n", await ReadAsync(socket));
        Assert.Null(Watcher.Override);
    }

    [Fact]
    public async Task A_silent_client_is_closed_after_the_read_timeout()
    {
        _channel!.Start();
        using var socket = Connect();
        Assert.Equal("error no line within 2s\n", await ReadAsync(socket));
    }

    [Fact]
    public async Task Clients_past_the_connection_limit_are_refused_while_the_others_wait()
    {
        _channel!.Start();
        var held = Enumerable.Range(0, ControlChannel.MaxConnections).Select(_ => Connect()).ToList();
        try
        {
            await Task.Delay(200);
            using var extra = Connect();
            Assert.Equal("error too many control connections at once, try again\n", await ReadAsync(extra));
        }
        finally
        {
            held.ForEach(s => s.Dispose());
        }
        await Task.Delay(200);
        Assert.Equal("ok", Send("ping"));
    }

    [Fact]
    public async Task A_socket_file_left_by_a_killed_agent_is_replaced()
    {
        using (var killed = new EndToEnd.AgentProcess("--listen", $"127.0.0.1:{EndToEnd.PublishedAgent.FreePort()}", "--patroni-url", _patroni.Url.ToString(), "--control-socket", SocketPath))
        {
            await Eventually.WaitFor(() => File.Exists(SocketPath), TimeSpan.FromSeconds(10), () => "the agent did not create its control socket");
            killed.Process.Kill();
            await killed.Process.WaitForExitAsync();
        }
        Assert.True(File.Exists(SocketPath));
        Assert.False(ControlClient.TrySend(SocketPath, "ping", out _, out _));
        _channel!.Start();
        Assert.Equal("ok", Send("ping"));
    }

    [Fact]
    public void A_missing_directory_is_created_with_mode_0755_and_the_socket_in_it_answers()
    {
        string socket = Path.Combine(_directory, "run", "patroni-agent", "main", "control.sock");
        using var channel = new ControlChannel(socket, Watcher, _log);

        channel.Start();

        const UnixFileMode Expected = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        Assert.Equal(Expected, File.GetUnixFileMode(Path.GetDirectoryName(socket)!));
        Assert.True(ControlClient.TrySend(socket, "ping", out string reply, out string problem), problem);
        Assert.Equal("ok", reply);
    }

    [Fact]
    public void A_directory_that_cannot_be_created_is_named_with_the_reason()
    {
        File.WriteAllText(Path.Combine(_directory, "run"), "a file where the directory would be");
        string socket = Path.Combine(_directory, "run", "patroni-agent", "control.sock");
        using var channel = new ControlChannel(socket, Watcher, _log);

        var e = Assert.Throws<IOException>(channel.Start);

        Assert.StartsWith($"cannot create the directory {Path.GetDirectoryName(socket)} of the control socket {socket}: ", e.Message);
    }

    [Fact]
    public void A_regular_file_is_never_replaced()
    {
        File.WriteAllText(SocketPath, "keep me");
        var e = Assert.Throws<IOException>(() => _channel!.Start());
        Assert.Equal($"cannot create the control socket {SocketPath}: the file exists and is not a socket", e.Message);
        Assert.Equal("keep me", File.ReadAllText(SocketPath));
    }

    [Fact]
    public void A_socket_another_agent_listens_on_is_not_taken()
    {
        _channel!.Start();
        using var second = new ControlChannel(SocketPath, Watcher, _log);
        var e = Assert.Throws<IOException>(second.Start);
        Assert.Equal($"cannot create the control socket {SocketPath}: another patroni-agent is listening on it", e.Message);
        Assert.Equal("ok", Send("ping"));
    }

    [Fact]
    public void A_client_without_an_agent_is_told_so()
    {
        Assert.False(ControlClient.TrySend(SocketPath, "poll", out _, out string problem));
        Assert.Equal("the agent is not running (nothing listens on it)", problem);
    }

    [Fact]
    public async Task Wait_replies_once_every_recent_checker_was_answered_with_the_override_and_names_those_that_were_not()
    {
        _patroni.Status(PatroniFixtures.Load("v4.1.4-primary"));
        _channel!.Start();
        using var stop = new CancellationTokenSource();
        var polling = new Thread(() => Watcher.Run(stop.Token)) { IsBackground = true };
        polling.Start();
        var board = Watcher.Board;
        var haproxy = PeerAddress.From([10, 0, 0, 1]);
        var stopped = PeerAddress.From([10, 0, 0, 2]);
        try
        {
            await Eventually.WaitFor(() => board.Current.Status is not null, TimeSpan.FromSeconds(10), () => "the watcher did not poll");
            board.Answer(AgentRequest.For(Mode.Primary), "primary\n"u8, stopped);

            string drained = await WhileChecking([haproxy, stopped], () => Send("wait 10000 override drain kernel update", TimeSpan.FromSeconds(15)));
            Assert.Matches(@"^ok heard by 2 of 2 checkers in \d+ ms: 10\.0\.0\.[12] 10\.0\.0\.[12]$", drained);
            Assert.All(board.Checkers.Snapshot(), c => Assert.Equal(AnswerKind.Drain, c.LastKind));
            await Eventually.WaitFor(() => _log.Lines.Any(l => l.Message.StartsWith("primary: drain heard by 2 of 2 checkers in ", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(10), () => "no heard-by line was logged");

            string ready = await WhileChecking([haproxy], () => Send("wait 300 override ready", TimeSpan.FromSeconds(5)));
            Assert.Matches(@"^timeout heard by 1 of 2 checkers; not by 10\.0\.0\.2 \(last check \d+\.\d s ago\)$", ready);
            Assert.Null(Watcher.Override);

            Assert.Equal("error expected wait MILLISECONDS override ..., with 1 to 3600000 milliseconds", Send("wait 0 override ready"));
            Assert.Equal("error expected wait MILLISECONDS override ..., with 1 to 3600000 milliseconds", Send("wait 100 poll"));
            Assert.Equal("error expected drain or maint, got \"up\"", Send("wait 100 override up"));
        }
        finally
        {
            stop.Cancel();
            Watcher.PollNow();
            polling.Join();
        }
    }

    [Fact]
    public void Checkers_lists_every_address_with_what_it_asked_and_whether_it_has_the_current_answers()
    {
        _channel!.Start();
        var board = Watcher.Board;
        Assert.Equal("ok 0", Send("checkers"));
        board.Answer(AgentRequest.For(Mode.Primary), "replica\n"u8, PeerAddress.From([192, 0, 2, 1]));
        board.PublishUnknown(Snapshot.Unknown(UnknownAnswer.Default, "patroni refused the connection"));

        var lines = Send("checkers").Split('\n');

        Assert.Equal("ok 1", lines[0]);
        Assert.Matches(@"^192\.0\.2\.1 asked replica, answered unknown; 1 checks, the first \d+\.\d s ago, the last \d+\.\d s ago; has the current answers not yet$", lines[1]);
    }

    /// <summary>Runs <paramref name="request"/> while <paramref name="peers"/> check every 5 ms, as HAProxy instances would.</summary>
    private async Task<string> WhileChecking(PeerAddress[] peers, Func<string> request)
    {
        using var done = new CancellationTokenSource();
        var board = Watcher.Board;
        var checking = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                foreach (var peer in peers)
                {
                    board.Answer(AgentRequest.For(Mode.Primary), "primary\n"u8, peer);
                }
                await Task.Delay(5);
            }
        });
        try
        {
            return await Task.Run(request);
        }
        finally
        {
            done.Cancel();
            await checking;
        }
    }

    private string Send(string line, TimeSpan? limit = null)
    {
        Assert.True(ControlClient.TrySend(SocketPath, line, out string reply, out string problem, limit), problem);
        return reply;
    }

    private Socket Connect()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
        return socket;
    }

    private static async Task<string> ReadAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await AgentClient.ReadToEndAsync(socket, timeout.Token);
    }
}
