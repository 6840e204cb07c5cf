using System.Globalization;
using Lectures.Grains.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace Lectures.Grains.Rooms;

/// <summary>
/// A room is not reentrant: every write (a post, a join, a completion) is one short turn that checks, changes,
/// writes and only then answers, so storing a message and marking the agents it triggers is one atomic step, and a
/// repeated clientMessageId always finds the first post. Generation never runs in a room turn: after the write the
/// room hands each triggered pair to the agent's <see cref="GenerationWorkerGrain"/> (one per agent, so one generation
/// per agent) with a one-way call and is free at once; the worker reports back through <see cref="CompleteReplyAsync"/>,
/// idempotent per (agent, seq), until the pair's report deadline. A pair that ends otherwise (the agent removed, lost)
/// has its generation cancelled. A durable reminder, kept in the background while an agent is responding (no turn
/// waits on the reminder table), ends the pairs whose generation was lost (a dead silo) as failed/interrupted within
/// <c>Agents:ResponseTimeout</c> + 15 s, whether or not anybody reads the room. Messages and remembered
/// clientMessageIds are stored in pages (<see cref="RoomStore"/>): a post writes one page of each and the small record.
/// </summary>
public sealed class RoomGrain(
    [PersistentState("room", RoomOptions.Storage)] IPersistentState<RoomRecord> record,
    IOptions<AgentOptions> agentOptions,
    IOptions<RoomOptions> roomOptions,
    TimeProvider clock,
    ILogger<RoomGrain> logger) : Grain, IRoomGrain, IRemindable
{
    private const string LostReplies = "lost-replies";
    private const string Responder = AgentOptions.Section;

    private readonly AgentOptions _agents = agentOptions.Value;
    private readonly int _maxMessages = roomOptions.Value.MaxMessages;
    private readonly TimeSpan _idempotencyWindow = roomOptions.Value.IdempotencyWindow;
    private EventLog<RoomChange> _events = null!;
    private RoomStore _store = null!;
    private RoomState _state = new();
    // The room as last written: event streams interleave with writes and must never show a change that is not durable.
    private Durable _durable = null!;
    private BackgroundReminder _lostCheck = null!;
    private bool _broken;
    private RoomState S => _state;
    private string RoomCode => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _events = this.CreateEventLog<RoomChange>(LiveStreams.Rooms, logger);
        _store = new RoomStore(record, ServiceProvider.GetRequiredKeyedService<IGrainStorage>(RoomOptions.Storage), this, clock, logger);
        _state = await _store.LoadAsync();
        _durable = Snapshot();
        _lostCheck = new BackgroundReminder(this, LostReplies, _agents.CheckPeriod, () => S.Agents.Any(a => a.RespondingTo is not null), logger);
        // The silo that held this room may have died while agents were generating: end what is already lost, hand the
        // rest to their workers again (a worker still generating a pair keeps it and reports here), and make sure the
        // check is registered (an earlier registration may have failed).
        await EndLostAsync();
        var context = RoomRules.Context(S, _agents.ContextMessages);
        foreach (var agent in S.Agents.Where(a => a.RespondingTo is not null))
        {
            StartGeneration(agent, context, resumeOnly: true);
        }

        _lostCheck.Sync();
    }

    public async Task<RoomView> PutAsync(IReadOnlyList<AgentDefinition> agents, string replyPolicy, IfMatch? ifMatch = null)
    {
        EnsureUsable();
        // A PUT creates the room when it does not exist: If-Match * (an existing room only) then matches nothing.
        IfMatch.Ensure(ifMatch, S.Version, S.Exists);
        var events = new List<(long, string, RoomChange)>();
        var now = clock.GetUtcNow();
        // An agent that is removed while responding still ends its pair with exactly one message, and its generation stops.
        var ended = new List<(string AgentId, long Seq)>();
        foreach (var removed in S.Agents.Where(a => a.RespondingTo is not null && agents.All(d => d.AgentId != a.AgentId)).ToList())
        {
            ended.Add((removed.AgentId, removed.RespondingTo!.Value));
            events.AddRange(RoomRules.End(S, removed, "", RoomErrors.Interrupted, now, _maxMessages));
        }

        S.Agents = agents.Select(d =>
        {
            var kept = S.Agents.Find(a => a.AgentId == d.AgentId);
            return new AgentState { AgentId = d.AgentId, Name = d.Name, Persona = d.Persona, RespondingTo = kept?.RespondingTo, RespondingSince = kept?.RespondingSince };
        }).ToList();
        S.Exists = true;
        S.ReplyPolicy = replyPolicy;
        events.Add(RoomRules.Event(S, "room", RoomEvent()));
        await CommitAsync(events);
        CancelGenerations(ended);
        return _durable.View;
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
        if (clientMessageId is not null && RoomRules.Remembered(S, senderId, clientMessageId, clock.GetUtcNow(), _idempotencyWindow) is { } original)
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

        var (result, events) = RoomRules.Post(S, RoomCode, senderId, text, clientMessageId, targets, clock.GetUtcNow(), _maxMessages);
        // The check that ends a lost pair is registered in the background, alongside the write that stores the pairs:
        // nothing here waits on the reminder table (a failed registration is retried, and repaired at activation).
        _lostCheck.Sync();
        await CommitAsync(events);
        if (result.TriggeredAgents.Count > 0)
        {
            var context = RoomRules.Context(S, _agents.ContextMessages);
            foreach (var agentId in result.TriggeredAgents)
            {
                StartGeneration(S.Agents.Find(a => a.AgentId == agentId)!, context);
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

    public Task<bool> CompleteGenerationAsync(string slot, string requestId, GenerationResult result) =>
        long.TryParse(requestId, out var seq)
            ? CompleteReplyAsync(slot, seq, result.Text, result.Outcome switch
            {
                GenerationOutcome.Reply => null,
                GenerationOutcome.Timeout => RoomErrors.Timeout,
                GenerationOutcome.Interrupted => RoomErrors.Interrupted,
                _ => RoomErrors.ResponderFailed,
            })
            : Task.FromResult(false);

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
        var durable = _durable;
        if (durable.View.Version == 0)
        {
            throw NotFound();
        }

        var snapshot = new ChangeEvent<RoomChange>(durable.View.Version, "room", new RoomChange(null, null, durable.View));
        return Task.FromResult(_events.After(afterId, snapshot, () => RoomRules.Replay(durable.Messages, afterId, snapshot, durable.TrimmedEventId, durable.ReplayFrom)));
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != LostReplies || _broken)
        {
            return;
        }

        // Decided on written state (a non-reentrant turn sees no unwritten change); with nothing pending the check
        // removes itself, in the background.
        await EndLostAsync();
        _lostCheck.Sync();
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

        // Taken before the pairs end: ending one clears its agent's RespondingTo.
        var pairs = lost.Select(a => (a.AgentId, Seq: a.RespondingTo!.Value)).ToList();
        var events = new List<(long, string, RoomChange)>();
        foreach (var (agentId, seq) in pairs)
        {
            logger.LogInformation("Agent {AgentId} of room {RoomCode} lost its generation for message {Seq}; ending it as interrupted", agentId, RoomCode, seq);
            events.AddRange(RoomRules.End(S, agentId, seq, "", RoomErrors.Interrupted, now, _maxMessages)!);
        }

        await CommitAsync(events);
        CancelGenerations(pairs);
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

        await CommitAsync([RoomRules.Event(S, "room", RoomEvent())]);
        return _durable.View;
    }

    /// <summary>
    /// Generation runs in the agent's own worker grain, called one-way: the room is free again at once (so joins,
    /// reads, posts and other agents go on), its non-reentrant turns stay short, Orleans' response timeout never
    /// meets a seconds-long call, and generations of a busy room spread over the cluster. The pair's deadline counts
    /// from its mark, so the hand-over is part of it; the worker reports until the loss check could end the pair.
    /// </summary>
    private void StartGeneration(AgentState agent, List<MessageView> context, bool resumeOnly = false)
    {
        var since = agent.RespondingSince ?? clock.GetUtcNow();
        var request = new GenerationRequest(this.GetGrainId(), agent.AgentId, agent.RespondingTo!.Value.ToString(CultureInfo.InvariantCulture),
            RoomRules.Prompt(RoomCode, new AgentDefinition(agent.AgentId, agent.Name, agent.Persona), context),
            since + _agents.ResponseTimeout, since + _agents.LostAfter, Responder, _agents.Streaming, RoomRules.MaxReplyChars, "", resumeOnly,
            _agents.Streaming && _events.Watched ? LiveStreams.RoomDeltas : null);
        try
        {
            _ = Worker(agent.AgentId).StartAsync(request);
        }
        catch (Exception ex)
        {
            // The pair is stored; the loss check ends it as interrupted.
            logger.LogWarning(ex, "Could not start the generation of agent {AgentId} in room {RoomCode}", agent.AgentId, RoomCode);
        }
    }

    private void CancelGenerations(IEnumerable<(string AgentId, long Seq)> pairs)
    {
        foreach (var (agentId, seq) in pairs)
        {
            try
            {
                _ = Worker(agentId).CancelAsync(seq.ToString(CultureInfo.InvariantCulture));
            }
            catch (Exception ex)
            {
                // Its report will be dropped by (agent, seq); the generation ends at its deadline.
                logger.LogWarning(ex, "Could not cancel the generation of agent {AgentId} in room {RoomCode}", agentId, RoomCode);
            }
        }
    }

    private IGenerationWorkerGrain Worker(string agentId) =>
        GrainFactory.GetGrain<IGenerationWorkerGrain>(GenerationKeys.Worker(this.GetGrainId(), agentId));

    /// <summary>Writes (the remembered posts past their window are dropped with it), then publishes the change's events (versioned by the rules). Nothing is answered or published that was not written.</summary>
    private async Task CommitAsync(List<(long Id, string Type, RoomChange Change)> events)
    {
        try
        {
            await _store.WriteAsync(S, RoomRules.Expire(S, clock.GetUtcNow(), _idempotencyWindow));
        }
        catch
        {
            // The in-memory state holds a change that is not stored: refuse everything until the room is reloaded.
            _broken = true;
            DeactivateOnIdle();
            throw;
        }

        _durable = Snapshot();
        foreach (var (id, type, change) in events)
        {
            _events.Append(id, type, type == "room" ? new RoomChange(null, null, _durable.View) : change);
        }
    }

    private Durable Snapshot() => new(View(), _store.Written, S.TrimmedEventId, S.ReplayFrom);

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

    /// <summary>What was last written, for the reads that interleave with a write.</summary>
    private sealed record Durable(RoomView View, System.Collections.Immutable.ImmutableList<MessageState> Messages, long TrimmedEventId, long ReplayFrom);
}
