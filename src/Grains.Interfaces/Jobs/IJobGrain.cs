using Orleans.Concurrency;
using Lectures.Grains.Common;

namespace Lectures.Grains.Jobs;

/// <summary>One long-running job (key: job id): status, progress, owner, heartbeat, stall detection.</summary>
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>Creates the job, or returns it unchanged when it exists with the same kind and input.</summary>
    Task<CreateJobResult> CreateAsync(string kind, string? inputJson);

    /// <summary>The job as last written: never waits for a write in flight (its change is not acknowledged yet).</summary>
    [AlwaysInterleave]
    Task<JobView> GetAsync();

    Task<JobView> StartAsync(string workerId, IfMatch? ifMatch = null);

    Task<ProgressResult> ReportProgressAsync(string workerId, double progress, string? message, IfMatch? ifMatch = null);

    Task<JobView> HeartbeatAsync(string workerId);

    Task<JobView> CompleteAsync(string workerId, string? resultJson, IfMatch? ifMatch = null);

    Task<JobView> FailAsync(string workerId, string error, IfMatch? ifMatch = null);

    Task<JobView> CancelAsync(IfMatch? ifMatch = null);

    /// <summary>The durable events after <paramref name="afterId"/> (or a snapshot); live events come from the job's stream (<see cref="LiveStreams.Jobs"/>).</summary>
    [AlwaysInterleave]
    Task<EventBatch<JobView>> GetEventsAsync(long afterId, CancellationToken cancellationToken = default);
}

public enum JobStatus { Queued, Processing, Completed, Failed, Cancelled }

[GenerateSerializer, Immutable, Alias("jobs.view")]
public sealed record JobView(
    [property: Id(0)] string JobId,
    [property: Id(1)] string Kind,
    [property: Id(2)] JobStatus Status,
    [property: Id(3)] double Progress,
    [property: Id(4)] string? Message,
    [property: Id(5)] string? WorkerId,
    [property: Id(6)] string? InputJson,
    [property: Id(7)] string? ResultJson,
    [property: Id(8)] string? Error,
    [property: Id(9)] DateTimeOffset CreatedAt,
    [property: Id(10)] DateTimeOffset? StartedAt,
    [property: Id(11)] DateTimeOffset? LastHeartbeat,
    [property: Id(12)] DateTimeOffset? CompletedAt,
    [property: Id(13)] long Version)
{
    public bool IsTerminal => Status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled;
}

[GenerateSerializer, Immutable, Alias("jobs.create-result")]
public sealed record CreateJobResult([property: Id(0)] bool Created, [property: Id(1)] JobView Job);

[GenerateSerializer, Immutable, Alias("jobs.progress-result")]
public sealed record ProgressResult([property: Id(0)] bool Applied, [property: Id(1)] JobView Job);

public static class JobErrors
{
    public const string NotFound = "job.not_found";
    public const string Exists = "job.exists";
    public const string Claimed = "job.claimed";
    public const string Terminal = "job.terminal";
    public const string NotOwner = "job.not_owner";
    public const string NotStarted = "job.not_started";
    /// <summary>The <c>error</c> of a job failed by stall detection.</summary>
    public const string Stalled = "stalled";
}
