using Lectures.Api.LiveUpdates;
using Lectures.Api.Validation;
using System.ComponentModel.DataAnnotations;
using Lectures.Api.Infrastructure;
using Lectures.Api.Security;
using Lectures.Grains.Common;
using Lectures.Grains.Sessions;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Lectures.Api.Sessions;

public static class SessionApi
{
    // Each wait call stays well inside Orleans' 30 s response timeout; a longer wait (a queued request) loops.
    private static readonly TimeSpan WaitSlice = TimeSpan.FromSeconds(20);

    public static IEndpointRouteBuilder MapSessionApi(this IEndpointRouteBuilder routes)
    {
        // Only the user itself (its key's subject is the userId) or an admin.
        var users = routes.MapGroup("/api/users/{userId}").WithTags("User sessions").ValidateIds().RequireAuthorization(Access.User);

        users.MapPost("/messages", Send).Describe("sendUserMessage",
            "Send a message; wait=true (default) answers with the reply, wait=false 202 with the request id and queue position",
            ["409 session.busy", "429 session.queue_full", "429 rate_limited.user", "429 rate_limited.global", "504 session.timeout",
                "502 session.responder_failed", "409 session.cancelled", .. OpenApiConventions.Body])
            .WithRequestTimeout(EdgeProtection.SessionMessages);
        users.MapPost("/cancel", Cancel).Describe("cancelUserRequest", "Stop the request in flight; the next queued one starts");
        users.MapPost("/clear", Clear).Describe("clearUserSession", "In one step: cancel the request in flight, drop the queue, empty the history");
        users.MapGet("/session", Get).Describe("getUserSession", "The session: status, request in flight, queue length, history", "404 session.not_found");
        users.MapGet("/events", Events).EventStream().Describe("streamUserSessionEvents",
            "Server-Sent Events: reply, status. Resuming with Last-Event-ID gives every missed reply the history still holds, once each and in order, " +
            "then one status event if the status changed too; a status snapshot only when the gap reaches a reply no longer in the history. " +
            "Also delta {requestId, text}: the reply's text while it is generated (Sessions:Streaming), a hint sent without id, never stored " +
            "or replayed; joined, the deltas of one request are its reply unless some were lost or the reply was cut. Browsers: pass ?ticket= " +
            "from POST /api/stream-tickets instead of a key header");
        return routes;
    }

    public static async Task<Results<Ok<ReplyResponse>, Accepted<AcceptedResponse>, ProblemHttpResult>> Send(
        string userId, SendMessageRequest body, string? wait, GrainLookup grains, HttpContext http)
    {
        var waitMode = wait?.ToLowerInvariant() switch
        {
            null or "true" => true,
            "false" => false,
            _ => throw DomainException.Invalid("wait", "wait must be true or false."),
        };

        var session = grains.Get<IUserSessionGrain>(userId);
        var sent = await session.SendAsync(body.Text!);
        switch (sent.Outcome)
        {
            case SendOutcome.RateLimitedUser:
                return TooMany(http, SessionErrors.RateLimitedUser, "This user's message rate limit is exhausted.", sent.RetryAfter);
            case SendOutcome.RateLimitedGlobal:
                return TooMany(http, SessionErrors.RateLimitedGlobal, "The service-wide message rate limit is exhausted.", sent.RetryAfter);
            case SendOutcome.QueueFull:
                return TooMany(http, SessionErrors.QueueFull, "This user's queue of waiting messages is full.", sent.RetryAfter);
        }

        var requestId = sent.RequestId!;
        if (!waitMode)
        {
            return TypedResults.Accepted($"/api/users/{userId}/session", new AcceptedResponse(requestId, sent.Status, sent.Position));
        }

        while (true)
        {
            var outcome = await session.WaitAsync(requestId, WaitSlice, http.RequestAborted);
            switch (outcome?.Status)
            {
                case RequestStatus.Completed:
                    return TypedResults.Ok(new ReplyResponse(requestId, outcome.Reply ?? "", RequestStatus.Completed));
                case RequestStatus.Timeout:
                    return Problem(504, SessionErrors.Timeout, "Gateway timeout", "The reply took longer than Sessions:ResponseTimeout and was cancelled.", requestId);
                case RequestStatus.Failed:
                    return Problem(502, SessionErrors.ResponderFailed, "Bad gateway", "The responder failed to produce a reply.", requestId);
                case RequestStatus.Cancelled:
                    return Problem(409, SessionErrors.Cancelled, "Conflict", "The request was cancelled or the session cleared before the reply.", requestId);
            }
        }
    }

