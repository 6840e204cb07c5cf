using Lectures.Grains.Common;
using Orleans.Concurrency;

namespace Lectures.Grains.Lectures;

/// <summary>
/// The run of one robot on one lecture (key: <c>{lectureId}/{robotId}</c>, see <see cref="LectureKeys"/>):
/// its state machine, current topic and position, and all its sessions. Nothing here is shared with another robot.
/// </summary>
public interface ILectureGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts a session with its own copy of the topic. A repeated idempotency key (within the idempotency window)
    /// returns the first session; otherwise <paramref name="ifMatch"/> is checked against the run's version.
    /// </summary>
    Task<StartSessionResult> StartSessionAsync(string topicId, string language, string? idempotencyKey, IfMatch? ifMatch = null);

    /// <summary>The run with its latest <paramref name="limit"/> session summaries, in start order.</summary>
    Task<LectureRunView> GetAsync(int limit = LectureRunView.DefaultLimit);

    Task<LectureSessionView> GetSessionAsync(string sessionId);

    /// <summary>Marks the session inactive; it stays in the run's history. <paramref name="ifMatch"/> is the session's version.</summary>
    Task<LectureSessionView> EndSessionAsync(string sessionId, IfMatch? ifMatch = null);

    Task<LectureRunView> CommandAsync(LectureCommand command, IfMatch? ifMatch = null);

    [AlwaysInterleave]
    Task<EventBatch<LectureChange>> GetEventsAsync(long afterId, CancellationToken cancellationToken = default);
}

public enum LectureRunState { Idle, Presenting, Paused, Qna, Ended }

public enum LectureCommand { Advance, Pause, Resume, Question, Answer, End }

public static class LectureKeys
{
    public static string Run(string lectureId, string robotId) => $"{lectureId}/{robotId}";

    public static (string LectureId, string RobotId) Parse(string key)
    {
        var slash = key.IndexOf('/');
        return (key[..slash], key[(slash + 1)..]);
    }
}

/// <summary>A session with its snapshot of the topic. <paramref name="Version"/> is the run version of its last change (its ETag).</summary>
[GenerateSerializer, Immutable, Alias("lectures.session")]
public sealed record LectureSessionView(
    [property: Id(0)] string SessionId,
    [property: Id(1)] string LectureId,
    [property: Id(2)] string RobotId,
    [property: Id(3)] string TopicId,
    [property: Id(4)] string Language,
    [property: Id(5)] IReadOnlyList<string> Contents,
    [property: Id(6)] IReadOnlyList<double> TimeList,
    [property: Id(7)] bool IsActive,
    [property: Id(8)] DateTimeOffset StartedAt,
    [property: Id(9)] long Version);

/// <summary>A session without its contents and time list, as a run lists it.</summary>
[GenerateSerializer, Immutable, Alias("lectures.session-summary")]
public sealed record LectureSessionSummary(
    [property: Id(0)] string SessionId,
    [property: Id(1)] string LectureId,
    [property: Id(2)] string RobotId,
    [property: Id(3)] string TopicId,
    [property: Id(4)] string Language,
    [property: Id(5)] bool IsActive,
    [property: Id(6)] DateTimeOffset StartedAt,
    [property: Id(7)] long Version);

[GenerateSerializer, Immutable, Alias("lectures.run")]
public sealed record LectureRunView(
    [property: Id(0)] string LectureId,
    [property: Id(1)] string RobotId,
    [property: Id(2)] LectureRunState State,
    [property: Id(3)] string? TopicId,
    [property: Id(4)] int Position,
    [property: Id(5)] int SessionCount,
    [property: Id(6)] IReadOnlyList<LectureSessionSummary> Sessions,
    [property: Id(7)] long Version)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1_000;
}

[GenerateSerializer, Immutable, Alias("lectures.start-result")]
public sealed record StartSessionResult([property: Id(0)] bool Created, [property: Id(1)] LectureSessionView Session);

/// <summary>A live event of a run: a <c>state</c> event carries the run, a <c>session</c> event the summary of the session that changed.</summary>
[GenerateSerializer, Immutable, Alias("lectures.change")]
public sealed record LectureChange([property: Id(0)] LectureRunView? Run, [property: Id(1)] LectureSessionSummary? Session);
