using System.Net;
using PatroniAgent.Server;

namespace PatroniAgent.Tests.Server;

/// <summary>Which peer addresses an allow list lets in.</summary>
public class AllowListTests
{
    private static bool Allows(string[] prefixes, string peer) =>
        new AllowList(prefixes.Select(IPNetwork.Parse).ToList()).Allows(IPAddress.Parse(peer).GetAddressBytes());

    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.1", true)]
    [InlineData("10.0.0.0/8", "10.255.255.255", true)]
    [InlineData("10.0.0.0/8", "11.0.0.0", false)]
    [InlineData("10.0.0.0/8", "9.255.255.255", false)]
    [InlineData("192.0.2.7/32", "192.0.2.7", true)]
    [InlineData("192.0.2.7/32", "192.0.2.6", false)]
    [InlineData("192.0.2.0/25", "192.0.2.127", true)]
    [InlineData("192.0.2.0/25", "192.0.2.128", false)]
    [InlineData("0.0.0.0/0", "203.0.113.9", true)]
    [InlineData("::1/128", "::1", true)]
    [InlineData("::1/128", "::2", false)]
    [InlineData("fd00::/8", "fd12:3456::1", true)]
    [InlineData("fd00::/8", "fe80::1", false)]
    [InlineData("2001:db8::/33", "2001:db8:7fff::1", true)]
    [InlineData("2001:db8::/33", "2001:db8:8000::1", false)]
    [InlineData("::/0", "2001:db8::1", true)]
    public void A_peer_is_allowed_when_a_prefix_of_its_family_covers_it(string prefix, string peer, bool allowed)
    {
        Assert.Equal(allowed, Allows([prefix], peer));
    }

    [Theory]
    [InlineData("127.0.0.1/32", "::ffff:127.0.0.1", true)]
    [InlineData("10.0.0.0/8", "::ffff:10.1.2.3", true)]
    [InlineData("10.0.0.0/8", "::ffff:11.1.2.3", false)]
    [InlineData("::ffff:10.0.0.0/104", "10.1.2.3", true)]
    [InlineData("::ffff:10.0.0.0/104", "::ffff:10.1.2.3", true)]
    [InlineData("::ffff:10.0.0.0/104", "11.1.2.3", false)]
    public void IPv4_mapped_peers_and_prefixes_count_as_IPv4(string prefix, string peer, bool allowed)
    {
        Assert.Equal(allowed, Allows([prefix], peer));
    }

    [Theory]
    [InlineData("::/0", "127.0.0.1")]
    [InlineData("::/0", "::ffff:127.0.0.1")]
    [InlineData("0.0.0.0/0", "::1")]
    public void A_prefix_of_one_family_never_lets_in_the_other(string prefix, string peer)
    {
        Assert.False(Allows([prefix], peer));
    }

    [Fact]
    public void Any_prefix_of_the_list_lets_a_peer_in()
    {
        string[] list = ["10.0.0.0/8", "192.0.2.7/32", "::1/128", "fd00::/8"];
        Assert.True(Allows(list, "192.0.2.7"));
        Assert.True(Allows(list, "10.9.9.9"));
        Assert.True(Allows(list, "fdff::1"));
        Assert.True(Allows(list, "::1"));
        Assert.False(Allows(list, "192.0.2.8"));
        Assert.False(Allows(list, "2001:db8::1"));
    }

    [Fact]
    public void An_address_of_no_known_length_is_refused()
    {
        var list = new AllowList([IPNetwork.Parse("0.0.0.0/0"), IPNetwork.Parse("::/0")]);
        Assert.False(list.Allows([]));
        Assert.False(list.Allows([127, 0, 0]));
    }

    [Fact]
    public void An_empty_list_is_not_an_allow_list()
    {
        Assert.Throws<ArgumentException>(() => new AllowList([]));
    }
}