    public static async Task<Ok<CancelResponse>> Cancel(string userId, GrainLookup grains)
    {
        var result = await grains.Get<IUserSessionGrain>(userId).CancelAsync();
        return TypedResults.Ok(new CancelResponse(result.Cancelled, result.RequestId));
    }

    public static async Task<Ok<ClearResponse>> Clear(string userId, GrainLookup grains)
    {
        var result = await grains.Get<IUserSessionGrain>(userId).ClearAsync();
        return TypedResults.Ok(new ClearResponse(result.Cancelled, result.Cleared));
    }

    public static async Task<Ok<UserSessionResponse>> Get(string userId, GrainLookup grains) =>
        TypedResults.Ok(UserSessionResponse.From(await grains.Get<IUserSessionGrain>(userId).GetAsync()));

    public static Task Events(string userId, GrainLookup grains, HttpContext http) =>
        SseRelay.RelayAsync(http, StreamId.Create(LiveStreams.Sessions, userId), grains.Get<IUserSessionGrain>(userId).GetEventsAsync,
            SessionEventResponse.From, deltaSource: new DeltaFeeds.Source(StreamId.Create(LiveStreams.SessionDeltas, userId), SessionDeltaResponse.From));

    private static ProblemHttpResult TooMany(HttpContext http, string code, string detail, TimeSpan retryAfter)
    {
        // Every 429 says when to retry: a full queue frees a place once the request in flight ends (ResponseTimeout at most).
        http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Problem(429, code, "Too many requests", detail);
    }

    private static ProblemHttpResult Problem(int status, string code, string title, string detail, string? requestId = null)
    {
        var extensions = new Dictionary<string, object?> { ["code"] = code };
        if (requestId is not null)
        {
            extensions["requestId"] = requestId;
        }

        return TypedResults.Problem(detail, statusCode: status, title: title, extensions: extensions);
    }
}

/// <summary>A piece of the reply to <c>requestId</c> while it is generated.</summary>
public sealed record SessionDeltaResponse(string RequestId, string Text)
{
    public static SessionDeltaResponse From(ReplyDelta d) => new(d.RequestId, d.Text);
}

public sealed record SendMessageRequest([property: Required, StringLength(Limits.MaxTextChars)] string? Text);

public sealed record ReplyResponse(string RequestId, string Reply, RequestStatus Status);

public sealed record AcceptedResponse(string RequestId, RequestStatus Status, int Position);

public sealed record CancelResponse(bool Cancelled, string? RequestId);

public sealed record ClearResponse(bool Cancelled, bool Cleared);

public enum SessionStatus { Idle, Processing }

public sealed record HistoryEntryResponse(HistoryRole Role, string Text, string RequestId, RequestStatus Status, DateTimeOffset At);

public sealed record UserSessionResponse(
    string UserId, SessionStatus Status, string? ActiveRequestId, int Queued, IReadOnlyList<HistoryEntryResponse> History,
    DateTimeOffset CreatedAt, DateTimeOffset LastActiveAt)
{
    public static UserSessionResponse From(SessionView s) => new(
        s.UserId, s.Processing ? SessionStatus.Processing : SessionStatus.Idle, s.ActiveRequestId, s.Queued,
        s.History.Select(e => new HistoryEntryResponse(e.Role, e.Text, e.RequestId, e.Status, e.At)).ToList(), s.CreatedAt, s.LastActiveAt);
}

/// <summary>A live event: the request it is about (if any), its status, the reply (reply events), and the session's status after it.</summary>
public sealed record SessionEventResponse(string? RequestId, RequestStatus? Status, string? Reply, SessionStatus SessionStatus,
    string? ActiveRequestId, int Queued, DateTimeOffset At)
{
    public static SessionEventResponse From(SessionEvent e) => new(
        e.RequestId, e.Status, e.Reply, e.Processing ? SessionStatus.Processing : SessionStatus.Idle, e.ActiveRequestId, e.Queued, e.At);
}
