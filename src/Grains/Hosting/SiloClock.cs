namespace Lectures.Grains.Hosting;

/// <summary>
/// The silos' clock: the system clock, except that a one-shot timer never fires before it is due, and fires a
/// millisecond after the time it is given.
/// </summary>
/// <remarks>
/// Orleans 10's reminder service (and its other periodic loops) waits for each tick with <c>DelayUntilAsync</c>: read
/// the clock, <c>await Task.Delay(remaining, clock)</c>, again until the tick is due. The system's timers fire up to
/// about a millisecond early (0.07 to 1.03 ms in <c>SiloClockTests</c> on this machine), and <c>Task.Delay</c>
/// truncates the wait to whole milliseconds before any clock sees it, so even a timer on time ends the wait up to a
/// millisecond early. Once less than a millisecond remains the delay is zero, completes at once, and the loop spins
/// on the clock until the tick is due: up to a millisecond or two of CPU per reminder tick on a grain's scheduler,
/// and every processing job ticks its stall reminder every <c>Jobs:HeartbeatTimeout / 3</c> (docs/benchmarks.md,
/// issue 23). Here a one-shot timer waits one millisecond more than it is given (what the truncation took) and, if
/// the system timer fires early, is re-armed for what is left; so a wait ends when it is due and the loop wakes once.
/// Times read from this clock, and periodic timers, are the system's.
/// </remarks>
public sealed class SiloClock : TimeProvider
{
    public static readonly SiloClock Instance = new();

    /// <summary>Added to a one-shot timer's due time: what <c>Task.Delay</c>'s truncation to milliseconds takes.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromMilliseconds(1);

    private SiloClock()
    {
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        new OnTimeTimer(this, callback, state, dueTime, period);

    /// <summary>A system timer whose one-shot firings are held back until their due time has passed.</summary>
    private sealed class OnTimeTimer : ITimer
    {
        private readonly SiloClock _clock;
        private readonly TimerCallback _callback;
        private readonly object? _state;
        private readonly ITimer _timer;
        private readonly Lock _lock = new();
        // When the current one-shot firing is due (a timestamp of the clock), or null when the timer is periodic or stopped.
        private long? _due;

        public OnTimeTimer(SiloClock clock, TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            _clock = clock;
            _callback = callback;
            _state = state;
            // Armed only once it is assigned: a firing may come at once.
            _timer = System.CreateTimer(static t => ((OnTimeTimer)t!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            Change(dueTime, period);
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (_lock)
            {
                if (period != Timeout.InfiniteTimeSpan || dueTime <= TimeSpan.Zero || dueTime == Timeout.InfiniteTimeSpan)
                {
                    _due = null;
                    return _timer.Change(dueTime, period);
                }

                dueTime += Margin;
                _due = _clock.GetTimestamp() + (long)(dueTime.Ticks * (double)_clock.TimestampFrequency / TimeSpan.TicksPerSecond);
                return _timer.Change(dueTime, period);
            }
        }

        private void Fire()
        {
            lock (_lock)
            {
                if (_due is { } due && _clock.GetElapsedTime(due) is var late && late < TimeSpan.Zero)
                {
                    // Early: wait out the rest (at least the timer's own millisecond).
                    _timer.Change(TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling(-late.TotalMilliseconds))), Timeout.InfiniteTimeSpan);
                    return;
                }

                _due = null;
            }

            _callback(_state);
        }

        public void Dispose()
        {
            lock (_lock)
            {
                _due = null;
            }

            _timer.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            lock (_lock)
            {
                _due = null;
            }

            return _timer.DisposeAsync();
        }
    }
}
