using Microsoft.Extensions.Logging;

namespace Lectures.Grains.Common;

/// <summary>
/// A durable check (a reminder) kept registered exactly while <paramref name="wanted"/> holds, without any turn of the
/// grain waiting on the reminder table: <see cref="Sync"/> starts the change in the background. The grain calls it
/// when it first gets work it could lose (after marking it), on activation, and on each tick; a registration that
/// failed is tried again by a timer and at the next activation, call or tick. What may be lost meanwhile is bounded:
/// the owner's state records the work before the check exists, so any later activation (a worker's report, a read)
/// finds it, and the check's first tick comes one period after it is registered.
/// </summary>
public sealed class BackgroundReminder(Grain grain, string name, TimeSpan period, Func<bool> wanted, ILogger logger)
{
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(2);

    private readonly ReminderSync _sync = new(grain, name, period, wanted);
    private IGrainTimer? _retry;

    /// <summary>Brings the reminder in line with the condition in the background; never throws, never waits.</summary>
    public void Sync()
    {
        var sync = _sync.SyncAsync();
        if (!sync.IsCompletedSuccessfully)
        {
            _ = ObserveAsync(sync);
        }
    }

    private async Task ObserveAsync(Task sync)
    {
        try
        {
            await sync;
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Reminder {Reminder} of {GrainId} could not be changed; trying again in {RetryAfter}", name, grain.GetGrainId(), RetryAfter);
            try
            {
                // A synchronous callback: the timer's turn never waits on the reminder table either.
                _retry ??= grain.RegisterGrainTimer(() =>
                {
                    _retry?.Dispose();
                    _retry = null;
                    Sync();
                    return Task.CompletedTask;
                }, new GrainTimerCreationOptions(RetryAfter, Timeout.InfiniteTimeSpan));
            }
            catch (Exception timerFailure)
            {
                // The activation is going away: the next one syncs the reminder at activation.
                logger.LogDebug(timerFailure, "No retry timer for reminder {Reminder} of {GrainId}", name, grain.GetGrainId());
            }
        }
    }
}
