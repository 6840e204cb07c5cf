using System.ComponentModel.DataAnnotations;
using Lectures.Api.Infrastructure;
using Lectures.Grains.Rooms;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Lectures.Api.Rooms;

public static class RoomApi
{
    public const int MaxAgents = 16;
    public const int MaxNameChars = 100;
    public const int MaxPersonaChars = 2_000;
    public const int MaxClientMessageIdChars = 200;
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1_000;

    public static IEndpointRouteBuilder MapRoomApi(this IEndpointRouteBuilder routes)
    {
        var rooms = routes.MapGroup("/api/rooms").WithTags("Rooms")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        rooms.MapPut("/{roomCode}", Put).WithName("putRoom")
            .WithSummary("Create a room or replace its agents (1 to 16; an agent kept by id keeps its status; If-Match supported)")
            .ProducesProblem(StatusCodes.Status412PreconditionFailed);
        rooms.MapGet("/{roomCode}", Get).WithName("getRoom").WithSummary("Players, agents with their status, and the last seq")
            .ProducesProblem(StatusCodes.Status404NotFound);
        rooms.MapPut("/{roomCode}/players/{playerId}", Join).WithName("joinRoom").WithSummary("Add a player (idempotent)")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status412PreconditionFailed);
        rooms.MapDelete("/{roomCode}/players/{playerId}", Leave).WithName("leaveRoom").WithSummary("Remove a player (idempotent)")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status412PreconditionFailed);
        rooms.MapPost("/{roomCode}/messages", Post).WithName("postRoomMessage")
            .WithSummary("Post a player message: idle agents it triggers (all, or agentIds; [] for none) are marked responding in the same step; " +
                "busy ones are skipped. A repeated clientMessageId of the same sender answers 200 with the original result.")
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        rooms.MapGet("/{roomCode}/messages", Messages).WithName("listRoomMessages")
            .WithSummary("Messages with seq > after (default 0), at most limit (default 100, at most 1000), in seq order; trimmedBefore is the lowest seq kept")
            .ProducesProblem(StatusCodes.Status404NotFound);
        rooms.MapGet("/{roomCode}/events", Events).WithName("roomEvents")
            .WithSummary("Server-Sent Events: message (a stored message), agent (status change), agent_failed (the failed agent message), " +
                "room (players or agents changed; also sent as a snapshot when the gap since Last-Event-ID is no longer held: read messages after your last seq)")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return routes;
    }

    public static async Task<Ok<RoomResponse>> Put(string roomCode, PutRoomRequest body, GrainLookup grains, HttpRequest request, HttpResponse response)
    {
        var agents = ValidateAgents(body.Agents);
        if (body.ReplyPolicy is not (null or "all"))
        {
            throw Require.Invalid("replyPolicy", "replyPolicy must be \"all\".");
        }

        return Respond(response, await Room(grains, roomCode).PutAsync(agents, "all", request.IfMatch()));
    }

    public static async Task<Ok<RoomResponse>> Get(string roomCode, GrainLookup grains, HttpResponse response) =>
        Respond(response, await Room(grains, roomCode).GetAsync());

    public static async Task<Ok<RoomResponse>> Join(string roomCode, string playerId, GrainLookup grains, HttpRequest request, HttpResponse response) =>
        Respond(response, await Room(grains, roomCode).JoinAsync(playerId, request.IfMatch()));

    public static async Task<Ok<RoomResponse>> Leave(string roomCode, string playerId, GrainLookup grains, HttpRequest request, HttpResponse response) =>
        Respond(response, await Room(grains, roomCode).LeaveAsync(playerId, request.IfMatch()));

    public static async Task<Results<Created<PostMessageResponse>, Ok<PostMessageResponse>>> Post(string roomCode, PostMessageRequest body, GrainLookup grains)
    {
        var senderId = Require.Id(body.SenderId, "senderId");
        var text = Require.Text(body.Text, "text", Require.MaxTextChars);
        if (body.ClientMessageId is { } clientId && (clientId.Length is 0 or > MaxClientMessageIdChars || clientId.Any(char.IsControl)))
        {
            throw Require.Invalid("clientMessageId", $"clientMessageId must be 1 to {MaxClientMessageIdChars} printable characters.");
        }

        if (body.AgentIds is { } agentIds)
        {
            if (agentIds.Count > MaxAgents)
            {
                throw Require.Invalid("agentIds", $"agentIds must list at most {MaxAgents} agents.");
            }

            for (var i = 0; i < agentIds.Count; i++)
            {
                Require.Id(agentIds[i], $"agentIds[{i}]");
            }
        }

        var result = await Room(grains, roomCode).PostAsync(senderId, text, body.ClientMessageId, body.AgentIds);
        var answer = new PostMessageResponse(result.Seq, result.TriggeredAgents, result.SkippedAgents);
        return result.Created
            ? TypedResults.Created($"/api/rooms/{roomCode}/messages?after={result.Seq - 1}&limit=1", answer)
            : TypedResults.Ok(answer);
    }

    public static async Task<Ok<MessagePageResponse>> Messages(string roomCode, long? after, int? limit, GrainLookup grains)
    {
        if (after is < 0)
        {
            throw Require.Invalid("after", "after must be 0 or more.");
        }

        if (limit is < 1 or > MaxLimit)
        {
            throw Require.Invalid("limit", $"limit must be from 1 to {MaxLimit}.");
        }

        var page = await Room(grains, roomCode).GetMessagesAsync(after ?? 0, limit ?? DefaultLimit);
        return TypedResults.Ok(new MessagePageResponse(page.Messages.Select(MessageResponse.From).ToList(), page.TrimmedBefore));
    }

    public static Task Events(string roomCode, GrainLookup grains, HttpContext http) =>
        SseRelay.RelayAsync(http, Room(grains, roomCode).WaitForEventsAsync, change =>
            change.Message is { } message ? MessageResponse.From(message)
            : change.Agent is { } agent ? AgentResponse.From(agent)
            : (object)RoomResponse.From(change.Room!));

    private static IRoomGrain Room(GrainLookup grains, string roomCode) => grains.Get<IRoomGrain>(roomCode);

    private static Ok<RoomResponse> Respond(HttpResponse response, RoomView room)
    {
        response.SetETag(room.Version);
        return TypedResults.Ok(RoomResponse.From(room));
    }

    private static List<AgentDefinition> ValidateAgents(List<AgentRequest?>? agents)
    {
        if (agents is null || agents.Count is 0 or > MaxAgents)
        {
            throw Require.Invalid("agents", $"agents must list 1 to {MaxAgents} agents.");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var definitions = new List<AgentDefinition>();
        for (var i = 0; i < agents.Count; i++)
        {
            var agent = agents[i] ?? throw Require.Invalid($"agents[{i}]", "An agent must be an object.");
            var agentId = Require.Id(agent.AgentId, $"agents[{i}].agentId");
            if (!seen.Add(agentId))
            {
                throw Require.Invalid($"agents[{i}].agentId", $"agentId '{agentId}' is listed twice.");
            }

            definitions.Add(new AgentDefinition(agentId,
                Require.Text(agent.Name, $"agents[{i}].name", MaxNameChars),
                Require.Text(agent.Persona, $"agents[{i}].persona", MaxPersonaChars)));
        }

        return definitions;
    }
}

