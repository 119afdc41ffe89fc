using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Npgsql;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.ClusterTests;

/// <summary>One server line of HAProxy's <c>show stat</c>.</summary>
public sealed record ServerState(string Backend, string Server, string Status, string AgentSaid);

/// <summary>
/// The real cluster of scripts/cluster.sh (etcd, three Patroni nodes with PostgreSQL, one
/// patroni-agent each, HAProxy), brought up once for all tests and torn down after them.
/// </summary>
public sealed class Cluster : IAsyncLifetime
{
    public const string ReadWrite = "read_write";
    public const string ReadOnly = "read_only";
    public static readonly string[] Nodes = ["pg1", "pg2", "pg3"];

    /// <summary>The standby cluster's one member, there between <c>cluster.sh standby-up</c> and <c>standby-down</c>.</summary>
    public const string StandbyNode = "pg4";

    private static readonly string Directory = "/tmp/patroni-agent-cluster-tests";
    private readonly string _script = Path.Combine(RepositoryRoot(), "scripts", "cluster.sh");

    public Task InitializeAsync()
    {
        Run(TimeSpan.FromMinutes(1), "down");
        Run(TimeSpan.FromMinutes(10), "up");
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Run(TimeSpan.FromMinutes(1), "down");
        return Task.CompletedTask;
    }

    public static string Address(string node) => $"127.0.1.{node[2..]}";

    public static string NodeOf(string address) => "pg" + address[^1];

