using Lectures.Grains.Hosting;

namespace Lectures.Grains.Tests.Hosting;

/// <summary>
/// Orleans' reminder service waits for a tick by reading the clock and awaiting <c>Task.Delay(remaining, clock)</c>
/// until it is due (its internal <c>DelayUntilAsync</c>, the loop below). On the system clock the end of nearly
/// every wait was a busy loop on the clock; on the silos' clock the loop wakes once or twice.
/// </summary>
public sealed class SiloClockTests
{
    // The shape of Orleans.Internal.TimeProviderExtensions.DelayUntilAsync (internal): how often it wakes.
    private static async Task<int> WakeUpsUntil(TimeProvider clock, DateTimeOffset due)
    {
        var wakeUps = 0;
        while (true)
        {
            wakeUps++;
            var remaining = due - clock.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                return wakeUps;
            }

            await Task.Delay(remaining, clock);
        }
    }

    [Fact]
    public async Task Waiting_for_a_tick_wakes_once_or_twice_instead_of_spinning_on_the_clock()
    {
        var clock = SiloClock.Instance;
        var wakeUps = new List<int>();
        for (var i = 0; i < 40; i++)
        {
            // Ticks fall anywhere within a millisecond, as reminder ticks do.
            wakeUps.Add(await WakeUpsUntil(clock, clock.GetUtcNow() + TimeSpan.FromMilliseconds(5 + i * 0.37)));
        }

        // On TimeProvider.System most of these waits end in hundreds to thousands of clock reads.
        Assert.True(wakeUps.Max() <= 3, $"wake-ups per wait: {string.Join(' ', wakeUps)}");
    }

    [Fact]
    public async Task A_one_shot_timer_never_fires_before_it_is_due()
    {
        var clock = SiloClock.Instance;
        var early = new List<double>();
        for (var i = 0; i < 30; i++)
        {
            var dueIn = TimeSpan.FromMilliseconds(3 + i * 0.53);
            var fired = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
            var start = clock.GetTimestamp();
            using var timer = clock.CreateTimer(_ => fired.TrySetResult(clock.GetElapsedTime(start)), null, dueIn, Timeout.InfiniteTimeSpan);
            var after = await fired.Task.WaitAsync(TimeSpan.FromSeconds(10));
            if (after < dueIn)
            {
                early.Add((dueIn - after).TotalMilliseconds);
            }
        }

        // The system's timers fire up to about a millisecond early (0.07 to 1.03 ms seen here).
        Assert.True(early.Count == 0, $"fired early by (ms): {string.Join(' ', early)}");
    }

    [Fact]
    public async Task Timers_can_be_changed_stopped_and_periodic()
    {
        var clock = SiloClock.Instance;
        using var cancelled = new CancellationTokenSource(TimeSpan.FromHours(1), clock);
        cancelled.CancelAfter(TimeSpan.FromMilliseconds(20));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.Delay(Timeout.Infinite, cancelled.Token).WaitAsync(TimeSpan.FromSeconds(10)));

        var stoppedFired = 0;
        using (var stopped = clock.CreateTimer(_ => Interlocked.Increment(ref stoppedFired), null, TimeSpan.FromMilliseconds(30), Timeout.InfiniteTimeSpan))
        {
            stopped.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        var ticks = 0;
        var threeTicks = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (clock.CreateTimer(_ => { if (Interlocked.Increment(ref ticks) == 3) threeTicks.TrySetResult(); }, null, TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(5)))
        {
            await threeTicks.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }

        await Task.Delay(60);
        Assert.Equal(0, stoppedFired);
    }

    [Fact]
    public async Task A_wait_ends_when_due_and_the_clock_reads_the_system_time()
    {
        var clock = SiloClock.Instance;
        var due = clock.GetUtcNow() + TimeSpan.FromMilliseconds(30);
        await WakeUpsUntil(clock, due);

        Assert.True(DateTimeOffset.UtcNow >= due);
        Assert.InRange(clock.GetUtcNow() - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(-1), TimeSpan.FromSeconds(1));
    }
}
