using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using PatroniAgent.Tests.Support;
using Xunit.Abstractions;

namespace PatroniAgent.ClusterTests;

/// <summary>
/// Every health check of Patroni's vocabulary, asked of Patroni's REST API (port 8008) and of the agent's
/// HTTP checks (port 8009) on each member at the same moment, in several states of the real cluster: the
/// status codes agree but for the deliberate differences of <see cref="Deliberate"/> (docs/http-checks.md).
/// </summary>
[Collection(nameof(ClusterCollection))]
public class DifferentialTests(Cluster cluster, ITestOutputHelper output)
{
    private const string Steady = "steady";
    private const string Paused = "paused";
    private const string Synchronous = "synchronous";
    private const string Lagging = "lagging";
    private const string Stopped = "a replica stopped";
    private const string Standby = "standby cluster";
    private const string Switchover = "switchover";
    private const string LeaderNotRunning = "the leader while its PostgreSQL is not running";
    private const string AnyState = "any";

    /// <summary>Patroni's health-check paths.</summary>
    private static readonly string[] CheckPaths =
    [
        "/", "/primary", "/master", "/read-write", "/leader", "/standby-leader", "/standby_leader",
        "/replica", "/read-only", "/sync", "/synchronous", "/async", "/asynchronous", "/quorum",
        "/read-only-sync", "/read-only-synchronous", "/read-only-quorum", "/health", "/liveness", "/readiness",
    ];

    /// <summary>Patroni's health-check paths, then paths that name no check exactly.</summary>
    private static readonly string[] Paths = [.. CheckPaths, "/foo", "/Primary", "/replicas", "/read_only"];

    private static readonly string[] Queries =
    [
        "", "lag=0", "lag=16MB", "lag=1.5MB", "replication_state=streaming", "replication_state=in%20archive%20recovery",
        "tag_dc=east", "tag_nofailover=false",
    ];

    private static readonly string[] Methods = ["GET", "HEAD", "OPTIONS"];

    private static readonly string[] Targets =
    [
        .. from path in Paths
           from query in path == "/readiness" ? Queries.Append("mode=write&lag=0") : Queries
           select query.Length == 0 ? path : $"{path}?{query}",
    ];

    /// <summary>The differences the agent makes on purpose: a request (a regular expression), the state, Patroni's code, the agent's.</summary>
    private static readonly Difference[] Deliberate =
    [
        new(@"^(HEAD|OPTIONS) /(liveness|readiness)\b", AnyState, 503, 200,
            "Patroni 3.0.2 routes only GET to its liveness and readiness handlers; other methods get its generic check, which knows neither path"),
        new(@"^GET /readiness\b", Lagging, 200, 503,
            "Patroni 3.0.2's readiness checks no lag; the agent follows Patroni 4: the replica must stream with lag <= lag, or 1 MB"),
        new(@"^\w+ /read-only-quorum\b", AnyState, 200, 503,
            "Patroni 3.0.2 predates quorum commit and answers /read-only-quorum as /read-only; the agent follows Patroni 4: the leader or a quorum standby"),
        new(@"\breplication_state=", AnyState, 200, 503,
            "Patroni 3.0.2 reports no replication state and ignores the filter; the agent cannot tell the state, so the filter keeps the replica out"),
        new(@"^GET /(primary|read-write|leader|read-only|readiness)$", LeaderNotRunning, 200, 503,
            "Patroni 3.0.2 answers these from its role and the leader lock alone, also while the switchover's demotion stops PostgreSQL; the agent takes the node out as soon as Patroni's GET / shows a state other than running (DOMAIN.md: read-write only with state running)"),
        new(@"[?&]lag=0$", AnyState, 200, 503,
            "Patroni measures lag from the leader position in the DCS, up to loop_wait old; the agent from the leader's current position, and holds a replica that passed the limit out for lag-hold: with lag=0, any WAL the primary writes takes the replica out for 10 s"),
    ];

    /// <summary>
    /// How long both sides take to show a change that Patroni's <c>GET /</c> already shows: the agent polls
    /// every second (the shipped poll-interval) and reads the lag from <c>GET /cluster</c> at most every 5 s;
    /// Patroni refreshes the leader's position in the DCS every loop_wait (1 s).
    /// </summary>
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(7);

    private static readonly TimeSpan StateLimit = TimeSpan.FromSeconds(60);