    /// <summary>Runs scripts/cluster.sh with <paramref name="args"/>; its standard output, or an exception with both outputs.</summary>
    public string Run(TimeSpan timeout, params string[] args)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(_script);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment["CLUSTER_DIR"] = Directory;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"cluster.sh {string.Join(' ', args)} took longer than {timeout}\n{stderr.Result}");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"cluster.sh {string.Join(' ', args)} failed ({process.ExitCode}):\n{stdout.Result}\n{stderr.Result}\n{Logs()}");
        }
        return stdout.Result;
    }

    public string Run(params string[] args) => Run(TimeSpan.FromMinutes(1), args);

    /// <summary>The tail of every log of the cluster, for failure messages.</summary>
    public static string Logs()
    {
        var logs = Path.Combine(Directory, "log");
        if (!System.IO.Directory.Exists(logs)) return "";
        var text = new StringBuilder();
        foreach (var file in System.IO.Directory.GetFiles(logs))
        {
            text.AppendLine($"--- {file}");
            foreach (var line in File.ReadLines(file).TakeLast(15)) text.AppendLine(line);
        }
        return text.ToString();
    }

    /// <summary>
    /// How many REST requests Patroni has logged a traceback for so far: a client that gives up on a request
    /// leaves one (BrokenPipeError), after "Exception happened during processing of request from".
    /// </summary>
    public static int PatroniRequestTracebacks() =>
        System.IO.Directory.GetFiles(Path.Combine(Directory, "log"), "patroni*.log")
            .Sum(file => File.ReadLines(file).Count(line => line.Contains("Exception happened during processing of request", StringComparison.Ordinal)));

    /// <summary>The copy of patroni-agent that the agents and Patroni's callbacks run.</summary>
    public static string AgentBinary => Path.Combine(Directory, "bin", "patroni-agent");

    /// <summary>The config file one node's agent runs with.</summary>
    public static string AgentConfig(string node) => Path.Combine(Directory, $"agent{node[2..]}", "patroni-agent.conf");

    /// <summary>The patroni.yml one node's Patroni runs with.</summary>
    public static string PatroniConfig(string node) => Path.Combine(Directory, node, "patroni.yml");

    /// <summary>A directory of the cluster's for a test's own files.</summary>
    public static string TestDirectory(string name) => System.IO.Directory.CreateDirectory(Path.Combine(Directory, name)).FullName;

    /// <summary>The lines one node's agent has logged so far.</summary>
    public static string[] AgentLog(string node) => File.ReadAllLines(Path.Combine(Directory, "log", $"agent{node[2..]}.log"));

    /// <summary>The node holding the leader lock, or null while there is none.</summary>
    public string? Leader()
    {
        try
        {
            return Run("leader").Trim();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    public int Pid(string process, string node) => int.Parse(Run("pid", process, node[2..]).Trim());

    /// <summary>
    /// HAProxy's view of the Patroni servers. HAProxy shows an empty last agent answer while an agent check
    /// is in progress (with agent-inter 50ms, about one read in fifty): such a view is read again.
    /// </summary>
    public IReadOnlyList<ServerState> Servers()
    {
        var view = ReadServers();
        for (int i = 0; i < 50 && view.Any(s => s.AgentSaid.Length == 0); i++)
        {
            Thread.Sleep(5);
            view = ReadServers();
        }
        return view;
    }

    private static List<ServerState> ReadServers() =>
        ShowStat(HaproxySocket).Where(s => s.Backend.StartsWith("read_") && s.Server.StartsWith("pg")).ToList();

    /// <summary>Every server line of <c>show stat</c> of the HAProxy whose admin socket is <paramref name="socket"/>.</summary>
    public static List<ServerState> ShowStat(string socket)
    {
        var lines = Haproxy("show stat", socket).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = CsvFields(lines[0].TrimStart('#', ' '));
        int status = header.IndexOf("status"), agent = header.IndexOf("last_agt");
        return lines.Skip(1)
            .Select(CsvFields)
            .Where(f => f[1] is not ("FRONTEND" or "BACKEND"))
            .Select(f => new ServerState(f[0], f[1], f[status], f[agent]))
            .ToList();
    }

    /// <summary>The fields of one line of HAProxy's CSV, where a field with a comma is in double quotes.</summary>
    private static List<string> CsvFields(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted && c == '"' && i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
            else if (c == '"') quoted = !quoted;
            else if (c == ',' && !quoted) { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(c);
        }
        fields.Add(field.ToString());
        return fields;
    }

    public ServerState Server(string backend, string node) => Servers().Single(s => s.Backend == backend && s.Server == node);

    /// <summary>The admin socket of the cluster's HAProxy.</summary>
    private static string HaproxySocket => Path.Combine(Directory, "haproxy.sock");

    /// <summary>Sends one command to HAProxy's admin socket (by default the cluster's HAProxy) and returns its answer.</summary>
    public static string Haproxy(string command, string? socketPath = null)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(socketPath ?? HaproxySocket));
        socket.Send(Encoding.ASCII.GetBytes(command + "\n"));
        using var stream = new NetworkStream(socket);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Asks the agent of <paramref name="node"/> as HAProxy does: sends the line, reads one line (the agent then resets the connection).</summary>
    public static string AgentAnswer(string node, string send)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(Address(node), 5555);
                var stream = client.GetStream();
                stream.Write(Encoding.ASCII.GetBytes(send));
                using var reader = new StreamReader(stream);
                return reader.ReadLine() + "\n";
            }
            catch (IOException e) when (attempt < LateSendAttempts && e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
            {
                // This process, starved on a loaded host, wrote the line after the agent's send-wait
                // (20 ms): the agent answered the listener's mode and reset, as it does for HAProxy.
            }
        }
    }

    /// <summary>How many connections <see cref="AgentAnswer"/> makes before a reset fails it.</summary>
    private const int LateSendAttempts = 5;

    /// <summary>
    /// Waits until the cluster is whole: a leader, every replica streaming, and HAProxy routing
    /// writes to the leader only and reads to the replicas only.
    /// </summary>
    public string WaitConverged(TimeSpan? timeout = null)
    {
        string? last = null;
        string? leader = null;
        Eventually.Until(
            () =>
            {
                leader = Leader();
                if (leader is null || !AllReplicasFollow(leader)) return false;
                var servers = Servers();
                bool rw = servers.Where(s => s.Backend == ReadWrite).All(s => s.Status == (s.Server == leader ? "UP" : "MAINT"));
                bool ro = servers.Where(s => s.Backend == ReadOnly).All(s => s.Status == (s.Server == leader ? "MAINT" : "UP"));
                last = string.Join("; ", servers);
                return rw && ro;
            },
            timeout ?? TimeSpan.FromSeconds(90), () => $"the cluster did not converge: {last}\n{Logs()}", TimeSpan.FromMilliseconds(100));
        return leader!;
    }

    /// <summary>Whether every other member runs as a replica on the leader's timeline, as Patroni's <c>GET /cluster</c> tells.</summary>
    private static bool AllReplicasFollow(string leader)
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            using var cluster = System.Text.Json.JsonDocument.Parse(http.GetStringAsync($"http://{Address(leader)}:8008/cluster").Result);
            var members = cluster.RootElement.GetProperty("members").EnumerateArray().ToList();
            var timeline = members.Single(m => m.GetProperty("name").GetString() == leader).GetProperty("timeline").GetInt64();
            return members.Count == Nodes.Length && members
                .Where(m => m.GetProperty("name").GetString() != leader)
                .All(m => m.GetProperty("role").GetString() == "replica"
                    && m.GetProperty("state").GetString() is "running" or "streaming"
                    && m.TryGetProperty("timeline", out var t) && t.GetInt64() == timeline
                    && m.TryGetProperty("lag", out var lag) && lag.ValueKind == System.Text.Json.JsonValueKind.Number);
        }
        catch (Exception e) when (e is HttpRequestException or AggregateException or System.Text.Json.JsonException or InvalidOperationException or KeyNotFoundException)
        {
            return false;
        }
    }

    public static NpgsqlConnection Connect(string host, int port, int timeoutSeconds = 2)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder
        {
            Host = host,
            Port = port,
            Username = "postgres",
            Password = "postgres",
            Database = "postgres",
            Pooling = false,
            Timeout = timeoutSeconds,
            CommandTimeout = 5,
        }.ConnectionString);
        connection.Open();
        return connection;
    }

    /// <summary>Where a new connection through an HAProxy frontend lands, and whether that server is in recovery.</summary>
    public static (string Node, bool InRecovery) Land(int frontendPort)
    {
        using var connection = Connect("127.0.0.1", frontendPort);
        using var command = new NpgsqlCommand("select host(inet_server_addr()), pg_is_in_recovery()", connection);
        using var reader = command.ExecuteReader();
        reader.Read();
        return (NodeOf(reader.GetString(0)), reader.GetBoolean(1));
    }

    public static void Execute(string host, string sql)
    {
        using var connection = Connect(host, 5432);
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "PatroniAgent.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("PatroniAgent.sln not found above " + AppContext.BaseDirectory);
    }
}

