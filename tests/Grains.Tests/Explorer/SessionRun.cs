using System.Collections.Concurrent;
using Lectures.Grains.Common;
using Lectures.Grains.Sessions;
using Lectures.Grains.Tests.Infrastructure;
using Lectures.Grains.Tests.Rooms;
using Orleans.Core.Internal;

namespace Lectures.Grains.Tests.Explorer;

/// <summary>
/// Runs a <see cref="SessionPlan"/> against a session of its own on the cluster of its busy policy: each round's
/// operations at once (each after its offset), then the pause, or the race with the idle deletion when planned. Every accepted
/// message is waited for by its own caller, as a client does. Then it settles (faults taken back, every caller answered
/// or the deadline) and hands what the store took (the gate's record) and what the callers saw to
/// <see cref="SessionInvariants"/>.
/// </summary>
public sealed class SessionRun(IGrainFactory grains, SessionPlan plan)
{
    /// <summary>Longer than a full queue can take: (MaxQueue + 1) x ResponseTimeout, plus the loss check's margin.</summary>
    public static readonly TimeSpan OutcomeDeadline = 4 * ExplorerFixture.ResponseTimeout + TimeSpan.FromSeconds(25);

    private readonly string _user = $"explore-{plan.Seed}-{Guid.NewGuid():N}"[..32];
    private readonly ConcurrentDictionary<string, Waited> _outcomes = new();
    private readonly ConcurrentBag<Task> _waiters = [];

    public Journal Journal { get; } = new();

    public async Task<SessionOutcome> RunAsync()
    {
        var session = grains.GetGrain<IUserSessionGrain>(_user);
        var faults = new FaultInjector(grains, session, Journal);
        try
        {
            foreach (var round in plan.Rounds)
            {
                await RunStepsAsync(session, faults, round.Ops);
                // A race takes the pause's place: idle time before it would let the deletion come unheld.
                await (round.Race is { } race ? RaceTheDeletionAsync(session, faults, race) : Task.Delay(round.PauseMs));
            }
        }
        finally
        {
            faults.Settle();
        }

        await Task.WhenAll(_waiters);
        await session.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        var stored = await ReadStoredAsync(session);
        var outcome = new SessionOutcome(plan, Journal.Calls, _outcomes.ToDictionary(), faults.Gate.Writes, stored,
            ScriptedChatClient.MaxConcurrentCalls(ScriptedChatClient.TaggedKey(ExplorerFixture.SessionPersona, _user)));
        WriteGate.Forget(session);
        return outcome;
    }

    private Task RunStepsAsync(IUserSessionGrain session, FaultInjector faults, List<Step<SessionOp>> steps) =>
        Task.WhenAll(steps.Select(step => Task.Run(async () =>
        {
            await Task.Delay(step.OffsetMs);
            await Journal.RecordAsync(step.Index, step.Op, () => ApplyAsync(session, faults, step.Op));
        })));

    private async Task<object?> ApplyAsync(IUserSessionGrain session, FaultInjector faults, SessionOp op)
    {
        switch (op)
        {
            case SessionOp.Send send:
                var sent = await session.SendAsync(Text(send));
                if (sent is { Outcome: SendOutcome.Accepted, RequestId: { } requestId })
                {
                    _waiters.Add(WaitForOutcomeAsync(session, requestId));
                }

                return sent;
            case SessionOp.Cancel:
                return await session.CancelAsync();
            case SessionOp.Clear:
                return await session.ClearAsync();
            case SessionOp.Read:
                return (await session.GetAsync()).History.Count;
            case SessionOp.Injected injected:
                return await faults.ApplyAsync(injected.Fault);
            default:
                throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    /// <summary>The session's text of a message: it starts with the user's tag, so the responder counts its calls per user.</summary>
    public string Text(SessionOp.Send send) => $"@{_user} q{send.Id}{send.Marker}";

    /// <summary>Once every request has ended, holds the deletion that idleness brings, runs the race's operations while it waits, then lets it finish or fail.</summary>
    private async Task RaceTheDeletionAsync(IUserSessionGrain session, FaultInjector faults, DeletionRace race)
    {
        await Task.WhenAll(_waiters);
        var deletion = faults.HoldNextClear();
        // Idle for Sessions:IdleExpiry, then a tick of the idle check: the deletion starts now rather than within its period.
        await Task.Delay(ExplorerFixture.IdleExpiry + TimeSpan.FromMilliseconds(100));
        var ticking = Journal.RecordAsync(-1, new Fault.Tick("idle"), () => faults.ApplyAsync(new Fault.Tick("idle")));
        var held = await Task.WhenAny(deletion.Reached, Task.Delay(TimeSpan.FromSeconds(3))) == deletion.Reached;
        Journal.Note(held ? "race: the deletion is held" : "race: no deletion came (nothing to delete)");
        var racing = RunStepsAsync(session, faults, race.Ops);
        await Task.Delay(race.HoldMs);
        if (race.ThenFail)
        {
            deletion.Fail();
        }
        else
        {
            deletion.Release();
        }

        await Task.WhenAll(racing, ticking);
    }

    private async Task WaitForOutcomeAsync(IUserSessionGrain session, string requestId)
    {
        var until = DateTime.UtcNow + OutcomeDeadline;
        while (DateTime.UtcNow < until)
        {
            try
            {
                if (await session.WaitAsync(requestId, TimeSpan.FromSeconds(3)) is { } outcome)
                {
                    _outcomes[requestId] = new Waited(outcome, DateTime.UtcNow);
                    return;
                }
            }
            catch (Exception ex)
            {
                Journal.Note($"waiting for {requestId}: {ex.GetType().Name}");
                await Task.Delay(100);
            }
        }

        _outcomes[requestId] = new Waited(null, DateTime.UtcNow);
    }

    /// <summary>The session as a fresh activation reads it from the store; null when there is none.</summary>
    private static async Task<SessionView?> ReadStoredAsync(IUserSessionGrain session)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await session.GetAsync();
            }
            catch (DomainException refusal) when (refusal.Kind == RefusalKind.NotFound)
            {
                return null;
            }
            catch (StorageUnavailableException) when (attempt < 50)
            {
                await Task.Delay(200);
            }
        }
    }
}

/// <summary>What a request's caller was finally answered (null: nothing by the deadline), and when.</summary>
public sealed record Waited(RequestOutcome? Outcome, DateTime At);

/// <summary>What a session run saw: the plan, every call, each accepted request's outcome, every write the store took, the stored session.</summary>
public sealed record SessionOutcome(SessionPlan Plan, IReadOnlyList<Call> Calls, IReadOnlyDictionary<string, Waited> Outcomes,
    IReadOnlyList<WriteGate.Write> Writes, SessionView? Stored, int MostConcurrentCalls);
