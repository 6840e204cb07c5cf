using Lectures.Api.LiveUpdates;
using Lectures.Api.Errors;
using Lectures.Api.Validation;
using System.ComponentModel.DataAnnotations;
using Lectures.Api.Infrastructure;
using Lectures.Api.Security;
using Lectures.Grains.Common;
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
        var rooms = routes.MapGroup("/api/rooms").WithTags("Rooms").ValidateIds();

        rooms.MapPut("/{roomCode}", Put).RequireAuthorization(Access.Client).Describe("putRoom",
            "Create a room or replace its agents (1 to 16; an agent kept by id keeps its status; If-Match supported)",
            ["412 precondition_failed", .. OpenApiConventions.Body]);
        rooms.MapGet("/{roomCode}", Get).AsRoomReader().Describe("getRoom", "Players, agents with their status, and the last seq", "404 room.not_found");
        rooms.MapPut("/{roomCode}/players/{playerId}", Join).RequireAuthorization(Access.Client).Describe("joinRoom", "Add a player (idempotent; If-Match supported)",
            "404 room.not_found", "412 precondition_failed");
        rooms.MapDelete("/{roomCode}/players/{playerId}", Leave).RequireAuthorization(Access.Client).Describe("leaveRoom", "Remove a player (idempotent; If-Match supported)",
            "404 room.not_found", "412 precondition_failed");
        rooms.MapPost("/{roomCode}/messages", Post).RequireAuthorization(Access.Player)
            .RequireOwnSubject<PostMessageRequest>(Roles.Player, b => b.SenderId).Describe("postRoomMessage",
            "Post a player message: the idle agents it triggers (all, or agentIds; [] for none) are marked responding in the same step, " +
            "busy ones are skipped; a repeated clientMessageId of the same sender answers 200 with the original result for Rooms:IdempotencyWindow " +
            "(default 24 h), whether or not its message is still kept",
            ["403 room.not_a_player", "404 room.not_found", .. OpenApiConventions.Body]);
        rooms.MapGet("/{roomCode}/messages", Messages).AsRoomReader().Describe("listRoomMessages",
            "Messages with seq > after (default 0), at most limit (default 100, at most 1000), in seq order; trimmedBefore is the lowest seq kept",
            "404 room.not_found");
        rooms.MapGet("/{roomCode}/events", Events).AsRoomReader().EventStream().Describe("streamRoomEvents",
            "Server-Sent Events: message, agent (status), agent_failed (the failed agent message), room (players or agents changed). " +
            "Resuming with Last-Event-ID gives every missed message the room still keeps, once each and in order, then one room event " +
            "with the current players and agents if those changed too; a room snapshot only when the gap reaches before trimmedBefore " +
            "(read the messages after your last seq). A player's stream ends when it is removed from the room. Also delta " +
            "{agentId, inReplyTo, text}: a reply's text while it is generated (Agents:Streaming), a hint sent without id, never " +
            "stored or replayed; joined, the deltas of one (agentId, inReplyTo) are its message's text unless some were lost. " +
            "Browsers: pass ?ticket= from POST /api/stream-tickets instead of a key header",
            "404 room.not_found");
        return routes;
    }

    /// <summary>Whether the caller may read room <paramref name="roomCode"/>: any key that reads rooms, a player's only while it is a player of it.</summary>
    public static async Task<bool> MayReadAsync(HttpContext http, string roomCode) =>
        !http.User.IsInRole(Roles.Player)
        || (await Room(http.RequestServices.GetRequiredService<GrainLookup>(), roomCode).GetAsync()).Players.Contains(Access.Subject(http.User));

    /// <summary>Clients read any room; a player only the rooms it is a player of (checked against the room itself).</summary>
    private static RouteHandlerBuilder AsRoomReader(this RouteHandlerBuilder builder) => builder.RequireAuthorization(Access.ReadRooms)
        .AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            if (http.Request.RouteValues["roomCode"] is string roomCode && !await MayReadAsync(http, roomCode))
            {
                await Problems.WriteAsync(http, 403, "forbidden", "Forbidden", "A player key may read only the rooms it is a player of.");
                return Results.Empty;
            }

            return await next(context);
        });

    public static async Task<Ok<RoomResponse>> Put(string roomCode, PutRoomRequest body, GrainLookup grains, HttpRequest request, HttpResponse response)
    {
        var agents = body.Agents!.Select(a => new AgentDefinition(a!.AgentId!, a.Name!, a.Persona!)).ToList();
        return Respond(response, await Room(grains, roomCode).PutAsync(agents, body.ReplyPolicy ?? "all", request.IfMatch()));
    }

    public static async Task<Ok<RoomResponse>> Get(string roomCode, GrainLookup grains, HttpResponse response) =>
        Respond(response, await Room(grains, roomCode).GetAsync());

    public static async Task<Ok<RoomResponse>> Join(string roomCode, string playerId, GrainLookup grains, HttpRequest request, HttpResponse response) =>
        Respond(response, await Room(grains, roomCode).JoinAsync(playerId, request.IfMatch()));

    public static async Task<Ok<RoomResponse>> Leave(string roomCode, string playerId, GrainLookup grains, HttpRequest request, HttpResponse response) =>
        Respond(response, await Room(grains, roomCode).LeaveAsync(playerId, request.IfMatch()));

    public static async Task<Results<Created<PostMessageResponse>, Ok<PostMessageResponse>>> Post(string roomCode, PostMessageRequest body, GrainLookup grains)
    {
        var result = await Room(grains, roomCode).PostAsync(body.SenderId!, body.Text!, body.ClientMessageId, body.AgentIds);
        var answer = new PostMessageResponse(result.Seq, result.TriggeredAgents, result.SkippedAgents);
        return result.Created
            ? TypedResults.Created($"/api/rooms/{roomCode}/messages?after={result.Seq - 1}&limit=1", answer)
            : TypedResults.Ok(answer);
    }

    public static async Task<Ok<MessagePageResponse>> Messages(string roomCode, [Range(0, long.MaxValue)] long? after,
        [Range(1, MaxLimit)] int? limit, GrainLookup grains)
    {
        // Also checked here: the grain must never be asked for a negative page, whatever validation runs before.
        if (after is < 0 || limit is < 1 or > MaxLimit)
        {
            throw DomainException.Invalid(after is < 0 ? "after" : "limit", $"after must be 0 or more, limit from 1 to {MaxLimit}.");
        }

        var page = await Room(grains, roomCode).GetMessagesAsync(after ?? 0, limit ?? DefaultLimit);
        return TypedResults.Ok(new MessagePageResponse(page.Messages.Select(MessageResponse.From).ToList(), page.TrimmedBefore));
    }

    public static Task Events(string roomCode, GrainLookup grains, HttpContext http)
    {
        // A player's stream ends at the first event that shows it removed (a room event lists the players): it must not
        // see the room's messages once it is no longer a player.
        var player = http.User.IsInRole(Roles.Player) ? Access.Subject(http.User) : null;
        return SseRelay.RelayAsync(http, StreamId.Create(LiveStreams.Rooms, roomCode), Room(grains, roomCode).GetEventsAsync, change =>
            change.Message is { } message ? MessageResponse.From(message)
            : change.Agent is { } agent ? AgentResponse.From(agent)
            : (object)RoomResponse.From(change.Room!),
            player is null ? null : change => change.Room is not { } room || room.Players.Contains(player),
            new DeltaFeeds.Source(StreamId.Create(LiveStreams.RoomDeltas, roomCode), RoomDeltaResponse.From));
    }

    private static IRoomGrain Room(GrainLookup grains, string roomCode) => grains.Get<IRoomGrain>(roomCode);

    private static Ok<RoomResponse> Respond(HttpResponse response, RoomView room)
    {
        response.SetETag(room.Version);
        return TypedResults.Ok(RoomResponse.From(room));
    }
}

