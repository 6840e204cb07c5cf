using Lectures.Grains.RateLimiting;

namespace Lectures.Grains.Sessions;

/// <summary>What a user's session stores. <see cref="History"/> holds queued requests too (status queued).</summary>
[GenerateSerializer, Alias("sessions.state")]
public sealed class UserSessionState
{
    [Id(0)] public bool Exists { get; set; }
    [Id(1)] public DateTimeOffset CreatedAt { get; set; }
    [Id(2)] public DateTimeOffset LastActiveAt { get; set; }
    /// <summary>The request in flight; recorded durably before it is acknowledged, so a lost one is found after a crash.</summary>
    [Id(3)] public string? ActiveRequestId { get; set; }
    [Id(4)] public DateTimeOffset? ActiveSince { get; set; }
    /// <summary>Queued request ids, in order; their text is in their history entries.</summary>
    [Id(5)] public List<string> Queue { get; set; } = [];
    [Id(6)] public List<HistoryEntry> History { get; set; } = [];
    /// <summary>The per-user bucket; written with every accepted message (a crash can forget the refused ones' tokens).</summary>
    [Id(7)] public TokenBucket Bucket { get; set; } = new();
    /// <summary>The id of the last live event, so ids keep increasing across activations.</summary>
    [Id(8)] public long EventSeq { get; set; }
}

[GenerateSerializer, Alias("sessions.history-entry")]
public sealed class HistoryEntry
{
    [Id(0)] public HistoryRole Role { get; set; }
    [Id(1)] public string Text { get; set; } = "";
    [Id(2)] public string RequestId { get; set; } = "";
    [Id(3)] public RequestStatus Status { get; set; }
    [Id(4)] public DateTimeOffset At { get; set; }

    public HistoryEntryView View() => new(Role, Text, RequestId, Status, At);
}