    /// <summary>How often a request is asked again when Patroni's answer changed around the agent's.</summary>
    private const int Attempts = 5;

    [Fact]
    public void The_agent_answers_every_health_check_as_patroni_does_when_steady()
    {
        cluster.WaitConverged();
        Thread.Sleep(Settle);
        CompareAll(Steady);
    }

    [Fact]
    public void The_agent_answers_every_health_check_as_patroni_does_when_paused()
    {
        cluster.WaitConverged();
        try
        {
            cluster.Run("patronictl", "pause", "--wait");
            WaitForEveryMember(s => s.TryGetProperty("pause", out var p) && p.GetBoolean(), "paused");
            Thread.Sleep(Settle);
            CompareAll(Paused);
        }
        finally
        {
            cluster.Run("patronictl", "resume", "--wait");
        }
        cluster.WaitConverged();
    }

    [Theory]
    [InlineData("dc", "east")]
    [InlineData("noloadbalance", "true")]
    public void The_agent_answers_every_health_check_as_patroni_does_when_a_replica_is_tagged(string key, string value)
    {
        var leader = cluster.WaitConverged();
        var replica = Cluster.Nodes.Last(n => n != leader);
        var config = Cluster.PatroniConfig(replica);
        var original = File.ReadAllText(config);
        string tagged = original.Replace($"  {key}: false\n", "", StringComparison.Ordinal)
            .Replace("tags:\n", $"tags:\n  {key}: {value}\n", StringComparison.Ordinal);
        File.WriteAllText(config, tagged);
        try
        {
            cluster.Run("patronictl", "reload", "demo", replica, "--force");
            WaitFor(replica, s => Tag(s, key) == value, $"tagged {key}: {value}");
            Thread.Sleep(Settle);
            CompareAll($"tagged {key}: {value}");
        }
        finally
        {
            File.WriteAllText(config, original);
            cluster.Run("patronictl", "reload", "demo", replica, "--force");
        }
        WaitFor(replica, s => Tag(s, key) != value, $"untagged {key}");
        cluster.WaitConverged();
    }

    [Fact]
    public void The_agent_answers_every_health_check_as_patroni_does_in_synchronous_mode()
    {
        cluster.WaitConverged();
        try
        {
            cluster.Run("patronictl", "edit-config", "--force", "-s", "synchronous_mode=true");
            Eventually.Until(() => Cluster.Nodes.Any(n => IsSyncStandby(n)), StateLimit, () => "no member became a sync standby", TimeSpan.FromMilliseconds(200));
            Thread.Sleep(Settle);
            CompareAll(Synchronous);
        }
        finally
        {
            cluster.Run("patronictl", "edit-config", "--force", "-s", "synchronous_mode=false");
        }
        Eventually.Until(() => !Cluster.Nodes.Any(n => IsSyncStandby(n)), StateLimit, () => "a sync standby remained", TimeSpan.FromMilliseconds(200));
        cluster.WaitConverged();
    }

    /// <summary>
    /// A replica some 5 MB behind, between the limits 1.5 MB (and readiness's 1 MB) and 16 MB, far from each: its
    /// WAL receiver stopped (SIGSTOP), as Patroni resumes a replay paused with <c>pg_wal_replay_pause()</c> within a loop.
    /// The new table is vacuumed at once, so that no autovacuum writes WAL while the other replica is compared with
    /// <c>lag=0</c>: the agent's lag, read from <c>GET /cluster</c> every 5 s, lags Patroni's own after a write.
    /// </summary>
    [Fact]
    public void The_agent_answers_every_health_check_as_patroni_does_while_a_replica_lags()
    {
        var leader = cluster.WaitConverged();
        var replica = Cluster.Nodes.Last(n => n != leader);
        string walreceiver = Run("pgrep", "-P", cluster.Pid("postgres", replica).ToString(), "-f", "walreceiver").Trim();
        Run("kill", "-STOP", walreceiver);
        try
        {
            Cluster.Execute(Cluster.Address(leader),
                "drop table if exists differential_filler; create table differential_filler as select repeat('x', 1000) as pad from generate_series(1, 5000)");
            Cluster.Execute(Cluster.Address(leader), "vacuum analyze differential_filler");
            Assert.InRange(LagBytes(leader, replica), 4L << 20, 12L << 20);
            Thread.Sleep(Settle);
            CompareAll(Lagging);
            Assert.InRange(LagBytes(leader, replica), 4L << 20, 12L << 20);
        }
        finally
        {
            Run("kill", "-CONT", walreceiver);
        }
        cluster.WaitConverged();
        Cluster.Execute(Cluster.Address(leader), "drop table differential_filler");
    }

