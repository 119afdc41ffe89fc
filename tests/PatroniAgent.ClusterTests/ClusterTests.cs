using System.Net.Sockets;
using Npgsql;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.ClusterTests;

/// <summary>
/// patroni-agent between a real Patroni 3.0.2 cluster and a real HAProxy 2.6, both from Debian's
/// packages, started by scripts/cluster.sh. Each test starts from, and leaves, a whole cluster.
/// </summary>
[Collection(nameof(ClusterCollection))]
public class ClusterTests(Cluster cluster)
{
    private static readonly TimeSpan RouteLimit = TimeSpan.FromSeconds(30);

    [Fact]
    public void Steady_state_has_one_writer_and_no_server_down()
    {
        var leader = cluster.WaitConverged();
        var servers = cluster.Servers();

        Assert.DoesNotContain(servers, s => s.Status.StartsWith("DOWN"));
        var writer = Assert.Single(servers, s => s.Backend == Cluster.ReadWrite && s.Status == "UP");
        Assert.Equal(leader, writer.Server);
        Assert.StartsWith("via agent : up (primary, timeline ", writer.AgentSaid);
        foreach (var replica in servers.Where(s => s.Backend == Cluster.ReadWrite && s.Server != leader))
        {
            Assert.Equal("MAINT", replica.Status);
            Assert.StartsWith("via agent : up (replica, lag ", replica.AgentSaid);
        }
        Assert.Equal(
            Cluster.Nodes.Where(n => n != leader).Order(),
            servers.Where(s => s.Backend == Cluster.ReadOnly && s.Status == "UP").Select(s => s.Server).Order());

        Assert.Equal((leader, false), Cluster.Land(5000));
        var (reader, inRecovery) = Cluster.Land(5001);
        Assert.NotEqual(leader, reader);
        Assert.True(inRecovery);
    }

    [Fact]
    public void Repeated_switchovers_route_writes_to_the_new_primary_only()
    {
        for (int round = 0; round < 3; round++)
        {
            var old = cluster.WaitConverged();
            var candidate = Cluster.Nodes.First(n => n != old);
            using var oldClient = Cluster.Connect("127.0.0.1", 5000);
            Assert.Equal(old, Cluster.NodeOf(Scalar<string>(oldClient, "select host(inet_server_addr())")));

            int tracebacks = Cluster.PatroniRequestTracebacks();
            using (var probe = new WriteProbe())
            {
                cluster.Run("switchover", candidate);
                probe.WaitForPrimary(candidate, RouteLimit);
                Assert.Equal(candidate, cluster.WaitConverged());
                Assert.DoesNotContain(probe.Landings, l => l.InRecovery);
            }
            Assert.ThrowsAny<Exception>(() => Scalar<int>(oldClient, "select 1"));
            Assert.Equal(tracebacks, Cluster.PatroniRequestTracebacks());
        }
    }

    [Fact]
    public void Patroni_tells_both_agents_of_a_switchover_through_its_on_role_change_callback()
    {
        var old = cluster.WaitConverged();
        var candidate = Cluster.Nodes.First(n => n != old);
        const string notice = "role change notified through the control socket";
        int oldBefore = Cluster.AgentLog(old).Count(l => l.Contains(notice));
        int candidateBefore = Cluster.AgentLog(candidate).Count(l => l.Contains(notice));

        cluster.Run("switchover", candidate);
        var interval = TimeSpan.FromMilliseconds(100);
        Eventually.Until(() => Cluster.AgentLog(candidate).Count(l => l.Contains(notice)) > candidateBefore, RouteLimit,
            () => $"the new primary's agent heard nothing\n{Cluster.Logs()}", interval);
        Eventually.Until(() => Cluster.AgentLog(old).Count(l => l.Contains(notice)) > oldBefore, RouteLimit,
            () => $"the old primary's agent heard nothing\n{Cluster.Logs()}", interval);
        Assert.Equal(candidate, cluster.WaitConverged());
    }

