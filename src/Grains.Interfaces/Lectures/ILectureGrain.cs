using Lectures.Grains.Common;
using Orleans.Concurrency;

namespace Lectures.Grains.Lectures;

/// <summary>
/// The run of one robot on one lecture (key: <c>{lectureId}/{robotId}</c>, see <see cref="LectureKeys"/>):
/// its state machine, current topic and position, and all its sessions. Nothing here is shared with another robot.
/// </summary>
public interface ILectureGrain : IGrainWithStringKey
{
    /// <summary>Starts a session with its own copy of the topic. A repeated idempotency key returns the first session.</summary>
    Task<StartSessionResult> StartSessionAsync(string topicId, string language, string? idempotencyKey);

    Task<LectureRunView> GetAsync();

    Task<LectureSessionView> GetSessionAsync(string sessionId);

    /// <summary>Marks the session inactive; it stays in the run's history.</summary>
    Task<LectureSessionView> EndSessionAsync(string sessionId);

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
    [property: Id(8)] DateTimeOffset StartedAt);

[GenerateSerializer, Immutable, Alias("lectures.run")]
public sealed record LectureRunView(
    [property: Id(0)] string LectureId,
    [property: Id(1)] string RobotId,
    [property: Id(2)] LectureRunState State,
    [property: Id(3)] string? TopicId,
    [property: Id(4)] int Position,
    [property: Id(5)] IReadOnlyList<LectureSessionView> Sessions,
    [property: Id(6)] long Version);

[GenerateSerializer, Immutable, Alias("lectures.start-result")]
public sealed record StartSessionResult([property: Id(0)] bool Created, [property: Id(1)] LectureSessionView Session, [property: Id(2)] long Version);

/// <summary>A live event of a run: a <c>state</c> event carries the whole run, a <c>session</c> event the session that changed.</summary>
[GenerateSerializer, Immutable, Alias("lectures.change")]
public sealed record LectureChange([property: Id(0)] LectureRunView? Run, [property: Id(1)] LectureSessionView? Session);