    /// <summary>
    /// A replica whose Patroni was stopped (SIGTERM, as <c>systemctl stop patroni</c>: it stops PostgreSQL and
    /// leaves the cluster). The other members are compared; the stopped one's Patroni answers nothing, and its
    /// agent answers every check 503 once the last status is older than stale-after, so that HAProxy takes
    /// the node out of every backend as it would a node whose Patroni refused its checks.
    /// </summary>
    [Fact]
    public void The_agent_answers_every_health_check_as_patroni_does_while_a_replica_is_stopped()
    {
        var leader = cluster.WaitConverged();
        var replica = Cluster.Nodes.Last(n => n != leader);
        int patroni = cluster.Pid("patroni", replica);
        Run("kill", "-TERM", patroni.ToString());
        try
        {
            Eventually.Until(() => !Directory.Exists($"/proc/{patroni}"), StateLimit, () => $"{replica}'s Patroni did not stop", TimeSpan.FromMilliseconds(200));
            var others = Cluster.Nodes.Where(n => n != replica).ToArray();
            Eventually.Until(() => Members(leader) == others.Length, StateLimit, () => $"{replica} did not leave the cluster", TimeSpan.FromMilliseconds(200));
            Thread.Sleep(Settle);
            CompareAll(Stopped, others);

            var answered = (from method in Methods
                            from path in CheckPaths
                            let code = StatusCode(Cluster.Address(replica), 8009, method, path)
                            where code != 503
                            select $"{method} {path}: {code}").ToList();
            Assert.True(answered.Count == 0, $"the stopped {replica}'s agent did not answer 503 to:\n{string.Join("\n", answered)}");
        }
        finally
        {
            cluster.Run("start-patroni", replica[2..]);
        }
        cluster.WaitConverged();
    }

    /// <summary>
    /// A standby cluster of one member (node 4) beside the cluster, replicating from its primary through
    /// HAProxy: its standby leader answers as Patroni's does, and the cluster's own members are unchanged.
    /// </summary>
    [Fact]
    public void The_agent_answers_every_health_check_as_patroni_does_in_a_standby_cluster()
    {
        cluster.WaitConverged();
        cluster.Run(TimeSpan.FromMinutes(3), "standby-up");
        try
        {
            Thread.Sleep(Settle);
            CompareAll(Standby, [.. Cluster.Nodes, Cluster.StandbyNode]);
        }
        finally
        {
            cluster.Run("standby-down");
        }
        cluster.WaitConverged();
    }

    /// <summary>The checks HAProxy configurations ask during a switchover, compared over and over while it runs.</summary>
    private static readonly string[] SwitchoverTargets =
    [
        "/primary", "/read-write", "/leader", "/replica", "/replica?lag=16MB", "/read-only", "/async", "/health", "/liveness", "/readiness",
    ];