    [Fact]
    public void Failover_after_sigkill_follows_the_new_leader_and_the_old_node_returns_in_maint()
    {
        var old = cluster.WaitConverged();
        try
        {
            using var probe = new WriteProbe();
            cluster.Run("kill-node", old[2..]);
            string? seen = null;
            Eventually.Until(() => (seen = cluster.Leader()) is not null && seen != old, TimeSpan.FromSeconds(60),
                () => $"no leader other than {old} within 60 s (last seen: {seen ?? "none"})\n{Cluster.Logs()}", TimeSpan.FromMilliseconds(200));
            string leader = seen!;
            probe.WaitForPrimary(leader, RouteLimit);
            Assert.DoesNotContain(probe.Landings, l => l.InRecovery);
            Assert.StartsWith("UP", cluster.Server(Cluster.ReadWrite, leader).Status);
            Assert.DoesNotMatch("^UP", cluster.Server(Cluster.ReadWrite, old).Status);
        }
        finally
        {
            cluster.Run("start-patroni", old[2..]);
        }

        var newLeader = cluster.WaitConverged(TimeSpan.FromSeconds(120));
        Assert.NotEqual(old, newLeader);
        var returned = cluster.Server(Cluster.ReadWrite, old);
        Assert.Equal("MAINT", returned.Status);
        Assert.StartsWith("via agent : up (replica, lag ", returned.AgentSaid);
    }

    /// <summary>
    /// PostgreSQL killed under its Patroni: no callback tells the agent, so its next poll does (within the
    /// 1 s poll-interval); from then on it never says ready until PostgreSQL accepts connections again.
    /// </summary>
    [Fact]
    public void The_agent_never_says_ready_while_postgres_is_down_under_a_living_patroni()
    {
        var leader = cluster.WaitConverged();
        var host = Cluster.Address(leader);
        Assert.StartsWith("up ready", Cluster.AgentAnswer(leader, "primary\n"));

        Process("kill", "-KILL", cluster.Pid("postgres", leader).ToString());

        var samples = new List<(bool Accepts, string Answer)>();
        Eventually.Until(
            () =>
            {
                bool accepts;
                try
                {
                    using var connection = Cluster.Connect(host, 5432, timeoutSeconds: 1);
                    accepts = true;
                }
                catch (Exception e) when (e is NpgsqlException or SocketException or TimeoutException or IOException)
                {
                    accepts = false;
                }
                var answer = Cluster.AgentAnswer(leader, "primary\n");
                samples.Add((accepts, answer));
                return accepts && answer.StartsWith("up ready");
            },
            TimeSpan.FromSeconds(60), () => "postgres or the agent's ready did not come back", TimeSpan.FromMilliseconds(10));

        int told = samples.FindIndex(s => s.Answer.StartsWith("down #postgres"));
        Assert.True(told >= 0, $"the agent never said postgres was down: {string.Join(" | ", samples.Select(s => s.Answer).Distinct())}");
        Assert.DoesNotContain(samples.Skip(told), s => !s.Accepts && s.Answer.Contains("ready"));
        cluster.WaitConverged(TimeSpan.FromSeconds(120));
    }

    [Fact]
    public void A_frozen_patroni_takes_its_replica_out_of_reads_and_leaves_it_in_maint_for_writes()
    {
        var leader = cluster.WaitConverged();
        var replica = Cluster.Nodes.First(n => n != leader);
        Assert.StartsWith("up ready 100% #replica", Cluster.AgentAnswer(replica, "replica\n"));
        int patroni = cluster.Pid("patroni", replica);

        Process("kill", "-STOP", patroni.ToString());
        try
        {
            var unknown = WaitForAnswer(replica, "replica\n", a => a.StartsWith("down #"), TimeSpan.FromSeconds(10));
            Assert.StartsWith("down #no answer from patroni for 3s; was: replica, lag ", unknown);
            Assert.StartsWith("up maint #no answer from patroni for 3s; was: replica, lag ", Cluster.AgentAnswer(replica, "primary\n"));
            WaitForStatusStart(Cluster.ReadOnly, replica, "DOWN", TimeSpan.FromSeconds(10));
            Assert.Equal("MAINT", cluster.Server(Cluster.ReadWrite, replica).Status);
        }
        finally
        {
            Process("kill", "-CONT", patroni.ToString());
        }
        WaitForAnswer(replica, "replica\n", a => a.StartsWith("up ready 100% #replica"), TimeSpan.FromSeconds(10));
        cluster.WaitConverged();
    }

