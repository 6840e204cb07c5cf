using Lectures.Api.LiveUpdates;
using Lectures.Api.Validation;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Lectures.Api.Infrastructure;
using Lectures.Api.Security;
using Lectures.Grains.Common;
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
        var lectures = routes.MapGroup("/api/lectures").WithTags("Lectures").ValidateIds();

        lectures.MapPut("/{lectureId}", Put).RequireAuthorization(Access.Client).Describe("putLecture", "Create or replace a lecture definition (If-Match supported)",
            ["412 precondition_failed", .. OpenApiConventions.Body]);
        lectures.MapGet("/{lectureId}", Get).RequireAuthorization(Access.ReadLectures).Describe("getLecture", "The definition and the robots that have runs of it", "404 lecture.not_found");

        var run = lectures.MapGroup("/{lectureId}/robots/{robotId}");
        run.MapPost("/sessions", StartSession).RequireAuthorization(Access.Robot).Describe("startLectureSession",
            "Start a session with its own copy of the topic; a repeated Idempotency-Key answers 200 with the first session; If-Match is the run's ETag",
            ["404 lecture.not_found", "404 lecture.topic_not_found", "412 precondition_failed", .. OpenApiConventions.Body]);
        run.MapGet("", GetRun).RequireAuthorization(Access.ReadRuns).Describe("getLectureRun",
            "The run of a robot on a lecture: state, position, sessionCount and the latest `limit` session summaries (default 100, at most 1,000)",
            "404 lecture.run_not_found");
        run.MapGet("/sessions/{sessionId}", GetSession).RequireAuthorization(Access.ReadRuns).Describe("getLectureSession", "A session with its contents", "404 lecture.session_not_found");
        run.MapDelete("/sessions/{sessionId}", EndSession).RequireAuthorization(Access.Robot).Describe("endLectureSession",
            "End a session; it stays in the run's history, inactive (If-Match: the session's ETag)", "404 lecture.session_not_found", "412 precondition_failed");
        run.MapPost("/commands", Command).RequireAuthorization(Access.Robot).Describe("sendLectureCommand", "advance, pause, resume, question, answer or end (If-Match supported)",
            ["404 lecture.run_not_found", "409 lecture.invalid_transition", "412 precondition_failed", .. OpenApiConventions.Body]);
        run.MapGet("/events", Events).RequireAuthorization(Access.ReadRuns).EventStream().Describe("streamLectureRunEvents",
            "Server-Sent Events: state, session; resume with Last-Event-ID", "404 lecture.run_not_found");
        return routes;
    }

    public static async Task<Ok<LectureDefinitionResponse>> Put(string lectureId, PutLectureRequest body, GrainLookup grains, HttpRequest request, HttpResponse response)
    {
        var topics = body.Topics!.Select(t => new TopicDefinition(t.TopicId!, t.Title ?? t.TopicId!, [.. t.Contents!], [.. t.TimeList!])).ToList();
        var lecture = await grains.Get<ILectureCatalogGrain>(lectureId).PutAsync(body.Title!, topics, request.IfMatch());
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
        [FromHeader(Name = "Idempotency-Key"), RegularExpression(@"^[\x20-\x7E]{1,200}\z", ErrorMessage = "Idempotency-Key must be 1 to 200 printable ASCII characters.")]
        string? idempotencyKey,
        GrainLookup grains, HttpRequest request, HttpResponse response)
    {
        var result = await Run(grains, lectureId, robotId).StartSessionAsync(body.TopicId!, body.Language!, idempotencyKey, request.IfMatch());
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
            throw DomainException.Invalid("limit", $"limit must be a whole number from 1 to {LectureRunView.MaxLimit}.");
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
        var run = await Run(grains, lectureId, robotId).CommandAsync(Commands[body.Command!], request.IfMatch());
        response.SetETag(run.Version);
        return TypedResults.Ok(RunResponse.From(run));
    }

    public static Task Events(string lectureId, string robotId, GrainLookup grains, HttpContext http) =>
        SseRelay.RelayAsync(http, StreamId.Create(LiveStreams.Lectures, LectureKeys.Run(lectureId, robotId)), Run(grains, lectureId, robotId).GetEventsAsync,
            change => change.Session is { } session ? SessionSummaryResponse.From(session) : (object?)RunResponse.From(change.Run!));

    private static Ok<SessionResponse> Respond(HttpResponse response, LectureSessionView session)
    {
        response.SetETag(session.Version);
        return TypedResults.Ok(SessionResponse.From(session));
    }

    private static ILectureGrain Run(GrainLookup grains, string lectureId, string robotId) =>
        grains.Get<ILectureGrain>(LectureKeys.Run(lectureId, robotId));
}

public sealed record PutLectureRequest(
    [property: Required, StringLength(500)] string? Title,
    [property: Required, Length(1, LectureApi.MaxTopics)] List<TopicRequest>? Topics) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < (Topics?.Count ?? 0); i++)
        {
            if (Topics![i] is not { } topic)
            {
                yield return new("a topic must be an object.", [$"topics[{i}]"]);
            }
            else if (topic.TopicId is { } id && !seen.Add(id))
            {
                yield return new($"topicId '{id}' appears more than once.", [$"topics[{i}].topicId"]);
            }
        }
    }
}

public sealed record TopicRequest(
    [property: Required, RegularExpression(IdValidation.Pattern, ErrorMessage = "topicId " + IdValidation.Message)] string? TopicId,
    [property: StringLength(500, MinimumLength = 1)] string? Title,
    [property: Required, Length(1, LectureApi.MaxContentsPerTopic)] List<string>? Contents,
    [property: Required] List<double>? TimeList) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Contents is null || TimeList is null)
        {
            yield break;
        }

        if (Contents.Count != TimeList.Count)
        {
            yield return new("contents and timeList must have the same length.", [nameof(TimeList)]);
        }

        for (var j = 0; j < Contents.Count; j++)
        {
            if (string.IsNullOrWhiteSpace(Contents[j]) || Contents[j].Length > Limits.MaxTextChars)
            {
                yield return new($"contents items must be 1 to {Limits.MaxTextChars} characters.", [$"{nameof(Contents)}[{j}]"]);
            }
        }

        for (var j = 0; j < TimeList.Count; j++)
        {
            if (!double.IsFinite(TimeList[j]) || TimeList[j] <= 0)
            {
                yield return new("timeList values must be numbers greater than 0.", [$"{nameof(TimeList)}[{j}]"]);
            }
        }
    }
}

public sealed record StartSessionRequest(
    [property: Required, RegularExpression(IdValidation.Pattern, ErrorMessage = "topicId " + IdValidation.Message)] string? TopicId,
    [property: Required, StringLength(35)] string? Language);

public sealed record CommandRequest(
    [property: Required, AllowedValues("advance", "pause", "resume", "question", "answer", "end",
        ErrorMessage = "command must be one of advance, pause, resume, question, answer, end.")] string? Command);

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
