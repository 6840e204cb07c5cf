using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc;

namespace Lectures.Api.Errors;

/// <summary>Every error leaves the API as an RFC 9457 problem document with a stable <c>code</c>; this is where they are written.</summary>
public static partial class Problems
{
    public static string DefaultCode(int status) => status switch
    {
        400 => "validation",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        409 => "conflict",
        412 => "precondition_failed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        429 => "rate_limited",
        503 => "storage_unavailable",
        >= 500 => "internal",
        _ => "error",
    };

    /// <summary>
    /// Adds the <c>code</c> to problems the framework writes itself (status code pages, validation results), and names
    /// validation errors by the JSON path the client sent (<c>topics[0].timeList</c>), not the CLR property path.
    /// </summary>
    public static void AddCode(ProblemDetailsContext context)
    {
        var status = context.ProblemDetails.Status ?? context.HttpContext.Response.StatusCode;
        context.ProblemDetails.Extensions.TryAdd("code", DefaultCode(status));
        if (context.ProblemDetails is HttpValidationProblemDetails validation)
        {
            validation.Title = "Validation failed";
            var renamed = validation.Errors.ToDictionary(e => JsonPath(e.Key), e => e.Value);
            validation.Errors.Clear();
            foreach (var (key, messages) in renamed)
            {
                validation.Errors[key] = messages;
            }
        }
    }

    /// <summary><c>Topics[0].TimeList</c> to <c>topics[0].timeList</c>; header names (<c>Idempotency-Key</c>) stay as they are.</summary>
    public static string JsonPath(string key) => key.Contains('-') ? key : CamelSegment().Replace(key, m => m.Value.ToLowerInvariant());

    [GeneratedRegex(@"(?<=^|\.)[A-Z]")]
    private static partial Regex CamelSegment();

    public static ValueTask WriteAsync(HttpContext http, int status, string code, string title, string? detail,
        IDictionary<string, object?>? extensions = null)
    {
        var problem = status == 400 && extensions?.ContainsKey("errors") == true
            ? new HttpValidationProblemDetails()
            : new ProblemDetails();
        problem.Status = status;
        problem.Title = title;
        problem.Detail = detail;
        problem.Extensions["code"] = code;
        foreach (var (key, value) in extensions ?? new Dictionary<string, object?>())
        {
            if (key == "errors" && problem is HttpValidationProblemDetails validation && value is IDictionary<string, string[]> errors)
            {
                foreach (var error in errors)
                {
                    validation.Errors[error.Key] = error.Value;
                }
            }
            else
            {
                problem.Extensions[key] = value;
            }
        }

        http.Response.StatusCode = status;
        var writer = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        return writer.WriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem });
    }

    public static ValueTask WriteValidationAsync(HttpContext http, IDictionary<string, string[]> errors, string? detail = null) =>
        WriteAsync(http, 400, "validation", "Validation failed", detail ?? "The request is not valid; see errors.",
            new Dictionary<string, object?> { ["errors"] = errors });

    public static ValueTask WriteValidationAsync(HttpContext http, string field, string message) =>
        WriteValidationAsync(http, new Dictionary<string, string[]> { [field] = [message] }, message);
}
