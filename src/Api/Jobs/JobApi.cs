using Lectures.Api.LiveUpdates;
using Lectures.Api.Validation;
using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using Lectures.Api.Infrastructure;
using Lectures.Api.Security;
using Lectures.Grains.Common;
using Lectures.Grains.Jobs;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Lectures.Api.Jobs;

public static class JobApi
{
    public static IEndpointRouteBuilder MapJobApi(this IEndpointRouteBuilder routes)
    {
        var jobs = routes.MapGroup("/api/jobs").WithTags("Jobs").ValidateIds();
        string[] reported = ["404 job.not_found", "409 job.terminal", "409 job.not_owner", "409 job.not_started", .. OpenApiConventions.Body];

        jobs.MapPost("/", Create).RequireAuthorization(Access.Client).Describe("createJob",
            "Create a job (idempotent on jobId: the same kind and input answer 200)", ["409 job.exists", .. OpenApiConventions.Body]);
        jobs.MapGet("/{jobId}", Get).RequireAuthorization(Access.ReadJobs).Describe("getJob", "Get a job", "404 job.not_found");
        jobs.MapPost("/{jobId}/start", Start).AsWorker().Describe("startJob", "Claim the job for a worker; exactly one worker wins",
            ["404 job.not_found", "409 job.claimed", "409 job.terminal", "412 precondition_failed", .. OpenApiConventions.Body]);
        jobs.MapPost("/{jobId}/progress", Progress).AsWorker().Describe("reportJobProgress",
            "Report progress 0 to 100; a value lower than the stored one answers applied:false", [.. reported, "412 precondition_failed"]);
        jobs.MapPost("/{jobId}/heartbeat", Heartbeat).AsWorker().Describe("heartbeatJob",
            "Worker heartbeat; persisted lazily (at most Jobs:HeartbeatTimeout / 3 late)", reported);
        jobs.MapPost("/{jobId}/complete", Complete).AsWorker().Describe("completeJob", "Complete the job with its result", [.. reported, "412 precondition_failed"]);
        jobs.MapPost("/{jobId}/fail", Fail).AsWorker().Describe("failJob", "Fail the job with an error", [.. reported, "412 precondition_failed"]);
        jobs.MapPost("/{jobId}/cancel", Cancel).RequireAuthorization(Access.Client).Describe("cancelJob", "Cancel the job",
            "404 job.not_found", "409 job.terminal", "412 precondition_failed");
        jobs.MapGet("/{jobId}/events", Events).RequireAuthorization(Access.ReadJobs).EventStream().Describe("streamJobEvents",
            "Server-Sent Events: progress, status; resume with Last-Event-ID", "404 job.not_found");
        return routes;
    }

    /// <summary>A worker's report: workers act only as their own workerId.</summary>
    private static RouteHandlerBuilder AsWorker(this RouteHandlerBuilder builder) =>
        builder.RequireAuthorization(Access.Worker).RequireOwnSubject<IWorkerBody>(Roles.Worker, b => b.WorkerId);

    public static async Task<Results<Created<JobResponse>, Ok<JobResponse>>> Create(CreateJobRequest body, GrainLookup grains, HttpResponse response)
    {
        var jobId = body.JobId ?? Guid.NewGuid().ToString("N");
        var result = await grains.Get<IJobGrain>(jobId).CreateAsync(body.Kind!, body.InputJson);
        response.SetETag(result.Job.Version);
        var job = JobResponse.From(result.Job);
        return result.Created ? TypedResults.Created($"/api/jobs/{jobId}", job) : TypedResults.Ok(job);
    }

    public static async Task<Ok<JobResponse>> Get(string jobId, GrainLookup grains, HttpResponse response) =>
        Respond(response, await grains.Get<IJobGrain>(jobId).GetAsync());

    public static async Task<Ok<JobResponse>> Start(string jobId, WorkerRequest body, GrainLookup grains, HttpRequest request, HttpResponse response) =>
        Respond(response, await grains.Get<IJobGrain>(jobId).StartAsync(body.WorkerId!, request.IfMatch()));

    public static async Task<Ok<ProgressResponse>> Progress(string jobId, ProgressRequest body, GrainLookup grains, HttpRequest request, HttpResponse response)
    {
        var result = await grains.Get<IJobGrain>(jobId).ReportProgressAsync(body.WorkerId!, body.Progress!.Value, body.Message, request.IfMatch());
        response.SetETag(result.Job.Version);
        return TypedResults.Ok(new ProgressResponse(result.Applied, JobResponse.From(result.Job)));
    }