[CollectionDefinition(nameof(ClusterCollection))]
public sealed class ClusterCollection : ICollectionFixture<Cluster>;

/// <summary>
/// Connects through HAProxy's read-write frontend again and again in the background, noting where
/// each connection lands; used to prove that no write connection reaches a read-only node.
/// </summary>
public sealed class WriteProbe : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly List<(DateTime At, string Node, bool InRecovery)> _landings = [];

    public WriteProbe()
    {
        _thread = new Thread(Loop) { IsBackground = true };
        _thread.Start();
    }

    public IReadOnlyList<(DateTime At, string Node, bool InRecovery)> Landings
    {
        get { lock (_landings) return _landings.ToList(); }
    }

    private void Loop()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var (node, inRecovery) = Cluster.Land(5000);
                lock (_landings) _landings.Add((DateTime.UtcNow, node, inRecovery));
            }
            catch (Exception e) when (e is NpgsqlException or SocketException or IOException or TimeoutException or InvalidOperationException)
            {
            }
            Thread.Sleep(5);
        }
    }

    /// <summary>Waits until a connection lands on <paramref name="node"/> as primary; fails the test when none does within <paramref name="timeout"/>.</summary>
    public void WaitForPrimary(string node, TimeSpan timeout) =>
        Eventually.Until(() => Landings.Any(l => l.Node == node && !l.InRecovery), timeout,
            () => $"writes never reached {node}\n{Cluster.Logs()}", TimeSpan.FromMilliseconds(20));

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _stop.Dispose();
    }
}
