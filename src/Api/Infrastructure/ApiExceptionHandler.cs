using System.Text.Json;
using Lectures.Grains.Common;
using Microsoft.AspNetCore.Diagnostics;
using Orleans.Runtime;
using Orleans.Storage;
using StackExchange.Redis;

namespace Lectures.Api.Infrastructure;

/// <summary>
/// Turns every exception that escapes an endpoint into a problem document: domain refusals keep their status and code,
/// bad request bodies become 4xx, an unreachable grain store 503 <c>storage_unavailable</c>, anything else a 500
/// that says nothing about internals (the details go to the log).
/// </summary>
public sealed class ApiExceptionHandler(ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case DomainException domain:
                var extensions = domain.Extensions?.ToDictionary(e => e.Key, e => (object?)e.Value) ?? [];
                if (domain.Status == 400 && extensions.Remove("field", out var field))
                {
                    extensions["errors"] = new Dictionary<string, string[]> { [(string)field!] = [domain.Detail ?? domain.Title] };
                }

                await Problems.WriteAsync(http, domain.Status, domain.Code, domain.Title, domain.Detail, extensions);
                return true;

            case BadHttpRequestException bad:
                await WriteBadRequestAsync(http, bad);
                return true;
        }

        if (IsStorageFailure(exception))
        {
            logger.LogWarning(exception, "Grain store unavailable for {Method} {Path}", http.Request.Method, http.Request.Path);
            await Problems.WriteAsync(http, 503, "storage_unavailable", "Storage unavailable",
                "The grain store could not be reached; nothing was changed. Retry later.");
            return true;
        }

        if (exception is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException)
        {
            logger.LogWarning(exception, "Cluster unavailable for {Method} {Path}", http.Request.Method, http.Request.Path);
            http.Response.Headers.RetryAfter = "1";
            await Problems.WriteAsync(http, 503, "unavailable", "Service unavailable", "The cluster did not answer in time. Retry later.");
            return true;
        }

        logger.LogError(exception, "Unhandled exception for {Method} {Path}", http.Request.Method, http.Request.Path);
        await Problems.WriteAsync(http, 500, "internal", "Internal error", "An unexpected error occurred. It has been logged.");
        return true;
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

        var json = FindInner<JsonException>(bad);
        // The framework's own messages name handler parameters; clients get one that names their mistake.
        var message = json is not null
            ? $"The body is not valid JSON for this request{(string.IsNullOrEmpty(json.Path) ? "" : $" at {json.Path}")}."
            : bad.Message.Contains("body", StringComparison.OrdinalIgnoreCase)
                ? "A JSON request body is required."
                : "The request is malformed.";
        return Problems.WriteValidationAsync(http, "body", message);
    }

    private static bool IsStorageFailure(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is StorageUnavailableException or InconsistentStateException or RedisException
                || e.GetType().Name.Contains("Redis", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static T? FindInner<T>(Exception exception) where T : Exception
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is T match)
            {
                return match;
            }
        }

        return null;
    }
}
