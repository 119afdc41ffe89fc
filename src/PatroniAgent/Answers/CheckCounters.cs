using PatroniAgent.AgentProtocol;

namespace PatroniAgent.Answers;

/// <summary>The two kinds of check the listeners serve.</summary>
public enum CheckProtocol { Agent, Http }

/// <summary>
/// Checks served, by protocol, mode and answer kind: one preallocated array of longs, incremented with
/// <see cref="Interlocked"/> on the check path (no allocation, no lock) and read when metrics are scraped.
/// A check whose request names no usable mode is counted under <see cref="NoMode"/>.
/// </summary>
public sealed class CheckCounters
{
    /// <summary>The mode slot of a request that could not be parsed: one past the last mode.</summary>
    public static readonly int NoMode = ModeNames.All.Length;

    private static readonly int ModeSlots = ModeNames.All.Length + 1;
    private static readonly int Kinds = AnswerKinds.All.Length;

    private readonly long[] _counts = new long[2 * ModeSlots * Kinds];

    /// <summary>Counts one check; <paramref name="modeSlot"/> is a <see cref="Mode"/> as an integer, or <see cref="NoMode"/>.</summary>
    public void Count(CheckProtocol protocol, int modeSlot, AnswerKind kind) =>
        Interlocked.Increment(ref _counts[Index(protocol, modeSlot, kind)]);

    /// <summary>The checks counted so far for one protocol, mode slot and kind.</summary>
    public long Read(CheckProtocol protocol, int modeSlot, AnswerKind kind) =>
        Volatile.Read(ref _counts[Index(protocol, modeSlot, kind)]);

    /// <summary>The label value of a mode slot.</summary>
    public static string ModeLabel(int modeSlot) => modeSlot == NoMode ? "none" : ModeNames.Name((Mode)modeSlot);

    private static int Index(CheckProtocol protocol, int modeSlot, AnswerKind kind) =>
        ((int)protocol * ModeSlots + modeSlot) * Kinds + (int)kind;
}
