using Lectures.Grains.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lectures.Grains.Rooms;

/// <summary>
/// A room is not reentrant: every write (a post, a join, a completion) is one short turn that checks, changes,
/// writes and only then answers, so storing a message and marking the agents it triggers is one atomic step, and a
/// repeated clientMessageId always finds the first post. Generation never runs in a room turn: after the write the
/// room hands each triggered pair to its <see cref="AgentWorkerGrain"/> with a one-way call and is free at once; the
/// worker reports back through <see cref="CompleteReplyAsync"/>, idempotent per (agent, seq). A durable reminder,
/// registered before any pair is stored and kept while an agent is responding, ends the pairs whose generation was
/// lost (a dead silo) as failed/interrupted, whether or not anybody reads the room.
/// </summary>
public sealed class RoomGrain(
    [PersistentState("room")] IPersistentState<RoomState> state,
    IOptions<AgentOptions> agentOptions,
    IOptions<RoomOptions> roomOptions,
    TimeProvider clock,
    ILogger<RoomGrain> logger) : Grain, IRoomGrain, IRemindable
{
    private const string LostReplies = "lost-replies";

    private readonly AgentOptions _agents = agentOptions.Value;
    private readonly int _maxMessages = roomOptions.Value.MaxMessages;
    private EventLog<RoomChange> _events = null!;
    // The room as last written: event streams interleave with writes and must never show a change that is not durable.
    private RoomView? _durable;
    private bool _reminderRegistered;
    private bool _broken;
    private RoomState S => state.State;
    private string RoomCode => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _events = this.CreateEventLog<RoomChange>(LiveStreams.Rooms, logger);
        _durable = View();
        // A responding pair was stored only after the reminder was registered, so it is registered now.
        _reminderRegistered = S.Agents.Any(a => a.RespondingTo is not null);
        // The silo that held this room may have died while agents were generating: end what is already lost.
        await EndLostAsync();
    }

    public async Task<RoomView> PutAsync(IReadOnlyList<AgentDefinition> agents, string replyPolicy, IfMatch? ifMatch = null)
    {
        EnsureUsable();
        IfMatch.Ensure(ifMatch, S.Version);
        var events = new List<(string, RoomChange)>();
        var now = clock.GetUtcNow();
        // An agent that is removed while responding still ends its pair with exactly one message.
        foreach (var removed in S.Agents.Where(a => a.RespondingTo is not null && agents.All(d => d.AgentId != a.AgentId)).ToList())
        {
            events.AddRange(RoomRules.End(S, removed, "", RoomErrors.Interrupted, now, _maxMessages));
        }

        S.Agents = agents.Select(d =>
        {
            var kept = S.Agents.Find(a => a.AgentId == d.AgentId);
            return new AgentState { AgentId = d.AgentId, Name = d.Name, Persona = d.Persona, RespondingTo = kept?.RespondingTo, RespondingSince = kept?.RespondingSince };
        }).ToList();
        S.Exists = true;
        S.ReplyPolicy = replyPolicy;
        events.Add(("room", RoomEvent()));
        await CommitAsync(events);
        return _durable!;
    }

    public Task<RoomView> GetAsync()
    {
        EnsureUsable();
        EnsureExists();
        return Task.FromResult(View());
    }

    public Task<RoomView> JoinAsync(string playerId, IfMatch? ifMatch = null) => ChangePlayersAsync(playerId, join: true, ifMatch);

    public Task<RoomView> LeaveAsync(string playerId, IfMatch? ifMatch = null) => ChangePlayersAsync(playerId, join: false, ifMatch);

    public async Task<PostResult> PostAsync(string senderId, string text, string? clientMessageId = null, IReadOnlyList<string>? agentIds = null)
    {
        EnsureUsable();
        EnsureExists();
        if (clientMessageId is not null && S.ClientMessages.TryGetValue(RoomRules.ClientKey(senderId, clientMessageId), out var original))
        {
            DomainMetrics.DuplicatesPrevented.Add(1);
            return new PostResult(false, original.Seq, original.Triggered, original.Skipped);
        }

        if (S.Players.BinarySearch(senderId, StringComparer.Ordinal) < 0)
        {
            throw DomainException.Forbidden(RoomErrors.NotAPlayer, $"'{senderId}' is not a player of room '{RoomCode}'.");
        }

        var targets = agentIds is null ? S.Agents : agentIds.Distinct().Select(id => S.Agents.Find(a => a.AgentId == id)
            ?? throw DomainException.Invalid("agentIds", $"Room '{RoomCode}' has no agent '{id}'.")).ToList();
        if (targets.Any(a => a.RespondingTo is null))
        {
            await EnsureReminderAsync();
        }

        var (result, events) = RoomRules.Post(S, RoomCode, senderId, text, clientMessageId, targets, clock.GetUtcNow(), _maxMessages);
        await CommitAsync(events);
        if (result.TriggeredAgents.Count > 0)
        {
            var context = RoomRules.Context(S, _agents.ContextMessages);
            foreach (var agentId in result.TriggeredAgents)
            {
                StartGeneration(S.Agents.Find(a => a.AgentId == agentId)!, result.Seq, context);
            }
        }

        return result;
    }

    public Task<MessagePage> GetMessagesAsync(long after, int limit)
    {
        EnsureUsable();
        EnsureExists();
        return Task.FromResult(RoomRules.Page(S, after, limit));
    }

    public async Task<bool> CompleteReplyAsync(string agentId, long seq, string text, string? error)
    {
        EnsureUsable();
        var events = RoomRules.End(S, agentId, seq, text, error, clock.GetUtcNow(), _maxMessages);
        if (events is null)
        {
            // The pair ended already (a repeated report, or a report after the pair was ended as interrupted).
            DomainMetrics.DuplicatesPrevented.Add(1);
            return false;
        }

        await CommitAsync(events);
        Count(error);
        return true;
    }

    // Runs interleaved with a write that is awaiting the store: reads only what was last written.
    public Task<EventBatch<RoomChange>> GetEventsAsync(long afterId, CancellationToken cancellationToken = default)
    {
        var durable = _durable!;
        if (durable.Version == 0)
        {
            throw NotFound();
        }

        return Task.FromResult(_events.After(afterId, () => new ChangeEvent<RoomChange>(durable.Version, "room", new RoomChange(null, null, durable))));
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != LostReplies || _broken)
        {
            return;
        }

        if (!S.Agents.Any(a => a.RespondingTo is not null))
        {
            // Nothing pending (decided on written state: a non-reentrant turn sees no unwritten change).
            try
            {
                _reminderRegistered = false;
                if (await this.GetReminder(LostReplies) is { } reminder)
                {
                    await this.UnregisterReminder(reminder);
                }
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Could not unregister the reminder of room {RoomCode}; the next tick tries again", RoomCode);
            }

            return;
        }

        await EndLostAsync();
    }

    /// <summary>Ends every pair whose generation is lost (older than Agents:LostAfter) as failed/interrupted, in one write.</summary>
    private async Task EndLostAsync()
    {
        var now = clock.GetUtcNow();
        var lost = RoomRules.Lost(S, now, _agents.LostAfter);
        if (lost.Count == 0)
        {
            return;
        }

        var events = new List<(string, RoomChange)>();
        foreach (var agent in lost)
        {
            logger.LogInformation("Agent {AgentId} of room {RoomCode} lost its generation for message {Seq}; ending it as interrupted",
                agent.AgentId, RoomCode, agent.RespondingTo);
            events.AddRange(RoomRules.End(S, agent, "", RoomErrors.Interrupted, now, _maxMessages));
        }

        await CommitAsync(events);
        foreach (var _ in lost)
        {
            Count(RoomErrors.Interrupted);
        }
    }

    private async Task<RoomView> ChangePlayersAsync(string playerId, bool join, IfMatch? ifMatch)
    {
        EnsureUsable();
        EnsureExists();
        IfMatch.Ensure(ifMatch, S.Version);
        var index = S.Players.BinarySearch(playerId, StringComparer.Ordinal);
        if (join == index >= 0)
        {
            return View();
        }

        if (join)
        {
            S.Players.Insert(~index, playerId);
        }
        else
        {
            S.Players.RemoveAt(index);
        }

        await CommitAsync([("room", RoomEvent())]);
        return _durable!;
    }

    /// <summary>
    /// Generation runs in the agent's own worker grain, called one-way: the room is free again at once (so joins,
    /// reads, posts and other agents go on), its non-reentrant turns stay short, Orleans' response timeout never
    /// meets a seconds-long call, and generations of a busy room spread over the cluster. A work item on the room's
    /// own context would die with the activation and need the room to be reentrant while it awaits the model.
    /// </summary>
    private void StartGeneration(AgentState agent, long seq, List<MessageView> context)
    {
        try
        {
            _ = GrainFactory.GetGrain<IAgentWorkerGrain>(RoomKeys.Worker(RoomCode, agent.AgentId))
                .GenerateAsync(new ReplyRequest(RoomCode, new AgentDefinition(agent.AgentId, agent.Name, agent.Persona), seq, context));
        }
        catch (Exception ex)
        {
            // The pair is stored; the reminder ends it as interrupted.
            logger.LogWarning(ex, "Could not start the generation of agent {AgentId} in room {RoomCode}", agent.AgentId, RoomCode);
        }
    }

    private async Task EnsureReminderAsync()
    {
        if (!_reminderRegistered)
        {
            // Before the pair is stored: if this fails nothing is stored; if the write fails after it, the reminder
            // finds nothing pending and removes itself.
            await this.RegisterOrUpdateReminder(LostReplies, _agents.CheckPeriod, _agents.CheckPeriod);
            _reminderRegistered = true;
        }
    }

    /// <summary>Versions each event, writes, then publishes. Nothing is answered or published that was not written.</summary>
    private async Task CommitAsync(List<(string Type, RoomChange Change)> events)
    {
        var first = S.Version + 1;
        S.Version += events.Count;
        try
        {
            await state.SaveAsync(this, logger);
        }
        catch
        {
            // The in-memory state holds a change that is not stored: refuse everything until the room is reloaded.
            _broken = true;
            throw;
        }

        _durable = View();
        foreach (var (type, change) in events)
        {
            _events.Append(first++, type, type == "room" ? new RoomChange(null, null, _durable) : change);
        }
    }

    private static void Count(string? error)
    {
        if (error is null)
        {
            DomainMetrics.AgentReplies.Add(1);
        }
        else
        {
            DomainMetrics.AgentFailures.Add(1, new KeyValuePair<string, object?>("error", error));
        }
    }

    private void EnsureUsable()
    {
        if (_broken)
        {
            throw new StorageUnavailableException("The grain store could not be written; the change was not acknowledged.");
        }
    }

    private void EnsureExists()
    {
        if (!S.Exists)
        {
            throw NotFound();
        }
    }

    private DomainException NotFound() => DomainException.NotFound(RoomErrors.NotFound, $"Room '{RoomCode}' does not exist.");

    private RoomChange RoomEvent() => new(null, null, null);

    private RoomView View() => new(RoomCode, S.Players.ToList(), S.Agents.Select(RoomRules.View).ToList(), S.LastSeq, S.ReplyPolicy, S.Version);
}
