using System.ComponentModel.DataAnnotations;
using Lectures.Grains.Ai;

namespace Lectures.Grains.Rooms;

/// <summary>
/// Bound from <c>Agents</c> and validated at start-up: the responder (see <see cref="ResponderOptions"/>) and how
/// room agents use it.
/// </summary>
public sealed class AgentOptions : ResponderOptions
{
    public const string Section = "Agents";

    protected override string SectionName => Section;

    /// <summary>A generation not finished after this long ends the pair as failed/<c>timeout</c>.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00", ErrorMessage = "Agents:ResponseTimeout must be from 00:00:01 to 00:10:00.")]
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many of the room's latest messages go into a reply's prompt.</summary>
    [Range(1, 1000, ErrorMessage = "Agents:ContextMessages must be from 1 to 1000.")]
    public int ContextMessages { get; set; } = 20;

    /// <summary>
    /// A pair still responding this long after it was triggered has lost its generation (its silo died, or its
    /// report got lost) and is ended as failed/<c>interrupted</c>. A live worker reports a timeout at
    /// <see cref="ResponseTimeout"/>; the margin leaves room for that report to arrive first.
    /// </summary>
    public TimeSpan LostAfter => ResponseTimeout + TimeSpan.FromSeconds(5);

    /// <summary>How often the room's reminder checks for lost generations while an agent is responding.</summary>
    public TimeSpan CheckPeriod => TimeSpan.FromTicks(Math.Clamp(ResponseTimeout.Ticks / 4, TimeSpan.TicksPerSecond, 5 * TimeSpan.TicksPerSecond));
}

/// <summary>Bound from <c>Rooms</c> and validated at start-up.</summary>
public sealed class RoomOptions
{
    public const string Section = "Rooms";

    /// <summary>The grain storage of rooms (their records and message pages); deletes a replaced page's record.</summary>
    public const string Storage = "rooms";

    /// <summary>A room keeps its latest this many messages, so its stored state stays bounded.</summary>
    [Range(1, 100_000, ErrorMessage = "Rooms:MaxMessages must be from 1 to 100000.")]
    public int MaxMessages { get; set; } = 1000;

    /// <summary>How long a post's (sender, clientMessageId) is remembered, whether or not its message is still kept.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00", ErrorMessage = "Rooms:IdempotencyWindow must be from 00:00:01 to 365.00:00:00.")]
    public TimeSpan IdempotencyWindow { get; set; } = TimeSpan.FromDays(1);
}
