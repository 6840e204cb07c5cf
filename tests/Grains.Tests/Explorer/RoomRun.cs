using Lectures.Grains.Common;
using Lectures.Grains.Rooms;
using Lectures.Grains.Tests.Infrastructure;
using Lectures.Grains.Tests.Rooms;
using Orleans.Core.Internal;

namespace Lectures.Grains.Tests.Explorer;

/// <summary>
/// Runs a <see cref="RoomPlan"/> against a room of its own: the set-up (agents, players) unfaulted, then each round's
/// operations at once (each after its offset), then the pause. Then it settles (every fault taken back, every agent idle
/// again, or the deadline), reloads the room from the store and hands what it read and what the callers saw to
/// <see cref="RoomInvariants"/>.
/// </summary>
public sealed class RoomRun(IGrainFactory grains, RoomPlan plan)
{
    /// <summary>Every pair ends by then: its report, or the loss check (Agents:LostAfter after its mark, ticking every second).</summary>
    public static readonly TimeSpan SettleDeadline = ExplorerFixture.ResponseTimeout + TimeSpan.FromSeconds(25);

    private readonly string _code = $"explore-{plan.Seed}-{Guid.NewGuid():N}"[..32];

    public Journal Journal { get; } = new();

    public IRoomGrain Room => grains.GetGrain<IRoomGrain>(_code);

    /// <summary>The persona of an agent: its first line (what the responder counts calls under) names the room and the agent.</summary>
    public string Persona(string agentId, string behaviour = "") => $"{_code}/{agentId}\n{agentId} of the explorer{behaviour}";

    public async Task<RoomOutcome> RunAsync()
    {
        var room = Room;
        var faults = new FaultInjector(grains, room, Journal);
        await room.PutAsync(Definitions(plan.Agents), "all");
        foreach (var player in plan.Players)
        {
            await room.JoinAsync(player);
        }

        try
        {
            foreach (var (ops, pause) in plan.Rounds)
            {
                await Task.WhenAll(ops.Select(step => Task.Run(async () =>
                {
                    await Task.Delay(step.OffsetMs);
                    await Journal.RecordAsync(step.Index, step.Op, () => ApplyAsync(room, faults, step.Op));
                })));
                await Task.Delay(pause);
            }
        }
        finally
        {
            faults.Settle();
        }

        var idle = await SettleAsync(room);
        await room.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        var (view, messages) = await ReadStoredAsync(room);
        var outcome = new RoomOutcome(plan, Journal.Calls, idle, view, messages,
            plan.Agents.Select(a => a.Id).Concat(RoomPlan.AgentPool).Distinct().ToDictionary(id => id, id => ScriptedChatClient.MaxConcurrentCalls(Persona(id).Split('\n')[0])));
        WriteGate.Forget(room);
        return outcome;
    }

    private async Task<object?> ApplyAsync(IRoomGrain room, FaultInjector faults, RoomOp op) => op switch
    {
        RoomOp.Post p => await PostAsync(room, p),
        RoomOp.Retry r => await PostAsync(room, r.Of),
        RoomOp.Join j => await room.JoinAsync(j.Player),
        RoomOp.Leave l => await room.LeaveAsync(l.Player),
        RoomOp.PutAgents a => await room.PutAsync(Definitions(a.Agents), "all"),
        RoomOp.Read => (await room.GetEventsAsync(0)).Events.Count,
        RoomOp.Injected f => await faults.ApplyAsync(f.Fault),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    private static async Task<object?> PostAsync(IRoomGrain room, RoomOp.Post p) => await room.PostAsync(p.Sender, p.Text, p.ClientMessageId, p.Targets);

    private List<AgentDefinition> Definitions(IEnumerable<AgentPlan> agents) =>
        [.. agents.Select(a => new AgentDefinition(a.Id, a.Id, Persona(a.Id, a.Behaviour)))];

    /// <summary>Waits until no agent is responding; false when some still is at the deadline (a pair without an outcome).</summary>
    private async Task<bool> SettleAsync(IRoomGrain room)
    {
        var until = DateTime.UtcNow + SettleDeadline;
        while (DateTime.UtcNow < until)
        {
            try
            {
                if ((await room.GetAsync()).Agents.All(a => a.Status == AgentStatus.Idle))
                {
                    return true;
                }
            }
            catch (StorageUnavailableException)
            {
                // A write failed just before the faults were taken back: the next activation answers.
            }

            await Task.Delay(200);
        }

        Journal.Note($"settle: agents still responding after {SettleDeadline}");
        return false;
    }

    /// <summary>The room as a fresh activation reads it from the store.</summary>
    private static async Task<(RoomView View, IReadOnlyList<MessageView> Messages)> ReadStoredAsync(IRoomGrain room)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return (await room.GetAsync(), (await room.GetMessagesAsync(0, 10_000)).Messages);
            }
            catch (StorageUnavailableException) when (attempt < 50)
            {
                await Task.Delay(200);
            }
        }
    }
}

/// <summary>What a room run saw: the plan, every call, whether it settled, the stored room and the most concurrent calls per agent.</summary>
public sealed record RoomOutcome(RoomPlan Plan, IReadOnlyList<Call> Calls, bool Settled, RoomView Stored, IReadOnlyList<MessageView> Messages,
    IReadOnlyDictionary<string, int> MostConcurrentCalls);
