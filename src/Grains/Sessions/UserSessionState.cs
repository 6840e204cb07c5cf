using System.Collections.Immutable;
using Lectures.Grains.Common;

namespace Lectures.Grains.Sessions;

/// <summary>
/// A user's session as the rules see it (<see cref="SessionRules"/>). Immutable: every change makes a new value, so
/// nothing keeps a reference to a state that a deletion or a failed write has replaced. <see cref="History"/> holds
/// queued requests too (status queued); it is stored in pages (<see cref="PagedHistory{T}"/>), the rest in
/// <see cref="SessionRecord"/>.
/// </summary>
public sealed record SessionState
{
    public static readonly SessionState Empty = new();

    public bool Exists { get; init; }
    /// <summary>Where this incarnation's event ids start (clock-derived, so a session created after a deletion continues above the deleted one's ids); also names its history pages.</summary>
    public long Incarnation { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset LastActiveAt { get; init; }
    /// <summary>The request in flight; recorded durably before it is acknowledged, so a lost one is found after a crash.</summary>
    public string? ActiveRequestId { get; init; }
    /// <summary>When the request in flight was marked: its deadline and its loss check count from here.</summary>
    public DateTimeOffset? ActiveSince { get; init; }
    /// <summary>Queued request ids, in order; their text is in their history entries.</summary>
    public ImmutableList<string> Queue { get; init; } = [];
    public ImmutableList<HistoryEntry> History { get; init; } = [];
    /// <summary>The absolute index of <see cref="History"/>'s first entry (entries before it were trimmed).</summary>
    public long HistoryStart { get; init; }
    /// <summary>The per-user bucket; written with every accepted message (a crash can forget the refused ones' tokens).</summary>
    public double BucketTokens { get; init; }
    public DateTimeOffset BucketUpdatedAt { get; init; }
    /// <summary>The id of the last live event, so ids keep increasing across activations.</summary>
    public long EventSeq { get; init; }
    /// <summary>The highest event id of a reply dropped from the history (trimmed or cleared): a client behind it gets a snapshot.</summary>
    public long TrimmedEventId { get; init; }

    public SessionRecord ToRecord(ImmutableArray<HistoryPageRef> pages) => new()
    {
        Exists = Exists, Incarnation = Incarnation, CreatedAt = CreatedAt, LastActiveAt = LastActiveAt, ActiveRequestId = ActiveRequestId,
        ActiveSince = ActiveSince, Queue = [.. Queue], HistoryStart = HistoryStart, HistoryPages = [.. pages], BucketTokens = BucketTokens,
        BucketUpdatedAt = BucketUpdatedAt, EventSeq = EventSeq, TrimmedEventId = TrimmedEventId,
    };

    public static SessionState FromRecord(SessionRecord r, ImmutableList<HistoryEntry> history) => new()
    {
        Exists = r.Exists, Incarnation = r.Incarnation, CreatedAt = r.CreatedAt, LastActiveAt = r.LastActiveAt, ActiveRequestId = r.ActiveRequestId,
        ActiveSince = r.ActiveSince, Queue = [.. r.Queue], History = history, HistoryStart = r.HistoryStart, BucketTokens = r.BucketTokens,
        BucketUpdatedAt = r.BucketUpdatedAt, EventSeq = r.EventSeq, TrimmedEventId = r.TrimmedEventId,
    };
}

/// <summary>
/// What the session's record stores: everything but the history's text, which is in pages the record lists, so the
/// record that every change rewrites stays small however long the history grows.
/// </summary>
[GenerateSerializer, Alias("sessions.record")]
public sealed class SessionRecord
{
    [Id(0)] public bool Exists { get; set; }
    [Id(1)] public long Incarnation { get; set; }
    [Id(2)] public DateTimeOffset CreatedAt { get; set; }
    [Id(3)] public DateTimeOffset LastActiveAt { get; set; }
    [Id(4)] public string? ActiveRequestId { get; set; }
    [Id(5)] public DateTimeOffset? ActiveSince { get; set; }
    [Id(6)] public List<string> Queue { get; set; } = [];
    [Id(7)] public long HistoryStart { get; set; }
    [Id(8)] public List<HistoryPageRef> HistoryPages { get; set; } = [];
    [Id(9)] public double BucketTokens { get; set; }
    [Id(10)] public DateTimeOffset BucketUpdatedAt { get; set; }
    [Id(11)] public long EventSeq { get; set; }
    /// <summary>The whole history, as versions before paged history stored it; moved into pages by the next write.</summary>
    [Id(12)] public List<HistoryEntry>? History { get; set; }
    [Id(13)] public long TrimmedEventId { get; set; }
}

[GenerateSerializer, Immutable, Alias("sessions.history-entry")]
public sealed record HistoryEntry(
    [property: Id(0)] HistoryRole Role,
    [property: Id(1)] string Text,
    [property: Id(2)] string RequestId,
    [property: Id(3)] RequestStatus Status,
    [property: Id(4)] DateTimeOffset At,
    [property: Id(5)] long EventId = 0)
{
    public HistoryEntryView View() => new(Role, Text, RequestId, Status, At);
}
