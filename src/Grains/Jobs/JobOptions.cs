using System.ComponentModel.DataAnnotations;

namespace Lectures.Grains.Jobs;

/// <summary>Bound from <c>Jobs</c> and validated at start-up (see <c>ProductSilo.AddProductGrainServices</c>).</summary>
public sealed class JobOptions
{
    public const string Section = "Jobs";

    /// <summary>A processing job silent (no heartbeat, no progress) for this long becomes failed/stalled.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00", ErrorMessage = "Jobs:HeartbeatTimeout must be from 00:00:01 to 1.00:00:00.")]
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How far the stored heartbeat may lag the real one, and how often the stall reminder ticks.</summary>
    public TimeSpan LazyHeartbeatWindow => TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, HeartbeatTimeout.Ticks / 3));
}