    /// <summary>
    /// The candidate's Patroni freezes for 4 s (longer than stale-after) between taking the leader lock and
    /// promoting, as a starved host stalls it: its agent stays maint for writes, so HAProxy keeps it in
    /// MAINT instead of DOWN and puts it in at the first ready, with no traceback left in Patroni's log.
    /// </summary>
    [Fact]
    public void A_candidate_whose_patroni_stalls_while_promoting_stays_in_maint_and_then_takes_writes()
    {
        var old = cluster.WaitConverged();
        var candidate = Cluster.Nodes.First(n => n != old);
        int tracebacks = Cluster.PatroniRequestTracebacks();
        cluster.Run("stall-next-promotion", candidate[2..], "4");

        using var probe = new WriteProbe();
        var statuses = new List<string>();
        var answers = new List<string>();
        var failures = new List<Exception>();
        using (var watch = new Timer(_ =>
               {
                   lock (statuses)
                   {
                       try
                       {
                           statuses.Add(cluster.Server(Cluster.ReadWrite, candidate).Status);
                           answers.Add(Cluster.AgentAnswer(candidate, "primary\n"));
                       }
                       catch (Exception e)
                       {
                           failures.Add(e);
                       }
                   }
               }, null, TimeSpan.Zero, TimeSpan.FromMilliseconds(100)))
        {
            cluster.Run(TimeSpan.FromMinutes(1), "switchover", candidate);
            probe.WaitForPrimary(candidate, RouteLimit);
        }

        lock (statuses)
        {
            Assert.Empty(failures);
            Assert.Contains(answers, a => a.StartsWith("up maint #no answer from patroni for 3s", StringComparison.Ordinal));
            Assert.DoesNotContain(statuses, s => s.StartsWith("DOWN", StringComparison.Ordinal));
        }
        Assert.DoesNotContain(probe.Landings, l => l.InRecovery);
        Assert.Equal(candidate, cluster.WaitConverged());
        Assert.Equal(tracebacks, Cluster.PatroniRequestTracebacks());
    }

    [Fact]
    public void A_restarted_agent_answers_at_once_under_check_load()
    {
        var leader = cluster.WaitConverged();
        int before = cluster.Pid("agent", leader);
        cluster.Run("restart-agent", leader[2..]);
        int after = cluster.Pid("agent", leader);
        Assert.NotEqual(before, after);

        var answer = WaitForAnswer(leader, "primary\n", a => a.StartsWith("up ready"), TimeSpan.FromSeconds(5));
        Assert.StartsWith("up ready 100% #primary", answer);
        var log = File.ReadAllText($"/tmp/patroni-agent-cluster-tests/log/agent{leader[2..]}.log");
        Assert.DoesNotContain("already in use", log);
        Assert.Equal(leader, cluster.WaitConverged());
    }

    [Fact]
    public void Without_its_agent_the_primary_goes_down_and_a_switchover_never_reaches_the_demoted_node()
    {
        var old = cluster.WaitConverged();
        var candidate = Cluster.Nodes.First(n => n != old);
        cluster.Run("stop-agent", old[2..]);
        try
        {
            WaitForStatusStart(Cluster.ReadWrite, old, "DOWN", TimeSpan.FromSeconds(15));

            using var probe = new WriteProbe();
            cluster.Run("switchover", candidate);
            probe.WaitForPrimary(candidate, RouteLimit);
            Thread.Sleep(2000);
            Assert.DoesNotContain(probe.Landings, l => l.InRecovery || l.Node == old);
        }
        finally
        {
            cluster.Run("start-agent", old[2..]);
        }
        Assert.Equal(candidate, cluster.WaitConverged());
    }

    [Fact]
    public void A_noloadbalance_replica_leaves_the_read_only_backend()
    {
        var leader = cluster.WaitConverged();
        var replica = Cluster.Nodes.Last(n => n != leader);
        var config = $"/tmp/patroni-agent-cluster-tests/{replica}/patroni.yml";
        var original = File.ReadAllText(config);
        File.WriteAllText(config, original.Replace("noloadbalance: false", "noloadbalance: true"));
        try
        {
            Process("kill", "-HUP", cluster.Pid("patroni", replica).ToString());
            WaitForStatus(Cluster.ReadOnly, replica, "MAINT");
            Assert.Equal("via agent : up (replica, noloadbalance)", cluster.Server(Cluster.ReadOnly, replica).AgentSaid);
        }
        finally
        {
            File.WriteAllText(config, original);
            Process("kill", "-HUP", cluster.Pid("patroni", replica).ToString());
        }
        WaitForStatus(Cluster.ReadOnly, replica, "UP");
    }

