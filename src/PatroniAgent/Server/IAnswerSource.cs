namespace PatroniAgent.Server;

/// <summary>
/// What a listener answers, and when a request is whole. The server reads what a client sends until
/// <see cref="IsComplete"/> holds, <see cref="MaxRequestLength"/> bytes have arrived, the client stops
/// sending or the listener's wait runs out; then it writes back what <see cref="Answer"/> returns, as
/// it is, and closes. None of these may allocate, block or throw.
/// </summary>
public interface IAnswerSource
{
    /// <summary>The most bytes of a request that are read; a request that reaches it is answered as it is.</summary>
    int MaxRequestLength { get; }

    /// <summary>Whether <paramref name="received"/> holds a whole request, to be answered without waiting for more.</summary>
    bool IsComplete(ReadOnlySpan<byte> received);

    /// <summary>The reply to the bytes a client at <paramref name="peer"/> sent (possibly none).</summary>
    ReadOnlySpan<byte> Answer(ReadOnlySpan<byte> received, in PeerAddress peer);
}
