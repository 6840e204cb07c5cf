namespace Lectures.Grains.Lectures;

/// <summary>
/// A run as stored: what every start, command and end rewrites, so it holds no topic contents. Each session is a
/// small <see cref="SessionRecord"/> here; its snapshot of the topic is stored once, on its own
/// (<see cref="SessionSnapshotRecord"/>). State types are separate from the wire and HTTP records, so renaming a
/// response field never drops stored data.
/// </summary>
[GenerateSerializer, Alias("lectures.run-record")]
public sealed class LectureRunRecord
{
    [Id(0)] public LectureRunState State { get; set; } = LectureRunState.Idle;
    [Id(1)] public string? TopicId { get; set; }
    [Id(2)] public int Position { get; set; }
    /// <summary>How many content items the current topic has (from the session that set the topic).</summary>
    [Id(3)] public int ContentCount { get; set; }
    /// <summary>Every session in start order.</summary>
    [Id(4)] public List<SessionRecord> Sessions { get; set; } = [];
    // Id 5 held Idempotency-Key -> session id without an expiry; not reused.
    [Id(6)] public long Version { get; set; }
    [Id(7)] public bool RegisteredWithLecture { get; set; }
    /// <summary>Idempotency-Key -> the start it made, kept for <c>Lectures:IdempotencyWindow</c>.</summary>
    [Id(8)] public Dictionary<string, IdempotentStart> IdempotentStarts { get; set; } = [];
}

[GenerateSerializer, Alias("lectures.session-record")]
public sealed class SessionRecord
{
    [Id(0)] public string SessionId { get; set; } = "";
    [Id(1)] public string TopicId { get; set; } = "";
    [Id(2)] public string Language { get; set; } = "";
    [Id(3)] public bool IsActive { get; set; }
    [Id(4)] public DateTimeOffset StartedAt { get; set; }
    /// <summary>The run version of the session's last change: its ETag.</summary>
    [Id(5)] public long Version { get; set; }
}

[GenerateSerializer, Alias("lectures.idempotent-start")]
public sealed class IdempotentStart
{
    [Id(0)] public string SessionId { get; set; } = "";
    [Id(1)] public DateTimeOffset ExpiresAt { get; set; }
}

/// <summary>A session's own copy of its topic, written once when it starts and never rewritten.</summary>
[GenerateSerializer, Alias("lectures.session-snapshot")]
public sealed class SessionSnapshotRecord
{
    [Id(0)] public List<string> Contents { get; set; } = [];
    [Id(1)] public List<double> TimeList { get; set; } = [];
}
