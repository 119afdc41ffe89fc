using System.Diagnostics;
using System.Text.RegularExpressions;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.ClusterTests;

/// <summary>
/// The defaults agree: agents running the packages' config file, HAProxy running what
/// <c>patroni-agent haproxy-config</c> prints, and Patroni's own HAProxy template pointed at the
/// agents' HTTP port as docs/http-checks.md advises, on the real cluster.
/// </summary>
[Collection(nameof(ClusterCollection))]
public partial class ShippedDefaultsTests(Cluster cluster)
{
    private static readonly TimeSpan SteadyLimit = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Patroni's HAProxy template (its docs' haproxy.cfg: a bare option httpchk, status 200, the
    /// server's check port), once on Patroni's port and once on the agent's; inter shortened from 3s.
    /// </summary>
    private static string PatroniTemplate(string name, int bind, int checkPort) =>
        $"""

        listen {name}
            bind 127.0.0.1:{bind}
            option httpchk
            http-check expect status 200
            default-server inter 500ms fall 3 rise 2 on-marked-down shutdown-sessions
        {string.Concat(Cluster.Nodes.Select(n => $"    server {n} {Cluster.Address(n)}:5432 maxconn 100 check port {checkPort}\n"))}
        """;

    [GeneratedRegex(@"^    stats socket \S+", RegexOptions.Multiline)]
    private static partial Regex StatsSocket();

    [Fact]
    public void The_shipped_config_and_the_generated_haproxy_configuration_show_no_server_down()
    {
        string shipped = File.ReadAllText(Path.Combine(Cluster.RepositoryRoot(), "src", "PatroniAgent", "Packaging", "patroni-agent.conf"));
        foreach (string node in Cluster.Nodes)
            Assert.Equal(shipped.Replace("listen = *:", $"listen = {Cluster.Address(node)}:"), File.ReadAllText(Cluster.AgentConfig(node)));
        var leader = cluster.WaitConverged();

        string directory = Cluster.TestDirectory("shipped-defaults");
        string socket = Path.Combine(directory, "haproxy.sock");
        string[] members = Cluster.Nodes.SelectMany(n => new[] { "--member", $"{n}={Cluster.Address(n)}" }).ToArray();
        var generated = Run(Cluster.AgentBinary, ["haproxy-config", .. members, "--bind", "127.0.0.1", "--read-write-port", "5100", "--read-only-port", "5101", "--stats-port", "7100"]);
        Assert.Contains("check port 8009 agent-check agent-port 5555", generated);
        string config = Path.Combine(directory, "haproxy.cfg");
        File.WriteAllText(config, StatsSocket().Replace(generated, $"    stats socket {socket}", 1)
            + PatroniTemplate("template_on_patroni", 5102, 8008) + PatroniTemplate("template_on_agent", 5103, 8009));
        Run("haproxy", ["-c", "-q", "-f", config]);

        using var haproxy = Process.Start(new ProcessStartInfo("haproxy", ["-db", "-f", config]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        try
        {
            List<ServerState> servers = [];
            Eventually.Until(
                () =>
                {
                    if (!File.Exists(socket)) return false;
                    servers = Cluster.ShowStat(socket);
                    return servers.Count == 4 * Cluster.Nodes.Length
                        && servers.Where(s => s.Backend is "postgres_rw").All(s => s.Status == (s.Server == leader ? "UP" : "MAINT"))
                        && servers.Where(s => s.Backend is "postgres_ro").All(s => s.Status == (s.Server == leader ? "MAINT" : "UP"))
                        && servers.Where(s => s.Backend.StartsWith("template_")).All(s => s.Status == (s.Server == leader ? "UP" : "DOWN"));
                },
                SteadyLimit, () => $"HAProxy did not settle on the expected view in {SteadyLimit}:\n{string.Join("\n", servers)}\n{Cluster.Logs()}",
                TimeSpan.FromMilliseconds(200));
            Assert.DoesNotContain(servers, s => s.Backend.StartsWith("postgres_") && s.Status.StartsWith("DOWN"));
            foreach (string node in Cluster.Nodes)
            {
                Assert.Equal(servers.Single(s => s.Backend == "template_on_patroni" && s.Server == node).Status,
                    servers.Single(s => s.Backend == "template_on_agent" && s.Server == node).Status);
            }
            Assert.Equal((leader, false), Cluster.Land(5100));
            Assert.Equal((leader, false), Cluster.Land(5103));
            var (reader, inRecovery) = Cluster.Land(5101);
            Assert.NotEqual(leader, reader);
            Assert.True(inRecovery);
        }
        finally
        {
            haproxy.Kill();
            haproxy.WaitForExit();
        }
    }

    private static string Run(string file, string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {process.ExitCode}: {error}");
        return output.Result;
    }
}
