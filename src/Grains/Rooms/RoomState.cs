using Lectures.Grains.Common;

namespace Lectures.Grains.Rooms;

[GenerateSerializer, Alias("rooms.state")]
public sealed class RoomState
{
    [Id(0)] public bool Exists { get; set; }
    [Id(1)] public string ReplyPolicy { get; set; } = "all";
    [Id(2)] public List<AgentState> Agents { get; set; } = [];
    /// <summary>Kept sorted (ordinal).</summary>
    [Id(3)] public List<string> Players { get; set; } = [];
    /// <summary>The latest <c>Rooms:MaxMessages</c> messages, in seq order.</summary>
    [Id(4)] public List<MessageState> Messages { get; set; } = [];
    [Id(5)] public long LastSeq { get; set; }
    /// <summary>(sender, clientMessageId) -> the original result, for messages still kept (trimmed with them).</summary>
    [Id(6)] public Dictionary<string, PostRecord> ClientMessages { get; set; } = [];
    /// <summary>Bumped once per event (the SSE id): every durable change publishes at least one.</summary>
    [Id(7)] public long Version { get; set; }
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

    /// <summary>Stores a player's message and marks the idle agents it triggers as responding to it, in one step.</summary>
    public static (PostResult Result, List<(string Type, RoomChange Change)> Events) Post(RoomState s, string roomCode, string senderId,
        string text, string? clientMessageId, IReadOnlyList<AgentState> targets, DateTimeOffset now, int maxMessages)
    {
        var message = Append(s, new MessageState { SenderId = senderId, SenderKind = SenderKind.Player, Text = text, At = now, ClientMessageId = clientMessageId });
        var events = new List<(string, RoomChange)> { ("message", new RoomChange(View(message), null, null)) };
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
            events.Add(("agent", new RoomChange(null, View(agent), null)));
        }

        if (clientMessageId is not null)
        {
            s.ClientMessages[ClientKey(senderId, clientMessageId)] = new PostRecord { Seq = message.Seq, Triggered = triggered, Skipped = skipped };
        }

        Trim(s, maxMessages);
        return (new PostResult(true, message.Seq, triggered, skipped), events);
    }

    /// <summary>
    /// Ends the pair (agent, seq) with its one agent message; null when the pair is not pending (it ended already),
    /// which is what makes a completion idempotent.
    /// </summary>
    public static List<(string Type, RoomChange Change)>? End(RoomState s, string agentId, long seq, string text, string? error,
        DateTimeOffset now, int maxMessages)
    {
        var agent = s.Agents.Find(a => a.AgentId == agentId);
        return agent is null || agent.RespondingTo != seq ? null : End(s, agent, text, error, now, maxMessages);
    }

    public static List<(string Type, RoomChange Change)> End(RoomState s, AgentState agent, string text, string? error, DateTimeOffset now, int maxMessages)
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
        var events = new List<(string, RoomChange)> { ("message", new RoomChange(View(message), null, null)) };
        if (error is not null)
        {
            events.Add(("agent_failed", new RoomChange(View(message), null, null)));
        }

        events.Add(("agent", new RoomChange(null, View(agent), null)));
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

    public static MessageView View(MessageState m) => new(m.Seq, m.SenderId, m.SenderKind, m.Text, m.InReplyTo, m.Outcome, m.Error, m.At);

    public static AgentView View(AgentState a) =>
        new(a.AgentId, a.Name, a.RespondingTo is null ? AgentStatus.Idle : AgentStatus.Responding, a.RespondingTo);

    private static MessageState Append(RoomState s, MessageState message)
    {
        message.Seq = ++s.LastSeq;
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

        foreach (var trimmed in s.Messages.Take(excess))
        {
            if (trimmed.ClientMessageId is { } id)
            {
                s.ClientMessages.Remove(ClientKey(trimmed.SenderId, id));
            }
        }

        s.Messages.RemoveRange(0, excess);
    }
}
