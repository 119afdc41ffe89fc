using System.Buffers.Binary;
using System.Net;

namespace PatroniAgent.Server;

/// <summary>
/// The address a connection came from, as two 64-bit words of its IPv6 form (an IPv4 address as its
/// IPv4-mapped form, as a dual-stack socket reports it); <see cref="None"/> when the kernel gave another
/// family. A value type, so passing it on the check path allocates nothing.
/// </summary>
public readonly record struct PeerAddress(ulong High, ulong Low)
{
    /// <summary>No address (the unspecified <c>::</c>, from which no connection comes).</summary>
    public static readonly PeerAddress None = default;

    /// <summary>Whether the address is known.</summary>
    public bool IsKnown => High != 0 || Low != 0;

    /// <summary>The address from its bytes: 4 for IPv4, 16 for IPv6; <see cref="None"/> for any other length.</summary>
    public static PeerAddress From(ReadOnlySpan<byte> address) => address.Length switch
    {
        4 => new PeerAddress(0, 0x0000_FFFF_0000_0000UL | BinaryPrimitives.ReadUInt32BigEndian(address)),
        16 => new PeerAddress(BinaryPrimitives.ReadUInt64BigEndian(address), BinaryPrimitives.ReadUInt64BigEndian(address[8..])),
        _ => None,
    };

    /// <summary>The address as an <see cref="IPAddress"/>: IPv4 for an IPv4-mapped one.</summary>
    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, High);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], Low);
        var address = new IPAddress(bytes);
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }

    public override string ToString() => ToIPAddress().ToString();
}
