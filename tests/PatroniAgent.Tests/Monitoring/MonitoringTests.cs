using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Metrics;
using PatroniAgent.Patroni;
using PatroniAgent.Server;
using PatroniAgent.Watcher;
using PatroniAgent.Tests.EndToEnd;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Monitoring;

/// <summary>
/// The observability pack the packages ship (src/PatroniAgent/Packaging/monitoring): the alert rules
/// pass promtool's check and their unit tests, the Grafana dashboard loads, and every metric the rules
/// and the dashboard name is one the agent exports.
/// </summary>
public sealed partial class MonitoringTests
{
    private static readonly string Pack = Path.Combine(PublishedAgent.RepositoryRoot, "src", "PatroniAgent", "Packaging", "monitoring");
    private static readonly string Rules = Path.Combine(Pack, "patroni-agent.rules.yml");
    private static readonly string Dashboard = Path.Combine(Pack, "patroni-agent-dashboard.json");
    private static readonly string RuleTests = Path.Combine(PublishedAgent.RepositoryRoot, "tests", "PatroniAgent.Tests", "Monitoring", "patroni-agent.rules.test.yml");

    [Fact]
    public void The_alert_rules_pass_promtool_check_rules()
    {
        var result = PublishedAgent.Run("promtool", ["check", "rules", Rules], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Contains("SUCCESS: 5 rules found", result.Output + result.Error);
    }

    [Fact]
    public void The_alert_rules_fire_as_their_unit_tests_say()
    {
        var result = PublishedAgent.Run("promtool", ["test", "rules", RuleTests], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Contains("SUCCESS", result.Output + result.Error);
    }

    [Fact]
    public void Every_alert_of_the_rules_has_a_unit_test()
    {
        var alerts = AlertName().Matches(File.ReadAllText(Rules)).Select(m => m.Groups[1].Value).ToHashSet();
        var tested = TestedAlert().Matches(File.ReadAllText(RuleTests)).Select(m => m.Groups[1].Value).ToHashSet();

        Assert.Equal(5, alerts.Count);
        Assert.Equal(alerts.Order(), tested.Order());
    }

    [Fact]
    public void The_dashboard_loads_with_unique_panels_each_with_a_query()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Dashboard));
        var root = dashboard.RootElement;

        Assert.Equal("patroni-agent", root.GetProperty("uid").GetString());
        Assert.True(root.GetProperty("schemaVersion").GetInt32() >= 36);
        var panels = root.GetProperty("panels").EnumerateArray().ToList();
        Assert.True(panels.Count >= 8);
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        Assert.All(panels, p =>
        {
            Assert.False(string.IsNullOrEmpty(p.GetProperty("title").GetString()));
            Assert.Contains(p.GetProperty("targets").EnumerateArray(), t => !string.IsNullOrEmpty(t.GetProperty("expr").GetString()));
        });
        var variables = root.GetProperty("templating").GetProperty("list").EnumerateArray().Select(v => v.GetProperty("name").GetString()).ToList();
        var used = panels.SelectMany(Expressions).SelectMany(e => Variable().Matches(e).Select(m => m.Groups[1].Value)).ToHashSet();
        Assert.All(used, v => Assert.Contains(v, variables));
    }

    [Fact]
    public void Every_metric_the_rules_and_the_dashboard_name_is_exported_by_the_agent()
    {
        var exported = ExportedFamilies();
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Dashboard));
        var expressions = dashboard.RootElement.GetProperty("panels").EnumerateArray().SelectMany(Expressions)
            .Append(File.ReadAllText(Rules));

        var named = expressions.SelectMany(e => MetricName().Matches(e).Select(m => m.Value)).ToHashSet();

        Assert.NotEmpty(named);
        Assert.All(named, name => Assert.Contains(Family(name), exported));
    }

    /// <summary>The metric families of an agent with every optional family present: a replica's lag measured, per-checker series on.</summary>
    private static HashSet<string> ExportedFamilies()
    {
        var time = new ManualTime();
        var poller = new ScriptedPoller(time);
        using var server = new TestServer([Mode.Primary], sendWait: TimeSpan.FromSeconds(5), time: time);
        var watcher = new RoleWatcher(poller, server.Board, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(3), NullLogger.Instance, time);
        poller.Then(new PollResult(Statuses.Running(PatroniRole.Replica, "replica"), null) { LagSource = LagSource.Leader, LagAge = TimeSpan.FromMilliseconds(200) }, TimeSpan.FromMilliseconds(3));
        watcher.PollOnce(CancellationToken.None);
        server.Board.Answer(AgentRequest.For(Mode.Primary), "primary\n"u8, PeerAddress.From(IPAddress.Loopback.GetAddressBytes()));
        var metrics = new AgentMetrics(server.Board, watcher, server.Server, "1.2.3") { PerChecker = true };
        return [.. PrometheusText.Parse(metrics.WritePrometheus()).Families];
    }

    private static IEnumerable<string> Expressions(JsonElement panel) =>
        panel.GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("expr").GetString() ?? "");

    /// <summary>A sample name's family: a histogram's <c>_bucket</c>, <c>_sum</c> and <c>_count</c> belong to it.</summary>
    private static string Family(string name) => HistogramSuffix().Replace(name, "");

    [GeneratedRegex(@"\b(?:patroni_agent|process)_[a-z_]+\b")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"(?<=_seconds)_(bucket|sum|count)$")]
    private static partial Regex HistogramSuffix();

    [GeneratedRegex(@"^\s*- alert: (\w+)$", RegexOptions.Multiline)]
    private static partial Regex AlertName();

    [GeneratedRegex(@"^\s*alertname: (\w+)$", RegexOptions.Multiline)]
    private static partial Regex TestedAlert();

    [GeneratedRegex(@"\$(\w+)")]
    private static partial Regex Variable();
}
