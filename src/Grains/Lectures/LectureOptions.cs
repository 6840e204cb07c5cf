using System.ComponentModel.DataAnnotations;

namespace Lectures.Grains.Lectures;

/// <summary>Bound from <c>Lectures</c> and validated at start-up (see <c>ProductSilo.AddProductGrainServices</c>).</summary>
public sealed class LectureOptions
{
    public const string Section = "Lectures";

    /// <summary>How long a session start's <c>Idempotency-Key</c> is remembered.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00", ErrorMessage = "Lectures:IdempotencyWindow must be from 00:00:01 to 365.00:00:00.")]
    public TimeSpan IdempotencyWindow { get; set; } = TimeSpan.FromDays(1);
}
