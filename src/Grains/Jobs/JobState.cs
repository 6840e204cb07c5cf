namespace Lectures.Grains.Jobs;

[GenerateSerializer, Alias("jobs.state")]
public sealed class JobState
{
    [Id(0)] public bool Exists { get; set; }
    [Id(1)] public string Kind { get; set; } = "";
    [Id(2)] public string? InputJson { get; set; }
    [Id(3)] public JobStatus Status { get; set; }
    [Id(4)] public double Progress { get; set; }
    [Id(5)] public string? Message { get; set; }
    [Id(6)] public string? WorkerId { get; set; }
    [Id(7)] public string? ResultJson { get; set; }
    [Id(8)] public string? Error { get; set; }
    [Id(9)] public DateTimeOffset CreatedAt { get; set; }
    [Id(10)] public DateTimeOffset? StartedAt { get; set; }
    /// <summary>Last sign of life (heartbeat or progress). Persisted lazily for heartbeats, see <see cref="JobGrain.HeartbeatAsync"/>.</summary>
    [Id(11)] public DateTimeOffset? LastHeartbeat { get; set; }
    [Id(12)] public DateTimeOffset? CompletedAt { get; set; }
    /// <summary>Bumped by every change a client can observe except heartbeats; the ETag and the SSE event id.</summary>
    [Id(13)] public long Version { get; set; }

    public bool IsTerminal => Status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled;
}
