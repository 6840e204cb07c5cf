using Lectures.Grains.Common;
using Orleans.Concurrency;

namespace Lectures.Grains.Rooms;

/// <summary>
/// One chat room (key: room code): players, AI agents, the messages (room-wide seq) and which agent is responding to
/// which message. Every triggered (agent, seq) pair ends in exactly one agent message.
/// </summary>
public interface IRoomGrain : IGrainWithStringKey, IGenerationOwner
{
    /// <summary>Creates the room or replaces its agents (an agent kept by id keeps its status).</summary>
    Task<RoomView> PutAsync(IReadOnlyList<AgentDefinition> agents, string replyPolicy, IfMatch? ifMatch = null);

    // Read-only: may run alongside other reads, never alongside a write.
    [ReadOnly]
    Task<RoomView> GetAsync();

    Task<RoomView> JoinAsync(string playerId, IfMatch? ifMatch = null);

    Task<RoomView> LeaveAsync(string playerId, IfMatch? ifMatch = null);

    /// <summary>
    /// Stores a player's message and, in the same step, marks every idle agent it triggers as responding to it.
    /// <paramref name="agentIds"/> null triggers every agent, an empty list none. A repeated
    /// (<paramref name="senderId"/>, <paramref name="clientMessageId"/>) answers the original result and stores nothing.
    /// </summary>
    Task<PostResult> PostAsync(string senderId, string text, string? clientMessageId = null, IReadOnlyList<string>? agentIds = null);

    [ReadOnly]
    Task<MessagePage> GetMessagesAsync(long after, int limit);

    /// <summary>
    /// Ends the pair (<paramref name="agentId"/>, <paramref name="seq"/>) with a reply (<paramref name="error"/> null)
    /// or a failure. Idempotent per pair: a pair that has already ended is left alone and false is answered.
    /// </summary>
    Task<bool> CompleteReplyAsync(string agentId, long seq, string text, string? error);

    /// <summary>The durable events after <paramref name="afterId"/> (or a snapshot); live events come from the room's stream (<see cref="LiveStreams.Rooms"/>).</summary>
    [AlwaysInterleave]
    Task<EventBatch<RoomChange>> GetEventsAsync(long afterId, CancellationToken cancellationToken = default);
}

public enum AgentStatus { Idle, Responding }

public enum SenderKind { Player, Agent }

public enum MessageOutcome { Reply, Failed }

[GenerateSerializer, Immutable, Alias("rooms.agent-definition")]
public sealed record AgentDefinition([property: Id(0)] string AgentId, [property: Id(1)] string Name, [property: Id(2)] string Persona);

[GenerateSerializer, Immutable, Alias("rooms.agent")]
public sealed record AgentView([property: Id(0)] string AgentId, [property: Id(1)] string Name, [property: Id(2)] AgentStatus Status,
    [property: Id(3)] long? RespondingTo);

[GenerateSerializer, Immutable, Alias("rooms.room")]
public sealed record RoomView(
    [property: Id(0)] string RoomCode,
    [property: Id(1)] IReadOnlyList<string> Players,
    [property: Id(2)] IReadOnlyList<AgentView> Agents,
    [property: Id(3)] long LastSeq,
    [property: Id(4)] string ReplyPolicy,
    [property: Id(5)] long Version);

[GenerateSerializer, Immutable, Alias("rooms.message")]
public sealed record MessageView(
    [property: Id(0)] long Seq,
    [property: Id(1)] string SenderId,
    [property: Id(2)] SenderKind SenderKind,
    [property: Id(3)] string Text,
    [property: Id(4)] long? InReplyTo,
    [property: Id(5)] MessageOutcome? Outcome,
    [property: Id(6)] string? Error,
    [property: Id(7)] DateTimeOffset At);

[GenerateSerializer, Immutable, Alias("rooms.post-result")]
public sealed record PostResult(
    [property: Id(0)] bool Created,
    [property: Id(1)] long Seq,
    [property: Id(2)] IReadOnlyList<string> TriggeredAgents,
    [property: Id(3)] IReadOnlyList<string> SkippedAgents);

[GenerateSerializer, Immutable, Alias("rooms.message-page")]
public sealed record MessagePage([property: Id(0)] IReadOnlyList<MessageView> Messages, [property: Id(1)] long TrimmedBefore);

/// <summary>
/// A live event of a room: <c>message</c> (a stored message), <c>agent</c> (an agent's status changed),
/// <c>agent_failed</c> (a pair ended as failed; <see cref="Message"/> is the failed agent message), or <c>room</c>
/// (a snapshot, sent instead of events the room no longer holds: read the messages after your last seq).
/// </summary>
[GenerateSerializer, Immutable, Alias("rooms.change")]
public sealed record RoomChange(
    [property: Id(0)] MessageView? Message,
    [property: Id(1)] AgentView? Agent,
    [property: Id(2)] RoomView? Room);

public static class RoomErrors
{
    public const string NotFound = "room.not_found";
    public const string NotAPlayer = "room.not_a_player";

    /// <summary>The <c>error</c> of a failed agent message.</summary>
    public const string Timeout = "timeout";
    public const string ResponderFailed = "responder_failed";
    public const string Interrupted = "interrupted";
}
