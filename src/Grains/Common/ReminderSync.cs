namespace Lectures.Grains.Common;

/// <summary>
/// Keeps one reminder of a grain registered exactly while <paramref name="wanted"/> holds, one registration change at
/// a time: every caller awaits the same loop, which re-evaluates the condition after each await until the reminder
/// matches it. So an unregistration never overtakes a registration that a later caller needed (the loop registers
/// again), and a caller that needs the reminder is answered only once it exists. Runs on the grain's scheduler.
/// </summary>
public sealed class ReminderSync(Grain grain, string name, TimeSpan period, Func<bool> wanted)
{
    private Task? _running;
    // Null while unknown (a new activation, or after a failed change).
    private bool? _registered;

    /// <summary>Completes when the reminder matches the condition; throws when the store refused a change.</summary>
    public Task SyncAsync()
    {
        if (_running is { } running)
        {
            return running;
        }

        var sync = RunAsync();
        // Held only while it runs: an idle activation keeps no finished task (and its state machine) alive.
        _running = sync.IsCompleted ? null : sync;
        return sync;
    }

    private async Task RunAsync()
    {
        try
        {
            while (wanted() is var want && want != _registered)
            {
                _registered = null;
                if (want)
                {
                    await grain.RegisterOrUpdateReminder(name, period, period);
                }
                else if (await grain.GetReminder(name) is { } reminder)
                {
                    await grain.UnregisterReminder(reminder);
                }

                _registered = want;
            }
        }
        finally
        {
            _running = null;
        }
    }
}
