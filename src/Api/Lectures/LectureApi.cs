using System.Globalization;
using Lectures.Api.Infrastructure;
using Lectures.Grains.Lectures;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Lectures.Api.Lectures;

public static class LectureApi
{
    public const int MaxTopics = 200;
    public const int MaxContentsPerTopic = 1_000;

    private static readonly Dictionary<string, LectureCommand> Commands =
        Enum.GetValues<LectureCommand>().ToDictionary(c => c.ToString().ToLowerInvariant());

    public static IEndpointRouteBuilder MapLectureApi(this IEndpointRouteBuilder routes)
    {
        var lectures = routes.MapGroup("/api/lectures").WithTags("Lectures")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        lectures.MapPut("/{lectureId}", Put).WithSummary("Create or replace a lecture definition (If-Match supported)")
            .ProducesProblem(StatusCodes.Status412PreconditionFailed);
        lectures.MapGet("/{lectureId}", Get).WithSummary("The definition and the robots that have runs of it")
            .ProducesProblem(StatusCodes.Status404NotFound);

        var run = lectures.MapGroup("/{lectureId}/robots/{robotId}");
        run.MapPost("/sessions", StartSession)
            .WithSummary("Start a session with its own copy of the topic; a repeated Idempotency-Key answers 200 with the first session (If-Match on the run supported)")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed);
        run.MapGet("", GetRun).WithSummary("The run with its latest `limit` session summaries (default 100, at most 1,000) and sessionCount")
            .ProducesProblem(StatusCodes.Status404NotFound);
        run.MapGet("/sessions/{sessionId}", GetSession).ProducesProblem(StatusCodes.Status404NotFound);
        run.MapDelete("/sessions/{sessionId}", EndSession).WithSummary("End a session; it stays in the run's history, inactive (If-Match supported)")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed);
        run.MapPost("/commands", Command).WithSummary("advance, pause, resume, question, answer or end (If-Match supported)")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed);
        run.MapGet("/events", Events).WithSummary("Server-Sent Events: state, session. Resume with Last-Event-ID.")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream");
        return routes;
    }

    public static async Task<Ok<LectureDefinitionResponse>> Put(string lectureId, PutLectureRequest body, GrainLookup grains, HttpRequest request, HttpResponse response)
    {
        var (title, topics) = Validate(body);
        var lecture = await grains.Get<ILectureCatalogGrain>(lectureId).PutAsync(title, topics, request.IfMatch());
        response.SetETag(lecture.Version);
        return TypedResults.Ok(new LectureDefinitionResponse(lecture.LectureId, lecture.Title, lecture.Topics.Select(TopicDto.From).ToList(), lecture.Version));
    }

    public static async Task<Ok<LectureResponse>> Get(string lectureId, GrainLookup grains, HttpResponse response)
    {
        var lecture = await grains.Get<ILectureCatalogGrain>(lectureId).GetAsync();
        response.SetETag(lecture.Version);
        return TypedResults.Ok(new LectureResponse(lecture.LectureId, lecture.Title, lecture.Topics.Select(TopicDto.From).ToList(), lecture.Version, lecture.Robots));
    }

    public static async Task<Results<Created<SessionResponse>, Ok<SessionResponse>>> StartSession(
        string lectureId, string robotId, StartSessionRequest body,
        [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, GrainLookup grains, HttpRequest request, HttpResponse response)
    {
        var topicId = Require.Id(body.TopicId, "topicId");
        var language = Require.Text(body.Language, "language", 35);
        if (idempotencyKey is not null && (idempotencyKey.Length is 0 or > 200 || idempotencyKey.Any(char.IsControl)))
        {
            throw Require.Invalid("Idempotency-Key", "Idempotency-Key must be 1 to 200 printable characters.");
        }

        var result = await Run(grains, lectureId, robotId).StartSessionAsync(topicId, language, idempotencyKey, request.IfMatch());
        response.SetETag(result.Session.Version);
        var session = SessionResponse.From(result.Session);
        return result.Created
            ? TypedResults.Created($"/api/lectures/{lectureId}/robots/{robotId}/sessions/{session.SessionId}", session)
            : TypedResults.Ok(session);
    }

    public static async Task<Ok<RunResponse>> GetRun(string lectureId, string robotId, string? limit, GrainLookup grains, HttpResponse response)
    {
        var count = LectureRunView.DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count is < 1 or > LectureRunView.MaxLimit))
        {
            throw Require.Invalid("limit", $"limit must be a whole number from 1 to {LectureRunView.MaxLimit}.");
        }

        var run = await Run(grains, lectureId, robotId).GetAsync(count);
        response.SetETag(run.Version);
        return TypedResults.Ok(RunResponse.From(run));
    }

    public static async Task<Ok<SessionResponse>> GetSession(string lectureId, string robotId, string sessionId, GrainLookup grains, HttpResponse response) =>
        Respond(response, await Run(grains, lectureId, robotId).GetSessionAsync(sessionId));

    public static async Task<Ok<SessionResponse>> EndSession(string lectureId, string robotId, string sessionId, GrainLookup grains, HttpRequest request, HttpResponse response) =>
        Respond(response, await Run(grains, lectureId, robotId).EndSessionAsync(sessionId, request.IfMatch()));

    public static async Task<Ok<RunResponse>> Command(string lectureId, string robotId, CommandRequest body, GrainLookup grains, HttpRequest request, HttpResponse response)
    {
        // An exact name only: Enum.TryParse would also take "3" or "pause,resume" (combined into another command).
        if (body.Command is null || !Commands.TryGetValue(body.Command, out var command))
        {
            throw Require.Invalid("command", "command must be one of advance, pause, resume, question, answer, end.");
        }

        var run = await Run(grains, lectureId, robotId).CommandAsync(command, request.IfMatch());
        response.SetETag(run.Version);
        return TypedResults.Ok(RunResponse.From(run));
    }

    public static Task Events(string lectureId, string robotId, GrainLookup grains, HttpContext http) =>
        SseRelay.RelayAsync(http, Run(grains, lectureId, robotId).WaitForEventsAsync,
            change => change.Session is { } session ? SessionSummaryResponse.From(session) : (object?)RunResponse.From(change.Run!));

    private static Ok<SessionResponse> Respond(HttpResponse response, LectureSessionView session)
    {
        response.SetETag(session.Version);
        return TypedResults.Ok(SessionResponse.From(session));
    }

    private static ILectureGrain Run(GrainLookup grains, string lectureId, string robotId) =>
        grains.Get<ILectureGrain>(LectureKeys.Run(lectureId, robotId));

    private static (string Title, List<TopicDefinition> Topics) Validate(PutLectureRequest body)
    {
        var title = Require.Text(body.Title, "title", 500);
        if (body.Topics is null || body.Topics.Count == 0 || body.Topics.Count > MaxTopics)
        {
            throw Require.Invalid("topics", $"topics must list 1 to {MaxTopics} topics.");
        }

        var topics = new List<TopicDefinition>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < body.Topics.Count; i++)
        {
            var topic = body.Topics[i] ?? throw Require.Invalid($"topics[{i}]", "a topic must be an object.");
            var topicId = Require.Id(topic.TopicId, $"topics[{i}].topicId");
            if (!seen.Add(topicId))
            {
                throw Require.Invalid($"topics[{i}].topicId", $"topicId '{topicId}' appears more than once.");
            }

            var contents = topic.Contents ?? throw Require.Invalid($"topics[{i}].contents", "contents is required.");
            var times = topic.TimeList ?? throw Require.Invalid($"topics[{i}].timeList", "timeList is required.");
            if (contents.Count == 0 || contents.Count > MaxContentsPerTopic)
            {
                throw Require.Invalid($"topics[{i}].contents", $"contents must have 1 to {MaxContentsPerTopic} items.");
            }

            if (contents.Count != times.Count)
            {
                throw Require.Invalid($"topics[{i}].timeList", "contents and timeList must have the same length.");
            }

            for (var j = 0; j < contents.Count; j++)
            {
                Require.Text(contents[j], $"topics[{i}].contents[{j}]", Require.MaxTextChars);
                if (times[j] is not { } t || !double.IsFinite(t) || t <= 0)
                {
                    throw Require.Invalid($"topics[{i}].timeList[{j}]", "timeList values must be numbers greater than 0.");
                }
            }

            topics.Add(new TopicDefinition(topicId, Require.Text(topic.Title ?? topicId, $"topics[{i}].title", 500), [.. contents!], [.. times.Select(t => t!.Value)]));
        }

        return (title, topics);
    }
}

