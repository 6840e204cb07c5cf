namespace Lectures.Grains.Jobs;

/// <summary>
/// A job as stored. Immutable: every change makes a new value (see <see cref="JobRules"/>), so a write carries the
/// job exactly as it was when its batch closed, whatever calls run while the write is in flight.
/// </summary>
[GenerateSerializer, Immutable, Alias("jobs.state")]
public sealed record JobState
{
    [Id(0)] public bool Exists { get; init; }
    [Id(1)] public string Kind { get; init; } = "";
    [Id(2)] public string? InputJson { get; init; }
    [Id(3)] public JobStatus Status { get; init; }
    [Id(4)] public double Progress { get; init; }
    [Id(5)] public string? Message { get; init; }
    [Id(6)] public string? WorkerId { get; init; }
    [Id(7)] public string? ResultJson { get; init; }
    [Id(8)] public string? Error { get; init; }
    [Id(9)] public DateTimeOffset CreatedAt { get; init; }
    [Id(10)] public DateTimeOffset? StartedAt { get; init; }
    /// <summary>Last sign of life (heartbeat or report). Persisted lazily for heartbeats, see <see cref="JobGrain.HeartbeatAsync"/>.</summary>
    [Id(11)] public DateTimeOffset? LastHeartbeat { get; init; }
    [Id(12)] public DateTimeOffset? CompletedAt { get; init; }
    /// <summary>Bumped by every change a client can observe except signs of life; the ETag and the SSE event id.</summary>
    [Id(13)] public long Version { get; init; }

    public bool IsTerminal => Status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled;
}