    /// <summary>
    /// How long after Patroni's answer changed the agent may still give the one before: the agent polls every
    /// second (the shipped poll-interval), every 20 ms for 5 s after Patroni's role-change callback, and a
    /// poll may take a few hundred milliseconds on this busy machine.
    /// </summary>
    private static readonly TimeSpan Follow = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A switchover, with the checks HAProxy asks compared on every member while it runs and until the agent
    /// has settled after it: wherever the agent differs from Patroni, Patroni's own answer changed less than
    /// <see cref="Follow"/> earlier (the agent follows within one poll), or the table allows the difference.
    /// </summary>
    [Fact]
    public async Task During_a_switchover_the_agent_follows_patroni_within_one_poll()
    {
        var leader = cluster.WaitConverged();
        var candidate = Cluster.Nodes.First(n => n != leader);
        var lastSeen = new Dictionary<(string Node, string Target), (int Code, TimeSpan At)>();
        var unexpected = new List<string>();
        int compared = 0, following = 0, leaderNotRunning = 0;
        var longest = TimeSpan.Zero;
        string longestAt = "";
        var clock = Stopwatch.StartNew();
        var switchover = Task.Run(() => cluster.Run(TimeSpan.FromMinutes(2), "switchover", candidate));
        TimeSpan? settledFrom = null;
        while (settledFrom is null || clock.Elapsed - settledFrom < Settle)
        {
            if (settledFrom is null && switchover.IsCompleted)
            {
                await switchover;
                cluster.WaitConverged();
                settledFrom = clock.Elapsed;
            }
            foreach (var node in Cluster.Nodes)
            {
                foreach (var target in SwitchoverTargets)
                {
                    var key = (node, target);
                    string host = Cluster.Address(node);
                    int before = StatusCode(host, 8008, "GET", target);
                    int agent = StatusCode(host, 8009, "GET", target);
                    int after = StatusCode(host, 8008, "GET", target);
                    var now = clock.Elapsed;
                    if (!lastSeen.TryGetValue(key, out var seen) || seen.Code != after)
                    {
                        lastSeen[key] = (after, now);
                    }
                    if (before != after) continue;
                    compared++;
                    if (agent == after) continue;
                    var sinceChange = now - lastSeen[key].At;
                    if (sinceChange <= Follow)
                    {
                        following++;
                        if (sinceChange > longest)
                        {
                            longest = sinceChange;
                            longestAt = $" (GET {target} on {node} at {now.TotalSeconds:0.00} s: Patroni {after}, agent {agent})";
                        }
                        continue;
                    }
                    string request = $"GET {target}";
                    if (Deliberate.Any(d => d.Allows(request, Switchover, after, agent))) continue;
                    if (Deliberate.Any(d => d.Allows(request, LeaderNotRunning, after, agent)) && IsLeaderNotRunning(PatroniStatus(node)))
                    {
                        leaderNotRunning++;
                        continue;
                    }
                    unexpected.Add($"{request} on {node} at {now.TotalSeconds:0.00} s: Patroni {after} for {sinceChange.TotalSeconds:0.00} s, agent {agent}");
                }
            }
        }
        output.WriteLine($"{Switchover} {leader} -> {candidate}: {compared} comparisons in {clock.Elapsed.TotalSeconds:0.0} s; "
            + $"{following} where the agent still gave Patroni's previous answer, at most {longest.TotalMilliseconds:0} ms after Patroni's changed{longestAt}; "
            + $"{leaderNotRunning} allowed: {LeaderNotRunning}");
        Assert.Equal(candidate, cluster.Leader());
        Assert.True(unexpected.Count == 0, $"{unexpected.Count} unexpected differences during the switchover:\n{string.Join("\n", unexpected)}");
    }

    /// <summary>Compares every method and target on every member; fails with every difference the table does not allow.</summary>
    private void CompareAll(string state) => CompareAll(state, Cluster.Nodes);

    /// <summary>Compares every method and target on <paramref name="nodes"/>; fails with every difference the table does not allow.</summary>
    private void CompareAll(string state, IReadOnlyList<string> nodes)
    {
        var elapsed = Stopwatch.StartNew();
        var unexpected = new List<string>();
        var allowed = new int[Deliberate.Length];
        int compared = 0;
        foreach (var node in nodes)
        {
            string role = PatroniStatus(node).GetProperty("role").GetString()!;
            foreach (var method in Methods)
            {
                foreach (var target in Targets)
                {
                    string request = $"{method} {target}";
                    if (Sample(node, method, target) is not var (patroni, agent))
                    {
                        unexpected.Add($"{request} on {node} ({role}): Patroni's answer changed in each of {Attempts} attempts");
                        continue;
                    }
                    compared++;
                    if (patroni == agent) continue;
                    int row = Array.FindIndex(Deliberate, d => d.Allows(request, state, patroni, agent));
                    if (row >= 0) allowed[row]++;
                    else unexpected.Add($"{request} on {node} ({role}): Patroni {patroni}, agent {agent}");
                }
            }
        }
        output.WriteLine($"{state}: {compared} comparisons in {elapsed.Elapsed.TotalSeconds:0.0} s");
        for (int i = 0; i < Deliberate.Length; i++)
        {
            if (allowed[i] > 0) output.WriteLine($"  {allowed[i]} allowed: {Deliberate[i].Request} (Patroni {Deliberate[i].Patroni}, agent {Deliberate[i].Agent})");
        }
        Assert.True(unexpected.Count == 0, $"{unexpected.Count} unexpected differences when {state}:\n{string.Join("\n", unexpected)}");
    }

