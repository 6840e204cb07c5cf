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

    public override IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var result in base.Validate(validationContext))
        {
            yield return result;
        }

        if (BusyPolicy == BusyPolicy.Queue && WaitBudget > WaitCeiling)
        {
            yield return new($"(Sessions:MaxQueue + 1) x Sessions:ResponseTimeout + 15 s must be at most {WaitCeiling:c}: a wait-mode message " +
                $"could wait {WaitBudget:c}. Lower Sessions:MaxQueue or Sessions:ResponseTimeout.", [nameof(MaxQueue), nameof(ResponseTimeout)]);
        }
    }

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

    /// <summary>The longest reply stored; a longer one is cut and ends with <see cref="SessionRules.CutMarker"/>.</summary>
    [Range(100, 1_000_000, ErrorMessage = "Sessions:MaxReplyChars must be from 100 to 1000000.")]
    public int MaxReplyChars { get; set; } = 32_000;

    /// <summary>The longest a wait-mode send may be given (<see cref="WaitBudget"/>); beyond it the host does not start.</summary>
    public static readonly TimeSpan WaitCeiling = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long a wait-mode send may wait: every queued request before it and its own may each take ResponseTimeout,
    /// plus a margin for the hand-overs ((MaxQueue + 1) x ResponseTimeout + 15 s; with Drop, one request's). The message route's request timeout is this, so a queued message is answered
    /// with its outcome, never with a 503 from the edge.
    /// </summary>
    public TimeSpan WaitBudget => (BusyPolicy == BusyPolicy.Queue ? MaxQueue + 1 : 1) * ResponseTimeout + TimeSpan.FromSeconds(15);

    /// <summary>
    /// A request still in flight this long after it was marked has lost its generation (its silo died, or its report
    /// could not be stored in time) and is ended as failed. The worker reports a timeout at ResponseTimeout and keeps
    /// reporting until this moment.
    /// </summary>
    public TimeSpan LostAfter => ResponseTimeout + TimeSpan.FromSeconds(5);

    /// <summary>How often a session with a request in flight checks for one lost with its silo.</summary>
    public TimeSpan RecoveryPeriod => TimeSpan.FromSeconds(Math.Clamp(ResponseTimeout.TotalSeconds / 3, 1, 5));

    /// <summary>How often an active session checks whether it has been idle for <see cref="IdleExpiry"/>.</summary>
    public TimeSpan IdleCheckPeriod => TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, IdleExpiry.Ticks / 4));
}
