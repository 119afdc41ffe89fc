using PatroniAgent.Patroni;

namespace PatroniAgent.Tests.Support;

/// <summary>
/// A stand-in for <see cref="PatroniClient"/> that returns the poll results a test scripts, each after
/// moving the manual clock by the time the poll takes. Checks can be made while a poll is under way:
/// <see cref="During"/> runs after each of the slices the poll's time is cut into.
/// </summary>
public sealed class ScriptedPoller(ManualTime time) : IPatroniPoller
{
    private readonly Queue<(PollResult Result, TimeSpan Duration)> _next = new();

    /// <summary>How many slices a poll's time is cut into, with <see cref="During"/> after each but the last.</summary>
    public int Slices { get; set; } = 1;

    /// <summary>What runs while a poll is under way, at each slice of its time.</summary>
    public Action? During { get; set; }

    /// <summary>The next poll gives <paramref name="result"/> after <paramref name="duration"/>.</summary>
    public void Then(PollResult result, TimeSpan duration) => _next.Enqueue((result, duration));

    public PollResult Poll(CancellationToken cancellationToken)
    {
        var (result, duration) = _next.Dequeue();
        var slice = duration / Slices;
        for (int i = 1; i < Slices; i++)
        {
            time.Advance(slice);
            During?.Invoke();
        }
        time.Advance(duration - slice * (Slices - 1));
        return result;
    }
}
