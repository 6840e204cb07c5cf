using System.ComponentModel.DataAnnotations;
using Lectures.Grains.Ai;

namespace Lectures.Grains.Sessions;

/// <summary>Bound from <c>Sessions</c> and validated at start-up; the responder keys are those of <see cref="ResponderOptions"/>.</summary>
public sealed class SessionOptions : ResponderOptions
{
    public const string Section = "Sessions";

    /// <summary>The key of the sessions' <c>IChatClient</c>.</summary>
    public const string ResponderKey = "Sessions";

    /// <summary>The grain storage of sessions (Redis: deletes on clear, for idle expiry).</summary>
    public const string Storage = "sessions";

    protected override string SectionName => Section;

    /// <summary>What a message gets while another is in flight: 409 <c>session.busy</c> (Drop) or a place in the queue.</summary>
    public BusyPolicy BusyPolicy { get; set; } = BusyPolicy.Drop;

    [Range(1, 1000, ErrorMessage = "Sessions:MaxQueue must be from 1 to 1000.")]
    public int MaxQueue { get; set; } = 5;

    [Range(typeof(TimeSpan), "00:00:01", "00:10:00", ErrorMessage = "Sessions:ResponseTimeout must be from 00:00:01 to 00:10:00.")]
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    [Range(typeof(TimeSpan), "00:00:01", "3650.00:00:00", ErrorMessage = "Sessions:IdleExpiry must be from 00:00:01 to 3650.00:00:00.")]
    public TimeSpan IdleExpiry { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How many recent history entries go to the model as context.</summary>
    [Range(0, 200, ErrorMessage = "Sessions:ContextMessages must be from 0 to 200.")]
    public int ContextMessages { get; set; } = 20;

    /// <summary>How many history entries a session keeps (oldest dropped first).</summary>
    [Range(10, 10_000, ErrorMessage = "Sessions:MaxHistory must be from 10 to 10000.")]
    public int MaxHistory { get; set; } = 200;

    /// <summary>How often a session with a request in flight checks for one lost with its silo.</summary>
    public TimeSpan RecoveryPeriod => TimeSpan.FromSeconds(Math.Clamp(ResponseTimeout.TotalSeconds / 3, 1, 5));

    /// <summary>How often an active session checks whether it has been idle for <see cref="IdleExpiry"/>.</summary>
    public TimeSpan IdleCheckPeriod => TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, IdleExpiry.Ticks / 4));
}