    /// <summary>Patroni's code and the agent's, taken when Patroni answers the same just before and just after the agent.</summary>
    private static (int Patroni, int Agent)? Sample(string node, string method, string target)
    {
        string host = Cluster.Address(node);
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            int before = StatusCode(host, 8008, method, target);
            int agent = StatusCode(host, 8009, method, target);
            int after = StatusCode(host, 8008, method, target);
            if (before == after) return (before, agent);
            Thread.Sleep(200);
        }
        return null;
    }

    /// <summary>The status code of one HTTP/1.0 request, its reply read to the end (both servers close after it).</summary>
    private static int StatusCode(string host, int port, string method, string target)
    {
        using var client = new TcpClient { ReceiveTimeout = 10_000, SendTimeout = 10_000 };
        client.Connect(host, port);
        using var stream = client.GetStream();
        stream.Write(Encoding.ASCII.GetBytes($"{method} {target} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        string reply = reader.ReadToEnd();
        var statusLine = reply.Split("\r\n", 2)[0].Split(' ');
        return statusLine.Length >= 2 && int.TryParse(statusLine[1], out int code)
            ? code
            : throw new InvalidOperationException($"{method} {target} on {host}:{port}: no status line in {reply}");
    }

    /// <summary>Patroni's <c>GET /</c> of one member.</summary>
    private static JsonElement PatroniStatus(string node)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = http.GetAsync($"http://{Cluster.Address(node)}:8008/").Result;
        using var document = JsonDocument.Parse(response.Content.ReadAsStringAsync().Result);
        return document.RootElement.Clone();
    }

    /// <summary>
    /// Whether Patroni's <c>GET /</c>, read just after a check it answered as the leader, shows the leader's
    /// PostgreSQL not running: the primary role with another state, or already <c>demoted</c>, which only a
    /// stopping primary becomes.
    /// </summary>
    private static bool IsLeaderNotRunning(JsonElement status)
    {
        string? role = status.GetProperty("role").GetString();
        string? state = status.GetProperty("state").GetString();
        return role == "demoted" || (role is "master" or "primary" && state != "running");
    }

    private static string? Tag(JsonElement status, string key) =>
        status.TryGetProperty("tags", out var tags) && tags.TryGetProperty(key, out var value)
            ? value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText()
            : null;

    /// <summary>The members in <paramref name="node"/>'s <c>GET /cluster</c>.</summary>
    private static int Members(string node)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var document = JsonDocument.Parse(http.GetStringAsync($"http://{Cluster.Address(node)}:8008/cluster").Result);
        return document.RootElement.GetProperty("members").GetArrayLength();
    }

    private static bool IsSyncStandby(string node) =>
        PatroniStatus(node).TryGetProperty("sync_standby", out var sync) && sync.GetBoolean();

    private static void WaitFor(string node, Func<JsonElement, bool> condition, string what) =>
        Eventually.Until(() => condition(PatroniStatus(node)), StateLimit, () => $"{node} did not become {what}: {PatroniStatus(node)}", TimeSpan.FromMilliseconds(200));

    private static void WaitForEveryMember(Func<JsonElement, bool> condition, string what)
    {
        foreach (var node in Cluster.Nodes) WaitFor(node, condition, what);
    }

    /// <summary>How far the replica's replay is behind the leader's WAL, in bytes.</summary>
    private static long LagBytes(string leader, string replica)
    {
        string current = Scalar(leader, "select pg_current_wal_lsn()::text");
        string replayed = Scalar(replica, "select pg_last_wal_replay_lsn()::text");
        return long.Parse(Scalar(leader, $"select pg_wal_lsn_diff('{current}', '{replayed}')::bigint::text"));
    }

    private static string Scalar(string node, string sql)
    {
        using var connection = Cluster.Connect(Cluster.Address(node), 5432);
        using var command = new NpgsqlCommand(sql, connection);
        return (string)command.ExecuteScalar()!;
    }

    private static string Run(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {process.ExitCode}: {stderr}");
        return stdout.Result;
    }

    private sealed record Difference(string Request, string State, int Patroni, int Agent, string Reason)
    {
        public bool Allows(string request, string state, int patroni, int agent) =>
            (State == AnyState || State == state) && Patroni == patroni && Agent == agent && Regex.IsMatch(request, Request);
    }
}
