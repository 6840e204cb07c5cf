using Lectures.Grains.Common;
using Lectures.Grains.Tests.Infrastructure;
using Orleans.Core.Internal;

namespace Lectures.Grains.Tests.Explorer;

/// <summary>A fault the explorer injects into the grain it drives (the owner) or into one of its generation workers.</summary>
public abstract record Fault
{
    /// <summary>The owner's next write waits <paramref name="Ms"/> once it reaches the store, then is stored or fails.</summary>
    public sealed record HoldWrite(int Ms, bool ThenFail) : Fault;

    /// <summary>The owner's next <paramref name="Count"/> writes fail, as a store that is down for a moment.</summary>
    public sealed record FailWrites(int Count) : Fault;

    /// <summary>The owner's next clear (a deletion, or a replaced page) waits <paramref name="Ms"/>, then is done or fails.</summary>
    public sealed record HoldClear(int Ms, bool ThenFail) : Fault;

    /// <summary>The owner's reminder writes take <paramref name="Ms"/> longer from now on, and the next <paramref name="Failures"/> fail.</summary>
    public sealed record SlowReminders(int Ms, int Failures) : Fault;

    /// <summary>The owner (<paramref name="Slot"/> null) or the worker of a slot is deactivated at once.</summary>
    public sealed record Deactivate(string? Slot) : Fault;

    /// <summary>The owner's reminder <paramref name="Reminder"/> ticks now.</summary>
    public sealed record Tick(string Reminder) : Fault;

    /// <summary>
    /// One fault, drawn by the seed's choices: <paramref name="worker"/> names a worker's slot to deactivate and
    /// <paramref name="tick"/> a reminder to tick (each asked only when that fault is drawn).
    /// </summary>
    public static Fault Pick(Choices c, Func<string> worker, Func<string> tick, int tickWeight) => c.Weighted<Func<Fault>>(
        (() => new HoldWrite(c.Between(50, 1500), c.Chance(0.3)), 4),
        (() => new FailWrites(c.Between(1, 4)), 3),
        (() => new HoldClear(c.Between(50, 1000), c.Chance(0.3)), 1),
        (() => new SlowReminders(c.Pick([0, 200, 2000]), c.Between(0, 3)), 1),
        (() => new Deactivate(null), 2),
        (() => new Deactivate(worker()), 2),
        (() => new Tick(tick()), tickWeight))();
}

/// <summary>
/// Applies <see cref="Fault"/>s to one owner grain through the test cluster's gates (<see cref="WriteGate"/>,
/// <see cref="ReminderGate"/>), and takes every one of them back when the run settles: held writes and clears are let
/// through, queued failures pass, reminder writes are prompt again.
/// </summary>
public sealed class FaultInjector(IGrainFactory grains, IAddressable owner, Journal journal)
{
    private readonly List<HeldWrite> _armed = [];
    private volatile bool _settling;

    public WriteGate Gate { get; } = WriteGate.Of(owner);

    /// <summary>Arms or applies <paramref name="fault"/>; a deactivation and a tick are awaited, the rest act on later writes.</summary>
    public async Task<object?> ApplyAsync(Fault fault)
    {
        switch (fault)
        {
            case Fault.HoldWrite(var ms, var fail):
                Resolve(Arm(Gate.HoldNext()), ms, fail);
                return null;
            case Fault.FailWrites(var count):
                for (var i = 0; i < count; i++)
                {
                    Resolve(Arm(Gate.HoldNext()), 0, fail: true);
                }

                return null;
            case Fault.HoldClear(var ms, var fail):
                Resolve(Arm(Gate.HoldNextClear()), ms, fail);
                return null;
            case Fault.SlowReminders(var ms, var failures):
                ReminderGate.Of(owner).DelayWrites(TimeSpan.FromMilliseconds(ms));
                ReminderGate.Of(owner).FailNext(failures);
                return null;
            case Fault.Deactivate(var slot):
                var target = slot is null ? owner : grains.GetGrain<IGenerationWorkerGrain>(GenerationKeys.Worker(owner.GetGrainId(), slot));
                await target.Cast<IGrainManagementExtension>().DeactivateOnIdle();
                return null;
            case Fault.Tick(var reminder):
                var now = DateTime.UtcNow;
                await owner.Cast<IRemindable>().ReceiveReminder(reminder, new TickStatus(now, TimeSpan.FromSeconds(1), now));
                return null;
            default:
                throw new ArgumentOutOfRangeException(nameof(fault), fault, null);
        }
    }

    /// <summary>Holds the owner's next clear and hands it back, for a step that acts while the clear waits.</summary>
    public HeldWrite HoldNextClear() => Arm(Gate.HoldNextClear());

    /// <summary>Takes every fault back: what is held or armed passes, reminder writes are prompt.</summary>
    public void Settle()
    {
        _settling = true;
        lock (_armed)
        {
            foreach (var held in _armed)
            {
                held.Release();
            }
        }

        ReminderGate.Of(owner).DelayWrites(TimeSpan.Zero);
        ReminderGate.Of(owner).FailNext(0);
    }

    private HeldWrite Arm(HeldWrite held)
    {
        lock (_armed)
        {
            _armed.Add(held);
        }

        return held;
    }

    private void Resolve(HeldWrite held, int ms, bool fail) => _ = Task.Run(async () =>
    {
        var json = await held.Reached;
        await Task.Delay(ms);
        if (fail && !_settling)
        {
            journal.Note($"fault: a write failed ({Describe(json)})");
            held.Fail();
        }
        else
        {
            held.Release();
        }
    });

    private static string Describe(string json) => json.Length <= 60 ? json : json[..60] + "...";
}