public sealed record PutRoomRequest(
    [property: Required, Length(1, RoomApi.MaxAgents)] List<AgentRequest?>? Agents,
    [property: AllowedValues("all", null, ErrorMessage = "replyPolicy must be \"all\".")] string? ReplyPolicy) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < (Agents?.Count ?? 0); i++)
        {
            if (Agents![i] is not { } agent)
            {
                yield return new("an agent must be an object.", [$"agents[{i}]"]);
            }
            else if (agent.AgentId is { } id && !seen.Add(id))
            {
                yield return new($"agentId '{id}' appears more than once.", [$"agents[{i}].agentId"]);
            }
        }
    }
}

public sealed record AgentRequest(
    [property: Required, RegularExpression(IdValidation.Pattern, ErrorMessage = "agentId " + IdValidation.Message)] string? AgentId,
    [property: Required, StringLength(RoomApi.MaxNameChars)] string? Name,
    [property: Required, StringLength(RoomApi.MaxPersonaChars)] string? Persona);

public sealed record PostMessageRequest(
    [property: Required, RegularExpression(IdValidation.Pattern, ErrorMessage = "senderId " + IdValidation.Message)] string? SenderId,
    [property: Required, StringLength(Limits.MaxTextChars)] string? Text,
    [property: StringLength(RoomApi.MaxClientMessageIdChars, MinimumLength = 1)] string? ClientMessageId,
    [property: MaxLength(RoomApi.MaxAgents)] List<string>? AgentIds) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (ClientMessageId is { } id && id.Any(char.IsControl))
        {
            yield return new("clientMessageId must be printable characters.", [nameof(ClientMessageId)]);
        }

        for (var i = 0; i < (AgentIds?.Count ?? 0); i++)
        {
            if (!IdValidation.IsValid(AgentIds![i]))
            {
                yield return new($"agentIds items {IdValidation.Message}", [$"{nameof(AgentIds)}[{i}]"]);
            }
        }
    }
}

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

/// <summary>A piece of an agent's reply to <c>inReplyTo</c> while it is generated.</summary>
public sealed record RoomDeltaResponse(string AgentId, long InReplyTo, string Text)
{
    public static RoomDeltaResponse From(ReplyDelta d) =>
        new(d.Slot, long.Parse(d.RequestId, System.Globalization.CultureInfo.InvariantCulture), d.Text);
}

public sealed record MessagePageResponse(IReadOnlyList<MessageResponse> Messages, long TrimmedBefore);