public sealed record PutRoomRequest([Required, MinLength(1), MaxLength(RoomApi.MaxAgents)] List<AgentRequest?>? Agents, [AllowedValues("all", null)] string? ReplyPolicy);

public sealed record AgentRequest(
    [Required, RegularExpression(IdValidation.Pattern)] string? AgentId,
    [Required, StringLength(RoomApi.MaxNameChars, MinimumLength = 1)] string? Name,
    [Required, StringLength(RoomApi.MaxPersonaChars, MinimumLength = 1)] string? Persona);

public sealed record PostMessageRequest(
    [Required, RegularExpression(IdValidation.Pattern)] string? SenderId,
    [Required, StringLength(Require.MaxTextChars, MinimumLength = 1)] string? Text,
    [StringLength(RoomApi.MaxClientMessageIdChars, MinimumLength = 1)] string? ClientMessageId,
    [MaxLength(RoomApi.MaxAgents)] List<string>? AgentIds);

public sealed record PostMessageResponse(long Seq, IReadOnlyList<string> TriggeredAgents, IReadOnlyList<string> SkippedAgents);

public sealed record AgentResponse(string AgentId, string Name, AgentStatus Status, long? RespondingTo)
{
    public static AgentResponse From(AgentView agent) => new(agent.AgentId, agent.Name, agent.Status, agent.RespondingTo);
}

public sealed record RoomResponse(string RoomCode, IReadOnlyList<string> Players, IReadOnlyList<AgentResponse> Agents, long LastSeq, string ReplyPolicy)
{
    public static RoomResponse From(RoomView room) =>
        new(room.RoomCode, room.Players, room.Agents.Select(AgentResponse.From).ToList(), room.LastSeq, room.ReplyPolicy);
}

public sealed record MessageResponse(long Seq, string SenderId, SenderKind SenderKind, string Text, long? InReplyTo, MessageOutcome? Outcome, string? Error, DateTimeOffset At)
{
    public static MessageResponse From(MessageView m) => new(m.Seq, m.SenderId, m.SenderKind, m.Text, m.InReplyTo, m.Outcome, m.Error, m.At);
}

public sealed record MessagePageResponse(IReadOnlyList<MessageResponse> Messages, long TrimmedBefore);
