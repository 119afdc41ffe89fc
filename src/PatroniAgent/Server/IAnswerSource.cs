namespace PatroniAgent.Server;

/// <summary>
/// What a listener answers. The server hands over the bytes a client sent (possibly none) and writes
/// back the returned line as it is; the source must not allocate, block or throw.
/// </summary>
public interface IAnswerSource
{
    ReadOnlySpan<byte> Answer(ReadOnlySpan<byte> received);
}
