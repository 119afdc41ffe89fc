using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace PatroniAgent.Server;

/// <summary>
/// The source addresses allowed to connect, as IPv4 and IPv6 prefixes. An IPv4-mapped IPv6 address
/// (<c>::ffff:a.b.c.d</c>, how a dual-stack listener sees an IPv4 client) is matched as the IPv4 address
/// it carries, against the IPv4 prefixes; any other IPv6 address against the IPv6 prefixes. A prefix
/// written in the mapped form (<c>::ffff:10.0.0.0/104</c>) is kept as the IPv4 prefix it means.
/// Matching reads the address bytes and allocates nothing, so it can run on every accepted connection.
/// </summary>
public sealed class AllowList
{
    private const int MappedPrefixLength = 96;

    private readonly uint[] _v4Networks;
    private readonly uint[] _v4Masks;
    private readonly UInt128[] _v6Networks;
    private readonly UInt128[] _v6Masks;

    /// <param name="prefixes">The allowed prefixes; at least one.</param>
    public AllowList(IReadOnlyList<IPNetwork> prefixes)
    {
        if (prefixes.Count == 0)
        {
            throw new ArgumentException("an allow list needs at least one prefix", nameof(prefixes));
        }
        var v4 = new List<(uint Network, uint Mask)>();
        var v6 = new List<(UInt128 Network, UInt128 Mask)>();
        foreach (var prefix in prefixes)
        {
            var address = prefix.BaseAddress;
            int length = prefix.PrefixLength;
            if (address.IsIPv4MappedToIPv6 && length >= MappedPrefixLength)
            {
                address = address.MapToIPv4();
                length -= MappedPrefixLength;
            }
            byte[] bytes = address.GetAddressBytes();
            if (address.AddressFamily == AddressFamily.InterNetwork)
            {
                uint mask = length == 0 ? 0 : uint.MaxValue << (32 - length);
                v4.Add((BinaryPrimitives.ReadUInt32BigEndian(bytes) & mask, mask));
            }
            else
            {
                UInt128 mask = length == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - length);
                v6.Add((BinaryPrimitives.ReadUInt128BigEndian(bytes) & mask, mask));
            }
        }
        _v4Networks = v4.Select(p => p.Network).ToArray();
        _v4Masks = v4.Select(p => p.Mask).ToArray();
        _v6Networks = v6.Select(p => p.Network).ToArray();
        _v6Masks = v6.Select(p => p.Mask).ToArray();
    }

    /// <summary>
    /// Whether a peer may connect. <paramref name="address"/> is its address in network byte order: 4 bytes
    /// (IPv4) or 16 (IPv6). Any other length, such as an address the kernel did not give, is refused.
    /// </summary>
    public bool Allows(ReadOnlySpan<byte> address)
    {
        if (address.Length == 16 && IsIPv4Mapped(address))
        {
            address = address[12..];
        }
        if (address.Length == 4)
        {
            uint peer = BinaryPrimitives.ReadUInt32BigEndian(address);
            for (int i = 0; i < _v4Networks.Length; i++)
            {
                if ((peer & _v4Masks[i]) == _v4Networks[i])
                {
                    return true;
                }
            }
            return false;
        }
        if (address.Length == 16)
        {
            UInt128 peer = BinaryPrimitives.ReadUInt128BigEndian(address);
            for (int i = 0; i < _v6Networks.Length; i++)
            {
                if ((peer & _v6Masks[i]) == _v6Networks[i])
                {
                    return true;
                }
            }
        }
        return false;
    }

    private static bool IsIPv4Mapped(ReadOnlySpan<byte> address) =>
        address[..10].IndexOfAnyExcept((byte)0) < 0 && address[10] == 0xff && address[11] == 0xff;
}