public sealed record PutLectureRequest(string? Title, List<TopicRequest?>? Topics);

public sealed record TopicRequest(string? TopicId, string? Title, List<string>? Contents, List<double?>? TimeList);

public sealed record StartSessionRequest(string? TopicId, string? Language);

public sealed record CommandRequest(string? Command);

public sealed record TopicDto(string TopicId, string Title, IReadOnlyList<string> Contents, IReadOnlyList<double> TimeList)
{
    public static TopicDto From(TopicDefinition t) => new(t.TopicId, t.Title, t.Contents, t.TimeList);
}

public sealed record LectureDefinitionResponse(string LectureId, string Title, IReadOnlyList<TopicDto> Topics, long Version);

public sealed record LectureResponse(string LectureId, string Title, IReadOnlyList<TopicDto> Topics, long Version, IReadOnlyList<string> Robots);

public sealed record SessionResponse(
    string SessionId, string LectureId, string RobotId, string TopicId, string Language,
    IReadOnlyList<string> Contents, IReadOnlyList<double> TimeList, bool IsActive, DateTimeOffset StartedAt)
{
    public static SessionResponse From(LectureSessionView s) =>
        new(s.SessionId, s.LectureId, s.RobotId, s.TopicId, s.Language, s.Contents, s.TimeList, s.IsActive, s.StartedAt);
}

public sealed record SessionSummaryResponse(string SessionId, string LectureId, string RobotId, string TopicId, string Language, bool IsActive, DateTimeOffset StartedAt)
{
    public static SessionSummaryResponse From(LectureSessionSummary s) => new(s.SessionId, s.LectureId, s.RobotId, s.TopicId, s.Language, s.IsActive, s.StartedAt);
}

public sealed record RunResponse(
    string LectureId, string RobotId, LectureRunState State, string? TopicId, int Position, int SessionCount, IReadOnlyList<SessionSummaryResponse> Sessions)
{
    public static RunResponse From(LectureRunView run) =>
        new(run.LectureId, run.RobotId, run.State, run.TopicId, run.Position, run.SessionCount, run.Sessions.Select(SessionSummaryResponse.From).ToList());
}
