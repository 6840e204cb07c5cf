using System.Collections.Immutable;
using Lectures.Grains.Common;

namespace Lectures.Grains.Rooms;

/// <summary>
/// A room as its grain works on it (the rules change it in place inside one non-reentrant turn, and a failed write
/// makes the grain refuse everything until it is reloaded). Stored by <see cref="RoomStore"/>: the messages and the
/// remembered clientMessageIds in pages, the rest in <see cref="RoomRecord"/>.
/// </summary>
public sealed class RoomState
{
    public bool Exists { get; set; }
    public string ReplyPolicy { get; set; } = "all";
    public List<AgentState> Agents { get; set; } = [];
    /// <summary>Kept sorted (ordinal).</summary>
    public List<string> Players { get; set; } = [];
    /// <summary>The latest <c>Rooms:MaxMessages</c> messages, in seq order; never changed once appended.</summary>
    public List<MessageState> Messages { get; set; } = [];
    public long LastSeq { get; set; }
    /// <summary>Remembered posts with a clientMessageId, oldest first; dropped by time (<c>Rooms:IdempotencyWindow</c>), not with their messages.</summary>
    public List<ClientPost> ClientPosts { get; set; } = [];
    /// <summary><see cref="ClientPosts"/> by (sender, clientMessageId).</summary>
    public Dictionary<string, ClientPost> ClientIndex { get; set; } = [];
    /// <summary>The id of the last event (the SSE id): every durable change publishes at least one.</summary>
    public long Version { get; set; }
    /// <summary>The highest event id of a trimmed message: a client behind it can no longer be given every message it missed.</summary>
    public long TrimmedEventId { get; set; }
    /// <summary>Events up to this id were published before messages stored their event ids (a room stored in the old format).</summary>
    public long ReplayFrom { get; set; }
}

/// <summary>
/// What the room's record stores: everything but the messages and the remembered clientMessageIds, which are in pages
/// the record lists, so the record every change rewrites stays small however many messages the room keeps.
/// </summary>
[GenerateSerializer, Alias("rooms.state")]
public sealed class RoomRecord
{
    [Id(0)] public bool Exists { get; set; }
    [Id(1)] public string ReplyPolicy { get; set; } = "all";
    [Id(2)] public List<AgentState> Agents { get; set; } = [];
    [Id(3)] public List<string> Players { get; set; } = [];
    /// <summary>Every kept message, as rooms stored them before paged messages; moved into pages by the next write.</summary>
    [Id(4)] public List<MessageState>? Messages { get; set; }
    [Id(5)] public long LastSeq { get; set; }
    /// <summary>The remembered posts of kept messages, as rooms stored them before; moved into pages by the next write.</summary>
    [Id(6)] public Dictionary<string, PostRecord>? ClientMessages { get; set; }
    [Id(7)] public long Version { get; set; }
    [Id(8)] public List<HistoryPageRef> MessagePages { get; set; } = [];
    /// <summary>The absolute index (seq - 1) of the first kept message.</summary>
    [Id(9)] public long MessageStart { get; set; }
    [Id(10)] public List<HistoryPageRef> ClientPostPages { get; set; } = [];
    /// <summary>How many remembered posts have expired (the absolute index of the first one kept).</summary>
    [Id(11)] public long ClientPostStart { get; set; }
    [Id(12)] public long TrimmedEventId { get; set; }
    [Id(13)] public long ReplayFrom { get; set; }
}

[GenerateSerializer, Alias("rooms.agent-state")]
public sealed class AgentState
{
    [Id(0)] public string AgentId { get; set; } = "";
    [Id(1)] public string Name { get; set; } = "";
    [Id(2)] public string Persona { get; set; } = "";
    /// <summary>The seq of the message this agent is generating a reply to; null when idle.</summary>
    [Id(3)] public long? RespondingTo { get; set; }
    /// <summary>When the pair was triggered: a generation older than <see cref="AgentOptions.LostAfter"/> is lost.</summary>
    [Id(4)] public DateTimeOffset? RespondingSince { get; set; }
}

