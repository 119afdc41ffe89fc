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
    private const string Tagged = "tagged";
    private const string Synchronous = "synchronous";
    private const string Lagging = "lagging";
    private const string AnyState = "any";

    /// <summary>Patroni's health-check paths, then paths that name no check exactly.</summary>
    private static readonly string[] Paths =
    [
        "/", "/primary", "/master", "/read-write", "/leader", "/standby-leader", "/standby_leader",
        "/replica", "/read-only", "/sync", "/synchronous", "/async", "/asynchronous", "/quorum",
        "/read-only-sync", "/read-only-synchronous", "/read-only-quorum", "/health", "/liveness", "/readiness",
        "/foo", "/Primary", "/replicas", "/read_only",
    ];

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
        new(@"\?lag=0$", AnyState, 200, 503,
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

    [Fact]
    public void The_agent_answers_every_health_check_as_patroni_does_when_a_member_has_custom_tags()
    {
        var leader = cluster.WaitConverged();
        var replica = Cluster.Nodes.Last(n => n != leader);
        var config = Cluster.PatroniConfig(replica);
        var original = File.ReadAllText(config);
        File.WriteAllText(config, original.Replace("tags:\n", "tags:\n  dc: east\n", StringComparison.Ordinal));
        try
        {
            cluster.Run("patronictl", "reload", "demo", replica, "--force");
            WaitFor(replica, s => Tag(s, "dc") == "east", "tagged dc: east");
            Thread.Sleep(Settle);
            CompareAll(Tagged);
        }
        finally
        {
            File.WriteAllText(config, original);
            cluster.Run("patronictl", "reload", "demo", replica, "--force");
        }
        WaitFor(replica, s => Tag(s, "dc") is null, "untagged");
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

    /// <summary>Compares every method and target on every member; fails with every difference the table does not allow.</summary>
    private void CompareAll(string state)
    {
        var elapsed = Stopwatch.StartNew();
        var unexpected = new List<string>();
        var allowed = new int[Deliberate.Length];
        int compared = 0;
        foreach (var node in Cluster.Nodes)
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

    private static string? Tag(JsonElement status, string key) =>
        status.TryGetProperty("tags", out var tags) && tags.TryGetProperty(key, out var value) ? value.ToString() : null;

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
