using Lectures.Api.Infrastructure;
using System.Text.Json;
using Lectures.Grains.Common;
using Microsoft.AspNetCore.Diagnostics;
using Orleans.Clustering.Redis;
using Orleans.Persistence.Redis;
using Orleans.Reminders.Redis;
using Orleans.Runtime;
using Orleans.Storage;
using StackExchange.Redis;

namespace Lectures.Api.Errors;

/// <summary>
/// Turns every exception that escapes an endpoint into a problem document, in one place: a domain refusal's kind
/// becomes its status (and a failed precondition's version its <c>currentETag</c>), bad request bodies 4xx, an
/// unreachable grain store 503 <c>storage_unavailable</c>, a cluster that did not answer in time 503 <c>unavailable</c>,
/// anything else a 500 that says nothing about internals (the details go to the log).
/// </summary>
public sealed class ApiExceptionHandler(ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is DomainException refusal)
        {
            await WriteRefusalAsync(http, refusal);
        }
        else if (exception is BadHttpRequestException bad)
        {
            await WriteBadRequestAsync(http, bad);
        }
        else if (Find<Exception>(exception, IsStorageFailure) is not null)
        {
            logger.LogWarning(exception, "Grain store unavailable for {Method} {Path}", http.Request.Method, http.Request.Path);
            http.Response.Headers.RetryAfter = "1";
            await Problems.WriteAsync(http, 503, "storage_unavailable", "Storage unavailable",
                "The grain store could not be reached; nothing was changed. Retry later.");
        }
        else if (Find<Exception>(exception, IsClusterUnavailable) is not null)
        {
            logger.LogWarning(exception, "Cluster unavailable for {Method} {Path}", http.Request.Method, http.Request.Path);
            http.Response.Headers.RetryAfter = "1";
            await Problems.WriteAsync(http, 503, "unavailable", "Service unavailable", "The cluster did not answer in time. Retry later.");
        }
        else if (exception is OperationCanceledException && http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nobody reads the answer.
            http.Response.StatusCode = 499;
        }
        else
        {
            logger.LogError(exception, "Unhandled exception for {Method} {Path}", http.Request.Method, http.Request.Path);
            await Problems.WriteAsync(http, 500, "internal", "Internal error", "An unexpected error occurred. It has been logged.");
        }

        return true;
    }

    private static ValueTask WriteRefusalAsync(HttpContext http, DomainException refusal)
    {
        var extensions = refusal.Extensions?.ToDictionary(e => e.Key, e => (object?)e.Value) ?? [];
        switch (refusal.Kind)
        {
            case RefusalKind.NotFound:
                return Problems.WriteAsync(http, 404, refusal.Code, "Not found", refusal.Detail, extensions);
            case RefusalKind.Forbidden:
                return Problems.WriteAsync(http, 403, refusal.Code, "Forbidden", refusal.Detail, extensions);
            case RefusalKind.Conflict:
                return Problems.WriteAsync(http, 409, refusal.Code, "Conflict", refusal.Detail, extensions);
            case RefusalKind.PreconditionFailed:
                // In the body: the exception handler middleware removes ETag headers from error responses.
                if (refusal.CurrentVersion is { } current)
                {
                    extensions["currentETag"] = ETagHeaders.Format(current);
                }

                return Problems.WriteAsync(http, 412, refusal.Code, "Precondition failed", refusal.Detail, extensions);
            default:
                return Problems.WriteValidationAsync(http, refusal.Errors ?? new Dictionary<string, string[]> { ["body"] = [refusal.Detail] }, refusal.Detail);
        }
    }

    private static ValueTask WriteBadRequestAsync(HttpContext http, BadHttpRequestException bad)
    {
        switch (bad.StatusCode)
        {
            case 413:
                return Problems.WriteAsync(http, 413, "payload_too_large", "Payload too large", "The request body exceeds the allowed size.");
            case 415:
                return Problems.WriteAsync(http, 415, "unsupported_media_type", "Unsupported media type", "Send the body as application/json.");
        }

        // The framework's own messages name handler parameters; clients get one that names their mistake.
        var message = Find<JsonException>(bad) is { } json
            ? $"The body is not valid JSON for this request{(string.IsNullOrEmpty(json.Path) ? "" : $" at {json.Path}")}."
            : bad.InnerException is null && http.Request.ContentLength is 0 or null && !http.Request.Headers.ContainsKey("Transfer-Encoding")
                ? "A JSON request body is required."
                : "The request is malformed.";
        return Problems.WriteValidationAsync(http, "body", message);
    }

    private static bool IsStorageFailure(Exception e) =>
        e is StorageUnavailableException or InconsistentStateException or RedisException
            or RedisStorageException or RedisClusteringException or RedisRemindersException;

    // TimeoutException covers Orleans' response timeout; Orleans wraps some failures in OrleansException around it.
    private static bool IsClusterUnavailable(Exception e) =>
        e is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException or GatewayTooBusyException
            or ClientNotAvailableException;

    private static T? Find<T>(Exception exception, Func<T, bool>? match = null) where T : Exception
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is T found && (match is null || match(found)))
            {
                return found;
            }

            if (e is AggregateException { InnerExceptions.Count: > 1 } aggregate)
            {
                return aggregate.InnerExceptions.Select(inner => Find(inner, match)).FirstOrDefault(f => f is not null);
            }
        }

        return null;
    }
}
