namespace Lectures.Grains.Common;

/// <summary>
/// The Orleans stream each grain publishes its durable changes to (provider <see cref="Provider"/>, namespace per
/// feature, key = the grain's key). API silos subscribe once per watched grain and fan events out to their SSE clients.
/// </summary>
public static class LiveStreams
{
    public const string Provider = "events";
    public const string Jobs = "jobs";
    public const string Lectures = "lectures";
    public const string Rooms = "rooms";
    public const string Sessions = "sessions";

    /// <summary>
    /// Reply text while it is generated (<see cref="ReplyDelta"/>), on streams of their own: hints without ids, so they
    /// never mix with the resumable sequence of the namespaces above.
    /// </summary>
    public const string RoomDeltas = "rooms.deltas";
    public const string SessionDeltas = "sessions.deltas";
}
