using System.Text;
using PatroniAgent.HaproxyConfig;
using PatroniAgent.Patroni;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.HaproxyConfig;

public class ClusterMembersTests
{
    private static List<HaproxyMember> Decode(string json, int defaultPort = 5432) =>
        ClusterMembers.Decode(Encoding.UTF8.GetBytes(json), defaultPort);

    [Theory]
    [InlineData("v3.0.2-cluster", "127.0.1")]
    [InlineData("v4.1.4-cluster", "127.0.2")]
    public void Recorded_answers_of_patroni_3_and_4_give_names_hosts_and_ports(string fixture, string network)
    {
        var members = ClusterMembers.Decode(PatroniFixtures.Load(fixture).Body, 1);

        Assert.Equal(
            [new("pg1", $"{network}.1", 5432), new("pg2", $"{network}.2", 5432), new("pg3", $"{network}.3", 5432)],
            members);
    }

    [Fact]
    public void Without_host_the_host_of_api_url_and_without_port_the_default()
    {
        var members = Decode("""
            {"members": [
              {"name": "a", "api_url": "http://10.1.0.1:8008/patroni"},
              {"name": "b", "api_url": "https://db2.example:8008/patroni", "port": 6432},
              {"name": "c", "api_url": "http://[fd00::3]:8008/patroni"}
            ]}
            """, 5433);

        Assert.Equal([new("a", "10.1.0.1", 5433), new("b", "db2.example", 6432), new("c", "fd00::3", 5433)], members);
    }

    [Theory]
    [InlineData("{\"members\": []}", "lists no member")]
    [InlineData("{}", "lists no member")]
    [InlineData("{\"members\": [{\"host\": \"10.0.0.1\"}]}", "a member without a name")]
    [InlineData("{\"members\": [{\"name\": \"pg1\", \"role\": \"leader\"}]}", "gives member pg1 neither a host nor an api_url")]
    [InlineData("{\"members\": [{\"name\": \"pg1\", \"api_url\": \"not a url\"}]}", "gives member pg1 neither a host nor an api_url")]
    [InlineData("<html>503</html>", "not valid JSON")]
    [InlineData("[1, 2]", "not valid JSON")]
    [InlineData("null", "not a JSON object")]
    public void An_unusable_answer_is_a_clear_error(string json, string message)
    {
        var error = Assert.Throws<PatroniAnswerException>(() => Decode(json));
        Assert.Contains(message, error.Message);
    }
}