/// <summary>A stored message. Never changed once appended (pages compare entries by reference).</summary>
[GenerateSerializer, Alias("rooms.message-state")]
public sealed class MessageState
{
    [Id(0)] public long Seq { get; set; }
    [Id(1)] public string SenderId { get; set; } = "";
    [Id(2)] public SenderKind SenderKind { get; set; }
    [Id(3)] public string Text { get; set; } = "";
    [Id(4)] public long? InReplyTo { get; set; }
    [Id(5)] public MessageOutcome? Outcome { get; set; }
    [Id(6)] public string? Error { get; set; }
    [Id(7)] public DateTimeOffset At { get; set; }
    [Id(8)] public string? ClientMessageId { get; set; }
    /// <summary>The id of the <c>message</c> event it was published under, so a resuming client gets it again (0: stored before ids were).</summary>
    [Id(9)] public long EventId { get; set; }
}

/// <summary>The original result of a post with a clientMessageId, remembered until <see cref="At"/> + <c>Rooms:IdempotencyWindow</c>.</summary>
[GenerateSerializer, Immutable, Alias("rooms.client-post")]
public sealed record ClientPost(
    [property: Id(0)] string Key,
    [property: Id(1)] long Seq,
    [property: Id(2)] IReadOnlyList<string> Triggered,
    [property: Id(3)] IReadOnlyList<string> Skipped,
    [property: Id(4)] DateTimeOffset At)
{
    /// <summary>About what it costs in a page, in characters (for <see cref="PagedHistory{T}"/>'s page size).</summary>
    public int Chars => Key.Length + 64 + Triggered.Sum(a => a.Length + 3) + Skipped.Sum(a => a.Length + 3);
}

[GenerateSerializer, Alias("rooms.post-record")]
public sealed class PostRecord
{
    [Id(0)] public long Seq { get; set; }
    [Id(1)] public List<string> Triggered { get; set; } = [];
    [Id(2)] public List<string> Skipped { get; set; } = [];
}

/// <summary>
/// The rules of a room as pure functions over its state (no Orleans, no I/O): the grain calls them inside one turn
/// and persists the result. Each returns the events the change publishes, in order.
/// </summary>
public static class RoomRules
{
    /// <summary>The longest stored agent reply (a longer one is cut).</summary>
    public const int MaxReplyChars = 8_000;

    public static string ClientKey(string senderId, string clientMessageId) => $"{senderId}\n{clientMessageId}";

    /// <summary>An event of a change, under the room's next event id.</summary>
    public static (long Id, string Type, RoomChange Change) Event(RoomState s, string type, RoomChange change) => (++s.Version, type, change);

    /// <summary>The original result of a post of (sender, clientMessageId) still remembered at <paramref name="now"/>, or null.</summary>
    public static ClientPost? Remembered(RoomState s, string senderId, string clientMessageId, DateTimeOffset now, TimeSpan window) =>
        s.ClientIndex.TryGetValue(ClientKey(senderId, clientMessageId), out var post) && post.At + window > now ? post : null;

    /// <summary>Forgets the remembered posts older than <paramref name="window"/> (they are kept in post order, so from the front).</summary>
    public static int Expire(RoomState s, DateTimeOffset now, TimeSpan window)
    {
        var expired = 0;
        while (expired < s.ClientPosts.Count && s.ClientPosts[expired].At + window <= now)
        {
            var post = s.ClientPosts[expired++];
            if (s.ClientIndex.TryGetValue(post.Key, out var indexed) && ReferenceEquals(indexed, post))
            {
                s.ClientIndex.Remove(post.Key);
            }
        }

        s.ClientPosts.RemoveRange(0, expired);
        return expired;
    }

