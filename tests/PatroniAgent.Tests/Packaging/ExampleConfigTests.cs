using System.Collections;
using System.Net;
using System.Text.RegularExpressions;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Configuration;
using PatroniAgent.HaproxyConfig;
using PatroniAgent.Tests.EndToEnd;
using PatroniAgent.Commands;

namespace PatroniAgent.Tests.Packaging;

/// <summary>src/PatroniAgent/Packaging/patroni-agent.conf: every key the loader knows, each with its default.</summary>
public partial class ExampleConfigTests
{
    private static readonly string ExamplePath =
        Path.Combine(PublishedAgent.RepositoryRoot, "src", "PatroniAgent", "Packaging", "patroni-agent.conf");

    /// <summary>A key of the example, commented out (<c>#key = value</c>) or set (<c>key = value</c>).</summary>
    [GeneratedRegex(@"^#?([a-z][a-z-]*) = (.*)$")]
    private static partial Regex ShownKey();

    /// <summary>The listeners the README's HAProxy recipe and haproxy-config's output check: agent port 5555, HTTP port 8009.</summary>
    private static readonly AgentOptions Shipped = new AgentOptions() with { HttpListeners = [new IPEndPoint(IPAddress.IPv6Any, 8009)] };

    /// <summary>A flag of the help text's option list, e.g. <c>  --poll-interval DURATION</c>.</summary>
    [GeneratedRegex(@"^  --([a-z][a-z-]*) ", RegexOptions.Multiline)]
    private static partial Regex HelpFlag();

    private static string[] Lines() => File.ReadAllLines(ExamplePath);

    private static AgentOptions Load(string text) =>
        ConfigLoader.Parse(["--config", "example.conf"], new ArgumentRules(), new Dictionary<string, string>(), _ => text).Options;

    [Fact]
    public void Every_key_of_the_loader_is_in_the_example()
    {
        string[] loaderKeys = HelpFlag().Matches(AgentHelp.Text).Select(m => m.Groups[1].Value)
            .Where(k => k is not ("config" or "instance" or "help" or "version"))
            .ToArray();
        string[] exampleKeys = Lines().Select(l => ShownKey().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToArray();

        Assert.Contains("poll-interval", loaderKeys);
        Assert.Equal(loaderKeys.Order(), exampleKeys.Order());
    }

    [Fact]
    public void As_shipped_it_sets_the_agent_and_http_listeners_that_haproxy_config_checks()
    {
        AgentOptions loaded = Load(File.ReadAllText(ExamplePath));

        var defaults = new HaproxyConfigOptions();
        Assert.Equal([new ListenerConfig(new IPEndPoint(IPAddress.IPv6Any, defaults.AgentPort), Mode.Primary)], loaded.Listeners);
        Assert.Equal([new IPEndPoint(IPAddress.IPv6Any, defaults.HttpCheckPort)], loaded.HttpListeners);
        Assert.Equal(["listen", "http-listen"], Lines().Select(l => ShownKey().Match(l)).Where(m => m.Success && !m.Value.StartsWith('#')).Select(m => m.Groups[1].Value));
        AssertSameOptions(Shipped, loaded);
    }

    [Fact]
    public void Every_value_shown_is_the_default_but_the_http_and_metrics_listener_and_allow_examples()
    {
        // The TLS and auth files are examples of paths, read at start: they are shown, not loaded here.
        static bool IsFileExample(Match key) => key.Groups[1].Value is "patroni-ca-file" or "patroni-cert-file" or "patroni-key-file" or "patroni-auth-file";
        string uncommented = string.Join('\n', Lines().Select(l => l.StartsWith('#') && ShownKey().Match(l) is { Success: true } key && !IsFileExample(key) ? l[1..] : l));

        AgentOptions loaded = Load(uncommented);

        Assert.Equal([new IPEndPoint(IPAddress.IPv6Any, 8009)], loaded.HttpListeners);
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 8010)], loaded.MetricsListeners);
        Assert.Equal([IPNetwork.Parse("10.0.0.0/24")], loaded.Allow);
        AssertSameOptions(Shipped, loaded with { MetricsListeners = [], Allow = [] });
    }

    /// <summary>Compares every property, lists by their items.</summary>
    private static void AssertSameOptions(AgentOptions expected, AgentOptions actual)
    {
        foreach (var property in typeof(AgentOptions).GetProperties())
        {
            object? want = property.GetValue(expected), got = property.GetValue(actual);
            if (want is IEnumerable wantItems and not string && got is IEnumerable gotItems)
            {
                Assert.True(wantItems.Cast<object>().SequenceEqual(gotItems.Cast<object>()), $"{property.Name} differs");
            }
            else
            {
                Assert.True(Equals(want, got), $"{property.Name}: expected {want}, got {got}");
            }
        }
    }
}
