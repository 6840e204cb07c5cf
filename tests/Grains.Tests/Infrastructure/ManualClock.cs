namespace Lectures.Grains.Tests.Infrastructure;

/// <summary>
/// A clock the test moves by hand. <see cref="Advance"/> moves wall-clock time and the monotonic timestamp together, as
/// time passing does; <see cref="StepWallClock"/> moves the wall clock alone, as an NTP correction or an operator can.
/// Timers are not faked: nothing that runs on this clock uses one.
/// </summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private readonly Lock _lock = new();
    private DateTimeOffset _utc = start;
    // Not zero, so no code under test can mistake the first timestamp for "never".
    private long _ticks = TimeSpan.FromDays(1).Ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_lock)
        {
            return _utc;
        }
    }

    public override long GetTimestamp()
    {
        lock (_lock)
        {
            return _ticks;
        }
    }

    public void Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        lock (_lock)
        {
            _utc += by;
            _ticks += by.Ticks;
        }
    }

    public void StepWallClock(TimeSpan by)
    {
        lock (_lock)
        {
            _utc += by;
        }
    }
}
