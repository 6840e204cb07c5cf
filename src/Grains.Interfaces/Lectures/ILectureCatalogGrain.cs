using Lectures.Grains.Common;

namespace Lectures.Grains.Lectures;

/// <summary>A lecture definition (key: lecture id) and the robots that have runs of it.</summary>
public interface ILectureCatalogGrain : IGrainWithStringKey
{
    Task<LectureView> PutAsync(string title, IReadOnlyList<TopicDefinition> topics, IfMatch? ifMatch = null);

    Task<LectureView> GetAsync();

    /// <summary>A copy of one topic, for a session to own; 404 <c>lecture.not_found</c> / <c>lecture.topic_not_found</c>.</summary>
    Task<TopicDefinition> GetTopicAsync(string topicId);

    /// <summary>Records that a robot has a run of this lecture (idempotent).</summary>
    Task RegisterRobotAsync(string robotId);
}

[GenerateSerializer, Immutable, Alias("lectures.topic")]
public sealed record TopicDefinition(
    [property: Id(0)] string TopicId,
    [property: Id(1)] string Title,
    [property: Id(2)] IReadOnlyList<string> Contents,
    [property: Id(3)] IReadOnlyList<double> TimeList);

[GenerateSerializer, Immutable, Alias("lectures.lecture")]
public sealed record LectureView(
    [property: Id(0)] string LectureId,
    [property: Id(1)] string Title,
    [property: Id(2)] IReadOnlyList<TopicDefinition> Topics,
    [property: Id(3)] long Version,
    [property: Id(4)] IReadOnlyList<string> Robots);

public static class LectureErrors
{
    public const string NotFound = "lecture.not_found";
    public const string TopicNotFound = "lecture.topic_not_found";
    public const string RunNotFound = "lecture.run_not_found";
    public const string SessionNotFound = "lecture.session_not_found";
    public const string InvalidTransition = "lecture.invalid_transition";
}
