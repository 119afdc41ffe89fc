namespace PatroniAgent.Tests.Support;

/// <summary>
/// A clock that only moves when the test says so: <see cref="GetTimestamp"/> and
/// <see cref="TimestampFrequency"/> are manual; timers still come from the system.
/// </summary>
public class ManualTime : TimeProvider
{
    private long _ticks = TimeSpan.TicksPerDay;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public void Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        Interlocked.Add(ref _ticks, by.Ticks);
    }
}