    /// <summary>Stores a player's message and marks the idle agents it triggers as responding to it, in one step.</summary>
    public static (PostResult Result, List<(long Id, string Type, RoomChange Change)> Events) Post(RoomState s, string roomCode, string senderId,
        string text, string? clientMessageId, IReadOnlyList<AgentState> targets, DateTimeOffset now, int maxMessages)
    {
        var message = Append(s, new MessageState { SenderId = senderId, SenderKind = SenderKind.Player, Text = text, At = now, ClientMessageId = clientMessageId });
        var events = new List<(long, string, RoomChange)> { Event(s, "message", new RoomChange(View(message), null, null)) };
        var triggered = new List<string>();
        var skipped = new List<string>();
        foreach (var agent in targets)
        {
            if (agent.RespondingTo is not null)
            {
                skipped.Add(agent.AgentId);
                continue;
            }

            agent.RespondingTo = message.Seq;
            agent.RespondingSince = now;
            triggered.Add(agent.AgentId);
            events.Add(Event(s, "agent", new RoomChange(null, View(agent), null)));
        }

        if (clientMessageId is not null)
        {
            var post = new ClientPost(ClientKey(senderId, clientMessageId), message.Seq, triggered, skipped, now);
            s.ClientPosts.Add(post);
            s.ClientIndex[post.Key] = post;
        }

        Trim(s, maxMessages);
        return (new PostResult(true, message.Seq, triggered, skipped), events);
    }

    /// <summary>
    /// Ends the pair (agent, seq) with its one agent message; null when the pair is not pending (it ended already),
    /// which is what makes a completion idempotent.
    /// </summary>
    public static List<(long Id, string Type, RoomChange Change)>? End(RoomState s, string agentId, long seq, string text, string? error,
        DateTimeOffset now, int maxMessages)
    {
        var agent = s.Agents.Find(a => a.AgentId == agentId);
        return agent is null || agent.RespondingTo != seq ? null : End(s, agent, text, error, now, maxMessages);
    }

    public static List<(long Id, string Type, RoomChange Change)> End(RoomState s, AgentState agent, string text, string? error, DateTimeOffset now, int maxMessages)
    {
        var message = Append(s, new MessageState
        {
            SenderId = agent.AgentId,
            SenderKind = SenderKind.Agent,
            Text = error is null ? text : "",
            InReplyTo = agent.RespondingTo,
            Outcome = error is null ? MessageOutcome.Reply : MessageOutcome.Failed,
            Error = error,
            At = now,
        });
        agent.RespondingTo = null;
        agent.RespondingSince = null;
        Trim(s, maxMessages);
        var events = new List<(long, string, RoomChange)> { Event(s, "message", new RoomChange(View(message), null, null)) };
        if (error is not null)
        {
            events.Add(Event(s, "agent_failed", new RoomChange(View(message), null, null)));
        }

        events.Add(Event(s, "agent", new RoomChange(null, View(agent), null)));
        return events;
    }

    /// <summary>The agents whose generation is lost: still responding <paramref name="lostAfter"/> after they were triggered.</summary>
    public static List<AgentState> Lost(RoomState s, DateTimeOffset now, TimeSpan lostAfter) =>
        s.Agents.Where(a => a.RespondingTo is not null && (a.RespondingSince ?? DateTimeOffset.MinValue) + lostAfter <= now).ToList();

    /// <summary>The prompt's messages: the latest <paramref name="count"/> messages that carry text.</summary>
    public static List<MessageView> Context(RoomState s, int count)
    {
        var context = new List<MessageView>(count);
        for (var i = s.Messages.Count - 1; i >= 0 && context.Count < count; i--)
        {
            if (s.Messages[i].Outcome != MessageOutcome.Failed)
            {
                context.Add(View(s.Messages[i]));
            }
        }

        context.Reverse();
        return context;
    }