    /// <summary>
    /// A replica whose WAL receiver is stopped falls 30 MB behind: its agent answers drain, so HAProxy
    /// sends it no new session while a long query already on it goes on to its end; once the receiver
    /// runs again and the lag is back below half of max-lag, the replica stays out for the 10 s hold and
    /// then returns, and its agent logs one line each way.
    /// </summary>
    [Fact]
    public async Task A_lagging_replica_drains_out_of_the_read_only_backend_keeps_its_sessions_and_returns_after_the_hold()
    {
        var leader = cluster.WaitConverged();
        var replica = Cluster.Nodes.Last(n => n != leader);
        string log = $"/tmp/patroni-agent-cluster-tests/log/agent{replica[2..]}.log";
        int logLinesBefore = File.ReadAllLines(log).Length;
        using var session = ConnectThrough(5001, replica);
        using var longQuery = new NpgsqlCommand("select 42 from pg_sleep(12)", session) { CommandTimeout = 60 };
        var queryResult = longQuery.ExecuteScalarAsync();
        int walreceiver = int.Parse(Process("pgrep", "-P", cluster.Pid("postgres", replica).ToString(), "-f", "walreceiver").Trim());

        Process("kill", "-STOP", walreceiver.ToString());
        try
        {
            Cluster.Execute(Cluster.Address(leader),
                "drop table if exists lag_test; create table lag_test as select g, repeat('x', 200) as pad from generate_series(1, 150000) g; select pg_switch_wal()");
            WaitForStatusStart(Cluster.ReadOnly, replica, "DRAIN", TimeSpan.FromSeconds(30));
            Assert.Matches(@"^via agent : up \(replica, lag [0-9.]+ MB over max-lag\)$", cluster.Server(Cluster.ReadOnly, replica).AgentSaid);
            Assert.All(Enumerable.Range(0, 6).Select(_ => Cluster.Land(5001)), landing => Assert.NotEqual(replica, landing.Node));
        }
        finally
        {
            Process("kill", "-CONT", walreceiver.ToString());
        }
        var resumed = DateTime.UtcNow;
        Assert.Equal(42, (int)(await queryResult)!);

        WaitForStatus(Cluster.ReadOnly, replica, "UP");
        Assert.True(DateTime.UtcNow - resumed >= TimeSpan.FromSeconds(10), $"{replica} came back {DateTime.UtcNow - resumed} after its receiver ran again, within the 10 s hold");
        List<string> moves = [];
        Eventually.Until(() => (moves = [.. File.ReadAllLines(log).Skip(logLinesBefore).Where(line => line.Contains("replica lag", StringComparison.Ordinal) && line.Contains("max-lag 16 MB", StringComparison.Ordinal))]).Count >= 2,
            TimeSpan.FromSeconds(5), () => $"the agent of {replica} logged {moves.Count} moves: {string.Join(" | ", moves)}");
        Assert.Equal(2, moves.Count);
        Assert.Contains("over max-lag 16 MB: out of those checks until at or below 8 MB for 10s", moves[0]);
        Assert.Contains("at or below 8 MB for 10s: back in the checks with max-lag 16 MB", moves[1]);
        Cluster.Execute(Cluster.Address(leader), "drop table lag_test");
    }

    /// <summary>A connection through an HAProxy frontend that landed on <paramref name="node"/>.</summary>
    private static NpgsqlConnection ConnectThrough(int frontendPort, string node)
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            var connection = Cluster.Connect("127.0.0.1", frontendPort);
            if (Cluster.NodeOf(Scalar<string>(connection, "select host(inet_server_addr())")) == node)
            {
                return connection;
            }
            connection.Dispose();
        }
        throw new InvalidOperationException($"no connection through port {frontendPort} landed on {node} in 20 tries");
    }

    private void WaitForStatus(string backend, string node, string status)
    {
        string last = "";
        Eventually.Until(() => (last = cluster.Server(backend, node).Status) == status, TimeSpan.FromSeconds(30),
            () => $"{node} in {backend} stayed {last}, not {status}", TimeSpan.FromMilliseconds(50));
    }

    private void WaitForStatusStart(string backend, string node, string start, TimeSpan timeout)
    {
        string last = "";
        Eventually.Until(() => (last = cluster.Server(backend, node).Status).StartsWith(start, StringComparison.Ordinal), timeout,
            () => $"{node} in {backend} stayed {last}, not {start}", TimeSpan.FromMilliseconds(50));
    }

    private static string WaitForAnswer(string node, string send, Func<string, bool> wanted, TimeSpan timeout)
    {
        string last = "";
        Eventually.Until(
            () =>
            {
                try
                {
                    last = Cluster.AgentAnswer(node, send);
                    return wanted(last);
                }
                catch (SocketException e)
                {
                    last = e.Message;
                    return false;
                }
            },
            timeout, () => $"the agent of {node} kept answering: {last}", TimeSpan.FromMilliseconds(20));
        return last;
    }

    private static T Scalar<T>(NpgsqlConnection connection, string sql)
    {
        using var command = new NpgsqlCommand(sql, connection);
        return (T)command.ExecuteScalar()!;
    }

    private static string Process(string file, params string[] args)
    {
        var info = new System.Diagnostics.ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = System.Diagnostics.Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed: {process.StandardError.ReadToEnd()}");
        }
        return output;
    }
}
