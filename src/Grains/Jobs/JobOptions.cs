namespace Lectures.Grains.Jobs;

public sealed class JobOptions
{
    public const string Section = "Jobs";

    /// <summary>A processing job silent (no heartbeat, no progress) for this long becomes failed/stalled.</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How far the stored heartbeat may lag the real one, and how often the stall reminder ticks.</summary>
    public TimeSpan LazyHeartbeatWindow => TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, HeartbeatTimeout.Ticks / 3));
}
