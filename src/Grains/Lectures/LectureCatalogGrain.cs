using Lectures.Grains.Common;
using Microsoft.Extensions.Logging;

namespace Lectures.Grains.Lectures;

[GenerateSerializer, Alias("lectures.catalog-state")]
public sealed class LectureCatalogState
{
    [Id(0)] public bool Exists { get; set; }
    [Id(1)] public string Title { get; set; } = "";
    [Id(2)] public List<TopicRecord> Topics { get; set; } = [];
    [Id(3)] public long Version { get; set; }
    [Id(4)] public List<string> Robots { get; set; } = [];
}

/// <summary>A topic as stored (the wire type is <see cref="TopicDefinition"/>).</summary>
[GenerateSerializer, Alias("lectures.topic-record")]
public sealed class TopicRecord
{
    [Id(0)] public string TopicId { get; set; } = "";
    [Id(1)] public string Title { get; set; } = "";
    [Id(2)] public List<string> Contents { get; set; } = [];
    [Id(3)] public List<double> TimeList { get; set; } = [];

    public static TopicRecord From(TopicDefinition t) => new() { TopicId = t.TopicId, Title = t.Title, Contents = [.. t.Contents], TimeList = [.. t.TimeList] };

    public TopicDefinition ToView() => new(TopicId, Title, [.. Contents], [.. TimeList]);
}

public sealed class LectureCatalogGrain(
    [PersistentState("lecture")] IPersistentState<LectureCatalogState> state,
    ILogger<LectureCatalogGrain> logger) : Grain, ILectureCatalogGrain
{
    private LectureCatalogState S => state.State;

    public async Task<LectureView> PutAsync(string title, IReadOnlyList<TopicDefinition> topics, IfMatch? ifMatch = null)
    {
        IfMatch.Ensure(ifMatch, S.Version, S.Exists);

        S.Exists = true;
        S.Title = title;
        // Stored as its own copy: a caller's list can never alias the stored definition.
        S.Topics = topics.Select(TopicRecord.From).ToList();
        S.Version++;
        await state.SaveAsync(this, logger);
        return View();
    }

    public Task<LectureView> GetAsync()
    {
        EnsureExists();
        return Task.FromResult(View());
    }

    public Task<TopicDefinition> GetTopicAsync(string topicId)
    {
        EnsureExists();
        var topic = S.Topics.Find(t => t.TopicId == topicId)
            ?? throw DomainException.NotFound(LectureErrors.TopicNotFound, $"Lecture '{this.GetPrimaryKeyString()}' has no topic '{topicId}'.");
        return Task.FromResult(topic.ToView());
    }

    public async Task RegisterRobotAsync(string robotId)
    {
        EnsureExists();
        if (S.Robots.Contains(robotId))
        {
            return;
        }

        S.Robots.Add(robotId);
        S.Robots.Sort(StringComparer.Ordinal);
        await state.SaveAsync(this, logger);
    }

    private void EnsureExists()
    {
        if (!S.Exists)
        {
            throw DomainException.NotFound(LectureErrors.NotFound, $"Lecture '{this.GetPrimaryKeyString()}' does not exist.");
        }
    }

    private LectureView View() => new(this.GetPrimaryKeyString(), S.Title, S.Topics.Select(t => t.ToView()).ToList(), S.Version, S.Robots.ToList());
}
