using Lectures.Grains.Common;
using Orleans.Concurrency;

namespace Lectures.Grains.Sessions;

/// <summary>
/// One chatbot user's session (key: user id): history, the request in flight, the queue and the user's token bucket.
/// At most one request is processed at a time; generation runs in a worker outside the session's turns (see
/// <see cref="IGenerationWorkerGrain"/>), so cancel, clear and reads are served while a reply is being generated.
/// </summary>
public interface IUserSessionGrain : IGrainWithStringKey, IGenerationOwner
{
    /// <summary>
    /// Rate limits first (every message costs a token), then the busy check and the mark in one step. Returns once the
    /// accepted request is durable; a busy session (Drop) is refused with <see cref="SessionErrors.Busy"/>.
    /// </summary>
    Task<SendResult> SendAsync(string text);

    /// <summary>
    /// The outcome of <paramref name="requestId"/>, waiting up to <paramref name="maxWait"/> for it; null while it is
    /// still queued or processing. Callers loop with short waits so no call comes near Orleans' response timeout.
    /// </summary>
    // Interleaves, safe by inspection: it reads the state as last written and only registers a waiter.
    [AlwaysInterleave]
    Task<RequestOutcome?> WaitAsync(string requestId, TimeSpan maxWait, CancellationToken cancellationToken = default);

    /// <summary>Stops the request in flight (recorded as cancelled); the next queued request starts.</summary>
    Task<CancelResult> CancelAsync();

    /// <summary>In one step: cancels the request in flight, drops the queue and empties the history.</summary>
    Task<ClearResult> ClearAsync();

    // Interleaves, safe by inspection: it answers from the state as last written and changes nothing.
    [AlwaysInterleave]
    Task<SessionView> GetAsync();

    /// <summary>The durable events after <paramref name="afterId"/> (or a snapshot); live events come from the session's stream (<see cref="LiveStreams.Sessions"/>).</summary>
    // Interleaves, safe by inspection: it reads the state as last written and the event log, and changes nothing.
    [AlwaysInterleave]
    Task<EventBatch<SessionEvent>> GetEventsAsync(long afterId, CancellationToken cancellationToken = default);
}

public enum BusyPolicy { Drop, Queue }

public enum RequestStatus { Queued, Processing, Completed, Cancelled, Timeout, Failed }

public enum HistoryRole { User, Assistant }

public enum SendOutcome { Accepted, QueueFull, RateLimitedUser, RateLimitedGlobal }

[GenerateSerializer, Immutable, Alias("sessions.send-result")]
public sealed record SendResult(
    [property: Id(0)] SendOutcome Outcome,
    [property: Id(1)] string? RequestId,
    [property: Id(2)] RequestStatus Status,
    [property: Id(3)] int Position,
    [property: Id(4)] TimeSpan RetryAfter);

[GenerateSerializer, Immutable, Alias("sessions.outcome")]
public sealed record RequestOutcome([property: Id(0)] string RequestId, [property: Id(1)] RequestStatus Status, [property: Id(2)] string? Reply);

[GenerateSerializer, Immutable, Alias("sessions.cancel-result")]
public sealed record CancelResult([property: Id(0)] bool Cancelled, [property: Id(1)] string? RequestId);

[GenerateSerializer, Immutable, Alias("sessions.clear-result")]
public sealed record ClearResult([property: Id(0)] bool Cancelled, [property: Id(1)] bool Cleared);

[GenerateSerializer, Immutable, Alias("sessions.entry")]
public sealed record HistoryEntryView(
    [property: Id(0)] HistoryRole Role,
    [property: Id(1)] string Text,
    [property: Id(2)] string RequestId,
    [property: Id(3)] RequestStatus Status,
    [property: Id(4)] DateTimeOffset At);

[GenerateSerializer, Immutable, Alias("sessions.view")]
public sealed record SessionView(
    [property: Id(0)] string UserId,
    [property: Id(1)] bool Processing,
    [property: Id(2)] string? ActiveRequestId,
    [property: Id(3)] int Queued,
    [property: Id(4)] IReadOnlyList<HistoryEntryView> History,
    [property: Id(5)] DateTimeOffset CreatedAt,
    [property: Id(6)] DateTimeOffset LastActiveAt);

/// <summary>
/// A live event: <c>status</c> (a request's status changed; with no request id, a snapshot of the session) or
/// <c>reply</c> (the assistant's reply landed in the history).
/// </summary>
[GenerateSerializer, Immutable, Alias("sessions.event")]
public sealed record SessionEvent(
    [property: Id(0)] string? RequestId,
    [property: Id(1)] RequestStatus? Status,
    [property: Id(2)] string? Reply,
    [property: Id(3)] bool Processing,
    [property: Id(4)] string? ActiveRequestId,
    [property: Id(5)] int Queued,
    [property: Id(6)] DateTimeOffset At);

public static class SessionErrors
{
    public const string NotFound = "session.not_found";
    public const string Busy = "session.busy";
    public const string QueueFull = "session.queue_full";
    public const string Timeout = "session.timeout";
    public const string ResponderFailed = "session.responder_failed";
    public const string Cancelled = "session.cancelled";
    public const string RateLimitedUser = "rate_limited.user";
    public const string RateLimitedGlobal = "rate_limited.global";
}