    /// <summary>The agent's persona (first line, as the system prompt), then the room's recent messages, oldest first.</summary>
    public static PromptMessage[] Prompt(string roomCode, AgentDefinition agent, List<MessageView> context)
    {
        var prompt = new PromptMessage[context.Count + 1];
        prompt[0] = new PromptMessage(PromptRole.System,
            $"{agent.Persona}\nYou are {agent.Name}, an AI participant in the group chat room '{roomCode}'. " +
            "Each user message starts with its sender's id. Reply to the last message, briefly and in character.");
        for (var i = 0; i < context.Count; i++)
        {
            var message = context[i];
            prompt[i + 1] = message.SenderKind == SenderKind.Agent && message.SenderId == agent.AgentId
                ? new PromptMessage(PromptRole.Assistant, message.Text)
                : new PromptMessage(PromptRole.User, $"{message.SenderId}: {message.Text}");
        }

        return prompt;
    }

    /// <summary>Messages with seq above <paramref name="after"/>, at most <paramref name="limit"/>, and the lowest seq kept.</summary>
    public static MessagePage Page(RoomState s, long after, int limit)
    {
        var messages = s.Messages;
        int lo = 0, hi = messages.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (messages[mid].Seq <= after)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        var page = messages.Skip(lo).Take(limit).Select(View).ToList();
        return new MessagePage(page, messages.Count > 0 ? messages[0].Seq : s.LastSeq + 1);
    }

    /// <summary>
    /// What a client that saw events up to <paramref name="afterId"/> missed, rebuilt from the stored messages (each
    /// recorded with the id of its <c>message</c> event): every missed message once, in order, and, when it also missed
    /// other events (agents, players), one <c>room</c> event with the current players and agents, under the id of the
    /// last such event (so ids still only increase). <paramref name="snapshot"/> alone when the gap reaches a message
    /// that is trimmed, or events from before messages recorded their ids.
    /// </summary>
    public static IReadOnlyList<ChangeEvent<RoomChange>> Replay(IReadOnlyList<MessageState> messages, long afterId, ChangeEvent<RoomChange> snapshot,
        long trimmedEventId, long replayFrom)
    {
        if (afterId < 0 || afterId < trimmedEventId || afterId < replayFrom)
        {
            return [snapshot];
        }

        // Messages are in seq order, and so are their event ids: the missed ones are a tail.
        var from = messages.Count;
        while (from > 0 && messages[from - 1].EventId > afterId)
        {
            from--;
        }

        var stored = new List<ChangeEvent<RoomChange>>(messages.Count - from);
        for (var i = from; i < messages.Count; i++)
        {
            stored.Add(new ChangeEvent<RoomChange>(messages[i].EventId, "message", new RoomChange(View(messages[i]), null, null)));
        }

        return EventReplay.Fill(stored, afterId, snapshot);
    }

    public static MessageView View(MessageState m) => new(m.Seq, m.SenderId, m.SenderKind, m.Text, m.InReplyTo, m.Outcome, m.Error, m.At);

    public static AgentView View(AgentState a) =>
        new(a.AgentId, a.Name, a.RespondingTo is null ? AgentStatus.Idle : AgentStatus.Responding, a.RespondingTo);

    /// <summary>Appends a message; its <c>message</c> event is the next one the caller makes.</summary>
    private static MessageState Append(RoomState s, MessageState message)
    {
        message.Seq = ++s.LastSeq;
        message.EventId = s.Version + 1;
        s.Messages.Add(message);
        return message;
    }

    private static void Trim(RoomState s, int maxMessages)
    {
        var excess = s.Messages.Count - maxMessages;
        if (excess <= 0)
        {
            return;
        }

        // A trimmed message's clientMessageId stays remembered (by time): a retry must never post it again.
        s.TrimmedEventId = Math.Max(s.TrimmedEventId, s.Messages[excess - 1].EventId);
        s.Messages.RemoveRange(0, excess);
    }
}