    public static async Task<Ok<JobResponse>> Heartbeat(string jobId, WorkerRequest body, GrainLookup grains, HttpResponse response) =>
        Respond(response, await grains.Get<IJobGrain>(jobId).HeartbeatAsync(body.WorkerId!));

    public static async Task<Ok<JobResponse>> Complete(string jobId, CompleteRequest body, GrainLookup grains, HttpRequest request, HttpResponse response) =>
        Respond(response, await grains.Get<IJobGrain>(jobId).CompleteAsync(body.WorkerId!, body.ResultJson, request.IfMatch()));

    public static async Task<Ok<JobResponse>> Fail(string jobId, FailRequest body, GrainLookup grains, HttpRequest request, HttpResponse response) =>
        Respond(response, await grains.Get<IJobGrain>(jobId).FailAsync(body.WorkerId!, body.Error!, request.IfMatch()));

    public static async Task<Ok<JobResponse>> Cancel(string jobId, GrainLookup grains, HttpRequest request, HttpResponse response) =>
        Respond(response, await grains.Get<IJobGrain>(jobId).CancelAsync(request.IfMatch()));

    public static Task Events(string jobId, GrainLookup grains, HttpContext http)
    {
        var job = grains.Get<IJobGrain>(jobId);
        return SseRelay.RelayAsync(http, StreamId.Create(LiveStreams.Jobs, jobId), job.GetEventsAsync, JobResponse.From);
    }

    private static Ok<JobResponse> Respond(HttpResponse response, JobView job)
    {
        response.SetETag(job.Version);
        return TypedResults.Ok(JobResponse.From(job));
    }
}

public sealed record CreateJobRequest(
    [property: Required, StringLength(Limits.MaxNameChars)] string? Kind,
    JsonElement? Input,
    [property: RegularExpression(IdValidation.Pattern, ErrorMessage = "jobId " + IdValidation.Message)] string? JobId) : IValidatableObject
{
    public string? InputJson => Input is { } element ? JsonSerializer.Serialize(element) : null;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        JsonField.Check(InputJson, nameof(Input));
}

public sealed record WorkerRequest([property: Required, RegularExpression(IdValidation.Pattern, ErrorMessage = "workerId " + IdValidation.Message)] string? WorkerId) : IWorkerBody;

public sealed record ProgressRequest(
    [property: Required, RegularExpression(IdValidation.Pattern, ErrorMessage = "workerId " + IdValidation.Message)] string? WorkerId,
    [property: Required, Range(0d, 100d, ErrorMessage = "progress must be a number from 0 to 100.")] double? Progress,
    [property: StringLength(Limits.MaxTextChars)] string? Message) : IWorkerBody;

public sealed record CompleteRequest(
    [property: Required, RegularExpression(IdValidation.Pattern, ErrorMessage = "workerId " + IdValidation.Message)] string? WorkerId,
    JsonElement? Result) : IValidatableObject, IWorkerBody
{
    public string? ResultJson => Result is { } element ? JsonSerializer.Serialize(element) : null;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        JsonField.Check(ResultJson, nameof(Result));
}

public sealed record FailRequest(
    [property: Required, RegularExpression(IdValidation.Pattern, ErrorMessage = "workerId " + IdValidation.Message)] string? WorkerId,
    [property: Required, StringLength(Limits.MaxTextChars)] string? Error) : IWorkerBody;

/// <summary>A body that names the worker acting.</summary>
public interface IWorkerBody
{
    string? WorkerId { get; }
}

/// <summary>Free-form JSON fields (a job's input and result) are stored as text; their size is bounded.</summary>
internal static class JsonField
{
    public static IEnumerable<ValidationResult> Check(string? json, string member)
    {
        if (json is { Length: > Limits.MaxJsonFieldChars })
        {
            yield return new ValidationResult($"{member} must be at most {Limits.MaxJsonFieldChars} characters of JSON.", [member]);
        }
    }
}

public sealed record ProgressResponse(bool Applied, JobResponse Job);

public sealed record JobResponse(
    string JobId, string Kind, JobStatus Status, double Progress, string? Message, string? WorkerId,
    JsonElement? Input, JsonElement? Result, string? Error,
    DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? LastHeartbeat, DateTimeOffset? CompletedAt)
{
    public static JobResponse From(JobView job) => new(
        job.JobId, job.Kind, job.Status, job.Progress, job.Message, job.WorkerId,
        Parse(job.InputJson), Parse(job.ResultJson), job.Error,
        job.CreatedAt, job.StartedAt, job.LastHeartbeat, job.CompletedAt);

    // One parse into an element of its own: not a pooled document that is then cloned and never returned to the pool.
    private static JsonElement? Parse(string? json) => json is null ? null : JsonElement.Parse(json);
}
